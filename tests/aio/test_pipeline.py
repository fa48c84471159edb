"""Pipelines on an async connection: many statements, one round trip, errors kept apart,
against the real PostgreSQL 18, on asyncio, uvloop and trio."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.aio.conftest import AsyncConnector, NewTable, SendCounter

pytestmark = pytest.mark.anyio


async def test_pipeline_results_come_in_order_of_each_kind(conn: AsyncConnection) -> None:
    await conn.execute("CREATE TEMP TABLE items (id int)")
    async with conn.pipeline() as pipeline:
        inserted = pipeline.execute("INSERT INTO items SELECT generate_series(1, $1::int)", 3)
        rows = pipeline.fetch("SELECT id FROM items ORDER BY id")
        first = pipeline.fetchrow("SELECT id FROM items ORDER BY id DESC")
        count = pipeline.fetchval("SELECT count(*) FROM items")
        nothing = pipeline.fetchrow("SELECT 1 WHERE false")
        deleted = pipeline.execute("DELETE FROM items WHERE id > $1", 1)
    assert inserted.result() == "INSERT 0 3"
    assert rows.result() == [(1,), (2,), (3,)]
    assert first.result() == (3,)
    assert count.result() == 3
    assert nothing.result() is None
    assert deleted.result() == "DELETE 2"


async def test_1000_pipelined_statements_run_in_one_round_trip(
    conn: AsyncConnection, count_sends: Callable[..., SendCounter]
) -> None:
    sql = "SELECT $1::int * 2"
    await conn.prepare(sql)
    sends = count_sends(conn)
    async with conn.pipeline() as pipeline:
        results = [pipeline.fetchval(sql, n) for n in range(1000)]
    assert sends.calls == 1
    assert [result.result() for result in results] == [n * 2 for n in range(1000)]


async def test_new_statements_cost_one_more_round_trip_to_prepare(
    conn: AsyncConnection, count_sends: Callable[..., SendCounter]
) -> None:
    sends = count_sends(conn)
    async with conn.pipeline() as pipeline:
        texts = [pipeline.fetchval("SELECT $1::text", str(n)) for n in range(500)]
        numbers = [pipeline.fetchval("SELECT $1::int", n) for n in range(500)]
    assert sends.calls == 2  # prepare both statements, then run all 1,000
    assert [result.result() for result in texts] == [str(n) for n in range(500)]
    assert [result.result() for result in numbers] == list(range(500))


async def test_pipeline_run_returns_the_results(conn: AsyncConnection) -> None:
    pipeline = conn.pipeline()
    for n in range(5):
        pipeline.fetchval("SELECT $1::int * 10", n)
    results = await pipeline.run()
    assert [result.result() for result in results] == [0, 10, 20, 30, 40]


async def test_result_before_the_pipeline_ran_raises_interface_error(
    conn: AsyncConnection,
) -> None:
    async with conn.pipeline() as pipeline:
        pending = pipeline.fetchval("SELECT 1")
        with pytest.raises(pgwire.InterfaceError, match="not run yet"):
            pending.result()
    assert pending.result() == 1


async def test_exception_in_the_block_runs_nothing(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    with pytest.raises(RuntimeError):
        async with conn.pipeline() as pipeline:
            pipeline.execute(f"INSERT INTO {table} VALUES (1)")
            raise RuntimeError("changed my mind")
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_error_outside_a_transaction_fails_only_its_statement(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    pipeline = conn.pipeline()
    before = pipeline.execute(f"INSERT INTO {table} VALUES (1)")
    failing = pipeline.fetchval("SELECT 1 / 0")
    after = pipeline.execute(f"INSERT INTO {table} VALUES (2)")
    with pytest.raises(errors.DivisionByZero):
        await pipeline.run()
    assert before.result() == "INSERT 0 1"
    with pytest.raises(errors.DivisionByZero):
        failing.result()
    assert after.result() == "INSERT 0 1"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2


async def test_error_inside_a_transaction_fails_the_rest_of_the_transaction(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    await conn.execute("BEGIN")
    pipeline = conn.pipeline()
    before = pipeline.execute(f"INSERT INTO {table} VALUES (1)")
    failing = pipeline.fetchval("SELECT 1 / 0")
    after = pipeline.execute(f"INSERT INTO {table} VALUES (2)")
    later = pipeline.fetchval("SELECT 1")
    with pytest.raises(errors.DivisionByZero):
        await pipeline.run()
    assert before.result() == "INSERT 0 1"
    with pytest.raises(errors.DivisionByZero):
        failing.result()
    for result in (after, later):
        with pytest.raises(errors.InFailedSqlTransaction) as caught:
            result.result()
        assert caught.value.sqlstate == "25P02"
    assert conn.transaction_status == "E"
    await conn.execute("ROLLBACK")
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_pipeline_inside_transaction_block_commits_with_it(
    conn: AsyncConnection, other: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    async with conn.transaction():
        async with conn.pipeline() as pipeline:
            for n in range(3):
                pipeline.execute(f"INSERT INTO {table} VALUES ($1)", n)
        assert await other.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await other.fetchval(f"SELECT count(*) FROM {table}") == 3


async def test_leaving_the_block_raises_the_first_error_and_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    with pytest.raises(errors.DivisionByZero):
        async with conn.pipeline() as pipeline:
            pipeline.fetchval("SELECT 1")
            pipeline.fetchval("SELECT 1 / 0")
            pipeline.fetchval("SELECT * FROM no_such_table")
    assert await conn.fetchval("SELECT 2") == 2


async def test_pipeline_with_no_statement_cache_works(connect: AsyncConnector) -> None:
    conn = await connect(statement_cache_size=0)
    async with conn.pipeline() as pipeline:
        results = [pipeline.fetchval("SELECT $1::int", n) for n in range(3)]
        word = pipeline.fetchval("SELECT 'x'")
    assert [result.result() for result in results] == [0, 1, 2]
    assert word.result() == "x"
    assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
