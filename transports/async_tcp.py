"""Async TCP and Unix-domain socket streams: on asyncio (and uvloop) an
:class:`~pgwire.transports.asyncio_stream.AsyncioStream` made directly of an asyncio
transport, on trio anyio's socket streams.

Only moves bytes; errors surface as ``OSError`` (``TimeoutError`` for timeouts) exactly as
in the blocking streams of ``tcp.py``, so the drivers handle both alike.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

from pgwire.transports import asyncio_stream
from pgwire.transports.asyncio_stream import AsyncioStream
from pgwire.transports.base import TLSInfo

__all__ = [
    "AsyncConnectedStream",
    "AsyncSocketStream",
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


class AsyncSocketStream:
    """A connected anyio socket stream."""

    __slots__ = ("_closed", "stream")

    #: A cancellation may stop ``send_all`` with part of the bytes written (see
    #: :class:`AsyncStream`).
    atomic_send = False

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self._closed = False

    def __repr__(self) -> str:
        return f"<AsyncSocketStream {'closed' if self._closed else 'open'}>"

    async def send_all(self, data: bytes) -> None:
        """Write all of ``data``."""
        try:
            await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise ConnectionResetError(f"the stream is broken: {exc!r}") from None

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes``; ``b""`` means the peer closed."""
        try:
            return await self.stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise ConnectionResetError(f"the stream is broken: {exc!r}") from None

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run the TLS handshake (SNI is sent for host names, never for IP addresses)."""
        try:
            tls = await TLSStream.wrap(
                self.stream,
                server_side=False,
                hostname=server_hostname,
                ssl_context=context,
                standard_compatible=False,
            )
        except anyio.EndOfStream:
            raise ssl.SSLEOFError(
                "the peer closed the connection during the TLS handshake"
            ) from None
        except anyio.BrokenResourceError as exc:
            raise ConnectionResetError(
                f"the stream broke during the TLS handshake: {exc!r}"
            ) from None
        self.stream = tls
        return TLSInfo(
            tls.extra(TLSAttribute.peer_certificate_binary, None),
            tls.extra(TLSAttribute.alpn_protocol, None),
            tls.extra(TLSAttribute.tls_version, None),
        )

    async def close(self) -> None:
        """Close the stream."""
        if not self._closed:
            self._closed = True
            with anyio.CancelScope(shield=True):
                await self.stream.aclose()


#: What :func:`connect_tcp_async` and :func:`connect_unix_async` return.
AsyncConnectedStream = AsyncioStream | AsyncSocketStream


def _on_asyncio() -> bool:
    """Whether the running loop is asyncio's (uvloop included), as opposed to trio."""
    try:
        from sniffio import current_async_library
    except ImportError:  # trio depends on sniffio: without it, only asyncio can run
        return asyncio.current_task() is not None
    return current_async_library() == "asyncio"


async def _connect_anyio_tcp(host: str, port: int) -> AsyncSocketStream:
    return AsyncSocketStream(await anyio.connect_tcp(host, port))


async def connect_tcp_async(
    host: str, port: int, *, timeout: float | None = None, shuffle: bool = False
) -> AsyncConnectedStream:
    """Connect to ``host:port`` (happy eyeballs over every resolved address, or each address
    in random order with ``shuffle``)."""
    connect: Callable[[str, int], Awaitable[AsyncConnectedStream]] = (
        asyncio_stream.connect_tcp if _on_asyncio() else _connect_anyio_tcp
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
        stream = await anyio.connect_unix(path)
    return AsyncSocketStream(stream)
