"""The reset on release against the real PostgreSQL 18: whatever a borrower did to its session
(settings, a transaction left open or failed, LISTEN, advisory locks, cursors kept open, a
query cancelled mid-flight), the next borrower of the same connection finds none of it; and
what the default reset keeps on purpose (temporary tables, PREPAREd statements) it keeps.
For the blocking pool (threads) and the async pool on asyncio, uvloop and trio, from one
source (``test_pool_reset_async.py``).

Each test uses a pool of one connection, so that the next borrower is handed the very
connection the first one used (asserted), and reads the session's state from the server."""

from __future__ import annotations

import pytest

from pgwire import errors
from pgwire.connection import AsyncConnection
from pgwire.pool import DEFAULT_RESET, AsyncPool, create_pool
from tests.concurrency_async import pause, running, sleep
from tests.pool.conftest import Server

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"


async def _one_connection_pool(server: Server, **options: object) -> AsyncPool:
    return await create_pool(server.dsn(), min_size=1, max_size=1, **options)


async def _same_connection(pool: AsyncPool, first: AsyncConnection) -> AsyncConnection:
    """Borrow again (outside a ``with`` block) and check it is the connection lent before."""
    conn = await pool.acquire().__aenter__()
    assert conn is first
    assert conn.transaction_status == "I"
    return conn


