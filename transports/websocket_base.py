"""The WebSocket client with no I/O, on wsproto: :class:`WebSocketClient`, its errors, and
``ws://``/``wss://`` URLs.

The streams of :mod:`pgwire.transports.websocket` (``websocket_async.py``, and the blocking
``websocket_sync.py`` generated from it) only pump its bytes over an inner stream. It reads
and writes no stream, and knows nothing of PostgreSQL messages.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import RemoteProtocolError

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "Headers",
    "WebSocketClient",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandshakeError",
    "WebSocketURL",
    "parse_websocket_url",
    "strict_tls_context",
]

#: The largest frame and message accepted from the peer, by default (64 MiB).
DEFAULT_MAX_FRAME_SIZE = 64 << 20
DEFAULT_MAX_MESSAGE_SIZE = 64 << 20
#: How much of a refusing server's HTTP body goes into the error message.
_BODY_EXCERPT = 200
#: Close codes that end the stream normally (1005: a close frame without a code).
_NORMAL_CLOSE = (CloseReason.NORMAL_CLOSURE, CloseReason.NO_STATUS_RCVD)

Headers = Iterable[tuple[str | bytes, str | bytes]]


class WebSocketError(OSError):
    """The WebSocket broke its rules or failed. An ``OSError``, so that the drivers treat
    it as any broken connection."""


class WebSocketHandshakeError(WebSocketError, ConnectionRefusedError):
    """The server refused the WebSocket upgrade (``status_code`` is its HTTP status, or
    ``None`` when its answer was not a valid upgrade response)."""

    def __init__(self, message: str, status_code: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class WebSocketClosedError(WebSocketError, ConnectionResetError):
    """The WebSocket closed abnormally: with a close code other than 1000, or without a
    close frame at all (``code`` 1006)."""

    def __init__(self, message: str, code: int, reason: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def _code_name(code: int) -> str:
    try:
        return f"{code} ({CloseReason(code).name.lower().replace('_', ' ')})"
    except ValueError:
        return str(code)


def _encode_header(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


class WebSocketClient:
    """The client side of one WebSocket, with no I/O.

    Write :meth:`handshake_request`, feed everything read with :meth:`receive_data` until
    :meth:`handshake_finished`; then :meth:`frame` turns bytes into one binary frame,
    :meth:`read` returns received payload, and :meth:`data_to_send` holds what must be
    written back (pongs, the answer to a close) and must be flushed after each
    :meth:`receive_data`, before :meth:`read`.
    """

    def __init__(
        self,
        host: str,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        headers: Headers = (),
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.host = host
        self.path = path or "/"
        self.subprotocols = list(subprotocols)
        self.headers = [(_encode_header(name), _encode_header(value)) for name, value in headers]
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        #: The subprotocol the server chose (``None``: none), once the handshake finished.
        self.subprotocol: str | None = None
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._accepted = False
        self._rejection: RejectConnection | None = None
        self._body = bytearray()
        self._payload = bytearray()
        self._outgoing = bytearray()
        self._frame_size = 0
        self._message_size = 0
        self._eof = False
        #: Set once the stream has ended: ``None`` while open, else the error to raise
        #: (``_CLEAN`` for a normal close).
        self._ended: OSError | None = None

    def __repr__(self) -> str:
        return f"<WebSocketClient {self.host}{self.path} {self._ws.state.name}>"

    @property
    def closed(self) -> bool:
        """Whether the WebSocket has ended (normally or not)."""
        return self._ended is not None

    def handshake_request(self) -> bytes:
        """The HTTP upgrade request to write first."""
        return self._ws.send(
            Request(
                host=self.host,
                target=self.path,
                subprotocols=self.subprotocols,
                extra_headers=self.headers,
            )
        )

    def handshake_finished(self) -> bool:
        """True once the server accepted the upgrade; raises
        :class:`WebSocketHandshakeError` once it refused."""
        if self._accepted:
            return True
        if self._rejection is not None and (self._rejection_complete or self._eof):
            raise self._handshake_error()
        if self._eof:
            raise WebSocketHandshakeError(
                f"the server at {self.host} closed the connection during the WebSocket "
                "handshake; is it a WebSocket endpoint?"
            )
        return False

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the peer; ``b""`` means the peer closed the connection."""
        if self._eof:
            return
        if not data:
            self._eof = True
            if not self._accepted:
                return
        if self._ended is not None:
            return
        try:
            self._ws.receive_data(data or None)
            for event in self._ws.events():
                self._handle(event)
        except RemoteProtocolError as exc:
            if self._accepted:
                raise WebSocketError(f"invalid WebSocket data from {self.host}: {exc}") from None
            raise WebSocketHandshakeError(
                f"the server at {self.host} answered the WebSocket upgrade with an invalid "
                f"response ({exc}); is it a WebSocket endpoint?"
            ) from None

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer now (pongs, close frames), possibly ``b""``."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def read(self, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes`` of received payload; ``None`` while more data is needed;
        ``b""`` after a normal close. Raises :class:`WebSocketError` after an abnormal
        close, once the payload that came before it has been read."""
        if self._payload:
            data = bytes(self._payload[:max_bytes])
            del self._payload[:max_bytes]
            return data
        if self._ended is None:
            return None
        if self._ended is _CLEAN:
            return b""
        raise self._ended

    def frame(self, data: bytes) -> bytes:
        """``data`` as one binary frame (raises :class:`WebSocketError` once closed)."""
        if self._ended is not None and self._ended is not _CLEAN:
            raise self._ended
        if self._ws.state is not ConnectionState.OPEN:
            raise WebSocketClosedError(
                "cannot send: the WebSocket is closed", CloseReason.NORMAL_CLOSURE, None
            )
        return self._ws.send(Message(data=data))

    def close(self, code: int = CloseReason.NORMAL_CLOSURE, reason: str | None = None) -> bytes:
        """The close frame to write (``b""`` when none is due), and the end of the stream."""
        data = b""
        if self._ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            data = self._ws.send(CloseConnection(code=code, reason=reason))
        if self._ended is None:
            self._ended = _CLEAN
        return data

    # Internals.

    @property
    def _rejection_complete(self) -> bool:
        return self._rejection is not None and self._ws.state is ConnectionState.CLOSED

    def _handshake_error(self) -> WebSocketHandshakeError:
        assert self._rejection is not None
        status = self._rejection.status_code
        body = bytes(self._body[:_BODY_EXCERPT])
        text = body.decode("utf-8", "replace").strip()
        detail = f": {text}" if text else ""
        hint = {
            401: "; the credentials or token were refused",
            403: "; the credentials or token were refused",
            404: "; check the path of the WebSocket URL",
            426: "; the server wants another WebSocket version",
        }.get(status, "")
        return WebSocketHandshakeError(
            f"the server at {self.host} refused the WebSocket upgrade of {self.path} with "
            f"HTTP status {status}{detail}{hint}",
            status,
            bytes(self._body),
        )

    def _fail(self, code: int, message: str) -> None:
        """End the stream with our own close code, for data the peer had no right to send."""
        self._outgoing += self.close(code, message[:100])
        self._ended = WebSocketError(message)

    def _handle(self, event: Event) -> None:
        if self._ended is not None:
            return
        if isinstance(event, AcceptConnection):
            self._accepted = True
            self.subprotocol = event.subprotocol
        elif isinstance(event, RejectConnection):
            self._rejection = event
        elif isinstance(event, RejectData):
            if len(self._body) < _BODY_EXCERPT:
                self._body += event.data
        elif isinstance(event, BytesMessage):
            self._on_payload(event)
        elif isinstance(event, TextMessage):
            self._fail(
                CloseReason.UNSUPPORTED_DATA,
                f"the WebSocket peer {self.host} sent a text frame; PostgreSQL travels in "
                "binary frames only (is this a PostgreSQL bridge?)",
            )
        elif isinstance(event, Ping):
            self._outgoing += self._ws.send(event.response())
        elif isinstance(event, CloseConnection):
            self._on_close(event)

    def _on_payload(self, event: BytesMessage) -> None:
        size = len(event.data)
        self._frame_size += size
        self._message_size += size
        if self.max_frame_size is not None and self._frame_size > self.max_frame_size:
            self._fail(
                CloseReason.MESSAGE_TOO_BIG,
                f"the WebSocket peer {self.host} sent a frame larger than "
                f"max_frame_size={self.max_frame_size} bytes",
            )
            return
        if self.max_message_size is not None and self._message_size > self.max_message_size:
            self._fail(
                CloseReason.MESSAGE_TOO_BIG,
                f"the WebSocket peer {self.host} sent a message larger than "
                f"max_message_size={self.max_message_size} bytes",
            )
            return
        if event.frame_finished:
            self._frame_size = 0
        if event.message_finished:
            self._message_size = 0
        self._payload += event.data

    def _on_close(self, event: CloseConnection) -> None:
        if self._ws.state is ConnectionState.REMOTE_CLOSING:
            self._outgoing += self._ws.send(event.response())
        elif self._ws.state is ConnectionState.OPEN:
            # wsproto reports a frame it cannot parse as a close; answer with its code.
            self._outgoing += self._ws.send(CloseConnection(event.code, event.reason))
        if event.code in _NORMAL_CLOSE:
            self._ended = _CLEAN
            return
        reason = f": {event.reason}" if event.reason else ""
        if event.code == CloseReason.ABNORMAL_CLOSURE:
            message = (
                f"the WebSocket connection to {self.host} was lost without a close frame "
                f"(code {_code_name(event.code)})"
            )
        else:
            message = (
                f"the WebSocket peer {self.host} closed the connection with code "
                f"{_code_name(event.code)}{reason}"
            )
        self._ended = WebSocketClosedError(message, event.code, event.reason)


#: The ``_ended`` marker of a normal close.
_CLEAN = WebSocketError("the WebSocket closed normally")


# ----------------------------------------------------------------------------------------
# WebSocket URLs
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSocketURL:
    """A parsed ``ws://`` or ``wss://`` URL."""

    secure: bool
    host: str
    port: int
    #: The request target: path and query, e.g. ``/v2`` or ``/?address=db:5432``.
    target: str

    @property
    def host_header(self) -> str:
        """``host`` or ``host:port`` (the port only when it is not the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_websocket_url(url: str) -> WebSocketURL:
    """Split a ``ws://host[:port]/path?query`` or ``wss://...`` URL."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"a WebSocket URL starts with ws:// or wss://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"the WebSocket URL {url!r} names no host")
    if parts.username is not None:
        raise ValueError(
            "a WebSocket URL carries no user or password; pass credentials as PostgreSQL "
            "parameters or headers"
        )
    secure = scheme == "wss"
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        raise ValueError(f"the WebSocket URL {url!r} has an invalid port") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return WebSocketURL(secure, parts.hostname, port, target)


def strict_tls_context(context: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """The caller's context, or a strict default for ``wss://``: the system's roots, the
    host name checked, TLS 1.2 or later, ALPN ``http/1.1``."""
    if context is not None:
        return context
    default = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    default.minimum_version = ssl.TLSVersion.TLSv1_2
    default.set_alpn_protocols(["http/1.1"])
    return default
