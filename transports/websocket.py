"""A WebSocket client over any byte stream, built on wsproto: ``ws://`` and ``wss://``.

PostgreSQL travels inside the WebSocket as a plain byte stream: each ``send_all`` goes out as
one binary frame, and incoming binary frames are read as one continuous stream, because a
peer may cut PostgreSQL messages anywhere across frames and pack many into one. Text frames
are refused; pings are answered; a close with a code other than 1000 (and a refused
handshake) becomes an ``OSError`` subclass naming the code or the HTTP status.

The protocol logic lives once, in :class:`WebSocketClient` (no I/O, ``websocket_base.py``).
:class:`AsyncWebSocketStream` (over an async stream; its source ``websocket_async.py``) and
:class:`WebSocketStream` (over a blocking one; ``websocket_sync.py``, generated) only pump
its bytes; :func:`connect_websocket_async` and :func:`connect_websocket` open TCP, TLS for
``wss://`` (verified, with SNI), then the WebSocket. ``start_tls`` on a WebSocket stream runs
PostgreSQL-level TLS inside the tunnel with :mod:`pgwire.transports.memory_tls`.

This module gathers them under one name. Moves bytes only; it knows nothing of PostgreSQL
messages.
"""

from __future__ import annotations

from pgwire.transports.websocket_async import AsyncWebSocketStream, connect_websocket_async
from pgwire.transports.websocket_base import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    Headers,
    WebSocketClient,
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandshakeError,
    WebSocketURL,
    parse_websocket_url,
)
from pgwire.transports.websocket_sync import WebSocketStream, connect_websocket

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "AsyncWebSocketStream",
    "Headers",
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
