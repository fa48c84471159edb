"""What the drivers need from their event loop, under one set of names.

This is the async source: anyio provides the loop (asyncio, uvloop and trio alike).
``scripts/gen_sync.py`` turns it into ``_compat_sync.py`` for the blocking driver, keeping
the ``else`` branch of each ``if True:  # ASYNC`` (threads, blocking sockets, Ctrl-C).
Nothing here knows PostgreSQL: the drivers call these helpers and stay identical in shape.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from pgwire.transports.async_tcp import AsyncStream

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

if True:  # ASYNC
    import asyncio
    import sys


def settle(stream: AsyncStream) -> None:
    """Ready a freshly connected stream for queries: a blocking socket drops the connect
    timeout (an anyio stream has none to drop)."""
    if True:  # ASYNC
        pass
    else:
        stream.set_timeout(None)


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the caller being interrupted: the event loop cancelling the task,
    or Ctrl-C in blocking code. Either cancels the query on the server."""
    if True:  # ASYNC
        return isinstance(exc, anyio.get_cancelled_exc_class())
    else:
        return isinstance(exc, KeyboardInterrupt)


def shield() -> Any:
    """A scope that outside cancellation cannot interrupt (for cleanup that must finish).
    Nothing interrupts blocking code but signals: there it is a no-op."""
    if True:  # ASYNC
        return anyio.CancelScope(shield=True)
    else:
        return _NO_LIMIT


def fail_after(seconds: float | None) -> Any:
    """Raise ``TimeoutError`` if the block runs longer than ``seconds`` (``None``: no limit,
    and no cancel scope to enter on every query). Blocking reads get their timeout through
    :func:`receive` instead: there it is a no-op."""
    if True:  # ASYNC
        return _NO_LIMIT if seconds is None else anyio.fail_after(seconds)
    else:
        return _NO_LIMIT


def current_owner() -> object:
    """Identifies who uses a connection: the running task (or thread)."""
    if True:  # ASYNC
        # The event loop's own lookup is far cheaper than anyio's TaskInfo, and runs per query.
        try:
            task = asyncio.current_task()
        except RuntimeError:  # not on asyncio
            trio = sys.modules.get("trio")
            if trio is not None:
                try:
                    return trio.lowlevel.current_task()
                except RuntimeError:  # not on trio either
                    pass
            task = None
        return task if task is not None else anyio.get_current_task().id
    else:
        return threading.get_ident()


def owner_lookup() -> Callable[[], object]:
    """A function that gives :func:`current_owner` cheaply, for the event loop (or thread)
    running now: called once per connection, so that the check on every query neither
    raises and catches (trio, on asking asyncio) nor asks each loop in turn."""
    if True:  # ASYNC
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on asyncio
            trio = sys.modules.get("trio")
            if trio is not None:
                try:
                    trio.lowlevel.current_task()
                except RuntimeError:  # not on trio either
                    return current_owner
                lookup: Callable[[], object] = trio.lowlevel.current_task
                return lookup
            return current_owner
        return asyncio.current_task
    else:
        return threading.get_ident


async def receive(stream: AsyncStream, timeout: float | None) -> bytes:
    """Read some bytes, raising ``TimeoutError`` after ``timeout`` seconds."""
    if timeout is None:
        return await stream.receive_some()
    if True:  # ASYNC
        # A zero timeout polls: asyncio and trio would cancel the read before it looks at
        # the socket at all, so give it the shortest wait that does.
        with anyio.fail_after(max(timeout, _POLL)):
            return await stream.receive_some()
    else:
        stream.set_timeout(timeout)
        try:
            return stream.receive_some()
        finally:
            stream.set_timeout(None)


async def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable (a callback may be sync or async)."""
    if True:  # ASYNC
        if inspect.isawaitable(value):
            return await value
    return value


async def call(handler: Callable[[Any], Any], argument: Any) -> None:
    """Call ``handler(argument)``, awaiting the result if it is awaitable."""
    # Runs per COPY chunk: no coroutine layer of maybe_await's on that path.
    if True:  # ASYNC
        result = handler(argument)
        if inspect.isawaitable(result):
            await result
    else:
        handler(argument)


async def resolve(value: Any) -> Any:
    """``value()`` if callable (awaited if that gives an awaitable), else ``value``."""
    if callable(value):
        value = await maybe_await(value())
    return value


async def chunks(source: Any) -> AsyncIterator[bytes]:
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
            chunk = await maybe_await(read(_CHUNK))
            if not chunk:
                return
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    async for chunk in iterate(source):
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


async def iterate(source: Any) -> AsyncIterator[Any]:
    """The items of a sync or async iterable."""
    if True:  # ASYNC
        if hasattr(source, "__aiter__"):
            async for item in source:
                yield item
            return
    for item in source:
        yield item
