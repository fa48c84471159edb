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
from pgwire.connection import AsyncConnection
from tests.concurrency_async import Lock, running, sleep
from tests.driver.fixtures_async import Connector, assert_usable

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

LONG_QUERY = "SELECT pg_sleep(30)"
#: What the second user of a busy connection is told.
BUSY = "another task is using this connection"


async def _server_is_idle(other: AsyncConnection, pid: int | None) -> bool:
    state = await other.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return bool(state == "idle")


# --------------------------------------------------------------------------------------
# timeout= and command_timeout=
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["execute", "fetch", "fetchrow", "fetchval"])
async def test_timeout_argument_raises_timeout_error_and_cancels_the_query(
    aconn: AsyncConnection, aother: AsyncConnection, method: str
) -> None:
    with pytest.raises(TimeoutError):
        await getattr(aconn, method)(LONG_QUERY, timeout=0.2)
    assert await _server_is_idle(aother, aconn.backend_pid)
    await assert_usable(aconn)


async def test_timeout_argument_with_parameters_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(TimeoutError):
        await aconn.execute("SELECT pg_sleep($1)", 30.0, timeout=0.2)
    await assert_usable(aconn)


async def test_command_timeout_raises_timeout_error_and_keeps_the_connection(
    aconnect: Connector,
) -> None:
    conn = await aconnect(command_timeout=0.2)
    assert await conn.fetchval("SELECT pg_sleep(0.01)::text || 'quick'") == "quick"
    with pytest.raises(TimeoutError):
        await conn.fetchval(LONG_QUERY)
    await assert_usable(conn)


async def test_timeout_argument_overrides_the_command_timeout(aconnect: Connector) -> None:
    conn = await aconnect(command_timeout=0.2)
    assert await conn.fetchval("SELECT pg_sleep(0.4)::text || 'slow'", timeout=5) == "slow"


async def test_timeout_on_executemany_keeps_the_connection(aconn: AsyncConnection) -> None:
    with pytest.raises(TimeoutError):
        await aconn.executemany("SELECT pg_sleep($1)", [(0.0,), (30.0,)], timeout=0.2)
    await assert_usable(aconn)


async def test_a_long_statement_timed_out_during_its_large_write_is_cancelled_on_the_server(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    # The timeout lands while the 64 MB Bind is still being written: the server ignores a
    # cancel until it has read the request, so the cancel is sent again until it takes.
    big = b"x" * (64 << 20)
    sql = "SELECT pg_sleep(30), length($1::bytea)"
    await aconn.prepare(sql)
    with pytest.raises(TimeoutError):
        await aconn.fetch(sql, big, timeout=0.02)
    assert await _server_is_idle(aother, aconn.backend_pid)
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# cancel()
# --------------------------------------------------------------------------------------


async def test_cancel_from_another_task_raises_query_canceled_and_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    async def cancel_soon() -> None:
        await sleep(0.2)
        await aconn.cancel()

    async with running(cancel_soon):
        with pytest.raises(errors.QueryCanceled) as caught:
            await aconn.fetchval(LONG_QUERY)
    assert caught.value.sqlstate == "57014"
    await assert_usable(aconn)


async def test_cancel_when_idle_is_harmless(aconn: AsyncConnection) -> None:
    await aconn.cancel()
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# One connection, used by two tasks (or threads): the second gets a clear InterfaceError
# --------------------------------------------------------------------------------------


async def test_second_user_of_a_busy_connection_gets_interface_error_and_the_first_completes(
    aconn: AsyncConnection,
) -> None:
    results: list[object] = []

    async def first() -> None:
        results.append(await aconn.fetchval("SELECT pg_sleep(0.3)::text || 'first'"))

    async with running(first):
        await sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            await aconn.fetchval("SELECT 'second'")
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            async with aconn.transaction():
                pass
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            await aconn.copy_out("COPY (SELECT 1) TO STDOUT")
    assert results == ["first"]
    await assert_usable(aconn)


async def test_a_connection_waiting_for_notifications_is_busy(
    aconn: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")

    async def wait() -> None:
        await aconn.wait_for_notification(0.3)

    async with running(wait):
        await sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match=BUSY):
            await aconn.execute("SELECT 1")
    await assert_usable(aconn)


async def test_users_taking_turns_may_share_a_connection(aconn: AsyncConnection) -> None:
    lock = Lock()
    results: list[int] = []

    async def worker(n: int) -> None:
        async with lock:
            results.append(await aconn.fetchval("SELECT $1::int", n))

    async with running(*(functools.partial(worker, n) for n in range(10))):
        pass
    assert sorted(results) == list(range(10))
