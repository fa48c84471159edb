"""Cancelled tasks and the async pool, against the real PostgreSQL 18, on asyncio, uvloop
and trio: a task cancelled while it waits for a connection, while one is being opened for
it, or during a query takes nothing from the pool and leaves no connection behind. (Only
tasks are cancelled this way; what both pools do is in ``test_pool_async.py``.)"""

from __future__ import annotations

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
