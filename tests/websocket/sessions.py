"""Open pgwire sessions over an already-open stream, with pgwire's own connection flow.

``pgwire.connect()`` does not know ``ws://`` yet (see docs/websocket.md), so these helpers run
``pgwire.flows.connect_flow`` by hand: ``OpenStream`` is answered with the stream the test
opened, ``Send``/``Receive``/``StartTLS``/``CloseStream`` go to that stream. The drivers'
connection classes are then built around the stream and the ready core, exactly as their
``_open`` does.
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
from pgwire.sync import Connection
from pgwire.transports import SyncStream
from pgwire.transports.async_tcp import AsyncStream
from pgwire.types import default_registry

_T = TypeVar("_T")


def _one_stream(request: OpenStream, opened: bool) -> None:
    if opened:
        raise AssertionError(
            f"the flow asked for a second stream ({request}); these tests give it only one: "
            "use settings that need a single attempt (one host, sslmode disable or require)"
        )


def run_flow_on(stream: SyncStream, flow: Generator[IORequest, Any, _T]) -> _T:
    """Run ``flow`` on ``stream`` (blocking) and return its result."""
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


async def run_flow_on_async(stream: AsyncStream, flow: Generator[IORequest, Any, _T]) -> _T:
    """Run ``flow`` on the async ``stream`` and return its result."""
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
                if inspect.isawaitable(reply):
                    reply = await reply
            elif isinstance(request, CloseStream):
                await stream.close()
        except OSError as exc:
            error = exc


def open_connection(stream: SyncStream, dsn: str, **params: Any) -> Connection:
    """A blocking :class:`~pgwire.sync.Connection` over ``stream``, for the server ``dsn``
    names (its host and port are what the session believes it reached)."""
    session: Session = run_flow_on(stream, connect_flow(resolve(dsn, **params)))
    stream.set_timeout(None)
    return Connection(stream, session.core, session.info, default_registry())


async def open_connection_async(stream: AsyncStream, dsn: str, **params: Any) -> AsyncConnection:
    """An :class:`~pgwire.connection.AsyncConnection` over ``stream``."""
    session: Session = await run_flow_on_async(stream, connect_flow(resolve(dsn, **params)))
    return AsyncConnection(stream, session.core, session.info, default_registry())
