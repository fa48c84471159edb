"""The Pyodide tests reach PostgreSQL through the WebSocket suite's websockify fixtures."""

from tests.websocket.conftest import tls_backend, websockify

__all__ = ["tls_backend", "websockify"]
