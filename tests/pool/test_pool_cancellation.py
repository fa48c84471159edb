"""Cancelled tasks and the async pool, against the real PostgreSQL 18, on asyncio, uvloop
and trio: a task cancelled while it waits for a connection, while one is being opened for
it, or during a query takes nothing from the pool and leaves no connection behind. (Only
tasks are cancelled this way; what both pools do is in ``test_pool_async.py``.)"""

from __future__ import annotations

import asyncio
import contextlib

import anyio
import pytest

from pgwire.pool import create_pool
from tests.pool.conftest import Server

pytestmark = pytest.mark.anyio


async def test_tasks_cancelled_anywhere_leave_no_connection_behind(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=3, timeout=None) as pool:

        async def work(n: int) -> None:
            # Deadlines spread so that tasks are cancelled while waiting, while connecting,
            # during a query, and not at all.
            with anyio.move_on_after((n % 7) * 0.004):
                async with pool.acquire() as conn:
                    await conn.execute("SELECT pg_sleep(0.01)")

        async with anyio.create_task_group() as tg:
            for n in range(60):
                tg.start_soon(work, n)
        size = pool.get_size()
        assert size == pool.get_idle_size() <= 3
        async with contextlib.AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(pool.acquire()) for _ in range(size)]
            for conn in conns:
                assert conn.transaction_status == "I"
                assert await conn.fetchval("SELECT 1") == 1
    with anyio.fail_after(30):
        await pool.close()
    assert server.settled_count(0) == 0


async def test_a_cancelled_waiter_takes_nothing_from_the_pool(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        async with pool.acquire():
            with anyio.move_on_after(0.05):
                await pool.acquire()
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
        assert await pool.fetchval("SELECT 1") == 1


async def test_a_task_cancelled_during_a_query_gives_back_a_usable_connection(
    server: Server,
) -> None:
    async with await create_pool(server.dsn(), max_size=1) as pool:
        with anyio.move_on_after(0.2):
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep(30)")
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
        async with pool.acquire() as again:
            assert again is conn
            assert await again.fetchval("SELECT 3") == 3


async def test_a_waiter_cancelled_in_the_middle_of_the_line_is_skipped(server: Server) -> None:
    order: list[int] = []
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = await pool.acquire()
        scopes = [anyio.CancelScope() for _ in range(3)]

        async def wait(n: int) -> None:
            with scopes[n]:
                async with pool.acquire():
                    order.append(n)

        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(wait, n)
                await anyio.wait_all_tasks_blocked()  # in line in this order
            scopes[1].cancel()
            await anyio.wait_all_tasks_blocked()
            await pool.release(holder)
        assert order == [0, 2]
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


async def test_a_waiter_cancelled_once_handed_a_connection_passes_it_on(
    server: Server, anyio_backend: tuple[str, dict[str, object]]
) -> None:
    if anyio_backend[0] != "asyncio":
        pytest.skip("asyncio's own Task.cancel(): anyio and trio let a woken task run first")
    got: list[int] = []
    pool = await create_pool(server.dsn(), max_size=1, timeout=None)
    try:
        holder = await pool.acquire()

        async def wait(n: int) -> None:
            async with pool.acquire() as conn:
                assert conn is holder
                got.append(n)

        first = asyncio.ensure_future(wait(1))
        await anyio.wait_all_tasks_blocked()
        second = asyncio.ensure_future(wait(2))
        await anyio.wait_all_tasks_blocked()
        # The release hands the connection to the first in line, which is cancelled
        # before it could run: the connection must reach the second, not get lost.
        await pool.release(holder)
        first.cancel()
        await asyncio.wait([first, second], timeout=30)
        assert first.cancelled()
        assert second.done()
        assert got == [2]
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
    finally:
        await pool.terminate()


async def test_a_waiter_whose_deadline_passes_takes_nothing(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        async with pool.acquire() as holder:
            with anyio.move_on_after(0.05) as scope:
                await pool.acquire()
            assert scope.cancelled_caught
        async with pool.acquire(timeout=0) as again:
            assert again is holder
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
