# GENERATED from src/pgwire/_io_async.py by scripts/gen_sync.py: do not edit.
"""Runs the flows of :mod:`pgwire.flows` on streams: the drivers' only network I/O besides
the byte pump.

This is the async source (anyio streams); ``scripts/gen_sync.py`` turns it into
``_io_sync.py`` (blocking sockets), keeping the ``else`` branch of each
``if True:  # ASYNC``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from typing import Any, TypeVar

from pgwire._compat_sync import maybe_await
from pgwire.flows import CallPassword, IORequest, OpenStream, Receive, Send, StartTLS
from pgwire.transports import SyncStream, connect_tcp, connect_unix

__all__ = ["run_flow"]

_T = TypeVar("_T")


def _now() -> float:
    return time.monotonic()


def _bounded(stream: SyncStream, deadline: float | None) -> Any:
    """A block that must end by ``deadline`` (what is left of the attempt's connect_timeout;
    ``None``: no bound)."""
    if deadline is not None:
        left = deadline - _now()
        if left <= 0:
            raise TimeoutError("connect_timeout expired")
        stream.set_timeout(left)
    return contextlib.nullcontext()


def run_flow(flow: Generator[IORequest, Any, _T]) -> tuple[SyncStream | None, _T]:
    """Run a flow of :mod:`pgwire.flows` on anyio; return the open stream (if any) and the
    flow's result. A failing flow closes the stream it opened."""
    stream: SyncStream | None = None
    deadline: float | None = None
    reply: Any = None
    error: OSError | None = None
    try:
        while True:
            try:
                request = flow.throw(error) if error is not None else flow.send(reply)
            except StopIteration as stop:
                return stream, stop.value
            reply = error = None
            try:
                if isinstance(request, Send):
                    assert stream is not None
                    with _bounded(stream, deadline):
                        stream.send_all(request.data)
                elif isinstance(request, Receive):
                    assert stream is not None
                    with _bounded(stream, deadline):
                        reply = stream.receive_some()
                elif isinstance(request, StartTLS):
                    assert stream is not None
                    with _bounded(stream, deadline):
                        reply = stream.start_tls(request.context, request.server_hostname)
                elif isinstance(request, CallPassword):
                    reply = maybe_await(request.password())
                elif isinstance(request, OpenStream):
                    if stream is not None:
                        stream.close()
                        stream = None
                    timeout = request.timeout
                    deadline = None if timeout is None else _now() + timeout
                    if request.websocket is not None:
                        stream = _open_websocket(request, timeout)
                    elif request.path is not None:
                        stream = connect_unix(request.path, timeout=timeout)
                    else:
                        stream = connect_tcp(
                            request.host,
                            request.port,
                            timeout=timeout,
                            shuffle=request.shuffle_addresses,
                        )
                elif stream is not None:
                    stream.close()
                    stream = None
            except OSError as exc:
                error = exc
    except BaseException:
        if stream is not None:
            stream.close()
        raise


def _open_websocket(request: OpenStream, timeout: float | None) -> SyncStream:
    """The WebSocket of ``request``: TLS (``wss://``) with its context and the URL's host as
    the server name, then the upgrade. With a ``hostaddr``, TCP goes there instead of to
    the URL's host (which still names the server: SNI, certificate check, Host header)."""
    target = request.websocket
    assert target is not None
    from pgwire.transports.websocket_base import parse_websocket_url, strict_tls_context
    from pgwire.transports.websocket_sync import WebSocketStream, connect_websocket

    where = parse_websocket_url(target.url)
    if request.host == where.host:
        return connect_websocket(
            target.url,
            subprotocols=target.subprotocols,
            headers=target.headers,
            timeout=timeout,
            ssl_context=request.websocket_tls,
            server_hostname=where.host,
        )
    deadline = None if timeout is None else _now() + timeout
    inner = connect_tcp(
        request.host, where.port, timeout=timeout, shuffle=request.shuffle_addresses
    )
    try:
        with _bounded(inner, deadline):
            if where.secure:
                inner.start_tls(strict_tls_context(request.websocket_tls), where.host)
            stream = WebSocketStream(
                inner,
                where.host_header,
                where.target,
                subprotocols=target.subprotocols,
                headers=target.headers,
            )
            stream.handshake()
    except BaseException:
        inner.close()
        raise
    return stream
