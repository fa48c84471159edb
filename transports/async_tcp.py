"""Async TCP and Unix-domain socket streams on anyio (so on asyncio, uvloop and trio).

Only moves bytes; errors surface as ``OSError`` (``TimeoutError`` for timeouts) exactly as
in the blocking streams of ``tcp.py``, so the drivers handle both alike.
"""

from __future__ import annotations

import random
import ssl
from typing import Protocol

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

from pgwire.transports.base import TLSInfo

__all__ = ["AsyncSocketStream", "AsyncStream", "connect_tcp_async", "connect_unix_async"]


class AsyncStream(Protocol):
    """An async byte stream."""

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


async def connect_tcp_async(
    host: str, port: int, *, timeout: float | None = None, shuffle: bool = False
) -> AsyncSocketStream:
    """Connect to ``host:port`` (happy eyeballs over every resolved address, or each address
    in random order with ``shuffle``)."""
    with anyio.fail_after(timeout):
        if not shuffle:
            return AsyncSocketStream(await anyio.connect_tcp(host, port))
        addresses = [info[4][0] for info in await anyio.getaddrinfo(host, port)]
        random.shuffle(addresses)
        error: OSError | None = None
        for address in dict.fromkeys(addresses):
            try:
                return AsyncSocketStream(await anyio.connect_tcp(address, port))
            except OSError as exc:
                error = exc
        assert error is not None  # getaddrinfo returns at least one address or raises
        raise error


async def connect_unix_async(path: str, *, timeout: float | None = None) -> AsyncSocketStream:
    """Connect to the Unix-domain socket at ``path``."""
    with anyio.fail_after(timeout):
        stream = await anyio.connect_unix(path)
    return AsyncSocketStream(stream)
