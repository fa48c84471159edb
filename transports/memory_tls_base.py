"""TLS with no I/O: :class:`TLSMachine` runs one TLS client session over ``ssl.MemoryBIO``
and ``ssl.SSLObject``, for the streams of :mod:`pgwire.transports.memory_tls` to pump.

It reads and writes no stream: what TLS versions, ALPN and verification apply is the
context's business.
"""

from __future__ import annotations

import ssl

from pgwire.transports.base import TLSInfo

__all__ = ["TLSMachine", "TLSUnavailableError"]


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
