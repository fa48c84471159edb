"""Queries, transactions, cursors and the statement cache on an async connection, against the
real PostgreSQL 18, on asyncio, uvloop and trio."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable

import anyio
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.aio.conftest import AsyncConnector, NewTable, SendCounter

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------
# fetch, fetchrow, fetchval, execute, executemany
# --------------------------------------------------------------------------------------


async def test_fetch_returns_records_by_index_and_name(conn: AsyncConnection) -> None:
    rows = await conn.fetch("SELECT n, n::text AS word FROM generate_series(1, $1::int) AS n", 3)
    assert rows == [(1, "1"), (2, "2"), (3, "3")]
    assert rows[1]["word"] == "2"
    assert dict(rows[2]) == {"n": 3, "word": "3"}


async def test_fetch_of_no_rows_is_an_empty_list(conn: AsyncConnection) -> None:
    assert await conn.fetch("SELECT 1 WHERE $1::bool", False) == []


async def test_fetchrow_returns_the_first_row_or_none(conn: AsyncConnection) -> None:
    row = await conn.fetchrow("SELECT $1::int AS a, $2::text AS b", 7, "seven")
    assert row is not None
    assert (row["a"], row["b"]) == (7, "seven")
    assert await conn.fetchrow("SELECT 1 WHERE false") is None


async def test_fetchval_returns_one_value(conn: AsyncConnection) -> None:
    assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
    assert await conn.fetchval("SELECT 1, 'second'", column=1) == "second"
    assert await conn.fetchval("SELECT 1 WHERE false") is None


async def test_execute_returns_the_command_tag(conn: AsyncConnection) -> None:
    assert await conn.execute("CREATE TEMP TABLE items (id int)") == "CREATE TABLE"
    assert await conn.execute("INSERT INTO items VALUES ($1), ($2)", 1, 2) == "INSERT 0 2"
    assert await conn.execute("UPDATE items SET id = id + 1; DELETE FROM items") == "DELETE 2"


async def test_executemany_inserts_every_row_in_one_round_trip(
    conn: AsyncConnection, new_table: NewTable, count_sends: Callable[..., SendCounter]
) -> None:
    table = await new_table("id int, name text")
    await conn.prepare(f"INSERT INTO {table} VALUES ($1, $2)")
    sends = count_sends(conn)
    await conn.executemany(
        f"INSERT INTO {table} VALUES ($1, $2)", [(n, f"name {n}") for n in range(500)]
    )
    assert sends.calls == 1
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 500


async def test_executemany_is_atomic(conn: AsyncConnection, new_table: NewTable) -> None:
    table = await new_table("id int PRIMARY KEY")
    with pytest.raises(errors.UniqueViolation):
        await conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,), (2,), (1,), (3,)])
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_server_error_leaves_the_connection_usable(conn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        await conn.fetchval("SELECT 1 / $1::int", 0)
    with pytest.raises(errors.UndefinedTable):
        await conn.execute("SELECT * FROM no_such_table")
    assert await conn.fetchval("SELECT 2") == 2
    assert conn.transaction_status == "I"


# --------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------


async def test_transaction_commits_on_success(
    conn: AsyncConnection, other: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    async with conn.transaction():
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert conn.transaction_status == "T"
        assert await other.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert conn.transaction_status == "I"
    assert await other.fetchval(f"SELECT count(*) FROM {table}") == 1


async def test_transaction_rolls_back_on_an_exception(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    with pytest.raises(RuntimeError, match="abort"):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
            raise RuntimeError("abort")
    assert conn.transaction_status == "I"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_nested_transaction_rolls_back_to_its_savepoint(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    async with conn.transaction():
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.UniqueViolation):
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES (2)")
                await conn.execute(f"CREATE UNIQUE INDEX ON {table} (id)")
                await conn.execute(f"INSERT INTO {table} VALUES (2)")
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (3)")
    rows = await conn.fetch(f"SELECT id FROM {table} ORDER BY id")
    assert [row[0] for row in rows] == [1, 3]


async def test_transaction_with_a_caught_error_raises_in_failed_sql_transaction(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    with pytest.raises(errors.InFailedSqlTransaction, match="rolled back"):
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
            with pytest.raises(errors.DivisionByZero):
                await conn.execute("SELECT 1 / 0")
            with pytest.raises(errors.InFailedSqlTransaction):
                await conn.execute("SELECT 1")
    assert conn.transaction_status == "I"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_transaction_isolation_level_is_set(conn: AsyncConnection) -> None:
    async with conn.transaction(isolation="serializable"):
        level = await conn.fetchval("SELECT current_setting('transaction_isolation')")
    assert level == "serializable"


# --------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------


async def test_cursor_streams_20000_rows_in_batches(
    conn: AsyncConnection, count_sends: Callable[..., SendCounter]
) -> None:
    sends = count_sends(conn)
    total = 0
    expected = 1
    async for row in conn.cursor(
        "SELECT n, repeat('x', 10) FROM generate_series(1, $1::int) AS n", 20000, batch_size=1000
    ):
        assert row[0] == expected
        expected += 1
        total += 1
    assert total == 20000
    # BEGIN, prepare, 20 batches of 1,000 rows, COMMIT: the rows came a batch at a time.
    assert 20 <= sends.calls <= 25
    assert conn.transaction_status == "I"
    assert await conn.fetchval("SELECT 1") == 1


async def test_cursor_reads_only_the_batches_it_is_asked_for(
    conn: AsyncConnection, count_sends: Callable[..., SendCounter]
) -> None:
    sends = count_sends(conn)
    rows = conn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=1000)
    async with contextlib.aclosing(rows):
        async for row in rows:
            if row[0] == 1500:
                break
    assert sends.calls <= 6  # BEGIN, prepare, two batches, COMMIT
    assert conn.transaction_status == "I"
    assert await conn.fetchval("SELECT 1") == 1


async def test_cursor_inside_an_explicit_transaction_keeps_it_open(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("id int")
    async with conn.transaction():
        await conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 20000)")
        total = 0
        async for row in conn.cursor(f"SELECT id FROM {table} ORDER BY id", batch_size=3000):
            total += row[0]
        assert total == 20000 * 20001 // 2
        assert conn.transaction_status == "T"
        # The portal was closed: a second cursor in the same transaction works too.
        assert [row[0] async for row in conn.cursor("SELECT 1")] == [1]
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 20000


async def test_cursor_error_leaves_the_connection_usable(conn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        async for _ in conn.cursor("SELECT 1 / (n - 5) FROM generate_series(1, 10) AS n"):
            pass
    assert conn.transaction_status == "I"
    assert await conn.fetchval("SELECT 1") == 1


# --------------------------------------------------------------------------------------
# Statement cache
# --------------------------------------------------------------------------------------


async def test_statement_cache_prepares_a_statement_once(
    conn: AsyncConnection, count_sends: Callable[..., SendCounter]
) -> None:
    sql = "SELECT $1::int * 3"
    assert await conn.fetchval(sql, 1) == 3
    sends = count_sends(conn)
    for n in range(5):
        assert await conn.fetchval(sql, n) == n * 3
    assert sends.calls == 5
    prepared = await conn.fetchval(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", sql
    )
    assert prepared == 1


async def test_statement_cache_off_prepares_nothing(
    connect: AsyncConnector, count_sends: Callable[..., SendCounter]
) -> None:
    conn = await connect(statement_cache_size=0)
    sends = count_sends(conn)
    for n in range(5):
        assert await conn.fetchval("SELECT $1::int * 3", n) == n * 3
    assert sends.calls == 5  # parse, bind and execute in one round trip, every time
    assert await conn.fetch("SELECT name FROM pg_prepared_statements") == []
    await conn.executemany("SELECT $1::int", [(1,), (2,)])
    async with conn.transaction():
        assert await conn.fetchval("SELECT 'in a transaction'") == "in a transaction"


async def test_statement_cache_evicts_the_least_recently_used(connect: AsyncConnector) -> None:
    conn = await connect(statement_cache_size=2)
    for n in range(5):
        assert await conn.fetchval(f"SELECT {n}") == n
    assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 2


async def test_stale_cached_statement_is_prepared_again(
    conn: AsyncConnection, new_table: NewTable
) -> None:
    table = await new_table("a int")
    assert await conn.fetch(f"SELECT * FROM {table}") == []
    await conn.execute(f"ALTER TABLE {table} ADD COLUMN b int")
    await conn.execute(f"INSERT INTO {table} VALUES (1, 2)")
    assert await conn.fetch(f"SELECT * FROM {table}") == [(1, 2)]


async def test_unknown_isolation_level_raises_interface_error(conn: AsyncConnection) -> None:
    with pytest.raises(pgwire.InterfaceError, match="isolation"):
        async with conn.transaction(isolation="chaotic"):
            pass


async def test_a_cursor_left_with_break_ends_its_transaction_before_the_next_operation(
    conn: AsyncConnection,
) -> None:
    async for row in conn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=100):
        if row[0] == 150:
            break
    # The abandoned generator is finalized by the event loop, in a task of its own.
    gc.collect()
    await anyio.sleep(0.05)
    assert await conn.fetchval("SELECT 1") == 1
    assert conn.transaction_status == "I"
