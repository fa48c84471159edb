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
from pgwire.connection import AsyncConnection
from pgwire.pool import AsyncPool, create_pool
from tests.concurrency_async import Lock, pause, running
from tests.pg import SCRAM_USER
from tests.pool.conftest import Server

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


async def _borrow(pool: AsyncPool) -> AsyncConnection:
    """A connection lent outside any ``with`` block, until ``pool.release(conn)``."""
    return await pool.acquire().__aenter__()


async def _borrow_and_return(pool: AsyncPool, timeout: float | None = None) -> None:
    """Borrow a connection and give it back at once."""
    async with pool.acquire(timeout=timeout):
        pass


def test_the_pool_and_create_pool_are_exported_by_pgwire() -> None:
    assert pgwire.AsyncPool is AsyncPool
    if True:  # ASYNC
        assert pgwire.create_pool is create_pool
    else:
        assert pgwire.create_blocking_pool is create_pool


def test_pool_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="max_size"):
        AsyncPool(max_size=0)
    with pytest.raises(ValueError, match="min_size"):
        AsyncPool(min_size=3, max_size=2)


# --------------------------------------------------------------------------------------
# Opening, lending, waiting
# --------------------------------------------------------------------------------------


async def test_twenty_users_share_at_most_four_connections(server: Server) -> None:
    lock = Lock()
    lent = 0
    most_lent = 0
    most_on_server = 0
    pids: set[int] = set()
    totals: dict[int, int] = {}
    async with await create_pool(server.dsn(), min_size=0, max_size=4) as pool:

        async def work(n: int) -> None:
            nonlocal lent, most_lent, most_on_server
            total = 0
            for _ in range(5):
                async with pool.acquire() as conn:
                    async with lock:
                        lent += 1
                        most_lent = max(most_lent, lent)
                    assert pool.get_size() <= 4
                    total += await conn.fetchval("SELECT $1::int FROM pg_sleep(0.005)", n)
                    assert conn.backend_pid is not None
                    pids.add(conn.backend_pid)
                    if n % 5 == 0:
                        most_on_server = max(most_on_server, server.count())
                    async with lock:
                        lent -= 1
            totals[n] = total

        async with running(*(functools.partial(work, n) for n in range(20))):
            pass
        assert pool.get_size() <= 4
    assert totals == {n: 5 * n for n in range(20)}
    assert 0 < most_lent <= 4
    assert len(pids) <= 4
    assert 0 < most_on_server <= 4
    assert server.settled_count(0) == 0


async def test_create_pool_opens_min_size_connections(server: Server) -> None:
    async with await create_pool(server.dsn(), min_size=3, max_size=5) as pool:
        assert (pool.get_size(), pool.get_idle_size()) == (3, 3)
        assert server.settled_count(3) == 3


async def test_pool_as_context_manager_opens_on_entry_and_closes_on_exit(server: Server) -> None:
    pool = AsyncPool(server.dsn(), min_size=2, max_size=2)
    assert pool.get_size() == 0
    async with pool:
        assert pool.get_size() == 2
        assert await pool.fetchval("SELECT 1") == 1
    assert pool.closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0


async def test_acquire_on_a_pool_never_opened_opens_connections_on_demand(server: Server) -> None:
    pool = AsyncPool(server.dsn(), min_size=2, max_size=2)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    assert pool.get_size() == 1
    await pool.close()


async def test_connections_are_reused(server: Server) -> None:
    async with await create_pool(server.dsn(), min_size=1, max_size=1) as pool:
        async with pool.acquire() as first:
            pid = first.backend_pid
        async with pool.acquire() as second:
            assert second is first
            assert second.backend_pid == pid


if True:  # ASYNC

    async def test_awaiting_acquire_and_release_work_as_in_asyncpg(server: Server) -> None:
        async with await create_pool(server.dsn(), max_size=1) as pool:
            conn = await pool.acquire()
            assert await conn.fetchval("SELECT 2") == 2
            assert pool.get_idle_size() == 0
            await pool.release(conn)
            assert pool.get_idle_size() == 1