async def test_settings_made_with_set_and_set_config_are_undone(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '123s'")
            await conn.execute("SET work_mem = '7MB'")
            # A function call changes the session without a SET command tag.
            await conn.fetchval("SELECT set_config('lock_timeout', '4s', false)")
            await conn.fetchval("SELECT set_config('pgwire.custom', 'x', false)")
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SHOW statement_timeout") == "0"
            assert await again.fetchval("SHOW work_mem") == "4MB"
            assert await again.fetchval("SHOW lock_timeout") == "0"
            assert await again.fetchval("SELECT current_setting('pgwire.custom', true)") in (
                None,
                "",
            )
        finally:
            await pool.release(again)


async def test_set_local_in_a_transaction_left_open_is_undone(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("SET LOCAL statement_timeout = '77s'")
            await conn.execute("SET search_path = pg_catalog")
            assert conn.transaction_status == "T"
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SHOW statement_timeout") == "0"
            assert await again.fetchval("SHOW search_path") == '"$user", public'
        finally:
            await pool.release(again)


async def test_an_open_transaction_is_rolled_back(server: Server) -> None:
    table = f"t_{server.app}"
    async with await _one_connection_pool(server) as pool:
        await pool.execute(f"CREATE TABLE {table} (a int)")
        try:
            async with pool.acquire() as conn:
                await conn.execute("BEGIN")
                await conn.execute(f"INSERT INTO {table} VALUES (1)")
                await conn.execute("SELECT pg_advisory_xact_lock(31)")
            again = await _same_connection(pool, conn)
            try:
                assert await again.fetchval(f"SELECT count(*) FROM {table}") == 0
                assert await again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
            finally:
                await pool.release(again)
        finally:
            await pool.execute(f"DROP TABLE {table}")


async def test_a_failed_transaction_is_rolled_back(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("SET LOCAL work_mem = '9MB'")
            with pytest.raises(errors.DivisionByZero):
                await conn.fetchval("SELECT 1 / 0")
            assert conn.transaction_status == "E"
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SHOW work_mem") == "4MB"
        finally:
            await pool.release(again)


async def test_listen_is_undone_and_no_notification_reaches_the_next_borrower(
    server: Server,
) -> None:
    channel = f"chan_{server.app}"
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute(f"LISTEN {channel}")
            await conn.execute(f"NOTIFY {channel}, 'for the first borrower'")
        server.pg.psql(f"NOTIFY {channel}, 'after the release'")
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            assert await again.fetchval("SELECT 1") == 1
            assert list(again.pending_notifications) == []
        finally:
            await pool.release(again)


async def test_session_advisory_locks_are_released(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT pg_advisory_lock(4242)")
            await conn.fetchval("SELECT pg_advisory_lock_shared(4243)")
            await conn.fetchval("SELECT pg_advisory_lock(4242)")  # held twice
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
        finally:
            await pool.release(again)


async def test_a_function_shadowing_the_reset_on_the_search_path_is_not_called(
    server: Server,
) -> None:
    schema = f"shadow_{server.app}"
    async with await _one_connection_pool(server) as pool:
        await pool.execute(f"CREATE SCHEMA {schema}")
        try:
            async with pool.acquire() as conn:
                await conn.execute(
                    f"CREATE FUNCTION {schema}.pg_advisory_unlock_all() RETURNS void "
                    "LANGUAGE sql AS 'SELECT NULL::void'"
                )
                await conn.execute(f"SET search_path = {schema}, pg_catalog")
                await conn.fetchval("SELECT pg_catalog.pg_advisory_lock(99)")
            again = await _same_connection(pool, conn)
            try:
                assert await again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
            finally:
                await pool.release(again)
        finally:
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_cursors_kept_open_past_their_transaction_are_closed(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT generate_series(1, 3)")
            await conn.execute("FETCH 1 FROM kept")
        again = await _same_connection(pool, conn)
        try:
            # (pg_cursors lists the query's own unnamed portal too.)
            assert await again.fetchval("SELECT count(*) FROM pg_cursors WHERE is_holdable") == 0
            with pytest.raises(errors.InvalidCursorName):
                await again.execute("FETCH 1 FROM kept")
        finally:
            await pool.release(again)


async def test_a_query_cancelled_mid_flight_leaves_nothing_behind(server: Server) -> None:
    async with await _one_connection_pool(server) as pool:
        failures: list[BaseException] = []
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("SET LOCAL work_mem = '9MB'")
            await conn.execute("SET statement_timeout = '321s'")

            async def sleep_on_the_server() -> None:
                try:
                    await conn.execute("SELECT pg_sleep(30)")
                except errors.QueryCanceled as exc:
                    failures.append(exc)

            async with running(sleep_on_the_server):
                await pause()
                while not failures:  # a cancel that came before the query started is lost
                    await conn.cancel()
                    await sleep(0.05)
            assert conn.transaction_status == "E"
        assert len(failures) == 1
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SHOW work_mem") == "4MB"
            assert await again.fetchval("SHOW statement_timeout") == "0"
        finally:
            await pool.release(again)


async def test_a_reset_the_server_refuses_closes_the_connection(server: Server) -> None:
    async with await _one_connection_pool(server, reset="SELECT 1 / 0") as pool:
        async with pool.acquire() as conn:
            pid = conn.backend_pid
        assert conn.closed
        assert (pool.get_size(), pool.get_idle_size()) == (0, 0)
        async with pool.acquire() as fresh:
            assert fresh.backend_pid != pid


async def test_the_default_reset_keeps_temporary_tables_and_prepared_statements(
    server: Server,
) -> None:
    # On purpose (see DEFAULT_RESET): a statement cache must stay valid, and init() may
    # create temporary tables for every borrower of the connection.
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE kept (a int)")
            await conn.execute("PREPARE kept_statement AS SELECT 1")
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SELECT to_regclass('pg_temp.kept')") is not None
            prepared = "SELECT count(*) FROM pg_prepared_statements WHERE from_sql"
            assert await again.fetchval(prepared) == 1
        finally:
            await pool.release(again)


async def test_discard_temp_in_the_reset_drops_temporary_tables(server: Server) -> None:
    reset = DEFAULT_RESET + "; DISCARD TEMP"
    async with await _one_connection_pool(server, reset=reset) as pool:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE dropped (a int)")
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE dropped_too (a int)")
        again = await _same_connection(pool, conn)
        try:
            assert await again.fetchval("SELECT to_regclass('pg_temp.dropped')") is None
            assert await again.fetchval("SELECT to_regclass('pg_temp.dropped_too')") is None
        finally:
            await pool.release(again)


async def test_a_borrower_that_ran_nothing_gets_the_connection_back_unchanged(
    server: Server,
) -> None:
    async with await _one_connection_pool(server) as pool:
        async with pool.acquire() as conn:
            pid = conn.backend_pid
        async with pool.acquire() as again:
            assert again is conn
            assert again.backend_pid == pid
            assert await again.fetchval("SELECT 1") == 1


def test_the_default_reset_calls_functions_by_their_schema() -> None:
    # A borrower may put a function of that name before pg_catalog on the search_path.
    assert "pg_catalog.pg_advisory_unlock_all()" in DEFAULT_RESET
