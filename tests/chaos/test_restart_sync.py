# GENERATED from tests/chaos/test_restart_async.py by scripts/gen_sync.py: do not edit.
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

from pgwire import errors
from pgwire.sync_pool import create_pool
from tests.concurrency_sync import Lock, running, sleep, within
from tests.pg import TRUST_USER, PostgresServer

TASKS = 20
#: From the end of the restart to every task served again.
DEADLINE = 30.0
ALLOWED = (errors.Error, TimeoutError)


def restart(server: PostgresServer) -> None:
    server.restart()


def test_a_pool_under_twenty_tasks_serves_again_after_postgresql_restarts(
    restartable_server: PostgresServer,
) -> None:
    dsn = restartable_server.dsn(TRUST_USER.name, connect_timeout=2)
    lock = Lock()
    restarted = False
    served_before = 0
    served_after: set[int] = set()
    failures: list[BaseException] = []

    with create_pool(
        dsn, min_size=2, max_size=5, timeout=2, health_check_after=None, command_timeout=2
    ) as pool:

        def work(n: int) -> None:
            nonlocal served_before
            while n not in served_after:
                try:
                    with pool.acquire() as conn:
                        assert conn.fetchval("SELECT $1::int", n) == n
                except ALLOWED as exc:
                    with lock:
                        failures.append(exc)
                    sleep(0.05)
                    continue
                with lock:
                    if restarted:
                        served_after.add(n)
                    else:
                        served_before += 1
                sleep(0.01)

        def restart_when_served() -> None:
            nonlocal restarted
            while served_before < TASKS:
                sleep(0.01)
            restart(restartable_server)
            restarted = True

        def run_all() -> None:
            tasks = [functools.partial(work, n) for n in range(TASKS)]
            with running(restart_when_served, *tasks):
                pass

        within(60 + DEADLINE, run_all)

    assert served_after == set(range(TASKS))
    # The restart ended sessions the pool held: some tasks saw it, as pgwire errors.
    assert failures
    assert all(isinstance(exc, ALLOWED) for exc in failures)
