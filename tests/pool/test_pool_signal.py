"""The async pool's hand-over signal (``pgwire.pool._Signal``) on asyncio, uvloop and trio:
a set() wakes the task waiting, a set() before the wait is kept, a timeout returns without
it, and a set() after a cancelled or timed-out wait neither wakes nor breaks anything (on
trio the waiting task is parked and rescheduled by hand, so these are its own code)."""

from __future__ import annotations

import anyio
import pytest

from pgwire.pool import _Signal

pytestmark = pytest.mark.anyio


async def test_set_wakes_the_waiting_task() -> None:
    woken: list[str] = []

    async def waiter(signal: _Signal) -> None:
        await signal.wait(None)
        woken.append("woken")

    async with anyio.create_task_group() as tg:
        signal = _Signal()
        tg.start_soon(waiter, signal)
        for _ in range(5):
            await anyio.sleep(0)
        assert woken == []
        signal.set()
        signal.set()  # a second set() is harmless
    assert woken == ["woken"]


async def test_a_set_before_the_wait_is_kept() -> None:
    signal = _Signal()
    signal.set()
    with anyio.fail_after(10):
        await signal.wait(None)
        await signal.wait(5.0)


async def test_a_timeout_returns_without_a_set_and_a_later_set_is_harmless() -> None:
    signal = _Signal()
    with anyio.fail_after(10):
        await signal.wait(0.01)
    signal.set()
    with anyio.fail_after(10):
        await signal.wait(None)


async def test_a_cancelled_wait_raises_and_a_later_set_wakes_no_one() -> None:
    signal = _Signal()
    cancelled = []

    async def waiter() -> None:
        try:
            await signal.wait(None)
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        for _ in range(5):
            await anyio.sleep(0)
        tg.cancel_scope.cancel()
    assert cancelled == [True]
    # The cancelled task is not rescheduled (on trio that would be an error) and the
    # signal is not waited on again (the pool makes a new one per wait).
    signal.set()
    for _ in range(5):
        await anyio.sleep(0)


async def test_a_set_and_a_cancel_in_the_same_step_let_the_set_win() -> None:
    signal = _Signal()
    outcome: list[str] = []

    async def waiter(scope: anyio.CancelScope) -> None:
        with scope:
            await signal.wait(None)
            outcome.append("woken")
            return
        outcome.append("cancelled")

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, scope)
        for _ in range(5):
            await anyio.sleep(0)
        signal.set()
        scope.cancel()
    # Woken first, the task runs on; the cancel reaches it at its next checkpoint, after
    # this wait (so a connection handed over is never lost with it).
    assert outcome == ["woken"]
