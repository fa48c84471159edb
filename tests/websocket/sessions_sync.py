# GENERATED from tests/websocket/sessions_async.py by scripts/gen_sync.py: do not edit.
"""Open pgwire sessions over an already-open stream, with pgwire's own connection flow.

These helpers run ``pgwire.flows.connect_flow`` by hand, so that a test can give a session
the stream it opened itself (a WebSocket to a misbehaving bridge, the browser's WebSocket
under Pyodide): ``OpenStream`` is answered with that stream, ``Send``/``Receive``/
``StartTLS``/``CloseStream`` go to it. The driver's connection class is then built around
the stream and the ready core, exactly as its ``_open`` does.

``sessions_async.py`` is the source (the async driver); ``scripts/gen_sync.py`` generates
``sessions_sync.py`` (the blocking driver) from it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from pgwire.conninfo import resolve
from pgwire.flows import (
    CallPassword,
    CloseStream,
    IORequest,
    OpenStream,
    Receive,
    Send,
    Session,
    StartTLS,
    connect_flow,
)
from pgwire.sync import Connection
from pgwire.transports import SyncStream
from pgwire.types import default_registry

_T = TypeVar("_T")


def _one_stream(request: OpenStream, opened: bool) -> None:
    if opened:
        raise AssertionError(
            f"the flow asked for a second stream ({request}); these tests give it only one: "
            "use settings that need a single attempt (one host, sslmode disable or require)"
        )


def run_flow_on(stream: SyncStream, flow: Generator[IORequest, Any, _T]) -> _T:
    """Run ``flow`` on ``stream`` and return its result."""
    reply: Any = None
    error: OSError | None = None
    opened = False
    while True:
        try:
            request = flow.throw(error) if error is not None else flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply = error = None
        try:
            if isinstance(request, OpenStream):
                _one_stream(request, opened)
                opened = True
            elif isinstance(request, Send):
                stream.send_all(request.data)
            elif isinstance(request, Receive):
                reply = stream.receive_some()
            elif isinstance(request, StartTLS):
                reply = stream.start_tls(request.context, request.server_hostname)
            elif isinstance(request, CallPassword):
                reply = request.password()
            elif isinstance(request, CloseStream):
                stream.close()
        except OSError as exc:
            error = exc


def open_connection(stream: SyncStream, dsn: str, **params: Any) -> Connection:
    """A connection over ``stream``, for the server ``dsn`` names (its host and port are
    what the session believes it reached)."""
    session: Session = run_flow_on(stream, connect_flow(resolve(dsn, **params)))
    stream.set_timeout(None)
    return Connection(stream, session.core, session.info, default_registry())
