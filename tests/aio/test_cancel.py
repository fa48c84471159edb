"""Cancellation, timeouts and concurrent use of one async connection, against the real
PostgreSQL 18, on asyncio, uvloop and trio.

Whatever interrupts a query (a cancel scope, a deadline, ``timeout=``, ``command_timeout=``,
asyncio's ``task.cancel()``), pgwire cancels it on the server and reads the rest of its reply:
the very next query on the same connection works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anyio
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.aio.conftest import AsyncConnector, NewTable

pytestmark = pytest.mark.anyio

LONG_QUERY = "SELECT pg_sleep(30)"


async def _assert_in_step(conn: AsyncConnection) -> None:
    """The connection is open, idle, and answers the next query with its own result."""
    assert not conn.closed
    assert conn.transaction_status == "I"
    assert await conn.fetchval("SELECT $1::text", "next") == "next"
    assert await conn.execute("SELECT 1") == "SELECT 1"


async def _server_is_idle(other: AsyncConnection, pid: int | None) -> bool:
    state = await other.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return bool(state == "idle")


# --------------------------------------------------------------------------------------
# Cancel scopes and deadlines
# --------------------------------------------------------------------------------------


async def test_move_on_after_cancels_the_query_and_keeps_the_connection(
    conn: AsyncConnection, other: AsyncConnection
) -> None:
    started = time.monotonic()
    with anyio.move_on_after(0.2) as scope:
        await conn.fetchval(LONG_QUERY)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 5
    assert await _server_is_idle(other, conn.backend_pid)
    await _assert_in_step(conn)


async def test_fail_after_raises_timeout_error_and_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.2):
            await conn.execute(LONG_QUERY)
    assert time.monotonic() - started < 5
    await _assert_in_step(conn)


async def test_cancelled_task_group_cancels_the_query(conn: AsyncConnection) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(conn.fetch, LONG_QUERY)
        await anyio.sleep(0.2)
        tasks.cancel_scope.cancel()
    await _assert_in_step(conn)


async def test_cancel_scope_around_a_pipeline_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    with anyio.move_on_after(0.2):
        async with conn.pipeline() as pipeline:
            pipeline.fetchval("SELECT 1")
            pipeline.fetchval(LONG_QUERY)
            pipeline.fetchval("SELECT 3")
    await _assert_in_step(conn)


async def test_cancel_scope_around_a_pipeline_of_slow_statements_cancels_each(
    conn: AsyncConnection,
) -> None:
    # Outside a transaction each statement is its own batch: cancelling the first one only
    # would let the server start the next, and the connection would wait for all of them.
    started = time.monotonic()
    with anyio.move_on_after(0.2):
        async with conn.pipeline() as pipeline:
            for _ in range(3):
                pipeline.fetchval(LONG_QUERY)
    assert time.monotonic() - started < 5
    await _assert_in_step(conn)


async def test_cancel_scope_around_a_long_pipeline_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    # Fast statements left in the pipeline are read to their end, not each cancelled.
    await conn.prepare("SELECT $1::int")
    with anyio.move_on_after(0.02):
        async with conn.pipeline() as pipeline:
            for n in range(5000):
                pipeline.fetchval("SELECT $1::int", n)
    await _assert_in_step(conn)


async def test_cancel_inside_a_transaction_rolls_it_back_and_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    with anyio.move_on_after(0.2):
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE inside (id int)")
            await conn.execute(LONG_QUERY)
    await _assert_in_step(conn)
    assert await conn.fetchval("SELECT to_regclass('pg_temp.inside')::text") is None


async def test_cancel_during_a_cursor_keeps_the_connection(conn: AsyncConnection) -> None:
    seen = 0
    with anyio.move_on_after(0.3):
        async for _ in conn.cursor(
            "SELECT pg_sleep(0.05) FROM generate_series(1, 1000)", batch_size=2
        ):
            seen += 1
    assert 0 < seen < 1000
    await _assert_in_step(conn)


async def test_cancel_during_copy_out_keeps_the_connection(conn: AsyncConnection) -> None:
    async def slow_sink(chunk: bytes) -> None:
        await anyio.sleep(0.01)

    with anyio.move_on_after(0.2):
        await conn.copy_out("COPY (SELECT generate_series(1, 100000)) TO STDOUT", slow_sink)
    await _assert_in_step(conn)


async def test_query_in_an_already_cancelled_scope_keeps_the_connection_in_step(
    conn: AsyncConnection,
) -> None:
    # The cancellation lands before the request is written: the request goes out whole and
    # is cancelled, never left half-sent nor counted as sent when it was not.
    for _ in range(3):
        with anyio.CancelScope() as scope:
            scope.cancel()
            await conn.fetchval("SELECT $1::int", 1)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await conn.execute("SELECT 1")
        await _assert_in_step(conn)


async def test_transaction_entered_in_a_cancelled_scope_leaves_no_transaction_open(
    conn: AsyncConnection,
) -> None:
    # Wherever the cancellation lands (BEGIN, the block, COMMIT), no transaction stays open.
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE inside (id int)")
    await _assert_in_step(conn)
    async with conn.transaction():
        assert conn.transaction_status == "T"
    assert conn.transaction_status == "I"


async def test_cursor_started_in_a_cancelled_scope_leaves_no_transaction_open(
    conn: AsyncConnection,
) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        async for _ in conn.cursor("SELECT 1"):
            pass
    await _assert_in_step(conn)


async def test_cancel_during_copy_in_keeps_the_connection(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")

    async def slow_rows() -> AsyncIterator[bytes]:
        for n in range(1000):
            await anyio.sleep(0.01)
            yield f"{n}\n".encode()

    with anyio.move_on_after(0.2) as scope:
        await conn.copy_in(f"COPY {table} FROM STDIN", slow_rows())
    assert scope.cancelled_caught
    await _assert_in_step(conn)
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_cancel_while_copy_in_waits_for_a_lock_keeps_the_connection(
    conn: AsyncConnection, other: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    await other.execute("BEGIN")
    await other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    with anyio.fail_after(10):  # a desync would hang the next query
        with anyio.move_on_after(0.2) as scope:
            await conn.copy_in(f"COPY {table} FROM STDIN", b"1\n")
        assert scope.cancelled_caught
        await _assert_in_step(conn)
    await other.execute("ROLLBACK")


async def test_explicit_asyncio_task_cancel_keeps_the_connection(
    conn: AsyncConnection, backend_name: str
) -> None:
    if backend_name == "trio":
        pytest.skip("Task.cancel() is asyncio's; trio cancels with cancel scopes only")
    task = asyncio.get_running_loop().create_task(conn.fetchval(LONG_QUERY))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_in_step(conn)


# --------------------------------------------------------------------------------------
# timeout= and command_timeout=
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.01, 0.05])
async def test_cancel_while_a_large_write_is_in_progress_keeps_the_connection(
    conn: AsyncConnection, delay: float
) -> None:
    # 64 MB of parameter: the write waits for the socket to drain (on asyncio without a
    # shield, the stream having handed every byte over first), so the cancellation lands
    # in the write, or in the read after it; either way the query is cancelled or run, and
    # the connection stays in step.
    assert await conn.fetchval("SELECT length($1::text)", "x") == 1  # prepared: the next
    big = "x" * (64 << 20)  # exchange starts with the big write
    with anyio.move_on_after(delay):
        assert await conn.fetchval("SELECT length($1::text)", big) == len(big)
    await _assert_in_step(conn)


async def test_a_long_statement_timed_out_during_its_large_write_is_cancelled_on_the_server(
    conn: AsyncConnection, other: AsyncConnection
) -> None:
    # The timeout lands while the 64 MB Bind is still being written: the server ignores a
    # cancel until it has read the request, so the cancel is sent again until it takes.
    big = b"x" * (64 << 20)
    sql = "SELECT pg_sleep(30), length($1::bytea)"
    await conn.prepare(sql)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await conn.fetch(sql, big, timeout=0.02)
    assert time.monotonic() - started < 8
    assert await _server_is_idle(other, conn.backend_pid)
    await _assert_in_step(conn)


@pytest.mark.parametrize("method", ["execute", "fetch", "fetchrow", "fetchval"])
async def test_timeout_argument_raises_timeout_error_and_keeps_the_connection(
    conn: AsyncConnection, method: str
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await getattr(conn, method)(LONG_QUERY, timeout=0.2)
    assert time.monotonic() - started < 5
    await _assert_in_step(conn)


async def test_timeout_argument_with_parameters_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    with pytest.raises(TimeoutError):
        await conn.execute("SELECT pg_sleep($1)", 30.0, timeout=0.2)
    await _assert_in_step(conn)


async def test_command_timeout_raises_timeout_error_and_keeps_the_connection(
    connect: AsyncConnector,
) -> None:
    conn = await connect(command_timeout=0.2)
    assert await conn.fetchval("SELECT pg_sleep(0.01)::text || 'quick'") == "quick"
    with pytest.raises(TimeoutError):
        await conn.fetchval(LONG_QUERY)
    await _assert_in_step(conn)
    # A per-call timeout overrides the connection's default.
    assert await conn.fetchval("SELECT pg_sleep(0.4)::text || 'slow'", timeout=5) == "slow"


async def test_timeout_on_executemany_keeps_the_connection(conn: AsyncConnection) -> None:
    with pytest.raises(TimeoutError):
        await conn.executemany("SELECT pg_sleep($1)", [(0.0,), (30.0,)], timeout=0.2)
    await _assert_in_step(conn)


# --------------------------------------------------------------------------------------
# conn.cancel()
# --------------------------------------------------------------------------------------


async def test_cancel_from_another_task_raises_query_canceled(conn: AsyncConnection) -> None:
    async def cancel_soon() -> None:
        await anyio.sleep(0.2)
        await conn.cancel()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel_soon)
        with pytest.raises(errors.QueryCanceled) as caught:
            await conn.fetchval(LONG_QUERY)
    assert caught.value.sqlstate == "57014"
    await _assert_in_step(conn)


async def test_cancel_when_idle_is_harmless(conn: AsyncConnection) -> None:
    await conn.cancel()
    await _assert_in_step(conn)


# --------------------------------------------------------------------------------------
# Concurrent use of one connection: the second task gets a clear InterfaceError
# --------------------------------------------------------------------------------------


async def test_concurrent_use_policy_second_task_gets_interface_error_first_completes(
    conn: AsyncConnection,
) -> None:
    results: list[object] = []

    async def first() -> None:
        results.append(await conn.fetchval("SELECT pg_sleep(0.3)::text || 'first'"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first)
        await anyio.sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match="another task is using"):
            await conn.fetchval("SELECT 'second'")
        with pytest.raises(pgwire.InterfaceError, match="another task is using"):
            async with conn.transaction():
                pass
        with pytest.raises(pgwire.InterfaceError, match="another task is using"):
            await conn.copy_out("COPY (SELECT 1) TO STDOUT")
    assert results == ["first"]
    await _assert_in_step(conn)


async def test_concurrent_use_policy_applies_to_waiting_for_notifications(
    conn: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(conn.wait_for_notification, 0.3)
        await anyio.sleep(0.1)
        with pytest.raises(pgwire.InterfaceError, match="another task is using"):
            await conn.execute("SELECT 1")
    await _assert_in_step(conn)


async def test_tasks_taking_turns_may_share_a_connection(conn: AsyncConnection) -> None:
    lock = anyio.Lock()
    results: list[int] = []

    async def worker(n: int) -> None:
        async with lock:
            results.append(await conn.fetchval("SELECT $1::int", n))

    async with anyio.create_task_group() as tasks:
        for n in range(10):
            tasks.start_soon(worker, n)
    assert sorted(results) == list(range(10))
