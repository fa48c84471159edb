"""Runs the flows of :mod:`pgwire.flows` on anyio streams (the async driver's I/O).

Mirrors ``_sync_io.py`` name for name, so the generated blocking driver reads the same.
"""

from __future__ import annotations

import inspect
import ssl
import sys
from collections.abc import Generator
from typing import Any, TypeVar

import anyio

from pgwire.flows import CallPassword, IORequest, OpenStream, Receive, Send, StartTLS
from pgwire.transports.async_tcp import AsyncStream, connect_tcp_async, connect_unix_async

__all__ = ["run_flow"]

_T = TypeVar("_T")


def _left(deadline: float | None) -> float | None:
    """What is left of the attempt's connect_timeout (``None``: no bound)."""
    return None if deadline is None else max(deadline - anyio.current_time(), 0.0)


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
                    with anyio.fail_after(_left(deadline)):
                        await stream.send_all(request.data)
                elif isinstance(request, Receive):
                    assert stream is not None
                    with anyio.fail_after(_left(deadline)):
                        reply = await stream.receive_some()
                elif isinstance(request, StartTLS):
                    assert stream is not None
                    with anyio.fail_after(_left(deadline)):
                        reply = await stream.start_tls(request.context, request.server_hostname)
                elif isinstance(request, CallPassword):
                    reply = request.password()
                    if inspect.isawaitable(reply):
                        reply = await reply
                elif isinstance(request, OpenStream):
                    if stream is not None:
                        await stream.close()
                        stream = None
                    timeout = request.timeout
                    deadline = None if timeout is None else anyio.current_time() + timeout
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
    """The async twin of ``_sync_io._open_websocket``."""
    target = request.websocket
    assert target is not None
    if sys.platform == "emscripten":  # Pyodide: the browser's (or the runtime's) WebSocket
        from pgwire.transports.pyodide import connect_browser_websocket

        # The runtime runs TLS with its own trust store: sslrootcert and hostaddr do not
        # apply there.
        return await connect_browser_websocket(
            target.url, subprotocols=target.subprotocols, timeout=timeout
        )
    from pgwire.transports.websocket import (
        AsyncWebSocketStream,
        connect_websocket_async,
        parse_websocket_url,
    )

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
    with anyio.fail_after(timeout):
        inner = await connect_tcp_async(request.host, where.port, shuffle=request.shuffle_addresses)
        try:
            if where.secure:
                await inner.start_tls(request.websocket_tls or _strict_context(), where.host)
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


def _strict_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context
