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

import inspect
from collections.abc import Generator
from typing import Any, TypeVar

from pgwire.connection import AsyncConnection
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
from pgwire.transports.async_tcp import AsyncStream
from pgwire.types import default_registry

_T = TypeVar("_T")


def _one_stream(request: OpenStream, opened: bool) -> None:
    if opened:
        raise AssertionError(
            f"the flow asked for a second stream ({request}); these tests give it only one: "
            "use settings that need a single attempt (one host, sslmode disable or require)"
        )


async def run_flow_on(stream: AsyncStream, flow: Generator[IORequest, Any, _T]) -> _T:
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
                await stream.send_all(request.data)
            elif isinstance(request, Receive):
                reply = await stream.receive_some()
            elif isinstance(request, StartTLS):
                reply = await stream.start_tls(request.context, request.server_hostname)
            elif isinstance(request, CallPassword):
                reply = request.password()
                if True:  # ASYNC
                    if inspect.isawaitable(reply):
                        reply = await reply
            elif isinstance(request, CloseStream):
                await stream.close()
        except OSError as exc:
            error = exc


async def open_connection(stream: AsyncStream, dsn: str, **params: Any) -> AsyncConnection:
    """A connection over ``stream``, for the server ``dsn`` names (its host and port are
    what the session believes it reached)."""
    session: Session = await run_flow_on(stream, connect_flow(resolve(dsn, **params)))
    if True:  # ASYNC
        pass
    else:
        stream.set_timeout(None)
    return AsyncConnection(stream, session.core, session.info, default_registry())
