"""A WebSocket client over any byte stream, built on wsproto: ``ws://`` and ``wss://``.

PostgreSQL travels inside the WebSocket as a plain byte stream: each ``send_all`` goes out as
one binary frame, and incoming binary frames are read as one continuous stream, because a
peer may cut PostgreSQL messages anywhere across frames and pack many into one. Text frames
are refused; pings are answered; a close with a code other than 1000 (and a refused
handshake) becomes an ``OSError`` subclass naming the code or the HTTP status.

The protocol logic lives once, in :class:`WebSocketClient` (no I/O). :class:`WebSocketStream`
(over a blocking stream) and :class:`AsyncWebSocketStream` (over an async one) only pump its
bytes; :func:`connect_websocket` and :func:`connect_websocket_async` open TCP, TLS for
``wss://`` (verified, with SNI), then the WebSocket. ``start_tls`` on a WebSocket stream runs
PostgreSQL-level TLS inside the tunnel with :mod:`pgwire.transports.memory_tls`.

Moves bytes only; it knows nothing of PostgreSQL messages.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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

from pgwire.transports.base import SyncStream, TLSInfo
from pgwire.transports.memory_tls import AsyncMemoryTLSStream, MemoryTLSStream

if TYPE_CHECKING:
    from pgwire.transports.async_tcp import AsyncStream

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "AsyncWebSocketStream",
    "WebSocketClient",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandshakeError",
    "WebSocketStream",
    "WebSocketURL",
    "connect_websocket",
    "connect_websocket_async",
    "parse_websocket_url",
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


class _Frames:
    """The unencrypted payload of a :class:`WebSocketStream`, as a stream for
    :class:`MemoryTLSStream` to run TLS over."""

    __slots__ = ("_ws",)

    def __init__(self, ws: WebSocketStream) -> None:
        self._ws = ws

    def send_all(self, data: bytes) -> None:
        self._ws._send_frame(data)

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        return self._ws._receive_payload(max_bytes)

    def set_timeout(self, seconds: float | None) -> None:
        self._ws.inner.set_timeout(seconds)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        raise AssertionError("unreachable: TLS runs on the WebSocketStream")

    def close(self) -> None:
        self._ws.close()


class WebSocketStream:
    """A WebSocket over a blocking stream ``inner``; call :meth:`handshake` first.

    ``host`` is the Host header (``host`` or ``host:port``), ``path`` the request target
    (with its query, e.g. ``/?address=db:5432`` for a bridge), ``subprotocols`` the offered
    subprotocols (e.g. ``["binary"]``), ``headers`` extra request headers.
    """

    __slots__ = ("_tls", "inner", "ws")

    def __init__(
        self,
        inner: SyncStream,
        host: str,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        headers: Headers = (),
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.inner = inner
        self.ws = WebSocketClient(
            host,
            path,
            subprotocols=subprotocols,
            headers=headers,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )
        self._tls: MemoryTLSStream | None = None

    def __repr__(self) -> str:
        return f"<WebSocketStream {self.ws.host}{self.ws.path} over {self.inner!r}>"

    def handshake(self) -> str | None:
        """Upgrade the connection; return the subprotocol the server chose (or ``None``)."""
        self.inner.send_all(self.ws.handshake_request())
        while not self.ws.handshake_finished():
            self.ws.receive_data(self.inner.receive_some())
        return self.ws.subprotocol

    def send_all(self, data: bytes) -> None:
        """Write ``data`` as one binary frame (a few TLS records, once TLS runs inside)."""
        if self._tls is not None:
            self._tls.send_all(data)
        else:
            self._send_frame(data)

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` of payload; ``b""`` after a normal close."""
        if self._tls is not None:
            return self._tls.receive_some(max_bytes)
        return self._receive_payload(max_bytes)

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later send and receive."""
        self.inner.set_timeout(seconds)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run TLS inside the WebSocket (PostgreSQL-level TLS through a plain tunnel)."""
        tls = MemoryTLSStream(_Frames(self))
        info = tls.start_tls(context, server_hostname)
        self._tls = tls
        return info

    def close(self) -> None:
        """Send a normal close frame (best effort, without waiting for the answer) and
        close ``inner``. Closing twice is harmless."""
        try:
            goodbye = self.ws.close()
            if goodbye:
                self.inner.send_all(goodbye)
        except OSError:
            pass
        finally:
            self.inner.close()

    def _send_frame(self, data: bytes) -> None:
        self.inner.send_all(self.ws.frame(data))

    def _receive_payload(self, max_bytes: int) -> bytes:
        ws = self.ws
        while True:
            self._flush()
            data = ws.read(max_bytes)
            if data is not None:
                return data
            ws.receive_data(self.inner.receive_some())

    def _flush(self) -> None:
        pending = self.ws.data_to_send()
        if pending:
            try:
                self.inner.send_all(pending)
            except OSError:
                if not self.ws.closed:
                    raise  # after a close, the reason for it matters more