async def test_acquire_raises_pool_timeout_when_every_connection_stays_lent(
    server: Server,
) -> None:
    async with await create_pool(server.dsn(), max_size=1, timeout=0.05) as pool:
        async with pool.acquire():
            with pytest.raises(errors.PoolTimeout, match="max_size") as caught:
                await _borrow_and_return(pool)
            assert isinstance(caught.value, TimeoutError)
            with pytest.raises(TimeoutError):
                await _borrow_and_return(pool, timeout=0)
        assert pool.get_size() == 1
        assert await pool.fetchval("SELECT 1") == 1


async def test_a_waiting_acquire_gets_the_connection_released_to_it(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1, timeout=None) as pool:
        got: list[AsyncConnection] = []
        holder = await _borrow(pool)

        async def wait_for_one() -> None:
            async with pool.acquire() as conn:
                got.append(conn)

        async with running(wait_for_one):
            await pause()
            assert got == []
            await pool.release(holder)
        assert got == [holder]


# --------------------------------------------------------------------------------------
# The reset on release
# --------------------------------------------------------------------------------------


async def test_release_rolls_back_and_resets_the_session(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1) as pool:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '123s'")
            await conn.execute("LISTEN pool_reset_channel")
            await conn.execute("SELECT pg_advisory_lock(4242)")
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (a int)")
            conn.add_notice_handler(lambda notice: None)
            conn.command_timeout = 0.001
        async with pool.acquire() as again:
            assert again is conn
            assert again.transaction_status == "I"
            assert again.command_timeout is None
            assert await again.fetchval("SHOW statement_timeout") == "0"
            assert await again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"
            assert await again.fetchval(locks, again.backend_pid) == 0
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            assert again._notice_handlers == []


async def test_release_rolls_back_a_failed_transaction(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1) as pool:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            with pytest.raises(errors.DivisionByZero):
                await conn.execute("SELECT 1 / 0")
            assert conn.transaction_status == "E"
        async with pool.acquire() as again:
            assert again is conn
            assert again.transaction_status == "I"
            assert await again.fetchval("SELECT 1") == 1


async def test_reset_none_only_rolls_back(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1, reset=None) as pool:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '123s'")
            await conn.execute("BEGIN")
        async with pool.acquire() as again:
            assert again.transaction_status == "I"
            assert await again.fetchval("SHOW statement_timeout") == "123s"


async def test_reset_may_be_sql(server: Server) -> None:
    dsn = server.dsn()
    async with await create_pool(dsn, max_size=1, reset="RESET statement_timeout") as pool:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '123s'")
        assert await pool.fetchval("SHOW statement_timeout") == "0"


async def test_reset_may_be_a_callable(server: Server) -> None:
    seen: list[AsyncConnection] = []

    async def reset(conn: AsyncConnection) -> None:
        seen.append(conn)
        await conn.execute("RESET ALL")

    async with await create_pool(server.dsn(), max_size=1, reset=reset) as pool:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '123s'")
        assert seen == [conn]
        assert await pool.fetchval("SHOW statement_timeout") == "0"


async def test_a_connection_whose_reset_fails_is_closed(server: Server) -> None:
    def reset(conn: AsyncConnection) -> None:
        raise RuntimeError("reset refused")

    async with await create_pool(server.dsn(), max_size=1, reset=reset) as pool:
        async with pool.acquire() as conn:
            pass
        assert conn.closed
        assert pool.get_size() == 0


# --------------------------------------------------------------------------------------
# Broken, old and idle connections
# --------------------------------------------------------------------------------------


async def test_a_broken_connection_is_discarded_on_release(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=2, health_check_after=None) as pool:
        async with pool.acquire() as conn:
            pid = conn.backend_pid
            server.terminate(pid)
            with pytest.raises(errors.OperationalError):
                await conn.fetchval("SELECT 1")
            assert conn.closed
        assert (pool.get_size(), pool.get_idle_size()) == (0, 0)
        async with pool.acquire() as fresh:
            assert fresh is not conn
            assert fresh.backend_pid != pid
            assert await fresh.fetchval("SELECT 1") == 1


