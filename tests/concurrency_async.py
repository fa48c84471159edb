"""Doing two things at once in a test, under one set of names for both drivers' tests.

``concurrency_async.py`` is the source (tasks on anyio: asyncio, uvloop, trio);
``scripts/gen_sync.py`` generates ``concurrency_sync.py`` from it, with threads in place of
tasks. A test written with these names (``running``, ``pause``, ``sleep``, ``Lock``,
``within``) is written once for both drivers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

__all__ = ["Lock", "pause", "running", "sleep", "within"]

if True:  # ASYNC
    Lock = anyio.Lock
    sleep = anyio.sleep
else:
    Lock = threading.Lock
    sleep = time.sleep


@asynccontextmanager
async def running(*functions: Callable[[], Any]) -> AsyncIterator[None]:
    """Run each of ``functions`` alongside the block, each in a task of its own (a thread
    in blocking code), and wait for all of them when the block ends. A failure in one of
    them fails the test."""
    if True:  # ASYNC
        async with anyio.create_task_group() as tasks:
            for function in functions:
                tasks.start_soon(function)
            yield
    else:
        failures: list[BaseException] = []

        def run(function: Callable[[], Any]) -> None:
            try:
                function()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(function,)) for function in functions]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]


async def pause() -> None:
    """Let what runs alongside (see :func:`running`) get as far as it can: until every
    other task waits for something (in blocking code, where threads cannot be watched,
    for a tenth of a second)."""
    if True:  # ASYNC
        await anyio.wait_all_tasks_blocked()
    else:
        time.sleep(0.1)


async def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``await call()``, failing the test with an AssertionError if it has not ended after
    ``seconds`` (a hang): the task is cancelled; in blocking code, where a thread cannot
    be, the call runs in a thread of its own, left behind."""
    if True:  # ASYNC
        with anyio.move_on_after(seconds):
            return await call()
        raise AssertionError(f"no outcome within {seconds} seconds: a hang")
    else:
        outcome: list[tuple[bool, Any]] = []

        def target() -> None:
            try:
                outcome.append((True, call()))
            except BaseException as exc:
                outcome.append((False, exc))

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
        if not outcome:
            raise AssertionError(f"no outcome within {seconds} seconds: a hang")
        returned, value = outcome[0]
        if not returned:
            raise value
        return value
