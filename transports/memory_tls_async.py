"""The streams that pump :class:`~pgwire.transports.memory_tls_base.TLSMachine`:
:class:`AsyncMemoryTLSStream` runs TLS over an inner stream, and :class:`AsyncTunnelStream`
is the base of the streams (WebSockets) that run it inside their own messages.

This is the async source; ``scripts/gen_sync.py`` turns it into ``memory_tls_sync.py`` (the
blocking streams), keeping the ``else`` branch of each ``if True:  # ASYNC``. Moves bytes
only.
"""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from pgwire.transports.base import TLSInfo
from pgwire.transports.memory_tls_base import TLSMachine

if TYPE_CHECKING:
    from pgwire.transports.async_tcp import AsyncStream

__all__ = ["AsyncMemoryTLSStream", "AsyncTunnelStream"]


class AsyncMemoryTLSStream:
    """A stream that carries TLS over ``inner`` once :meth:`start_tls` has run (until then
    it passes bytes through). Each ``send_all`` is one ``send_all`` on ``inner``, so a
    WebSocket underneath still sends one frame per write."""

    __slots__ = ("_tls", "inner")

    def __init__(self, inner: AsyncStream) -> None:
        self.inner = inner
        self._tls: TLSMachine | None = None

    def __repr__(self) -> str:
        state = "tls" if self._tls else "plain"
        return f"<{type(self).__name__} {state} over {self.inner!r}>"

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run a TLS client handshake over ``inner``; later bytes travel encrypted."""
        if self._tls is not None:
            raise ValueError("TLS is already running on this stream; start_tls can run only once")
        tls = TLSMachine(context, server_hostname)
        while not tls.handshake():
            await self._flush(tls)
            tls.receive_data(await self.inner.receive_some())
        await self._flush(tls)
        self._tls = tls
        return tls.info()

    async def send_all(self, data: bytes) -> None:
        """Write all of ``data`` (encrypted once TLS runs)."""
        if self._tls is None:
            await self.inner.send_all(data)
            return
        self._tls.encrypt(data)
        await self._flush(self._tls)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` (decrypted once TLS runs); ``b""``: the peer closed."""
        tls = self._tls
        if tls is None:
            return await self.inner.receive_some(max_bytes)
        while True:
            data = tls.decrypt(max_bytes)
            await self._flush(tls)  # e.g. a TLS 1.3 key update answer
            if data is not None:
                return data
            tls.receive_data(await self.inner.receive_some())

    if True:  # ASYNC
        pass
    else:

        def set_timeout(self, seconds: float | None) -> None:
            """Bound every later send and receive on ``inner``."""
            self.inner.set_timeout(seconds)

    async def close(self) -> None:
        """Close ``inner`` (no close_notify: like a closed socket, it never blocks)."""
        await self.inner.close()

    async def _flush(self, tls: TLSMachine) -> None:
        pending = tls.data_to_send()
        if pending:
            await self.inner.send_all(pending)


class AsyncTunnelStream(ABC):
    """The base of a stream that carries bytes in messages of its own (a WebSocket), and
    can run TLS inside them: PostgreSQL-level TLS through a plain tunnel.

    A subclass writes one message in :meth:`_send_plain`, reads the messages' payload in
    :meth:`_receive_plain`, and closes itself in :meth:`close`.
    """

    __slots__ = ("_tls",)

    def __init__(self) -> None:
        #: The TLS running inside the tunnel, once :meth:`start_tls` has run.
        self._tls: AsyncMemoryTLSStream | None = None

    async def send_all(self, data: bytes) -> None:
        """Write ``data`` as one message (a few TLS records, once TLS runs inside)."""
        if self._tls is not None:
            await self._tls.send_all(data)
        else:
            await self._send_plain(data)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` of payload; ``b""`` after a normal close."""
        if self._tls is not None:
            return await self._tls.receive_some(max_bytes)
        return await self._receive_plain(max_bytes)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run TLS inside the tunnel (PostgreSQL-level TLS through a plain tunnel)."""
        tls = AsyncMemoryTLSStream(_Plain(self))
        info = await tls.start_tls(context, server_hostname)
        self._tls = tls
        return info

    if True:  # ASYNC
        pass
    else:
        #: Bound every later send and receive (a method of each blocking tunnel).
        set_timeout: Callable[[float | None], None]

    @abstractmethod
    async def close(self) -> None:
        """Close the tunnel; closing twice is harmless."""

    @abstractmethod
    async def _send_plain(self, data: bytes) -> None:
        """Write ``data`` as one message of the tunnel."""

    @abstractmethod
    async def _receive_plain(self, max_bytes: int) -> bytes:
        """Read up to ``max_bytes`` of the tunnel's payload; ``b""`` after a normal close."""


class _Plain:
    """The unencrypted messages of a tunnel (:class:`AsyncTunnelStream`), as the stream
    that its :class:`AsyncMemoryTLSStream` runs TLS over."""

    __slots__ = ("_tunnel",)

    def __init__(self, tunnel: AsyncTunnelStream) -> None:
        self._tunnel = tunnel

    async def send_all(self, data: bytes) -> None:
        await self._tunnel._send_plain(data)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        return await self._tunnel._receive_plain(max_bytes)

    if True:  # ASYNC
        pass
    else:

        def set_timeout(self, seconds: float | None) -> None:
            self._tunnel.set_timeout(seconds)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        raise AssertionError("unreachable: TLS runs on the tunnel stream itself")

    async def close(self) -> None:
        await self._tunnel.close()