async def test_an_idle_connection_killed_on_the_server_fails_its_health_check(
    server: Server,
) -> None:
    async with await create_pool(
        server.dsn(), min_size=1, max_size=1, health_check_after=0
    ) as pool:
        (pid,) = server.pids()
        server.terminate(pid)
        async with pool.acquire() as conn:
            assert conn.backend_pid != pid
            assert await conn.fetchval("SELECT 1") == 1
        assert pool.get_size() == 1


async def test_max_lifetime_replaces_an_old_idle_connection(server: Server) -> None:
    async with await create_pool(server.dsn(), min_size=1, max_size=1, max_lifetime=0) as pool:
        (first_pid,) = server.pids()
        async with pool.acquire() as conn:
            assert conn.backend_pid != first_pid
            second_pid = conn.backend_pid
        assert pool.get_size() == 0
        async with pool.acquire() as conn:
            assert conn.backend_pid not in (first_pid, second_pid)
        assert server.settled_count(0) == 0


async def test_max_idle_closes_idle_connections_beyond_min_size(server: Server) -> None:
    async with await create_pool(server.dsn(), min_size=1, max_size=3, max_idle=0) as pool:
        async with pool.acquire(), pool.acquire(), pool.acquire():
            assert pool.get_size() == 3
        assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
        assert server.settled_count(1) == 1


async def test_without_max_idle_idle_connections_stay(server: Server) -> None:
    async with await create_pool(server.dsn(), min_size=1, max_size=3, max_idle=None) as pool:
        async with pool.acquire(), pool.acquire(), pool.acquire():
            pass
        assert (pool.get_size(), pool.get_idle_size()) == (3, 3)


# --------------------------------------------------------------------------------------
# Closing
# --------------------------------------------------------------------------------------


async def test_close_waits_for_lent_connections(server: Server) -> None:
    pool = await create_pool(server.dsn(), min_size=2, max_size=2)
    closed: list[bool] = []
    conn = await _borrow(pool)

    async def close() -> None:
        await pool.close()
        closed.append(True)

    async with running(close):
        await pause()
        assert pool.closed
        assert closed == []
        assert await conn.fetchval("SELECT 1") == 1
        await pool.release(conn)
    assert closed == [True]
    assert conn.closed
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0


async def test_close_turns_away_waiting_and_new_acquires(server: Server) -> None:
    pool = await create_pool(server.dsn(), max_size=1, timeout=None)
    outcomes: list[BaseException] = []
    conn = await _borrow(pool)

    async def wait_for_one() -> None:
        try:
            async with pool.acquire():
                pass
        except errors.PoolClosed as exc:
            outcomes.append(exc)

    async with running(wait_for_one):
        await pause()
        async with running(pool.close):
            await pause()
            assert len(outcomes) == 1
            await pool.release(conn)
    with pytest.raises(errors.PoolClosed):
        await _borrow_and_return(pool)


async def test_terminate_closes_everything_without_waiting(server: Server) -> None:
    pool = await create_pool(server.dsn(), min_size=2, max_size=2)
    conn = await _borrow(pool)
    await pool.terminate()
    assert pool.closed
    assert conn.closed
    with pytest.raises(errors.InterfaceError):
        await conn.fetchval("SELECT 1")
    await pool.release(conn)
    assert pool.get_size() == 0
    assert server.settled_count(0) == 0
    await pool.close()
    with pytest.raises(errors.PoolClosed):
        await _borrow_and_return(pool)


async def test_releasing_a_connection_the_pool_did_not_lend_is_an_error(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=1) as pool:
        stranger = await pgwire.connect_async(server.dsn())
        try:
            with pytest.raises(errors.InterfaceError, match="not lent out by this pool"):
                await pool.release(stranger)
        finally:
            await stranger.close()
        conn = await _borrow(pool)
        await pool.release(conn)
        with pytest.raises(errors.InterfaceError, match="released already"):
            await pool.release(conn)


