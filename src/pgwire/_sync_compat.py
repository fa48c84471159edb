"""The blocking counterparts of ``_async_compat.py``, name for name."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pgwire.transports import SyncStream

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

ASYNC = False
_CHUNK = 1 << 16

Condition = threading.Condition


def wait_condition(condition: threading.Condition, timeout: float | None) -> bool:
    """Wait (holding ``condition``) for a notification; False if ``timeout`` expired first."""
    return condition.wait(timeout)


def settle(stream: SyncStream) -> None:
    """Ready a freshly connected stream for queries: the connect timeout no longer applies."""
    stream.set_timeout(None)


def is_cancellation(exc: BaseException) -> bool:
    """Ctrl-C plays the part of task cancellation: the query is cancelled on the server."""
    return isinstance(exc, KeyboardInterrupt)


def shield() -> contextlib.nullcontext[None]:
    """Nothing interrupts blocking code but signals; cleanup needs no shield."""
    return contextlib.nullcontext()


def fail_after(seconds: float | None) -> contextlib.nullcontext[None]:
    """Blocking reads get their timeout through :func:`receive` instead."""
    return contextlib.nullcontext()


def current_owner() -> object:
    """Identifies who uses a connection: the running thread."""
    return threading.get_ident()


def receive(stream: SyncStream, timeout: float | None) -> bytes:
    """Read some bytes, raising ``TimeoutError`` after ``timeout`` seconds."""
    if timeout is None:
        return stream.receive_some()
    stream.set_timeout(timeout)
    try:
        return stream.receive_some()
    finally:
        stream.set_timeout(None)


def call(handler: Callable[[Any], Any], argument: Any) -> None:
    """Call ``handler(argument)``."""
    handler(argument)


def resolve(value: Any) -> Any:
    """``value()`` if callable, else ``value``."""
    return value() if callable(value) else value


def chunks(source: Any) -> Iterator[bytes]:
    """COPY data from bytes, str, a (binary or text) file, or an iterable of chunks."""
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
            if not chunk:
                return
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    for chunk in source:
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


def iterate(source: Any) -> Iterator[Any]:
    """The items of an iterable."""
    yield from source
