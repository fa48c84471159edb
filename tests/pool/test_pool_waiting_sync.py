# GENERATED from tests/pool/test_pool_waiting_async.py by scripts/gen_sync.py: do not edit.
"""Waiting for a connection when every one is lent out, against the real PostgreSQL 18: first
come first served, no wake-up lost, a timeout or a broken connection in the line does not
stall the others. For the blocking pool (threads) and the async pool on asyncio, uvloop and
trio, from one source (``test_pool_waiting_async.py``); what only tasks can do (be
cancelled while waiting) is in ``test_pool_cancellation.py``."""

from __future__ import annotations

import functools

import pytest

from pgwire import errors
from pgwire.sync import Connection
from pgwire.sync_pool import Pool, create_pool
from tests.concurrency_sync import Lock, pause, running, sleep, within
from tests.pool.conftest import Server


def _borrow(pool: Pool, timeout: float | None = None) -> Connection:
    """A connection lent outside any ``with`` block, until ``pool.release(conn)``."""
    return pool.acquire(timeout=timeout).__enter__()


def test_waiters_are_served_in_the_order_they_came(server: Server) -> None:
    order: list[int] = []
    with create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = _borrow(pool)

        def wait(n: int) -> None:
            with pool.acquire() as conn:
                order.append(n)
                assert conn is holder

        with running(functools.partial(wait, 0)):
            pause()  # each joins the line before the next one comes
            with running(functools.partial(wait, 1)):
                pause()
                with running(functools.partial(wait, 2)):
                    pause()
                    assert order == []
                    pool.release(holder)
    assert order == [0, 1, 2]


def test_a_newcomer_does_not_overtake_the_line(server: Server) -> None:
    order: list[str] = []
    with create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = _borrow(pool)

        def wait(name: str) -> None:
            with pool.acquire():
                order.append(name)

        with running(functools.partial(wait, "waiting")):
            pause()
            pool.release(holder)
            # Released to the one in line: the newcomer waits for its turn.
            with pool.acquire():
                order.append("newcomer")
    assert order == ["waiting", "newcomer"]


def test_no_wake_up_is_lost_under_contention(server: Server) -> None:
    lock = Lock()
    done = 0
    with create_pool(server.dsn(), min_size=0, max_size=3, timeout=None) as pool:

        def work(n: int) -> None:
            nonlocal done
            for i in range(20):
                with pool.acquire() as conn:
                    if i % 4 == 0:
                        assert conn.fetchval("SELECT $1::int", n) == n
            with lock:
                done += 1

        def everyone() -> None:
            with running(*(functools.partial(work, n) for n in range(12))):
                pass

        within(120, everyone)
        assert done == 12
        assert pool.get_size() == pool.get_idle_size() <= 3


def test_a_waiter_that_timed_out_leaves_the_line_to_the_others(server: Server) -> None:
    outcomes: list[str] = []
    with create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        holder = _borrow(pool)

        def impatient() -> None:
            try:
                _borrow(pool, timeout=0.05)
            except errors.PoolTimeout:
                outcomes.append("timed out")

        def patient() -> None:
            with pool.acquire() as conn:
                outcomes.append("served")
                assert conn is holder

        with running(impatient):
            pause()
            with running(patient):
                pause()  # in line behind the impatient one
                for _ in range(1000):  # until the impatient one gave up
                    if outcomes:
                        break
                    sleep(0.01)
                assert outcomes == ["timed out"]
                pool.release(holder)
        assert outcomes == ["timed out", "served"]
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


def test_room_left_by_a_broken_connection_goes_to_the_first_in_line(
    server: Server,
) -> None:
    got: list[Connection] = []
    with create_pool(server.dsn(), max_size=1, timeout=None, health_check_after=None) as pool:
        holder = _borrow(pool)
        pid = holder.backend_pid

        def wait() -> None:
            with pool.acquire() as conn:
                assert conn.fetchval("SELECT 1") == 1
                got.append(conn)

        with running(wait):
            pause()
            server.terminate(pid)
            with pytest.raises(errors.OperationalError):
                holder.fetchval("SELECT 1")
            pool.release(holder)  # closed, not kept: its room goes to the waiter
        assert len(got) == 1
        assert got[0] is not holder
        assert got[0].backend_pid != pid
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)


def test_a_zero_timeout_fails_at_once_when_every_connection_is_lent(
    server: Server,
) -> None:
    with create_pool(server.dsn(), max_size=2, timeout=None) as pool:
        first, second = _borrow(pool), _borrow(pool)
        with pytest.raises(errors.PoolTimeout, match="max_size"):
            _borrow(pool, timeout=0)
        pool.release(first)
        third = _borrow(pool, timeout=0)
        assert third is first
        pool.release(third)
        pool.release(second)
        assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
