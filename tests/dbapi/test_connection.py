"""Connections against the real server: PEP 249's transactions, the context manager,
transaction settings, failed transactions, cancel, threads sharing a connection, a lost
connection, and closing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import pgwire
import pgwire.dbapi as dbapi
from pgwire.dbapi import Connection
from pgwire.errors import InFailedSqlTransaction, QueryCanceled, UniqueViolation

pytestmark = pytest.mark.pg


def count(connect: Callable[..., Connection], table: str) -> int:
    """Rows of ``table`` as another connection sees them (committed ones)."""
    with connect(autocommit=True) as other:
        return int(other.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_module_globals() -> None:
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety == 2
    assert dbapi.paramstyle == "pyformat"


def test_exception_classes_are_attributes_of_the_connection(conn: Connection) -> None:
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(conn, name) is getattr(dbapi, name) is getattr(pgwire.errors, name)


def test_autocommit_is_off_and_the_first_statement_opens_a_transaction(conn: Connection) -> None:
    assert conn.autocommit is False
    assert conn.transaction_status == "I"
    conn.execute("SELECT 1")
    assert conn.transaction_status == "T"
    conn.commit()
    assert conn.transaction_status == "I"


def test_commit_makes_changes_visible_and_rollback_drops_them(
    conn: Connection, connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert count(connect, table) == 0
    conn.commit()
    assert count(connect, table) == 1
    conn.execute(f"INSERT INTO {table} VALUES (2)")
    conn.rollback()
    assert count(connect, table) == 1


def test_autocommit_commits_each_statement(
    connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    conn = connect(autocommit=True)
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert conn.transaction_status == "I"
    assert count(connect, table) == 1


def test_statements_that_refuse_a_transaction_block_run_in_autocommit(
    connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    conn = connect(autocommit=True)
    conn.execute(f"VACUUM {table}")
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_autocommit_cannot_change_inside_a_transaction(conn: Connection) -> None:
    conn.execute("SELECT 1")
    with pytest.raises(dbapi.ProgrammingError, match="inside a transaction"):
        conn.autocommit = True
    conn.rollback()
    conn.autocommit = True
    assert conn.autocommit


def test_context_manager_commits_on_success_and_closes(
    connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    with connect() as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert conn.closed
    assert count(connect, table) == 1


def test_context_manager_rolls_back_on_an_exception_and_closes(
    connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    with pytest.raises(ZeroDivisionError), connect() as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        1 / 0  # noqa: B018
    assert conn.closed
    assert count(connect, table) == 0


def test_context_manager_tolerates_a_close_inside_the_block(
    connect: Callable[..., Connection],
) -> None:
    with connect() as conn:
        conn.close()
    assert conn.closed


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (dbapi.IsolationLevel.SERIALIZABLE, "serializable"),
        ("repeatable read", "repeatable read"),
        (2, "read committed"),
        ("READ_UNCOMMITTED", "read uncommitted"),
    ],
)
def test_isolation_level_applies_to_the_transactions_opened(
    connect: Callable[..., Connection], level: object, shown: str
) -> None:
    conn = connect(isolation_level=level)
    assert conn.execute("SHOW transaction_isolation").fetchone() == (shown,)


def test_an_unknown_isolation_level_is_refused(conn: Connection) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="unknown isolation level"):
        conn.isolation_level = "sideways"


def test_read_only_and_deferrable(connect: Callable[..., Connection]) -> None:
    conn = connect(isolation_level="serializable", read_only=True, deferrable=True)
    cur = conn.execute(
        "SELECT current_setting('transaction_read_only'), current_setting('transaction_deferrable')"
    )
    assert cur.fetchone() == ("on", "on")
    with pytest.raises(pgwire.errors.ReadOnlySqlTransaction):
        conn.execute("CREATE TEMP TABLE nope (a int)")
    conn.rollback()
    conn.read_only = False
    conn.deferrable = False
    cur = conn.execute(
        "SELECT current_setting('transaction_read_only'), current_setting('transaction_deferrable')"
    )
    assert cur.fetchone() == ("off", "off")


def test_after_a_failed_statement_the_transaction_refuses_more_until_rollback(
    conn: Connection,
) -> None:
    with pytest.raises(dbapi.ProgrammingError):
        conn.execute("SELECT * FROM no_such_table")
    for _ in range(2):
        with pytest.raises(InFailedSqlTransaction):
            conn.execute("SELECT 1")
    assert conn.transaction_status == "E"
    conn.rollback()
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_commit_of_a_failed_transaction_raises_and_ends_it(
    conn: Connection, connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    table = new_table("a int PRIMARY KEY")
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(UniqueViolation):
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(InFailedSqlTransaction, match="rolled back, not committed"):
        conn.commit()
    assert conn.transaction_status == "I"
    assert count(connect, table) == 0


def test_cancel_from_another_thread_stops_the_statement(conn: Connection) -> None:
    timer = threading.Timer(0.5, conn.cancel)
    timer.start()
    try:
        with pytest.raises(QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
    finally:
        timer.cancel()
    conn.rollback()
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_driver_connection_gives_the_pgwire_connection(conn: Connection) -> None:
    driver = conn.driver_connection
    assert isinstance(driver, pgwire.Connection)
    conn.execute("CREATE TEMP TABLE shared (a int)")
    driver.execute("INSERT INTO shared VALUES ($1)", 5)  # same transaction
    assert conn.execute("SELECT a FROM shared").fetchone() == (5,)
    conn.rollback()
    assert driver.fetchval("SELECT to_regclass('shared')") is None


def test_two_threads_sharing_a_connection_take_turns(conn: Connection) -> None:
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            cur = conn.cursor()
            for i in range(300):
                cur.execute("SELECT %s::int + %s::int, repeat('x', %s::int)", (i, offset, i))
                assert cur.fetchall() == [(i + offset, "x" * i)]
                cur.executemany("SELECT %s::int", [(i,), (i + 1,)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert conn.execute("SELECT 42").fetchone() == (42,)


def test_without_the_lock_two_threads_would_collide(conn: Connection) -> None:
    # What the lock prevents: the driver refuses a second thread mid-statement.
    driver = conn.driver_connection
    seen: list[BaseException] = []

    def intrude() -> None:
        time.sleep(0.2)
        try:
            driver.execute("SELECT 1")
        except BaseException as exc:
            seen.append(exc)

    thread = threading.Thread(target=intrude)
    thread.start()
    conn.execute("SELECT pg_sleep(0.6)")
    thread.join()
    assert len(seen) == 1 and isinstance(seen[0], dbapi.InterfaceError)


def test_a_dropped_connection_raises_operational_error_and_closes(
    conn: Connection, connect: Callable[..., Connection]
) -> None:
    pid = conn.driver_connection.backend_pid
    with connect(autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    deadline = time.monotonic() + 10
    with pytest.raises(dbapi.OperationalError):
        while time.monotonic() < deadline:  # the backend may take a moment to go
            conn.execute("SELECT 1")
            conn.rollback()
            time.sleep(0.05)
    assert conn.closed
    with pytest.raises(dbapi.InterfaceError):
        conn.execute("SELECT 1")
    conn.close()  # releasing a lost connection is allowed once
    with pytest.raises(dbapi.InterfaceError):
        conn.close()


def test_every_operation_on_a_closed_connection_raises_interface_error(
    connect: Callable[..., Connection],
) -> None:
    conn = connect()
    cur = conn.cursor()
    conn.close()
    assert conn.closed and cur.closed
    for call in (
        conn.cursor,
        conn.commit,
        conn.rollback,
        conn.close,
        conn.cancel,
        lambda: conn.execute("SELECT 1"),
        lambda: setattr(conn, "autocommit", True),
        lambda: conn.tpc_begin(conn.xid(1, "a", "b")),
        conn.tpc_recover,
        lambda: cur.execute("SELECT 1"),
    ):
        with pytest.raises(dbapi.InterfaceError):
            call()


def test_connect_takes_what_pgwire_connect_takes(pg_server: object) -> None:
    from tests.pg import SCRAM_USER, PostgresServer

    assert isinstance(pg_server, PostgresServer)
    dsn = pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password, sslmode="disable")
    with dbapi.connect(dsn, statement_cache_size=0, application_name="dbapi-test") as conn:
        cur = conn.execute(
            "SELECT current_user, current_setting('application_name'), %s::int", (7,)
        )
        assert cur.fetchone() == ("scram_user", "dbapi-test", 7)
        assert [c.name for c in cur.description or ()] == [
            "current_user",
            "current_setting",
            "int4",
        ]


def test_a_failed_login_is_an_operational_error(pg_server: object) -> None:
    from tests.pg import SCRAM_USER, PostgresServer

    assert isinstance(pg_server, PostgresServer)
    with pytest.raises(dbapi.OperationalError):
        dbapi.connect(pg_server.dsn(SCRAM_USER.name, "wrong", sslmode="disable"))


def test_an_expired_command_timeout_is_an_operational_error(
    connect: Callable[..., Connection],
) -> None:
    conn = connect(command_timeout=0.3)
    with pytest.raises(dbapi.OperationalError, match="timed out"):
        conn.execute("SELECT pg_sleep(10)")
    conn.rollback()
    assert conn.execute("SELECT 1").fetchone() == (1,)
