# GENERATED from tests/pool/test_pool_reset_async.py by scripts/gen_sync.py: do not edit.
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
from pgwire.sync import Connection
from pgwire.sync_pool import DEFAULT_RESET, Pool, create_pool
from tests.concurrency_sync import pause, running, sleep
from tests.pool.conftest import Server

ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"


def _one_connection_pool(server: Server, **options: object) -> Pool:
    return create_pool(server.dsn(), min_size=1, max_size=1, **options)


def _same_connection(pool: Pool, first: Connection) -> Connection:
    """Borrow again (outside a ``with`` block) and check it is the connection lent before."""
    conn = pool.acquire().__enter__()
    assert conn is first
    assert conn.transaction_status == "I"
    return conn


def test_settings_made_with_set_and_set_config_are_undone(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute("SET statement_timeout = '123s'")
            conn.execute("SET work_mem = '7MB'")
            # A function call changes the session without a SET command tag.
            conn.fetchval("SELECT set_config('lock_timeout', '4s', false)")
            conn.fetchval("SELECT set_config('pgwire.custom', 'x', false)")
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SHOW statement_timeout") == "0"
            assert again.fetchval("SHOW work_mem") == "4MB"
            assert again.fetchval("SHOW lock_timeout") == "0"
            assert again.fetchval("SELECT current_setting('pgwire.custom', true)") in (
                None,
                "",
            )
        finally:
            pool.release(again)


def test_set_local_in_a_transaction_left_open_is_undone(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute("BEGIN")
            conn.execute("SET LOCAL statement_timeout = '77s'")
            conn.execute("SET search_path = pg_catalog")
            assert conn.transaction_status == "T"
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SHOW statement_timeout") == "0"
            assert again.fetchval("SHOW search_path") == '"$user", public'
        finally:
            pool.release(again)


def test_an_open_transaction_is_rolled_back(server: Server) -> None:
    table = f"t_{server.app}"
    with _one_connection_pool(server) as pool:
        pool.execute(f"CREATE TABLE {table} (a int)")
        try:
            with pool.acquire() as conn:
                conn.execute("BEGIN")
                conn.execute(f"INSERT INTO {table} VALUES (1)")
                conn.execute("SELECT pg_advisory_xact_lock(31)")
            again = _same_connection(pool, conn)
            try:
                assert again.fetchval(f"SELECT count(*) FROM {table}") == 0
                assert again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
            finally:
                pool.release(again)
        finally:
            pool.execute(f"DROP TABLE {table}")


def test_a_failed_transaction_is_rolled_back(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute("BEGIN")
            conn.execute("SET LOCAL work_mem = '9MB'")
            with pytest.raises(errors.DivisionByZero):
                conn.fetchval("SELECT 1 / 0")
            assert conn.transaction_status == "E"
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SHOW work_mem") == "4MB"
        finally:
            pool.release(again)


def test_listen_is_undone_and_no_notification_reaches_the_next_borrower(
    server: Server,
) -> None:
    channel = f"chan_{server.app}"
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute(f"LISTEN {channel}")
            conn.execute(f"NOTIFY {channel}, 'for the first borrower'")
        server.pg.psql(f"NOTIFY {channel}, 'after the release'")
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            assert again.fetchval("SELECT 1") == 1
            assert list(again.pending_notifications) == []
        finally:
            pool.release(again)


def test_session_advisory_locks_are_released(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.fetchval("SELECT pg_advisory_lock(4242)")
            conn.fetchval("SELECT pg_advisory_lock_shared(4243)")
            conn.fetchval("SELECT pg_advisory_lock(4242)")  # held twice
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
        finally:
            pool.release(again)


def test_a_function_shadowing_the_reset_on_the_search_path_is_not_called(
    server: Server,
) -> None:
    schema = f"shadow_{server.app}"
    with _one_connection_pool(server) as pool:
        pool.execute(f"CREATE SCHEMA {schema}")
        try:
            with pool.acquire() as conn:
                conn.execute(
                    f"CREATE FUNCTION {schema}.pg_advisory_unlock_all() RETURNS void "
                    "LANGUAGE sql AS 'SELECT NULL::void'"
                )
                conn.execute(f"SET search_path = {schema}, pg_catalog")
                conn.fetchval("SELECT pg_catalog.pg_advisory_lock(99)")
            again = _same_connection(pool, conn)
            try:
                assert again.fetchval(ADVISORY_LOCKS, again.backend_pid) == 0
            finally:
                pool.release(again)
        finally:
            pool.execute(f"DROP SCHEMA {schema} CASCADE")


def test_cursors_kept_open_past_their_transaction_are_closed(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT generate_series(1, 3)")
            conn.execute("FETCH 1 FROM kept")
        again = _same_connection(pool, conn)
        try:
            # (pg_cursors lists the query's own unnamed portal too.)
            assert again.fetchval("SELECT count(*) FROM pg_cursors WHERE is_holdable") == 0
            with pytest.raises(errors.InvalidCursorName):
                again.execute("FETCH 1 FROM kept")
        finally:
            pool.release(again)


def test_a_query_cancelled_mid_flight_leaves_nothing_behind(server: Server) -> None:
    with _one_connection_pool(server) as pool:
        failures: list[BaseException] = []
        with pool.acquire() as conn:
            conn.execute("BEGIN")
            conn.execute("SET LOCAL work_mem = '9MB'")
            conn.execute("SET statement_timeout = '321s'")

            def sleep_on_the_server() -> None:
                try:
                    conn.execute("SELECT pg_sleep(30)")
                except errors.QueryCanceled as exc:
                    failures.append(exc)

            with running(sleep_on_the_server):
                pause()
                while not failures:  # a cancel that came before the query started is lost
                    conn.cancel()
                    sleep(0.05)
            assert conn.transaction_status == "E"
        assert len(failures) == 1
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SHOW work_mem") == "4MB"
            assert again.fetchval("SHOW statement_timeout") == "0"
        finally:
            pool.release(again)


def test_a_reset_the_server_refuses_closes_the_connection(server: Server) -> None:
    with _one_connection_pool(server, reset="SELECT 1 / 0") as pool:
        with pool.acquire() as conn:
            pid = conn.backend_pid
        assert conn.closed
        assert (pool.get_size(), pool.get_idle_size()) == (0, 0)
        with pool.acquire() as fresh:
            assert fresh.backend_pid != pid


def test_the_default_reset_keeps_temporary_tables_and_prepared_statements(
    server: Server,
) -> None:
    # On purpose (see DEFAULT_RESET): a statement cache must stay valid, and init() may
    # create temporary tables for every borrower of the connection.
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            conn.execute("CREATE TEMP TABLE kept (a int)")
            conn.execute("PREPARE kept_statement AS SELECT 1")
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SELECT to_regclass('pg_temp.kept')") is not None
            prepared = "SELECT count(*) FROM pg_prepared_statements WHERE from_sql"
            assert again.fetchval(prepared) == 1
        finally:
            pool.release(again)


def test_discard_temp_in_the_reset_drops_temporary_tables(server: Server) -> None:
    reset = DEFAULT_RESET + "; DISCARD TEMP"
    with _one_connection_pool(server, reset=reset) as pool:
        with pool.acquire() as conn:
            conn.execute("CREATE TEMP TABLE dropped (a int)")
            conn.execute("BEGIN")
            conn.execute("CREATE TEMP TABLE dropped_too (a int)")
        again = _same_connection(pool, conn)
        try:
            assert again.fetchval("SELECT to_regclass('pg_temp.dropped')") is None
            assert again.fetchval("SELECT to_regclass('pg_temp.dropped_too')") is None
        finally:
            pool.release(again)


def test_a_borrower_that_ran_nothing_gets_the_connection_back_unchanged(
    server: Server,
) -> None:
    with _one_connection_pool(server) as pool:
        with pool.acquire() as conn:
            pid = conn.backend_pid
        with pool.acquire() as again:
            assert again is conn
            assert again.backend_pid == pid
            assert again.fetchval("SELECT 1") == 1


def test_the_default_reset_calls_functions_by_their_schema() -> None:
    # A borrower may put a function of that name before pg_catalog on the search_path.
    assert "pg_catalog.pg_advisory_unlock_all()" in DEFAULT_RESET