class _AsyncFrames:
    """The async twin of :class:`_Frames`."""

    __slots__ = ("_ws",)

    def __init__(self, ws: AsyncWebSocketStream) -> None:
        self._ws = ws

    async def send_all(self, data: bytes) -> None:
        await self._ws._send_frame(data)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        return await self._ws._receive_payload(max_bytes)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        raise AssertionError("unreachable: TLS runs on the AsyncWebSocketStream")

    async def close(self) -> None:
        await self._ws.close()


class AsyncWebSocketStream:
    """A WebSocket over an async stream ``inner`` (see :class:`WebSocketStream`)."""

    __slots__ = ("_tls", "inner", "ws")

    def __init__(
        self,
        inner: AsyncStream,
        host: str,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        headers: Headers = (),
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.inner = inner
        self.ws = WebSocketClient(
            host,
            path,
            subprotocols=subprotocols,
            headers=headers,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )
        self._tls: AsyncMemoryTLSStream | None = None

    def __repr__(self) -> str:
        return f"<AsyncWebSocketStream {self.ws.host}{self.ws.path} over {self.inner!r}>"

    async def handshake(self) -> str | None:
        """Upgrade the connection; return the subprotocol the server chose (or ``None``)."""
        await self.inner.send_all(self.ws.handshake_request())
        while not self.ws.handshake_finished():
            self.ws.receive_data(await self.inner.receive_some())
        return self.ws.subprotocol

    async def send_all(self, data: bytes) -> None:
        """Write ``data`` as one binary frame (a few TLS records, once TLS runs inside)."""
        if self._tls is not None:
            await self._tls.send_all(data)
        else:
            await self._send_frame(data)

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` of payload; ``b""`` after a normal close."""
        if self._tls is not None:
            return await self._tls.receive_some(max_bytes)
        return await self._receive_payload(max_bytes)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run TLS inside the WebSocket (PostgreSQL-level TLS through a plain tunnel)."""
        tls = AsyncMemoryTLSStream(_AsyncFrames(self))
        info = await tls.start_tls(context, server_hostname)
        self._tls = tls
        return info

    async def close(self) -> None:
        """Send a normal close frame (best effort) and close ``inner``."""
        try:
            goodbye = self.ws.close()
            if goodbye:
                await self.inner.send_all(goodbye)
        except OSError:
            pass
        finally:
            await self.inner.close()

    async def _send_frame(self, data: bytes) -> None:
        await self.inner.send_all(self.ws.frame(data))

    async def _receive_payload(self, max_bytes: int) -> bytes:
        ws = self.ws
        while True:
            await self._flush()
            data = ws.read(max_bytes)
            if data is not None:
                return data
            ws.receive_data(await self.inner.receive_some())

    async def _flush(self) -> None:
        pending = self.ws.data_to_send()
        if pending:
            try:
                await self.inner.send_all(pending)
            except OSError:
                if not self.ws.closed:
                    raise


# ----------------------------------------------------------------------------------------
# Opening a WebSocket from a URL
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


def _tls_context(context: ssl.SSLContext | None) -> ssl.SSLContext:
    """The caller's context, or a strict default: system roots, host name checked."""
    if context is not None:
        return context
    default = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    default.minimum_version = ssl.TLSVersion.TLSv1_2
    default.set_alpn_protocols(["http/1.1"])
    return default


def connect_websocket(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    headers: Headers = (),
    timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
) -> WebSocketStream:
    """Open a WebSocket to ``url`` over a blocking TCP connection.

    ``wss://`` runs TLS first with ``ssl_context`` (default: the system's roots, the host
    name checked), sending ``server_hostname`` (default: the URL's host) as SNI. ``timeout``
    bounds each step and stays on the stream (``set_timeout`` changes it).
    """
    from pgwire.transports.tcp import connect_tcp

    where = parse_websocket_url(url)
    inner = connect_tcp(where.host, where.port, timeout=timeout)
    try:
        if where.secure:
            inner.start_tls(_tls_context(ssl_context), server_hostname or where.host)
        stream = WebSocketStream(
            inner,
            where.host_header,
            where.target,
            subprotocols=subprotocols,
            headers=headers,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )
        stream.handshake()
    except BaseException:
        inner.close()
        raise
    return stream


async def connect_websocket_async(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    headers: Headers = (),
    timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
) -> AsyncWebSocketStream:
    """Open a WebSocket to ``url`` over an anyio TCP connection (see
    :func:`connect_websocket`); ``timeout`` bounds the whole opening."""
    import anyio

    from pgwire.transports.async_tcp import connect_tcp_async

    where = parse_websocket_url(url)
    with anyio.fail_after(timeout):
        inner = await connect_tcp_async(where.host, where.port)
        try:
            if where.secure:
                await inner.start_tls(_tls_context(ssl_context), server_hostname or where.host)
            stream = AsyncWebSocketStream(
                inner,
                where.host_header,
                where.target,
                subprotocols=subprotocols,
                headers=headers,
                max_frame_size=max_frame_size,
                max_message_size=max_message_size,
            )
            await stream.handshake()
        except BaseException:
            await inner.close()
            raise
    return stream
