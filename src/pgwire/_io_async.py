"""Runs the flows of :mod:`pgwire.flows` on streams: the drivers' only network I/O besides
the byte pump.

This is the async source (anyio streams); ``scripts/gen_sync.py`` turns it into
``_io_sync.py`` (blocking sockets), keeping the ``else`` branch of each
``if True:  # ASYNC``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Generator
from typing import Any, TypeVar

import anyio

from pgwire._compat_async import maybe_await
from pgwire.flows import CallPassword, IORequest, OpenStream, Receive, Send, StartTLS
from pgwire.transports.async_tcp import AsyncStream, connect_tcp_async, connect_unix_async

__all__ = ["run_flow"]

_T = TypeVar("_T")


def _now() -> float:
    if True:  # ASYNC
        return anyio.current_time()
    else:
        return time.monotonic()


def _bounded(stream: AsyncStream, deadline: float | None) -> Any:
    """A block that must end by ``deadline`` (what is left of the attempt's connect_timeout;
    ``None``: no bound)."""
    if True:  # ASYNC
        return anyio.fail_after(None if deadline is None else max(deadline - _now(), 0.0))
    else:
        if deadline is not None:
            left = deadline - _now()
            if left <= 0:
                raise TimeoutError("connect_timeout expired")
            stream.set_timeout(left)
        return contextlib.nullcontext()


async def run_flow(flow: Generator[IORequest, Any, _T]) -> tuple[AsyncStream | None, _T]:
    """Run a flow of :mod:`pgwire.flows` on anyio; return the open stream (if any) and the
    flow's result. A failing flow closes the stream it opened."""
    stream: AsyncStream | None = None
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
                        await stream.send_all(request.data)
                elif isinstance(request, Receive):
                    assert stream is not None
                    with _bounded(stream, deadline):
                        reply = await stream.receive_some()
                elif isinstance(request, StartTLS):
                    assert stream is not None
                    with _bounded(stream, deadline):
                        reply = await stream.start_tls(request.context, request.server_hostname)
                elif isinstance(request, CallPassword):
                    reply = await maybe_await(request.password())
                elif isinstance(request, OpenStream):
                    if stream is not None:
                        await stream.close()
                        stream = None
                    timeout = request.timeout
                    deadline = None if timeout is None else _now() + timeout
                    if request.websocket is not None:
                        stream = await _open_websocket(request, timeout)
                    elif request.path is not None:
                        stream = await connect_unix_async(request.path, timeout=timeout)
                    else:
                        stream = await connect_tcp_async(
                            request.host,
                            request.port,
                            timeout=timeout,
                            shuffle=request.shuffle_addresses,
                        )
                elif stream is not None:
                    await stream.close()
                    stream = None
            except OSError as exc:
                error = exc
    except BaseException:
        if stream is not None:
            await stream.close()
        raise


async def _open_websocket(request: OpenStream, timeout: float | None) -> AsyncStream:
    """The WebSocket of ``request``: TLS (``wss://``) with its context and the URL's host as
    the server name, then the upgrade. With a ``hostaddr``, TCP goes there instead of to
    the URL's host (which still names the server: SNI, certificate check, Host header)."""
    target = request.websocket
    assert target is not None
    if True:  # ASYNC
        if sys.platform == "emscripten":
            # Pyodide: the browser's (or the runtime's) WebSocket, which runs TLS with its
            # own trust store: sslrootcert and hostaddr do not apply there.
            from pgwire.transports.pyodide import connect_browser_websocket

            return await connect_browser_websocket(
                target.url, subprotocols=target.subprotocols, timeout=timeout
            )
    from pgwire.transports.websocket_async import AsyncWebSocketStream, connect_websocket_async
    from pgwire.transports.websocket_base import parse_websocket_url, strict_tls_context

    where = parse_websocket_url(target.url)
    if request.host == where.host:
        return await connect_websocket_async(
            target.url,
            subprotocols=target.subprotocols,
            headers=target.headers,
            timeout=timeout,
            ssl_context=request.websocket_tls,
            server_hostname=where.host,
        )
    deadline = None if timeout is None else _now() + timeout
    inner = await connect_tcp_async(
        request.host, where.port, timeout=timeout, shuffle=request.shuffle_addresses
    )
    try:
        with _bounded(inner, deadline):
            if where.secure:
                await inner.start_tls(strict_tls_context(request.websocket_tls), where.host)
            stream = AsyncWebSocketStream(
                inner,
                where.host_header,
                where.target,
                subprotocols=target.subprotocols,
                headers=target.headers,
            )
            await stream.handshake()
    except BaseException:
        await inner.close()
        raise
    return stream
