"""TLS over any byte stream, run in memory with ``ssl.MemoryBIO`` and ``ssl.SSLObject``.

This is how PostgreSQL-level TLS (``sslmode`` as usual, the SSLRequest first) travels inside
a stream that is not a socket: a plain ``ws://`` WebSocket tunnel whose bridge does not
terminate TLS, or the browser's WebSocket. The handshake and the record layer run in
:class:`TLSMachine`, which does no I/O; :class:`MemoryTLSStream` (blocking) and
:class:`AsyncMemoryTLSStream` (async) pump its bytes over an inner stream, and pass bytes
through untouched until ``start_tls`` has run.

Moves bytes only: what TLS versions, ALPN and verification apply is the context's business.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from pgwire.transports.base import SyncStream, TLSInfo

if TYPE_CHECKING:
    from pgwire.transports.async_tcp import AsyncStream

__all__ = ["AsyncMemoryTLSStream", "MemoryTLSStream", "TLSMachine", "TLSUnavailableError"]


class TLSUnavailableError(ssl.SSLError):
    """This Python cannot run TLS (Pyodide's stub ``ssl`` module, before its ``ssl`` package
    is loaded)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TLSMachine:
    """One TLS client session with no I/O: ciphertext in with :meth:`receive_data`, out with
    :meth:`data_to_send`; plaintext in with :meth:`encrypt`, out with :meth:`decrypt`."""

    __slots__ = ("_incoming", "_outgoing", "_ssl")

    def __init__(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        try:
            self._ssl = context.wrap_bio(
                self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
            )
        except NotImplementedError as exc:
            # Pyodide ships a stub ssl module until its "ssl" package is loaded.
            raise TLSUnavailableError(
                f"TLS is not available in this Python ({exc}); in Pyodide, load the ssl "
                'package first (await pyodide.loadPackage("ssl")), or use wss://'
            ) from None

    def handshake(self) -> bool:
        """Advance the handshake; True once it is complete (then flush :meth:`data_to_send`).

        Raises ``ssl.SSLError`` (``SSLCertVerificationError`` for a refused certificate,
        ``SSLEOFError`` when the peer closed during the handshake)."""
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def receive_data(self, data: bytes) -> None:
        """Buffer ciphertext from the peer; ``b""`` means the peer closed its side."""
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def data_to_send(self) -> bytes:
        """The ciphertext to write to the peer now (possibly ``b""``)."""
        return self._outgoing.read()

    def encrypt(self, data: bytes) -> None:
        """Queue ``data`` for the peer; collect the ciphertext with :meth:`data_to_send`."""
        self._ssl.write(data)

    def decrypt(self, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes`` of plaintext, ``None`` while more ciphertext is needed, or
        ``b""`` once the peer closed (with close_notify, or without: a truncated TLS stream
        is reported as a close, as ``ssl.SSLSocket`` does by default, because PostgreSQL's
        own framing detects a message cut short)."""
        try:
            return self._ssl.read(max_bytes)
        except ssl.SSLWantReadError:
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def info(self) -> TLSInfo:
        """What the finished handshake established."""
        return TLSInfo(
            self._ssl.getpeercert(binary_form=True),
            self._ssl.selected_alpn_protocol(),
            self._ssl.version(),
        )


def _already_running() -> ValueError:
    return ValueError("TLS is already running on this stream; start_tls can run only once")


class MemoryTLSStream:
    """A blocking stream that carries TLS over ``inner`` once :meth:`start_tls` has run
    (until then it passes bytes through). Each ``send_all`` is one ``send_all`` on
    ``inner``, so a WebSocket underneath still sends one frame per write."""

    __slots__ = ("_tls", "inner")

    def __init__(self, inner: SyncStream) -> None:
        self.inner = inner
        self._tls: TLSMachine | None = None

    def __repr__(self) -> str:
        return f"<MemoryTLSStream {'tls' if self._tls else 'plain'} over {self.inner!r}>"

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run a TLS client handshake over ``inner``; later bytes travel encrypted."""
        if self._tls is not None:
            raise _already_running()
        tls = TLSMachine(context, server_hostname)
        while not tls.handshake():
            self._flush(tls)
            tls.receive_data(self.inner.receive_some())
        self._flush(tls)
        self._tls = tls
        return tls.info()

    def send_all(self, data: bytes) -> None:
        """Write all of ``data`` (encrypted once TLS runs)."""
        if self._tls is None:
            self.inner.send_all(data)
            return
        self._tls.encrypt(data)
        self._flush(self._tls)

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` (decrypted once TLS runs); ``b""``: the peer closed."""
        tls = self._tls
        if tls is None:
            return self.inner.receive_some(max_bytes)
        while True:
            data = tls.decrypt(max_bytes)
            self._flush(tls)  # e.g. a TLS 1.3 key update answer
            if data is not None:
                return data
            tls.receive_data(self.inner.receive_some())

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later send and receive on ``inner``."""
        self.inner.set_timeout(seconds)

    def close(self) -> None:
        """Close ``inner`` (no close_notify: like a closed socket, it never blocks)."""
        self.inner.close()

    def _flush(self, tls: TLSMachine) -> None:
        pending = tls.data_to_send()
        if pending:
            self.inner.send_all(pending)


class AsyncMemoryTLSStream:
    """The async twin of :class:`MemoryTLSStream`, over an async ``inner`` stream."""

    __slots__ = ("_tls", "inner")

    def __init__(self, inner: AsyncStream) -> None:
        self.inner = inner
        self._tls: TLSMachine | None = None

    def __repr__(self) -> str:
        return f"<AsyncMemoryTLSStream {'tls' if self._tls else 'plain'} over {self.inner!r}>"

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run a TLS client handshake over ``inner``; later bytes travel encrypted."""
        if self._tls is not None:
            raise _already_running()
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
            await self._flush(tls)
            if data is not None:
                return data
            tls.receive_data(await self.inner.receive_some())

    async def close(self) -> None:
        """Close ``inner``."""
        await self.inner.close()

    async def _flush(self, tls: TLSMachine) -> None:
        pending = tls.data_to_send()
        if pending:
            await self.inner.send_all(pending)
