# GENERATED from src/pgwire/_compat_async.py by scripts/gen_sync.py: do not edit.
"""What the drivers need from their event loop, under one set of names.

This is the async source: anyio provides the loop (asyncio, uvloop and trio alike).
``scripts/gen_sync.py`` turns it into ``_compat_sync.py`` for the blocking driver, keeping
the ``else`` branch of each ``if True:  # ASYNC`` (threads, blocking sockets, Ctrl-C).
Nothing here knows PostgreSQL: the drivers call these helpers and stay identical in shape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pgwire.transports import SyncStream

__all__ = [
    "call",
    "chunks",
    "current_owner",
    "fail_after",
    "is_cancellation",
    "iterate",
    "owner_lookup",
    "receive",
    "resolve",
    "settle",
    "shield",
]

_CHUNK = 1 << 16
#: The wait that stands for a zero timeout (a poll) on a read.
_POLL = 0.001
_NO_LIMIT = contextlib.nullcontext()


def settle(stream: SyncStream) -> None:
    """Ready a freshly connected stream for queries: a blocking socket drops the connect
    timeout (an anyio stream has none to drop)."""
    stream.set_timeout(None)


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the caller being interrupted: the event loop cancelling the task,
    or Ctrl-C in blocking code. Either cancels the query on the server."""
    return isinstance(exc, KeyboardInterrupt)


def shield() -> Any:
    """A scope that outside cancellation cannot interrupt (for cleanup that must finish).
    Nothing interrupts blocking code but signals: there it is a no-op."""
    return _NO_LIMIT


def fail_after(seconds: float | None) -> Any:
    """Raise ``TimeoutError`` if the block runs longer than ``seconds`` (``None``: no limit,
    and no cancel scope to enter on every query). Blocking reads get their timeout through
    :func:`receive` instead: there it is a no-op."""
    return _NO_LIMIT


def current_owner() -> object:
    """Identifies who uses a connection: the running task (or thread)."""
    return threading.get_ident()


def owner_lookup() -> Callable[[], object]:
    """A function that gives :func:`current_owner` cheaply, for the event loop (or thread)
    running now: called once per connection, so that the check on every query neither
    raises and catches (trio, on asking asyncio) nor asks each loop in turn."""
    return threading.get_ident


def receive(stream: SyncStream, timeout: float | None) -> bytes:
    """Read some bytes, raising ``TimeoutError`` after ``timeout`` seconds."""
    if timeout is None:
        return stream.receive_some()
    stream.set_timeout(timeout)
    try:
        return stream.receive_some()
    finally:
        stream.set_timeout(None)


def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable (a callback may be sync or async)."""
    return value


def call(handler: Callable[[Any], Any], argument: Any) -> None:
    """Call ``handler(argument)``, awaiting the result if it is awaitable."""
    # Runs per COPY chunk: no coroutine layer of maybe_await's on that path.
    handler(argument)


def resolve(value: Any) -> Any:
    """``value()`` if callable (awaited if that gives an awaitable), else ``value``."""
    if callable(value):
        value = maybe_await(value())
    return value


def chunks(source: Any) -> Iterator[bytes]:
    """COPY data from bytes, str, a (binary or text) file, or a sync or async iterable."""
    if isinstance(source, str):
        source = source.encode()
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), _CHUNK):
            yield bytes(view[start : start + _CHUNK])
        return
    read = getattr(source, "read", None)
    if read is not None:
        while True:
            chunk = maybe_await(read(_CHUNK))
            if not chunk:
                return
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    for chunk in iterate(source):
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


def iterate(source: Any) -> Iterator[Any]:
    """The items of a sync or async iterable."""
    yield from source
