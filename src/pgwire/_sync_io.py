"""Runs the flows of :mod:`pgwire.flows` on blocking sockets (the blocking driver's I/O).

The async driver's counterpart is ``_async_io.py``; the two have the same names so that the
drivers built on them read alike.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from pgwire.flows import IORequest, OpenStream, Receive, Send
from pgwire.transports import SyncStream, connect_tcp, connect_unix

__all__ = ["run_flow"]

_T = TypeVar("_T")


def run_flow(flow: Generator[IORequest, Any, _T]) -> tuple[SyncStream | None, _T]:
    """Run a flow of :mod:`pgwire.flows` with blocking sockets; return the open stream (if
    any) and the flow's result. A failing flow closes the stream it opened."""
    stream: SyncStream | None = None
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
                    stream.send_all(request.data)
                elif isinstance(request, Receive):
                    assert stream is not None
                    reply = stream.receive_some()
                elif isinstance(request, OpenStream):
                    if stream is not None:
                        stream.close()
                        stream = None
                    if request.path is not None:
                        stream = connect_unix(request.path, timeout=request.timeout)
                    else:
                        stream = connect_tcp(request.host, request.port, timeout=request.timeout)
                elif stream is not None:
                    stream.close()
                    stream = None
            except OSError as exc:
                error = exc
    except BaseException:
        if stream is not None:
            stream.close()
        raise
