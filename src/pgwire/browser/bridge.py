"""The page's WebSocket bridge: ``ws://127.0.0.1:<port>/`` relayed to one PostgreSQL address.

A browser cannot open TCP, so the page reaches PostgreSQL through this bridge, as it would
through websockify: binary frames carry the protocol's bytes both ways, cut anywhere. The
bridge is not an open relay: its target is fixed (no ``?address=``), and of the upgrades
that come from a browser (they carry an ``Origin``) it accepts only the page's own (a
WebSocket is not bound by the same-origin rule, so any site the user visits could otherwise
reach the database through it). When the
database cannot be reached the WebSocket closes with code 1011 and a reason saying so,
which the driver reports. It knows nothing of PostgreSQL messages (a CancelRequest is just
another connection's bytes).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection

import anyio
import anyio.abc
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
)
from wsproto.utilities import RemoteProtocolError

from pgwire.dsql_local.websocket import ServerWebSocket
from pgwire.listener import CONNECTION_LOST

__all__ = ["HANDSHAKE_TIMEOUT", "Bridge"]

logger = logging.getLogger(__name__)

#: Seconds a client has for its upgrade request.
HANDSHAKE_TIMEOUT = 10.0
#: The subprotocol websockify's clients ask for; chosen when offered, for them.
_BINARY = "binary"


class Bridge:
    """Relays WebSocket clients from ``origins`` (exact ``Origin`` header values) to
    ``target`` (host, port). :meth:`handle` serves one accepted connection."""

    def __init__(self, target: tuple[str, int], origins: Collection[str]) -> None:
        self.target = target
        self.origins = origins
        #: Connections relayed, and why others were refused (newest last).
        self.relayed = 0
        self.refusals: list[str] = []

    def __repr__(self) -> str:
        return f"<pgwire.browser.Bridge to {self.target[0]}:{self.target[1]}>"

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client: the upgrade, then relay until either side closes."""
        try:
            with anyio.fail_after(HANDSHAKE_TIMEOUT):
                opened = await self._open(client)
        except CONNECTION_LOST:
            opened = None
        if opened is None:
            with contextlib.suppress(*CONNECTION_LOST):
                await client.aclose()
            return
        websocket, upstream = opened
        self.relayed += 1
        async with upstream, anyio.create_task_group() as group:
            group.start_soon(_pump, websocket, upstream, group.cancel_scope)
            await _pump(upstream, websocket, group.cancel_scope)
        await websocket.aclose()

    async def _open(
        self, client: anyio.abc.ByteStream
    ) -> tuple[ServerWebSocket, anyio.abc.SocketStream] | None:
        """Read the upgrade request, check it, reach the target, and accept; ``None`` when
        the upgrade was refused or the target could not be reached."""
        ws = WSConnection(ConnectionType.SERVER)
        request: Request | None = None
        while request is None:
            try:
                data: bytes | None = await client.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                data = None
            try:
                ws.receive_data(data)
                request = next((e for e in ws.events() if isinstance(e, Request)), None)
            except RemoteProtocolError as exc:
                await self._refuse(ws, client, 400, f"invalid WebSocket upgrade: {exc}")
                return None
            if request is None and data is None:
                return None
        origin = dict(request.extra_headers).get(b"origin")
        # Browsers always send an Origin; a program that sends none could reach the
        # database directly anyway.
        if origin is not None and origin.decode("latin-1") not in self.origins:
            await self._refuse(ws, client, 403, f"origin {origin.decode('latin-1')} is not allowed")
            return None
        if request.target.partition("?")[0] != "/":
            await self._refuse(ws, client, 404, f"no WebSocket at {request.target}")
            return None
        subprotocol = _BINARY if _BINARY in request.subprotocols else None
        await client.send(ws.send(AcceptConnection(subprotocol=subprotocol)))
        websocket = ServerWebSocket(client, ws)
        host, port = self.target
        try:
            upstream = await anyio.connect_tcp(host, port)
        except OSError as exc:
            # The page shows the close reason: say what could not be reached (125 bytes
            # at most fit in a close frame).
            reason = f"the bridge could not reach PostgreSQL at {host}:{port}: {exc.strerror}"
            self.refusals.append(reason)
            with contextlib.suppress(*CONNECTION_LOST):
                # A PostgreSQL client speaks first: close once its first bytes are in, so
                # that the close comes while it reads (a browser refuses a send, without
                # the reason, once the close has begun).
                with anyio.move_on_after(HANDSHAKE_TIMEOUT):
                    await websocket.receive()
                await client.send(ws.send(CloseConnection(1011, reason[:120])))
            return None
        return websocket, upstream

    async def _refuse(
        self, ws: WSConnection, client: anyio.abc.ByteStream, status: int, reason: str
    ) -> None:
        self.refusals.append(reason)
        logger.info("WebSocket upgrade refused (%d): %s", status, reason)
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        with contextlib.suppress(*CONNECTION_LOST):
            await client.send(
                ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
                + ws.send(RejectData(data=reason.encode(), body_finished=True))
            )


async def _pump(
    source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream, scope: anyio.CancelScope
) -> None:
    """Copy ``source`` to ``sink`` until one ends; then end the other direction too."""
    try:
        while True:
            await sink.send(await source.receive())
    except CONNECTION_LOST:
        pass
    finally:
        scope.cancel()