# --------------------------------------------------------------------------------------
# Callbacks and shortcuts
# --------------------------------------------------------------------------------------

if True:  # ASYNC
    PASSWORD_KINDS = ["function", "coroutine function"]
else:
    PASSWORD_KINDS = ["function"]


@pytest.mark.parametrize("kind", PASSWORD_KINDS)
async def test_the_password_callable_runs_for_every_new_connection(
    server: Server, kind: str
) -> None:
    calls = 0

    def password() -> str:
        nonlocal calls
        calls += 1
        return SCRAM_USER.password or ""

    secret: Any = password
    if True:  # ASYNC
        if kind == "coroutine function":

            async def password_later() -> str:
                return password()

            secret = password_later
    dsn = server.dsn(SCRAM_USER.name)
    async with await create_pool(dsn, min_size=2, max_size=3, password=secret) as pool:
        assert calls == 2
        async with pool.acquire(), pool.acquire(), pool.acquire():
            assert calls == 3
        async with pool.acquire():
            assert calls == 3
    async with await create_pool(dsn, min_size=0, max_lifetime=0, password=secret) as pool:
        for _ in range(3):
            assert await pool.fetchval("SELECT current_user") == SCRAM_USER.name
        assert calls == 6


async def test_init_runs_once_per_connection_and_setup_on_every_acquire(server: Server) -> None:
    inits: list[AsyncConnection] = []
    setups: list[AsyncConnection] = []

    async def init(conn: AsyncConnection) -> None:
        inits.append(conn)

    def setup(conn: AsyncConnection) -> None:
        setups.append(conn)

    async with await create_pool(
        server.dsn(), min_size=1, max_size=2, init=init, setup=setup
    ) as pool:
        for _ in range(3):
            async with pool.acquire():
                pass
        async with pool.acquire() as one, pool.acquire() as two:
            pass
    assert inits == [one, two] or inits == [two, one]
    assert len(setups) == 5


async def test_a_failing_setup_closes_the_connection_and_raises(server: Server) -> None:
    def setup(conn: AsyncConnection) -> None:
        raise RuntimeError("setup failed")

    async with await create_pool(server.dsn(), min_size=1, setup=setup) as pool:
        with pytest.raises(RuntimeError, match="setup failed"):
            await _borrow_and_return(pool)
        assert pool.get_size() == 0


async def test_create_pool_fails_cleanly_when_it_cannot_connect(server: Server) -> None:
    with pytest.raises(errors.InvalidPassword):
        await create_pool(server.dsn(SCRAM_USER.name, "wrong"), min_size=2)
    assert server.settled_count(0) == 0


async def test_shortcuts_run_one_statement_on_a_borrowed_connection(server: Server) -> None:
    async with await create_pool(server.dsn(), max_size=2) as pool:
        table = f"t_{server.app}"
        await pool.execute(f"CREATE TABLE {table} (a int, b text)")
        try:
            await pool.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "x"), (2, "y")])
            assert await pool.execute(f"UPDATE {table} SET b = $1 WHERE a = 2", "z") == "UPDATE 1"
            assert await pool.fetch(f"SELECT a, b FROM {table} ORDER BY a") == [(1, "x"), (2, "z")]
            row = await pool.fetchrow(f"SELECT a, b FROM {table} WHERE a = $1", 1)
            assert row is not None and row["b"] == "x"
            assert await pool.fetchval(f"SELECT a, b FROM {table} WHERE a = 2", column=1) == "z"
        finally:
            await pool.execute(f"DROP TABLE {table}")
        assert pool.get_idle_size() == pool.get_size()


def test_only_the_async_pool_may_be_awaited() -> None:
    # Awaiting acquire() is asyncpg's form of lending; the blocking pool lends with ``with``.
    if True:  # ASYNC
        assert hasattr(AsyncPool().acquire(), "__await__")
    else:
        assert not hasattr(AsyncPool().acquire(), "__await__")
