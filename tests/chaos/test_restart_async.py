"""Chaos: a pool under twenty tasks (threads, in the blocking twin) while PostgreSQL
restarts, on the blocking driver and on asyncio, uvloop and trio (one source,
``test_restart_async.py``).

While the server is down every task sees only pgwire's own exceptions (the sessions the
restart ended, refused connections, a pool timeout); once it is up again, every task is
served again within the deadline, with the right answers: the pool drops the dead
connections rather than lending them out for ever.
"""

from __future__ import annotations

import functools

import anyio
import pytest

from pgwire import errors
from pgwire.pool import create_pool
from tests.concurrency_async import Lock, running, sleep, within
from tests.pg import TRUST_USER, PostgresServer

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

TASKS = 20
#: From the end of the restart to every task served again.
DEADLINE = 30.0
ALLOWED = (errors.Error, TimeoutError)


async def restart(server: PostgresServer) -> None:
    if True:  # ASYNC
        await anyio.to_thread.run_sync(server.restart)
    else:
        server.restart()


async def test_a_pool_under_twenty_tasks_serves_again_after_postgresql_restarts(
    restartable_server: PostgresServer,
) -> None:
    dsn = restartable_server.dsn(TRUST_USER.name, connect_timeout=2)
    lock = Lock()
    restarted = False
    served_before = 0
    served_after: set[int] = set()
    failures: list[BaseException] = []

    async with await create_pool(
        dsn, min_size=2, max_size=5, timeout=2, health_check_after=None, command_timeout=2
    ) as pool:

        async def work(n: int) -> None:
            nonlocal served_before
            while n not in served_after:
                try:
                    async with pool.acquire() as conn:
                        assert await conn.fetchval("SELECT $1::int", n) == n
                except ALLOWED as exc:
                    async with lock:
                        failures.append(exc)
                    await sleep(0.05)
                    continue
                async with lock:
                    if restarted:
                        served_after.add(n)
                    else:
                        served_before += 1
                await sleep(0.01)

        async def restart_when_served() -> None:
            nonlocal restarted
            while served_before < TASKS:
                await sleep(0.01)
            await restart(restartable_server)
            restarted = True

        async def run_all() -> None:
            tasks = [functools.partial(work, n) for n in range(TASKS)]
            async with running(restart_when_served, *tasks):
                pass

        await within(60 + DEADLINE, run_all)

    assert served_after == set(range(TASKS))
    # The restart ended sessions the pool held: some tasks saw it, as pgwire errors.
    assert failures
    assert all(isinstance(exc, ALLOWED) for exc in failures)
