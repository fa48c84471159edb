"""A stream over the browser's WebSocket (``js.WebSocket``), for pgwire running in Pyodide.

In a browser (or a JavaScript runtime with a ``WebSocket`` global) there are no sockets:
the runtime's WebSocket does the handshake, the framing, the pings and TLS for ``wss://``,
and delivers whole messages. This stream turns them into pgwire's async byte stream:
``binaryType = "arraybuffer"``, each ``send_all`` is one binary message, messages are read
as one continuous stream, a text message or an abnormal close is an ``OSError``
(the same :class:`~pgwire.transports.websocket.WebSocketError` classes as the wsproto
transport). ``start_tls`` runs PostgreSQL-level TLS inside the tunnel in memory.

It needs only asyncio (Pyodide's event loop is asyncio's), and imports ``js`` and
``pyodide.ffi`` when a connection opens, so this module can be imported (and type-checked)
anywhere. The browser cannot set request headers on a WebSocket: credentials go in the URL
or in PostgreSQL's own authentication.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from pgwire.transports.memory_tls_async import AsyncTunnelStream
from pgwire.transports.websocket_base import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandshakeError,
)

__all__ = ["BrowserWebSocketStream", "connect_browser_websocket"]

#: ``WebSocket.readyState`` values.
_OPEN = 1
#: Wait before sending while the browser holds more than this many unsent bytes.
_HIGH_WATER = 1 << 20
_NORMAL_CLOSE = (1000, 1005)


class BrowserWebSocketStream(AsyncTunnelStream):
    """pgwire's async stream over an open JavaScript ``WebSocket`` (see
    :func:`connect_browser_websocket`)."""

    def __init__(self, socket: Any, url: str) -> None:
        from pyodide.ffi import create_proxy

        super().__init__()
        self.socket = socket
        self.url = url
        self._incoming: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended: OSError | None = None
        self._clean_close = False
        self._opened = False
        socket.binaryType = "arraybuffer"
        self._proxies = [
            create_proxy(self._on_open),
            create_proxy(self._on_message),
            create_proxy(self._on_close),
            create_proxy(self._on_error),
        ]
        socket.onopen, socket.onmessage, socket.onclose, socket.onerror = self._proxies

    def __repr__(self) -> str:
        return f"<BrowserWebSocketStream {self.url}>"

    # JavaScript event handlers: they run between Python's awaits, on the same thread.

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _on_open(self, _event: Any) -> None:
        self._opened = True
        self._wake()

    def _on_message(self, event: Any) -> None:
        if self._ended is not None:
            return
        data = event.data
        if isinstance(data, str):
            self._ended = WebSocketError(
                f"the WebSocket peer {self.url} sent a text frame; PostgreSQL travels in "
                "binary frames only (is this a PostgreSQL bridge?)"
            )
            self.socket.close(1003, "binary frames only")
        else:
            self._incoming.append(data.to_bytes())
        self._wake()

    def _on_close(self, event: Any) -> None:
        if self._ended is None:
            code = int(event.code)
            reason = str(event.reason or "")
            if not self._opened:
                self._ended = WebSocketHandshakeError(
                    f"the WebSocket to {self.url} could not be opened (close code {code}); "
                    "the browser does not say why: check the URL, the bridge, and the "
                    "console for the HTTP status"
                )
            elif code in _NORMAL_CLOSE:
                self._clean_close = True
                self._ended = WebSocketClosedError("the WebSocket closed normally", code, reason)
            else:
                detail = f": {reason}" if reason else ""
                self._ended = WebSocketClosedError(
                    f"the WebSocket peer {self.url} closed the connection with code {code}{detail}",
                    code,
                    reason,
                )
        self._wake()

    def _on_error(self, _event: Any) -> None:
        # The browser hides the cause; a close event with the code always follows.
        pass

    # The stream.

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def wait_open(self) -> None:
        """Wait until the browser opened the WebSocket (raise if it could not)."""
        while not self._opened:
            if self._ended is not None:
                raise self._ended
            await self._wait()

    async def close(self) -> None:
        """Close the WebSocket normally and release the event handlers."""
        if self._proxies:
            if int(self.socket.readyState) <= _OPEN:
                self.socket.close(1000)
            self.socket.onopen = self.socket.onmessage = None
            self.socket.onclose = self.socket.onerror = None
            for proxy in self._proxies:
                proxy.destroy()
            self._proxies = []
            if self._ended is None:
                self._clean_close = True
                self._ended = WebSocketClosedError("the WebSocket is closed", 1000, None)

    async def _send_plain(self, data: bytes) -> None:
        from pyodide.ffi import to_js

        if self._ended is not None and not self._clean_close:
            raise self._ended
        if int(self.socket.readyState) != _OPEN:
            raise WebSocketClosedError("cannot send: the WebSocket is closed", 1000, None)
        self.socket.send(to_js(data))
        # The browser queues without limit; give it time to drain a large backlog.
        while int(self.socket.bufferedAmount) > _HIGH_WATER and self._ended is None:
            await asyncio.sleep(0.005)

    async def _receive_plain(self, max_bytes: int) -> bytes:
        while not self._incoming:
            if self._ended is not None:
                if self._clean_close:
                    return b""
                raise self._ended
            await self._wait()
        data = self._incoming.popleft()
        if len(data) > max_bytes:
            self._incoming.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        return data


async def connect_browser_websocket(
    url: str, *, subprotocols: Sequence[str] = (), timeout: float | None = None
) -> BrowserWebSocketStream:
    """Open ``url`` (``ws://`` or ``wss://``) with the runtime's ``WebSocket`` and wait until
    it is open. ``wss://`` is verified by the runtime, as every page's connections are."""
    import js
    from pyodide.ffi import to_js

    socket = js.WebSocket.new(url, to_js(list(subprotocols)))
    stream = BrowserWebSocketStream(socket, url)
    try:
        await asyncio.wait_for(stream.wait_open(), timeout)
    except BaseException:
        await stream.close()
        raise
    return stream
