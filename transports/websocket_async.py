"""The WebSocket stream: :class:`AsyncWebSocketStream` pumps the bytes of a
:class:`~pgwire.transports.websocket_base.WebSocketClient` over an inner stream, and
:func:`connect_websocket_async` opens TCP, TLS for ``wss://`` (verified, with SNI), then the
WebSocket. ``start_tls`` on the stream runs PostgreSQL-level TLS inside the tunnel
(:mod:`pgwire.transports.memory_tls`).

This is the async source; ``scripts/gen_sync.py`` turns it into ``websocket_sync.py`` (the
blocking stream over a blocking socket), keeping the ``else`` branch of each
``if True:  # ASYNC``. Moves bytes only; it knows nothing of PostgreSQL messages.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pgwire.transports.memory_tls_async import AsyncTunnelStream
from pgwire.transports.websocket_base import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    Headers,
    WebSocketClient,
    parse_websocket_url,
    strict_tls_context,
)

if TYPE_CHECKING:
    from pgwire.transports.async_tcp import AsyncStream

__all__ = ["AsyncWebSocketStream", "connect_websocket_async"]


class AsyncWebSocketStream(AsyncTunnelStream):
    """A WebSocket over the stream ``inner``; call :meth:`handshake` first.

    ``host`` is the Host header (``host`` or ``host:port``), ``path`` the request target
    (with its query, e.g. ``/?address=db:5432`` for a bridge), ``subprotocols`` the offered
    subprotocols (e.g. ``["binary"]``), ``headers`` extra request headers. Each ``send_all``
    is one binary frame; incoming binary frames are read as one continuous stream.
    """

    __slots__ = ("inner", "ws")

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
        super().__init__()
        self.inner = inner
        self.ws = WebSocketClient(
            host,
            path,
            subprotocols=subprotocols,
            headers=headers,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.ws.host}{self.ws.path} over {self.inner!r}>"

    async def handshake(self) -> str | None:
        """Upgrade the connection; return the subprotocol the server chose (or ``None``)."""
        await self.inner.send_all(self.ws.handshake_request())
        while not self.ws.handshake_finished():
            self.ws.receive_data(await self.inner.receive_some())
        return self.ws.subprotocol

    if True:  # ASYNC
        pass
    else:

        def set_timeout(self, seconds: float | None) -> None:
            """Bound every later send and receive."""
            self.inner.set_timeout(seconds)

    async def close(self) -> None:
        """Send a normal close frame (best effort, without waiting for the answer) and
        close ``inner``. Closing twice is harmless."""
        try:
            goodbye = self.ws.close()
            if goodbye:
                await self.inner.send_all(goodbye)
        except OSError:
            pass
        finally:
            await self.inner.close()

    async def _send_plain(self, data: bytes) -> None:
        await self.inner.send_all(self.ws.frame(data))

    async def _receive_plain(self, max_bytes: int) -> bytes:
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
                    raise  # after a close, the reason for it matters more


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
    """Open a WebSocket to ``url`` over TCP (anyio's in async code, a socket in blocking
    code).

    ``wss://`` runs TLS first with ``ssl_context`` (default: the system's roots, the host
    name checked), sending ``server_hostname`` (default: the URL's host) as SNI. In async
    code ``timeout`` bounds the whole opening; in blocking code it bounds each step and
    stays on the stream (``set_timeout`` changes it).
    """
    from pgwire.transports.async_tcp import connect_tcp_async

    where = parse_websocket_url(url)
    if True:  # ASYNC
        import anyio

        # One deadline bounds the whole opening: the event loop cancels what runs past it.
        opening = anyio.fail_after(timeout)
        step_timeout: float | None = None
    else:
        # The socket's timeout bounds each step, and stays on the stream.
        opening = contextlib.nullcontext()
        step_timeout = timeout
    with opening:
        inner = await connect_tcp_async(where.host, where.port, timeout=step_timeout)
        try:
            if where.secure:
                await inner.start_tls(
                    strict_tls_context(ssl_context), server_hostname or where.host
                )
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
