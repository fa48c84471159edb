"""What the async driver needs from its event loop, behind names that ``_sync_compat.py``
gives to the blocking driver too (the blocking driver is generated from the async one).

anyio provides the loop: asyncio, uvloop and trio alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from pgwire.transports.async_tcp import AsyncStream

__all__ = [
    "ASYNC",
    "Condition",
    "call",
    "chunks",
    "current_owner",
    "fail_after",
    "is_cancellation",
    "iterate",
    "receive",
    "resolve",
    "settle",
    "shield",
    "wait_condition",
]

#: True here, False in ``_sync_compat``.
ASYNC = True
_CHUNK = 1 << 16
#: The wait that stands for a zero timeout (a poll) on a read.
_POLL = 0.001
_NO_LIMIT = contextlib.nullcontext()

#: The pool's lock and wake-up signal (``threading.Condition`` in the blocking twin).
Condition = anyio.Condition


async def wait_condition(condition: anyio.Condition, timeout: float | None) -> bool:
    """Wait (holding ``condition``) for a notification; False if ``timeout`` expired first."""
    with anyio.move_on_after(timeout):
        await condition.wait()
        return True
    return False


def settle(stream: AsyncStream) -> None:
    """Ready a freshly connected stream for queries (nothing to do on anyio)."""


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the event loop cancelling the running task."""
    return isinstance(exc, anyio.get_cancelled_exc_class())


def shield() -> anyio.CancelScope:
    """A scope that outside cancellation cannot interrupt (for cleanup that must finish)."""
    return anyio.CancelScope(shield=True)


def fail_after(seconds: float | None) -> Any:
    """Raise ``TimeoutError`` if the block runs longer than ``seconds`` (``None``: no limit,
    and no cancel scope to enter on every query)."""
    return _NO_LIMIT if seconds is None else anyio.fail_after(seconds)


def current_owner() -> object:
    """Identifies who uses a connection: the running task."""
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


async def receive(stream: AsyncStream, timeout: float | None) -> bytes:
    """Read some bytes, raising ``TimeoutError`` after ``timeout`` seconds."""
    if timeout is None:
        return await stream.receive_some()
    # A zero timeout polls: asyncio and trio would cancel the read before it looks at the
    # socket at all, so give it the shortest wait that does.
    with anyio.fail_after(max(timeout, _POLL)):
        return await stream.receive_some()


async def call(handler: Callable[[Any], Any], argument: Any) -> None:
    """Call ``handler(argument)``, awaiting the result if it is awaitable."""
    result = handler(argument)
    if inspect.isawaitable(result):
        await result


async def resolve(value: Any) -> Any:
    """``value()`` if callable (awaited if that gives an awaitable), else ``value``."""
    if callable(value):
        value = value()
        if inspect.isawaitable(value):
            value = await value
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
            chunk = read(_CHUNK)
            if inspect.isawaitable(chunk):
                chunk = await chunk
            if not chunk:
                return
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    if hasattr(source, "__aiter__"):
        async for chunk in source:
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        return
    for chunk in source:
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


async def iterate(source: Any) -> AsyncIterator[Any]:
    """The items of a sync or async iterable."""
    if hasattr(source, "__aiter__"):
        async for item in source:
            yield item
    else:
        for item in source:
            yield item
