"""Runs the flows of :mod:`pgwire.flows` on anyio streams (the async driver's I/O).

Mirrors ``_sync_io.py`` name for name, so the generated blocking driver reads the same.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from pgwire.flows import IORequest, OpenStream, Receive, Send
from pgwire.transports.async_tcp import AsyncStream, connect_tcp_async, connect_unix_async

__all__ = ["run_flow"]

_T = TypeVar("_T")


async def run_flow(flow: Generator[IORequest, Any, _T]) -> tuple[AsyncStream | None, _T]:
    """Run a flow of :mod:`pgwire.flows` on anyio; return the open stream (if any) and the
    flow's result. A failing flow closes the stream it opened."""
    stream: AsyncStream | None = None
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
                    await stream.send_all(request.data)
                elif isinstance(request, Receive):
                    assert stream is not None
                    reply = await stream.receive_some()
                elif isinstance(request, OpenStream):
                    if stream is not None:
                        await stream.close()
                        stream = None
                    if request.path is not None:
                        stream = await connect_unix_async(request.path, timeout=request.timeout)
                    else:
                        stream = await connect_tcp_async(
                            request.host, request.port, timeout=request.timeout
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
