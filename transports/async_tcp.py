"""Async TCP and Unix-domain socket streams: on asyncio (and uvloop) an
:class:`~pgwire.transports.asyncio_stream.AsyncioStream` made directly of an asyncio
transport, on trio a :class:`~pgwire.transports.trio_stream.TrioStream` made directly of
the socket. Both write atomically (``atomic_send``).

Only moves bytes; errors surface as ``OSError`` (``TimeoutError`` for timeouts) exactly as
in the blocking streams of ``tcp.py``, so the drivers handle both alike.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

import anyio

from pgwire.transports import asyncio_stream
from pgwire.transports.asyncio_stream import AsyncioStream
from pgwire.transports.base import TLSInfo

if TYPE_CHECKING:
    from pgwire.transports.trio_stream import TrioStream

__all__ = [
    "AsyncConnectedStream",
    "AsyncStream",
    "AsyncioStream",
    "connect_tcp_async",
    "connect_unix_async",
]


class AsyncStream(Protocol):
    """An async byte stream.

    A stream whose ``send_all`` hands every byte over before its first suspension point, so
    that a cancellation can never cut a write halfway, says so with a class attribute
    ``atomic_send = True`` (read it as ``getattr(stream, "atomic_send", False)``: it is not
    a required member). Its callers need not shield such a write from cancellation.
    """

    async def send_all(self, data: bytes) -> None:
        """Write every byte of ``data``, or raise ``OSError``."""

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Return at least one byte, or ``b""`` once the peer has closed its side."""

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run a TLS client handshake over the stream (see ``SyncStream.start_tls``)."""

    async def close(self) -> None:
        """Close the stream; closing twice is harmless."""


#: What :func:`connect_tcp_async` and :func:`connect_unix_async` return.
AsyncConnectedStream: TypeAlias = "AsyncioStream | TrioStream"


def _on_asyncio() -> bool:
    """Whether the running loop is asyncio's (uvloop included), as opposed to trio."""
    try:
        from sniffio import current_async_library
    except ImportError:  # trio depends on sniffio: without it, only asyncio can run
        return asyncio.current_task() is not None
    return current_async_library() == "asyncio"


async def _connect_trio_tcp(host: str, port: int) -> TrioStream:
    # Imported here: trio is an optional dependency, and only trio runs this.
    from pgwire.transports import trio_stream

    return await trio_stream.connect_tcp(host, port)


async def connect_tcp_async(
    host: str, port: int, *, timeout: float | None = None, shuffle: bool = False
) -> AsyncConnectedStream:
    """Connect to ``host:port`` (happy eyeballs over every resolved address, or each address
    in random order with ``shuffle``)."""
    connect: Callable[[str, int], Awaitable[AsyncConnectedStream]] = (
        asyncio_stream.connect_tcp if _on_asyncio() else _connect_trio_tcp
    )
    with anyio.fail_after(timeout):
        if not shuffle:
            return await connect(host, port)
        addresses = [info[4][0] for info in await anyio.getaddrinfo(host, port)]
        random.shuffle(addresses)
        error: OSError | None = None
        for address in dict.fromkeys(addresses):
            try:
                return await connect(address, port)
            except OSError as exc:
                error = exc
        assert error is not None  # getaddrinfo returns at least one address or raises
        raise error


async def connect_unix_async(path: str, *, timeout: float | None = None) -> AsyncConnectedStream:
    """Connect to the Unix-domain socket at ``path``."""
    with anyio.fail_after(timeout):
        if _on_asyncio():
            return await asyncio_stream.connect_unix(path)
        from pgwire.transports import trio_stream

        return await trio_stream.connect_unix(path)
