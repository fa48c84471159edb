# GENERATED from tests/driver/test_cancel_async.py by scripts/gen_sync.py: do not edit.
"""Timeouts, ``cancel()`` and sharing one connection, against the real PostgreSQL 18, on the
blocking driver and on asyncio, uvloop and trio (one source, ``test_cancel_async.py``, for
both drivers).

Whatever interrupts a query (``timeout=``, ``command_timeout=``, ``cancel()`` from another
task or thread), pgwire cancels it on the server and reads the rest of its reply: the very
next query on the same connection works. Cancel scopes and deadlines, which only the async
driver has, are in ``test_cancel_scopes.py``.
"""

from __future__ import annotations

import functools

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.concurrency_sync import Lock, running, sleep
from tests.driver.fixtures_sync import Connector, assert_usable

LONG_QUERY = "SELECT pg_sleep(30)"
#: What the second user of a busy connection is told.
BUSY = "another task is using this connection"


def _server_is_idle(other: Connection, pid: int | None) -> bool:
    state = other.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return bool(state == "idle")


# --------------------------------------------------------------------------------------
# timeout= and command_timeout=
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["execute", "fetch", "fetchrow", "fetchval"])
def test_timeout_argument_raises_timeout_error_and_cancels_the_query(
    conn: Connection, other: Connection, method: str
) -> None:
    with pytest.raises(TimeoutError):
        getattr(conn, method)(LONG_QUERY, timeout=0.2)
    assert _server_is_idle(other, conn.backend_pid)
    assert_usable(conn)


def test_timeout_argument_with_parameters_keeps_the_connection(
    conn: Connection,
) -> None:
    with pytest.raises(TimeoutError):
        conn.execute("SELECT pg_sleep($1)", 30.0, timeout=0.2)
    assert_usable(conn)


def test_command_timeout_raises_timeout_error_and_keeps_the_connection(
    connect: Connector,
) -> None:
    conn = connect(command_timeout=0.2)
    assert conn.fetchval("SELECT pg_sleep(0.01)::text || 'quick'") == "quick"
    with pytest.raises(TimeoutError):
        conn.fetchval(LONG_QUERY)
    assert_usable(conn)


def test_timeout_argument_overrides_the_command_timeout(connect: Connector) -> None:
    conn = connect(command_timeout=0.2)
    assert conn.fetchval("SELECT pg_sleep(0.4)::text || 'slow'", timeout=5) == "slow"


def test_timeout_on_executemany_keeps_the_connection(conn: Connection) -> None:
    with pytest.raises(TimeoutError):
        conn.executemany("SELECT pg_sleep($1)", [(0.0,), (30.0,)], timeout=0.2)
    assert_usable(conn)


def test_a_long_statement_timed_out_during_its_large_write_is_cancelled_on_the_server(
    conn: Connection, other: Connection
) -> None:
    # The timeout lands while the 64 MB Bind is still being written: the server ignores a
    # cancel until it has read the request, so the cancel is sent again until it takes.
    big = b"x" * (64 << 20)
    sql = "SELECT pg_sleep(30), length($1::bytea)"
    conn.prepare(sql)
    with pytest.raises(TimeoutError):
        conn.fetch(sql, big, timeout=0.02)
    assert _server_is_idle(other, conn.backend_pid)
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# cancel()
# --------------------------------------------------------------------------------------


def test_cancel_from_another_task_raises_query_canceled_and_keeps_the_connection(
    conn: Connection,
) -> None:
    def cancel_soon() -> None:
        sleep(0.2)
        conn.cancel()

    with running(cancel_soon), pytest.raises(errors.QueryCanceled) as caught:
        conn.fetchval(LONG_QUERY)
    assert caught.value.sqlstate == "57014"
    assert_usable(conn)


def test_cancel_when_idle_is_harmless(conn: Connection) -> None:
    conn.cancel()
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# One connection, used by two tasks (or threads): the second gets a clear InterfaceError
# --------------------------------------------------------------------------------------


def test_second_user_of_a_busy_connection_gets_interface_error_and_the_first_completes(
    conn: Connection,
) -> None:
    results: list[object] = []

    def first() -> None:
        results.append(conn.fetchval("SELECT pg_sleep(0.3)::text || 'first'"))

    with running(first):
        sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            conn.fetchval("SELECT 'second'")
        with pytest.raises(pgwire.InterfaceError, match=BUSY), conn.transaction():
            pass
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            conn.copy_out("COPY (SELECT 1) TO STDOUT")
    assert results == ["first"]
    assert_usable(conn)


def test_a_connection_waiting_for_notifications_is_busy(conn: Connection, channel: str) -> None:
    conn.execute(f"LISTEN {channel}")

    def wait() -> None:
        conn.wait_for_notification(0.3)

    with running(wait):
        sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            conn.execute("SELECT 1")
    assert_usable(conn)


def test_users_taking_turns_may_share_a_connection(conn: Connection) -> None:
    lock = Lock()
    results: list[int] = []

    def worker(n: int) -> None:
        with lock:
            results.append(conn.fetchval("SELECT $1::int", n))

    with running(*(functools.partial(worker, n) for n in range(10))):
        pass
    assert sorted(results) == list(range(10))
