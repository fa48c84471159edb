"""The blocking pool (generated from the async one) against the real PostgreSQL 18, with
threads: sizes, waiting, timeouts, the reset on release, broken connections and closing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from pgwire.sync_pool import Pool
from tests.pg import SCRAM_USER
from tests.pool.conftest import Server


def test_twenty_threads_share_at_most_four_connections(server: Server) -> None:
    lock = threading.Lock()
    lent = 0
    most_lent = 0
    pids: set[int] = set()

    with pgwire.create_blocking_pool(server.dsn(), min_size=0, max_size=4) as pool:

        def work(n: int) -> int:
            nonlocal lent, most_lent
            results = []
            for _ in range(5):
                with pool.acquire() as conn:
                    with lock:
                        lent += 1
                        most_lent = max(most_lent, lent)
                    assert conn.backend_pid is not None
                    pids.add(conn.backend_pid)
                    results.append(conn.fetchval("SELECT $1::int FROM pg_sleep(0.005)", n))
                    assert server.count() <= 4
                    with lock:
                        lent -= 1
            return sum(results)

        with ThreadPoolExecutor(max_workers=20) as executor:
            totals = list(executor.map(work, range(20)))
        assert pool.get_size() <= 4
    assert totals == [5 * n for n in range(20)]
    assert 0 < most_lent <= 4
    assert len(pids) <= 4
    assert server.settled_count(0) == 0


def test_create_blocking_pool_opens_min_size_connections(server: Server) -> None:
    with pgwire.create_blocking_pool(server.dsn(), min_size=2, max_size=3) as pool:
        assert isinstance(pool, pgwire.Pool)
        assert (pool.get_size(), pool.get_idle_size()) == (2, 2)
        assert server.settled_count(2) == 2


def test_acquire_raises_pool_timeout_when_every_connection_stays_lent(server: Server) -> None:
    with (
        pgwire.create_blocking_pool(server.dsn(), max_size=1, timeout=0.05) as pool,
        pool.acquire(),
    ):
        with pytest.raises(errors.PoolTimeout), pool.acquire():
            pass
        with pytest.raises(TimeoutError), pool.acquire(timeout=0):
            pass


def test_a_waiting_thread_gets_the_connection_released_to_it(server: Server) -> None:
    with pgwire.create_blocking_pool(server.dsn(), max_size=1, timeout=None) as pool:
        got: list[Connection] = []
        taken = threading.Event()

        def wait_for_one() -> None:
            with pool.acquire() as conn:
                got.append(conn)
            taken.set()

        with pool.acquire() as holder:
            waiter = threading.Thread(target=wait_for_one)
            waiter.start()
            assert not taken.wait(0.05)
        waiter.join()
        assert got == [holder]


def test_release_rolls_back_and_resets_the_session(server: Server) -> None:
    with pgwire.create_blocking_pool(server.dsn(), max_size=1) as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
            conn.execute("LISTEN pool_reset_channel")
            conn.execute("BEGIN")
            conn.execute("CREATE TEMP TABLE left_open (a int)")
        with pool.acquire() as again:
            assert again is conn
            assert again.transaction_status == "I"
            assert again.fetchval("SHOW statement_timeout") == "0"
            assert again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            assert again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


def test_a_broken_connection_is_discarded(server: Server) -> None:
    with pgwire.create_blocking_pool(server.dsn(), max_size=1, health_check_after=None) as pool:
        with pool.acquire() as conn:
            server.terminate(conn.backend_pid)
            with pytest.raises(errors.OperationalError):
                conn.fetchval("SELECT 1")
        assert pool.get_size() == 0
        with pool.acquire() as fresh:
            assert fresh is not conn
            assert fresh.fetchval("SELECT 1") == 1


def test_close_waits_for_lent_connections(server: Server) -> None:
    pool = pgwire.create_blocking_pool(server.dsn(), min_size=1, max_size=2)
    lent: list[Connection] = []
    answers: list[int] = []
    holding, give_back = threading.Event(), threading.Event()

    def borrower() -> None:
        with pool.acquire() as conn:
            lent.append(conn)
            holding.set()
            give_back.wait()
            answers.append(conn.fetchval("SELECT 1"))

    holder = threading.Thread(target=borrower)
    holder.start()
    holding.wait()
    closer = threading.Thread(target=pool.close)
    closer.start()
    closer.join(0.05)
    assert closer.is_alive()
    assert pool.closed
    give_back.set()
    holder.join()
    closer.join()
    assert answers == [1]
    assert lent[0].closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0
    with pytest.raises(errors.PoolClosed), pool.acquire():
        pass


def test_terminate_closes_everything_without_waiting(server: Server) -> None:
    pool = pgwire.create_blocking_pool(server.dsn(), min_size=2, max_size=2)
    with pool.acquire() as conn:
        pool.terminate()
        assert conn.closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0


def test_the_password_callable_runs_for_every_new_connection(server: Server) -> None:
    calls = 0

    def password() -> str:
        nonlocal calls
        calls += 1
        return SCRAM_USER.password or ""

    dsn = server.dsn(SCRAM_USER.name)
    with pgwire.create_blocking_pool(dsn, min_size=1, max_size=2, password=password) as pool:
        assert calls == 1
        with pool.acquire(), pool.acquire():
            assert calls == 2
        assert pool.fetchval("SELECT current_user") == SCRAM_USER.name
        assert calls == 2


def test_the_blocking_pool_is_the_generated_twin_of_the_async_one() -> None:
    assert pgwire.Pool is Pool
    assert pgwire.create_blocking_pool.__module__ == "pgwire.sync_pool"
    assert not hasattr(Pool().acquire(), "__await__")
