# GENERATED from tests/pool/test_pool_async.py by scripts/gen_sync.py: do not edit.
"""The pools against the real PostgreSQL 18: sizes, waiting, timeouts, the reset on release,
broken and old connections, closing, and callbacks, for the blocking pool (with threads)
and the async pool on asyncio, uvloop and trio (with tasks), from one source
(``test_pool_async.py``). What only tasks can do (be cancelled anywhere) is in
``test_pool_cancellation.py``."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from pgwire.sync_pool import Pool, create_pool
from tests.concurrency_sync import Lock, pause, running
from tests.pg import SCRAM_USER
from tests.pool.conftest import Server


def _borrow(pool: Pool) -> Connection:
    """A connection lent outside any ``with`` block, until ``pool.release(conn)``."""
    return pool.acquire().__enter__()


def _borrow_and_return(pool: Pool, timeout: float | None = None) -> None:
    """Borrow a connection and give it back at once."""
    with pool.acquire(timeout=timeout):
        pass


def test_the_pool_and_create_pool_are_exported_by_pgwire() -> None:
    assert pgwire.Pool is Pool
    assert pgwire.create_blocking_pool is create_pool


def test_pool_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="max_size"):
        Pool(max_size=0)
    with pytest.raises(ValueError, match="min_size"):
        Pool(min_size=3, max_size=2)


# --------------------------------------------------------------------------------------
# Opening, lending, waiting
# --------------------------------------------------------------------------------------


def test_twenty_users_share_at_most_four_connections(server: Server) -> None:
    lock = Lock()
    lent = 0
    most_lent = 0
    most_on_server = 0
    pids: set[int] = set()
    totals: dict[int, int] = {}
    with create_pool(server.dsn(), min_size=0, max_size=4) as pool:

        def work(n: int) -> None:
            nonlocal lent, most_lent, most_on_server
            total = 0
            for _ in range(5):
                with pool.acquire() as conn:
                    with lock:
                        lent += 1
                        most_lent = max(most_lent, lent)
                    assert pool.get_size() <= 4
                    total += conn.fetchval("SELECT $1::int FROM pg_sleep(0.005)", n)
                    assert conn.backend_pid is not None
                    pids.add(conn.backend_pid)
                    if n % 5 == 0:
                        most_on_server = max(most_on_server, server.count())
                    with lock:
                        lent -= 1
            totals[n] = total

        with running(*(functools.partial(work, n) for n in range(20))):
            pass
        assert pool.get_size() <= 4
    assert totals == {n: 5 * n for n in range(20)}
    assert 0 < most_lent <= 4
    assert len(pids) <= 4
    assert 0 < most_on_server <= 4
    assert server.settled_count(0) == 0


def test_create_pool_opens_min_size_connections(server: Server) -> None:
    with create_pool(server.dsn(), min_size=3, max_size=5) as pool:
        assert (pool.get_size(), pool.get_idle_size()) == (3, 3)
        assert server.settled_count(3) == 3


def test_pool_as_context_manager_opens_on_entry_and_closes_on_exit(server: Server) -> None:
    pool = Pool(server.dsn(), min_size=2, max_size=2)
    assert pool.get_size() == 0
    with pool:
        assert pool.get_size() == 2
        assert pool.fetchval("SELECT 1") == 1
    assert pool.closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0


def test_acquire_on_a_pool_never_opened_opens_connections_on_demand(server: Server) -> None:
    pool = Pool(server.dsn(), min_size=2, max_size=2)
    with pool.acquire() as conn:
        assert conn.fetchval("SELECT 1") == 1
    assert pool.get_size() == 1
    pool.close()


def test_connections_are_reused(server: Server) -> None:
    with create_pool(server.dsn(), min_size=1, max_size=1) as pool:
        with pool.acquire() as first:
            pid = first.backend_pid
        with pool.acquire() as second:
            assert second is first
            assert second.backend_pid == pid


def test_acquire_raises_pool_timeout_when_every_connection_stays_lent(
    server: Server,
) -> None:
    with create_pool(server.dsn(), max_size=1, timeout=0.05) as pool:
        with pool.acquire():
            with pytest.raises(errors.PoolTimeout, match="max_size") as caught:
                _borrow_and_return(pool)
            assert isinstance(caught.value, TimeoutError)
            with pytest.raises(TimeoutError):
                _borrow_and_return(pool, timeout=0)
        assert pool.get_size() == 1
        assert pool.fetchval("SELECT 1") == 1


def test_a_waiting_acquire_gets_the_connection_released_to_it(server: Server) -> None:
    with create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        got: list[Connection] = []
        holder = _borrow(pool)

        def wait_for_one() -> None:
            with pool.acquire() as conn:
                got.append(conn)

        with running(wait_for_one):
            pause()
            assert got == []
            pool.release(holder)
        assert got == [holder]


# --------------------------------------------------------------------------------------
# The reset on release
# --------------------------------------------------------------------------------------


def test_release_rolls_back_and_resets_the_session(server: Server) -> None:
    with create_pool(server.dsn(), max_size=1) as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
            conn.execute("LISTEN pool_reset_channel")
            conn.execute("SELECT pg_advisory_lock(4242)")
            conn.execute("BEGIN")
            conn.execute("CREATE TEMP TABLE left_open (a int)")
            conn.add_notice_handler(lambda notice: None)
            conn.command_timeout = 0.001
        with pool.acquire() as again:
            assert again is conn
            assert again.transaction_status == "I"
            assert again.command_timeout is None
            assert again.fetchval("SHOW statement_timeout") == "0"
            assert again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"
            assert again.fetchval(locks, again.backend_pid) == 0
            assert again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            assert again._notice_handlers == []


def test_release_rolls_back_a_failed_transaction(server: Server) -> None:
    with create_pool(server.dsn(), max_size=1) as pool:
        with pool.acquire() as conn:
            conn.execute("BEGIN")
            with pytest.raises(errors.DivisionByZero):
                conn.execute("SELECT 1 / 0")
            assert conn.transaction_status == "E"
        with pool.acquire() as again:
            assert again is conn
            assert again.transaction_status == "I"
            assert again.fetchval("SELECT 1") == 1


def test_reset_none_only_rolls_back(server: Server) -> None:
    with create_pool(server.dsn(), max_size=1, reset=None) as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
            conn.execute("BEGIN")
        with pool.acquire() as again:
            assert again.transaction_status == "I"
            assert again.fetchval("SHOW statement_timeout") == "123s"


def test_reset_may_be_sql(server: Server) -> None:
    dsn = server.dsn()
    with create_pool(dsn, max_size=1, reset="RESET statement_timeout") as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
        assert pool.fetchval("SHOW statement_timeout") == "0"


def test_reset_may_be_a_callable(server: Server) -> None:
    seen: list[Connection] = []

    def reset(conn: Connection) -> None:
        seen.append(conn)
        conn.execute("RESET ALL")

    with create_pool(server.dsn(), max_size=1, reset=reset) as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
        assert seen == [conn]
        assert pool.fetchval("SHOW statement_timeout") == "0"


def test_a_connection_whose_reset_fails_is_closed(server: Server) -> None:
    def reset(conn: Connection) -> None:
        raise RuntimeError("reset refused")

    with create_pool(server.dsn(), max_size=1, reset=reset) as pool:
        with pool.acquire() as conn:
            pass
        assert conn.closed
        assert pool.get_size() == 0


# --------------------------------------------------------------------------------------
# Broken, old and idle connections
# --------------------------------------------------------------------------------------


def test_a_broken_connection_is_discarded_on_release(server: Server) -> None:
    with create_pool(server.dsn(), max_size=2, health_check_after=None) as pool:
        with pool.acquire() as conn:
            pid = conn.backend_pid
            server.terminate(pid)
            with pytest.raises(errors.OperationalError):
                conn.fetchval("SELECT 1")
            assert conn.closed
        assert (pool.get_size(), pool.get_idle_size()) == (0, 0)
        with pool.acquire() as fresh:
            assert fresh is not conn
            assert fresh.backend_pid != pid
            assert fresh.fetchval("SELECT 1") == 1


def test_an_idle_connection_killed_on_the_server_fails_its_health_check(
    server: Server,
) -> None:
    with create_pool(server.dsn(), min_size=1, max_size=1, health_check_after=0) as pool:
        (pid,) = server.pids()
        server.terminate(pid)
        with pool.acquire() as conn:
            assert conn.backend_pid != pid
            assert conn.fetchval("SELECT 1") == 1
        assert pool.get_size() == 1


def test_max_lifetime_replaces_an_old_idle_connection(server: Server) -> None:
    with create_pool(server.dsn(), min_size=1, max_size=1, max_lifetime=0) as pool:
        (first_pid,) = server.pids()
        with pool.acquire() as conn:
            assert conn.backend_pid != first_pid
            second_pid = conn.backend_pid
        assert pool.get_size() == 0
        with pool.acquire() as conn:
            assert conn.backend_pid not in (first_pid, second_pid)
        assert server.settled_count(0) == 0


def test_max_idle_closes_idle_connections_beyond_min_size(server: Server) -> None:
    with create_pool(server.dsn(), min_size=1, max_size=3, max_idle=0) as pool:
        with pool.acquire(), pool.acquire(), pool.acquire():
            assert pool.get_size() == 3
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
        assert server.settled_count(1) == 1


def test_without_max_idle_idle_connections_stay(server: Server) -> None:
    with create_pool(server.dsn(), min_size=1, max_size=3, max_idle=None) as pool:
        with pool.acquire(), pool.acquire(), pool.acquire():
            pass
        assert (pool.get_size(), pool.get_idle_size()) == (3, 3)


# --------------------------------------------------------------------------------------
# Closing
# --------------------------------------------------------------------------------------


def test_close_waits_for_lent_connections(server: Server) -> None:
    pool = create_pool(server.dsn(), min_size=2, max_size=2)
    closed: list[bool] = []
    conn = _borrow(pool)

    def close() -> None:
        pool.close()
        closed.append(True)

    with running(close):
        pause()
        assert pool.closed
        assert closed == []
        assert conn.fetchval("SELECT 1") == 1
        pool.release(conn)
    assert closed == [True]
    assert conn.closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0


def test_close_turns_away_waiting_and_new_acquires(server: Server) -> None:
    pool = create_pool(server.dsn(), max_size=1, timeout=None)
    outcomes: list[BaseException] = []
    conn = _borrow(pool)

    def wait_for_one() -> None:
        try:
            with pool.acquire():
                pass
        except errors.PoolClosed as exc:
            outcomes.append(exc)

    with running(wait_for_one):
        pause()
        with running(pool.close):
            pause()
            assert len(outcomes) == 1
            pool.release(conn)
    with pytest.raises(errors.PoolClosed):
        _borrow_and_return(pool)


def test_terminate_closes_everything_without_waiting(server: Server) -> None:
    pool = create_pool(server.dsn(), min_size=2, max_size=2)
    conn = _borrow(pool)
    pool.terminate()
    assert pool.closed
    assert conn.closed
    with pytest.raises(errors.InterfaceError):
        conn.fetchval("SELECT 1")
    pool.release(conn)
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0
    pool.close()
    with pytest.raises(errors.PoolClosed):
        _borrow_and_return(pool)


def test_releasing_a_connection_the_pool_did_not_lend_is_an_error(server: Server) -> None:
    with create_pool(server.dsn(), max_size=1) as pool:
        stranger = pgwire.connect(server.dsn())
        try:
            with pytest.raises(errors.InterfaceError, match="not lent out by this pool"):
                pool.release(stranger)
        finally:
            stranger.close()
        conn = _borrow(pool)
        pool.release(conn)
        with pytest.raises(errors.InterfaceError, match="released already"):
            pool.release(conn)


# --------------------------------------------------------------------------------------
# Callbacks and shortcuts
# --------------------------------------------------------------------------------------

PASSWORD_KINDS = ["function"]


@pytest.mark.parametrize("kind", PASSWORD_KINDS)
def test_the_password_callable_runs_for_every_new_connection(server: Server, kind: str) -> None:
    calls = 0

    def password() -> str:
        nonlocal calls
        calls += 1
        return SCRAM_USER.password or ""

    secret: Any = password
    dsn = server.dsn(SCRAM_USER.name)
    with create_pool(dsn, min_size=2, max_size=3, password=secret) as pool:
        assert calls == 2
        with pool.acquire(), pool.acquire(), pool.acquire():
            assert calls == 3
        with pool.acquire():
            assert calls == 3
    with create_pool(dsn, min_size=0, max_lifetime=0, password=secret) as pool:
        for _ in range(3):
            assert pool.fetchval("SELECT current_user") == SCRAM_USER.name
        assert calls == 6


def test_init_runs_once_per_connection_and_setup_on_every_acquire(server: Server) -> None:
    inits: list[Connection] = []
    setups: list[Connection] = []

    def init(conn: Connection) -> None:
        inits.append(conn)

    def setup(conn: Connection) -> None:
        setups.append(conn)

    with create_pool(server.dsn(), min_size=1, max_size=2, init=init, setup=setup) as pool:
        for _ in range(3):
            with pool.acquire():
                pass
        with pool.acquire() as one, pool.acquire() as two:
            pass
    assert inits == [one, two] or inits == [two, one]
    assert len(setups) == 5


def test_a_failing_setup_closes_the_connection_and_raises(server: Server) -> None:
    def setup(conn: Connection) -> None:
        raise RuntimeError("setup failed")

    with create_pool(server.dsn(), min_size=1, setup=setup) as pool:
        with pytest.raises(RuntimeError, match="setup failed"):
            _borrow_and_return(pool)
        assert pool.get_size() == 0


def test_create_pool_fails_cleanly_when_it_cannot_connect(server: Server) -> None:
    with pytest.raises(errors.InvalidPassword):
        create_pool(server.dsn(SCRAM_USER.name, "wrong"), min_size=2)
    assert server.settled_count(0) == 0


def test_shortcuts_run_one_statement_on_a_borrowed_connection(server: Server) -> None:
    with create_pool(server.dsn(), max_size=2) as pool:
        table = f"t_{server.app}"
        pool.execute(f"CREATE TABLE {table} (a int, b text)")
        try:
            pool.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "x"), (2, "y")])
            assert pool.execute(f"UPDATE {table} SET b = $1 WHERE a = 2", "z") == "UPDATE 1"
            assert pool.fetch(f"SELECT a, b FROM {table} ORDER BY a") == [(1, "x"), (2, "z")]
            row = pool.fetchrow(f"SELECT a, b FROM {table} WHERE a = $1", 1)
            assert row is not None and row["b"] == "x"
            assert pool.fetchval(f"SELECT a, b FROM {table} WHERE a = 2", column=1) == "z"
        finally:
            pool.execute(f"DROP TABLE {table}")
        assert pool.get_idle_size() == pool.get_size()


def test_only_the_async_pool_may_be_awaited() -> None:
    # Awaiting acquire() is asyncpg's form of lending; the blocking pool lends with ``with``.
    assert not hasattr(Pool().acquire(), "__await__")
