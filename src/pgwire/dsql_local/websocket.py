"""The server side of the local DSQL endpoint's ``wss://`` listener (DSQL's WebSocket).

:func:`accept_websocket` reads the client's HTTP upgrade on a (TLS) stream and accepts it on
path ``/`` with no subprotocol, as DSQL does, or refuses it with an HTTP error.
:class:`ServerWebSocket` is then the PostgreSQL byte stream inside: binary frames, cut
anywhere, pings answered, a close answered, a text frame refused with close code 1003.
It knows nothing of PostgreSQL messages.
"""

from __future__ import annotations

import contextlib

import anyio
import anyio.abc
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState as WebSocketState
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

from pgwire.listener import CONNECTION_LOST

__all__ = ["WEBSOCKET_ALPN", "WEBSOCKET_PATH", "ServerWebSocket", "accept_websocket"]

#: The ALPN protocol of the ``wss://`` listener: the upgrade is an HTTP/1.1 request.
WEBSOCKET_ALPN = "http/1.1"
#: The path of DSQL's WebSocket endpoint.
WEBSOCKET_PATH = "/"


async def accept_websocket(stream: anyio.abc.ByteStream) -> ServerWebSocket | None:
    """Read the client's HTTP upgrade request on ``stream`` and accept it (path ``/``, no
    subprotocol), or refuse it with an HTTP error (``None``)."""
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        try:
            data: bytes | None = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            data = None
        try:
            ws.receive_data(data)
            events = list(ws.events())
        except RemoteProtocolError as exc:
            await _refuse_upgrade(ws, stream, 400, f"invalid WebSocket upgrade: {exc}")
            return None
        for event in events:
            if not isinstance(event, Request):
                continue
            if event.target.partition("?")[0] != WEBSOCKET_PATH:
                await _refuse_upgrade(ws, stream, 404, f"no WebSocket at {event.target}")
                return None
            # DSQL chooses no subprotocol, whatever the client offers.
            await stream.send(ws.send(AcceptConnection()))
            return ServerWebSocket(stream, ws)
        if data is None:
            return None


async def _refuse_upgrade(
    ws: WSConnection, stream: anyio.abc.ByteStream, status: int, message: str
) -> None:
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    with contextlib.suppress(*CONNECTION_LOST):
        await stream.send(
            ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
            + ws.send(RejectData(data=body, body_finished=True))
        )


class ServerWebSocket(anyio.abc.ByteStream):
    """The server side of an accepted WebSocket over ``inner``, as a byte stream: ``send``
    writes one binary frame, ``receive`` returns the payload of binary frames as one
    continuous stream (cut anywhere), pings are answered, a close is answered and ends the
    stream (``EndOfStream``), a text frame closes it with 1003."""

    def __init__(self, inner: anyio.abc.ByteStream, ws: WSConnection) -> None:
        self._inner = inner
        self._ws = ws
        self._payload = bytearray()
        self._ended = False
        self._closed = False
        self._lock = anyio.Lock()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while True:
            await self._handle_events()
            if self._payload:
                data = bytes(self._payload[:max_bytes])
                del self._payload[:max_bytes]
                return data
            if self._ended:
                raise anyio.EndOfStream
            try:
                incoming: bytes | None = await self._inner.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                incoming = None
            self._ws.receive_data(incoming)

    async def _handle_events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                self._payload += event.data
            elif isinstance(event, Ping):
                await self._write(event.response())
            elif isinstance(event, CloseConnection):
                self._ended = True
                if self._ws.state is WebSocketState.REMOTE_CLOSING:
                    await self._write(event.response())
                elif self._ws.state is WebSocketState.OPEN:
                    # A frame wsproto could not parse: close with its code.
                    await self._write(CloseConnection(event.code, event.reason))
            elif isinstance(event, TextMessage):
                self._ended = True
                await self._write(
                    CloseConnection(CloseReason.UNSUPPORTED_DATA, "binary frames only")
                )
                raise anyio.BrokenResourceError("the client sent a text frame")

    async def _write(self, event: Event) -> None:
        async with self._lock:
            if self._ws.state in (WebSocketState.OPEN, WebSocketState.REMOTE_CLOSING):
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await self._inner.send(self._ws.send(event))

    async def send(self, item: bytes) -> None:
        async with self._lock:
            if self._ws.state is not WebSocketState.OPEN:
                raise anyio.ClosedResourceError
            await self._inner.send(self._ws.send(Message(data=bytes(item))))

    async def send_eof(self) -> None:
        await self._write(CloseConnection(CloseReason.NORMAL_CLOSURE))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(*CONNECTION_LOST):
            with anyio.move_on_after(1, shield=True):
                await self._write(CloseConnection(CloseReason.NORMAL_CLOSURE))
        await self._inner.aclose()
