"""Waiting for a connection when every one is lent out, against the real PostgreSQL 18: first
come first served, no wake-up lost, a timeout or a broken connection in the line does not
stall the others. For the blocking pool (threads) and the async pool on asyncio, uvloop and
trio, from one source (``test_pool_waiting_async.py``); what only tasks can do (be
cancelled while waiting) is in ``test_pool_cancellation.py``."""

from __future__ import annotations

import functools

import pytest

from pgwire import errors
from pgwire.connection import AsyncConnection
from pgwire.pool import AsyncPool, create_pool
from tests.concurrency_async import Lock, pause, running, sleep, within
from tests.pool.conftest import Server

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


async def _borrow(pool: AsyncPool, timeout: float | None = None) -> AsyncConnection:
    """A connection lent outside any ``with`` block, until ``pool.release(conn)``."""
    return await pool.acquire(timeout=timeout).__aenter__()


async def test_waiters_are_served_in_the_order_they_came(server: Server) -> None:
    order: list[int] = []
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = await _borrow(pool)

        async def wait(n: int) -> None:
            async with pool.acquire() as conn:
                order.append(n)
                assert conn is holder

        async with running(functools.partial(wait, 0)):
            await pause()  # each joins the line before the next one comes
            async with running(functools.partial(wait, 1)):
                await pause()
                async with running(functools.partial(wait, 2)):
                    await pause()
                    assert order == []
                    await pool.release(holder)
    assert order == [0, 1, 2]


async def test_a_newcomer_does_not_overtake_the_line(server: Server) -> None:
    order: list[str] = []
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = await _borrow(pool)

        async def wait(name: str) -> None:
            async with pool.acquire():
                order.append(name)

        async with running(functools.partial(wait, "waiting")):
            await pause()
            await pool.release(holder)
            # Released to the one in line: the newcomer waits for its turn.
            async with pool.acquire():
                order.append("newcomer")
    assert order == ["waiting", "newcomer"]


async def test_no_wake_up_is_lost_under_contention(server: Server) -> None:
    lock = Lock()
    done = 0
    async with await create_pool(server.dsn(), min_size=0, max_size=3, timeout=None) as pool:

        async def work(n: int) -> None:
            nonlocal done
            for i in range(20):
                async with pool.acquire() as conn:
                    if i % 4 == 0:
                        assert await conn.fetchval("SELECT $1::int", n) == n
            async with lock:
                done += 1

        async def everyone() -> None:
            async with running(*(functools.partial(work, n) for n in range(12))):
                pass

        await within(120, everyone)
        assert done == 12
        assert pool.get_size() == pool.get_idle_size() <= 3


async def test_a_waiter_that_timed_out_leaves_the_line_to_the_others(server: Server) -> None:
    outcomes: list[str] = []
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = await _borrow(pool)

        async def impatient() -> None:
            try:
                await _borrow(pool, timeout=0.05)
            except errors.PoolTimeout:
                outcomes.append("timed out")

        async def patient() -> None:
            async with pool.acquire() as conn:
                outcomes.append("served")
                assert conn is holder

        async with running(impatient):
            await pause()
            async with running(patient):
                await pause()  # in line behind the impatient one
                for _ in range(1000):  # until the impatient one gave up
                    if outcomes:
                        break
                    await sleep(0.01)
                assert outcomes == ["timed out"]
                await pool.release(holder)
        assert outcomes == ["timed out", "served"]
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


async def test_room_left_by_a_broken_connection_goes_to_the_first_in_line(
    server: Server,
) -> None:
    got: list[AsyncConnection] = []
    async with await create_pool(
        server.dsn(), max_size=1, timeout=None, health_check_after=None
    ) as pool:
        holder = await _borrow(pool)
        pid = holder.backend_pid

        async def wait() -> None:
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT 1") == 1
                got.append(conn)

        async with running(wait):
            await pause()
            server.terminate(pid)
            with pytest.raises(errors.OperationalError):
                await holder.fetchval("SELECT 1")
            await pool.release(holder)  # closed, not kept: its room goes to the waiter
        assert len(got) == 1
        assert got[0] is not holder
        assert got[0].backend_pid != pid
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


async def test_a_zero_timeout_fails_at_once_when_every_connection_is_lent(
    server: Server,
) -> None:
    async with await create_pool(server.dsn(), max_size=2, timeout=None) as pool:
        first, second = await _borrow(pool), await _borrow(pool)
        with pytest.raises(errors.PoolTimeout, match="max_size"):
            await _borrow(pool, timeout=0)
        await pool.release(first)
        third = await _borrow(pool, timeout=0)
        assert third is first
        await pool.release(third)
        await pool.release(second)
        assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
