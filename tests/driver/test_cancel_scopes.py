"""Cancel scopes, deadlines and cancelled tasks on the async driver, against the real
PostgreSQL 18, on asyncio, uvloop and trio.

Only the async driver has these (the blocking driver's timeouts and ``cancel()`` are tested
for both drivers in ``test_cancel_async.py``): wherever the cancellation lands (before the
request is written, during a large write, while the server runs the query, inside a
transaction, a cursor, a pipeline or a COPY), pgwire cancels the query on the server and
reads the rest of its reply, so the very next query on the same connection works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest

from pgwire.connection import AsyncConnection
from tests.backends import BACKENDS
from tests.driver.fixtures_async import NewTable, assert_usable

pytestmark = pytest.mark.anyio

LONG_QUERY = "SELECT pg_sleep(30)"


async def _server_is_idle(other: AsyncConnection, pid: int | None) -> bool:
    state = await other.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    return bool(state == "idle")


async def test_move_on_after_cancels_the_query_on_the_server_and_keeps_the_connection(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    with anyio.move_on_after(0.2) as scope:
        await aconn.fetchval(LONG_QUERY)
    assert scope.cancelled_caught
    assert await _server_is_idle(aother, aconn.backend_pid)
    await assert_usable(aconn)


async def test_fail_after_raises_timeout_error_and_keeps_the_connection(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.2):
            await aconn.execute(LONG_QUERY)
    assert await _server_is_idle(aother, aconn.backend_pid)
    await assert_usable(aconn)


async def test_cancelled_task_group_cancels_the_query(aconn: AsyncConnection) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(aconn.fetch, LONG_QUERY)
        await anyio.sleep(0.2)
        tasks.cancel_scope.cancel()
    await assert_usable(aconn)


# Task.cancel() is asyncio's; trio cancels with cancel scopes only.
@pytest.mark.parametrize("anyio_backend", [b for b in BACKENDS if b.id != "trio"])
async def test_explicit_asyncio_task_cancel_keeps_the_connection(aconn: AsyncConnection) -> None:
    task = asyncio.get_running_loop().create_task(aconn.fetchval(LONG_QUERY))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# Where the cancellation lands
# --------------------------------------------------------------------------------------


async def test_query_in_an_already_cancelled_scope_keeps_the_connection_in_step(
    aconn: AsyncConnection,
) -> None:
    # The cancellation lands before the request is written: the request goes out whole and
    # is cancelled, never left half-sent nor counted as sent when it was not.
    for _ in range(3):
        with anyio.CancelScope() as scope:
            scope.cancel()
            await aconn.fetchval("SELECT $1::int", 1)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await aconn.execute("SELECT 1")
        await assert_usable(aconn)


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.01, 0.05])
async def test_cancel_while_a_large_write_is_in_progress_keeps_the_connection(
    aconn: AsyncConnection, delay: float
) -> None:
    # 64 MB of parameter: the write waits for the socket to drain (on asyncio without a
    # shield, the stream having handed every byte over first), so the cancellation lands
    # in the write, or in the read after it; either way the query is cancelled or run, and
    # the connection stays in step.
    assert await aconn.fetchval("SELECT length($1::text)", "x") == 1  # prepared: the next
    big = "x" * (64 << 20)  # exchange starts with the big write
    with anyio.move_on_after(delay):
        assert await aconn.fetchval("SELECT length($1::text)", big) == len(big)
    await assert_usable(aconn)


async def test_cancel_inside_a_transaction_rolls_it_back_and_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    with anyio.move_on_after(0.2):
        async with aconn.transaction():
            await aconn.execute("CREATE TEMP TABLE inside (id int)")
            await aconn.execute(LONG_QUERY)
    await assert_usable(aconn)
    assert await aconn.fetchval("SELECT to_regclass('pg_temp.inside')::text") is None


async def test_transaction_entered_in_a_cancelled_scope_leaves_no_transaction_open(
    aconn: AsyncConnection,
) -> None:
    # Wherever the cancellation lands (BEGIN, the block, COMMIT), no transaction stays open.
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with aconn.transaction():
            await aconn.execute("CREATE TEMP TABLE inside (id int)")
    await assert_usable(aconn)
    async with aconn.transaction():
        assert aconn.transaction_status == "T"
    assert aconn.transaction_status == "I"


async def test_cancel_during_a_cursor_keeps_the_connection(aconn: AsyncConnection) -> None:
    seen = 0
    with anyio.move_on_after(0.3):
        async for _ in aconn.cursor(
            "SELECT pg_sleep(0.05) FROM generate_series(1, 1000)", batch_size=2
        ):
            seen += 1
    assert 0 < seen < 1000
    await assert_usable(aconn)


async def test_cursor_started_in_a_cancelled_scope_leaves_no_transaction_open(
    aconn: AsyncConnection,
) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        async for _ in aconn.cursor("SELECT 1"):
            pass
    await assert_usable(aconn)


async def test_cancel_scope_around_a_pipeline_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    with anyio.move_on_after(0.2):
        async with aconn.pipeline() as pipeline:
            pipeline.fetchval("SELECT 1")
            pipeline.fetchval(LONG_QUERY)
            pipeline.fetchval("SELECT 3")
    await assert_usable(aconn)


async def test_cancel_scope_around_a_pipeline_of_slow_statements_cancels_each(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    # Outside a transaction each statement is its own batch: cancelling the first one only
    # would let the server start the next, and the connection would wait for all of them.
    with anyio.move_on_after(0.2):
        async with aconn.pipeline() as pipeline:
            for _ in range(3):
                pipeline.fetchval(LONG_QUERY)
    assert await _server_is_idle(aother, aconn.backend_pid)
    await assert_usable(aconn)


async def test_cancel_scope_around_a_long_pipeline_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    # Fast statements left in the pipeline are read to their end, not each cancelled.
    await aconn.prepare("SELECT $1::int")
    with anyio.move_on_after(0.02):
        async with aconn.pipeline() as pipeline:
            for n in range(5000):
                pipeline.fetchval("SELECT $1::int", n)
    await assert_usable(aconn)


async def test_cancel_during_copy_out_keeps_the_connection(aconn: AsyncConnection) -> None:
    async def slow_sink(chunk: bytes) -> None:
        await anyio.sleep(0.01)

    with anyio.move_on_after(0.2):
        await aconn.copy_out("COPY (SELECT generate_series(1, 100000)) TO STDOUT", slow_sink)
    await assert_usable(aconn)


async def test_cancel_during_copy_in_copies_nothing_and_keeps_the_connection(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")

    async def slow_rows() -> AsyncIterator[bytes]:
        for n in range(1000):
            await anyio.sleep(0.01)
            yield f"{n}\n".encode()

    with anyio.move_on_after(0.2) as scope:
        await aconn.copy_in(f"COPY {table} FROM STDIN", slow_rows())
    assert scope.cancelled_caught
    await assert_usable(aconn)
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_cancel_while_copy_in_waits_for_a_lock_keeps_the_connection(
    aconn: AsyncConnection, aother: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    await aother.execute("BEGIN")
    await aother.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    with anyio.fail_after(10):  # a desync would hang the next query
        with anyio.move_on_after(0.2) as scope:
            await aconn.copy_in(f"COPY {table} FROM STDIN", b"1\n")
        assert scope.cancelled_caught
        await assert_usable(aconn)
    await aother.execute("ROLLBACK")
