"""Running statements: results, parameters, errors, transactions, the statement cache and
cursors, against the real PostgreSQL 18, on the blocking driver and on asyncio, uvloop and
trio (one source, ``test_queries_async.py``, for both drivers)."""

from __future__ import annotations

import contextlib
import datetime
import gc

import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.concurrency_async import sleep
from tests.driver.fixtures_async import Connector, NewTable, SendCounter, assert_usable

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


async def _prepared_names(conn: AsyncConnection) -> set[str]:
    rows = await conn.fetch("SELECT name FROM pg_prepared_statements")
    return {row[0] for row in rows}


# --------------------------------------------------------------------------------------
# execute() and command tags
# --------------------------------------------------------------------------------------


async def test_execute_returns_create_table_tag(aconn: AsyncConnection) -> None:
    assert await aconn.execute("CREATE TEMP TABLE items (id int)") == "CREATE TABLE"


async def test_execute_returns_insert_tag(aconn: AsyncConnection) -> None:
    await aconn.execute("CREATE TEMP TABLE items (id int)")
    assert await aconn.execute("INSERT INTO items VALUES (1)") == "INSERT 0 1"
    assert await aconn.execute("INSERT INTO items VALUES ($1), ($2)", 2, 3) == "INSERT 0 2"


async def test_execute_returns_update_and_delete_counts(aconn: AsyncConnection) -> None:
    await aconn.execute("CREATE TEMP TABLE items (id int)")
    await aconn.execute("INSERT INTO items SELECT generate_series(1, 5)")
    assert await aconn.execute("UPDATE items SET id = id + 10 WHERE id > $1", 2) == "UPDATE 3"
    assert await aconn.execute("DELETE FROM items") == "DELETE 5"


async def test_execute_of_several_statements_returns_the_last_tag(aconn: AsyncConnection) -> None:
    tag = await aconn.execute(
        "CREATE TEMP TABLE items (id int);"
        " INSERT INTO items VALUES (1), (2);"
        " UPDATE items SET id = 0"
    )
    assert tag == "UPDATE 2"
    assert await aconn.fetchval("SELECT sum(id) FROM items") == 0


async def test_execute_of_an_empty_query_returns_an_empty_tag(aconn: AsyncConnection) -> None:
    assert await aconn.execute("") == ""
    assert await aconn.execute("  ;  ") == ""


async def test_execute_ignores_rows_it_could_not_decode(aconn: AsyncConnection) -> None:
    # execute() returns only the tag: a value Python cannot hold must not make it fail.
    assert await aconn.execute("SELECT '10000-01-01'::timestamptz") == "SELECT 1"


async def test_failing_statement_in_a_multi_statement_query_undoes_the_earlier_ones(
    aconn: AsyncConnection,
) -> None:
    await aconn.execute("CREATE TEMP TABLE items (id int)")
    with pytest.raises(errors.DivisionByZero):
        await aconn.execute("INSERT INTO items VALUES (1); SELECT 1 / 0")
    assert await aconn.fetchval("SELECT count(*) FROM items") == 0


async def test_execute_gives_the_tags_the_general_path_gives(aconn: AsyncConnection) -> None:
    # execute() reads the reply on the core's fast path; execute_results() on the general one.
    sql = (
        "SELECT pg_catalog.pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;"
        " SELECT generate_series(1, 300), 'x'; ; SET application_name = 'tags'; VALUES (1, 2)"
    )
    results = await aconn.execute_results(sql)
    assert [r.tag for r in results if r.tag] == [
        "SELECT 1",
        "CLOSE CURSOR ALL",
        "UNLISTEN",
        "RESET",
        "SELECT 300",
        "SET",
        "SELECT 1",
    ]
    assert await aconn.execute(sql) == results[-1].tag
    assert aconn.transaction_status == "I"
    assert await aconn.fetchval("SELECT current_setting('application_name')") == "tags"


async def test_execute_delivers_what_arrives_between_its_answers(aconn: AsyncConnection) -> None:
    notices: list[str] = []
    aconn.add_notice_handler(lambda notice: notices.append(notice.message))
    await aconn.execute("LISTEN fast_path")
    tag = await aconn.execute(
        "DO $$ BEGIN RAISE NOTICE 'first'; END $$; SELECT 1;"
        " BEGIN; NOTIFY fast_path, 'hello'; COMMIT;"
        " SET application_name = 'middle'; DO $$ BEGIN RAISE NOTICE 'second'; END $$; SELECT 2"
    )
    assert tag == "SELECT 1"
    assert notices == ["first", "second"]
    assert [n.payload for n in aconn.pending_notifications] == ["hello"]
    assert aconn.transaction_status == "I"
    await aconn.execute("UNLISTEN *")


async def test_execute_reports_an_error_after_rows_and_tags(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        await aconn.execute("SELECT 1; SELECT generate_series(1, 10); SELECT 1 / 0; SELECT 3")
    assert aconn.transaction_status == "I"
    await aconn.execute("BEGIN; SELECT 1")
    assert aconn.transaction_status == "T"
    with pytest.raises(errors.DivisionByZero):
        await aconn.execute("SELECT 1 / 0")
    assert aconn.transaction_status == "E"
    assert await aconn.execute("ROLLBACK") == "ROLLBACK"
    assert await aconn.fetchval("SELECT 5") == 5


async def test_execute_refuses_copy_and_stays_usable(aconn: AsyncConnection) -> None:
    await aconn.execute("CREATE TEMP TABLE copied (id int)")
    with pytest.raises(errors.InterfaceError, match="copy_in"):
        await aconn.execute("SELECT 1; COPY copied FROM STDIN")
    with pytest.raises(errors.InterfaceError, match="copy_out"):
        await aconn.execute("COPY (SELECT generate_series(1, 5)) TO STDOUT; SELECT 1")
    assert await aconn.execute("INSERT INTO copied VALUES (1)") == "INSERT 0 1"
    assert await aconn.fetchval("SELECT count(*) FROM copied") == 1


# --------------------------------------------------------------------------------------
# fetch(), fetchrow(), fetchval()
# --------------------------------------------------------------------------------------


async def test_fetch_returns_every_row(aconn: AsyncConnection) -> None:
    rows = await aconn.fetch("SELECT n, n * n AS square FROM generate_series(1, $1::int) AS n", 3)
    assert rows == [(1, 1), (2, 4), (3, 9)]
    assert [row["square"] for row in rows] == [1, 4, 9]


async def test_fetch_with_no_rows_returns_an_empty_list(aconn: AsyncConnection) -> None:
    assert await aconn.fetch("SELECT 1 WHERE $1::bool", False) == []


async def test_fetch_of_a_statement_without_rows_returns_an_empty_list(
    aconn: AsyncConnection,
) -> None:
    assert await aconn.fetch("CREATE TEMP TABLE items (id int)") == []


async def test_fetch_returns_ten_thousand_rows(aconn: AsyncConnection) -> None:
    rows = await aconn.fetch("SELECT n, repeat('x', n % 10) FROM generate_series(1, 10000) AS n")
    assert len(rows) == 10000
    assert rows[0] == (1, "x")
    assert rows[-1] == (10000, "")
    assert sum(row[0] for row in rows) == 10000 * 10001 // 2


async def test_fetchrow_returns_the_first_row(aconn: AsyncConnection) -> None:
    row = await aconn.fetchrow("SELECT n, $1::text AS word FROM generate_series(5, 9) AS n", "w")
    assert row is not None
    assert (row["n"], row["word"]) == (5, "w")


async def test_fetchrow_with_no_rows_returns_none(aconn: AsyncConnection) -> None:
    assert await aconn.fetchrow("SELECT 1 WHERE false") is None


async def test_fetchval_returns_the_first_value(aconn: AsyncConnection) -> None:
    assert await aconn.fetchval("SELECT $1::int + 1", 41) == 42
    assert await aconn.fetchval("SELECT 'a', 'b'") == "a"
    assert await aconn.fetchval("SELECT 'a', 'b'", column=1) == "b"


async def test_fetchval_with_no_rows_returns_none(aconn: AsyncConnection) -> None:
    assert await aconn.fetchval("SELECT 1 WHERE false") is None


async def test_fetchrow_of_insert_returning_still_inserts_every_row(
    aconn: AsyncConnection,
) -> None:
    await aconn.execute("CREATE TEMP TABLE items (id int)")
    row = await aconn.fetchrow("INSERT INTO items SELECT generate_series(1, 5) RETURNING id")
    assert row == (1,)
    assert await aconn.fetchval("SELECT count(*) FROM items") == 5


async def test_large_values_travel_both_ways(aconn: AsyncConnection) -> None:
    text = "é" * 3_000_000  # 6 MB of UTF-8: many reads and writes per message
    data = bytes(range(256)) * 20_000
    assert await aconn.fetchval("SELECT length($1::text)", text) == len(text)
    assert await aconn.fetchval("SELECT $1::bytea", data) == data
    assert await aconn.fetchval("SELECT repeat('xy', 2_000_000)") == "xy" * 2_000_000


async def test_nulls_come_back_as_none(aconn: AsyncConnection) -> None:
    row = await aconn.fetchrow("SELECT NULL::int, NULL::text, NULL::jsonb, NULL, 1")
    assert row == (None, None, None, None, 1)


async def test_none_parameters_are_sent_as_null(aconn: AsyncConnection) -> None:
    row = await aconn.fetchrow("SELECT $1::int IS NULL, $2::text IS NULL", None, None)
    assert row == (True, True)


async def test_values_of_every_common_type_come_back_as_python_objects(
    aconn: AsyncConnection,
) -> None:
    row = await aconn.fetchrow(
        "SELECT 1::int2, 2::int4, 3::int8, 1.5::float8, 2.5::numeric, 'x'::text, true,"
        " '\\x00ff'::bytea, '2024-02-29'::date, '2024-02-29 12:00'::timestamp,"
        " '{\"a\": [1]}'::jsonb"
    )
    assert row == (
        1,
        2,
        3,
        1.5,
        pytest.approx(2.5),
        "x",
        True,
        b"\x00\xff",
        datetime.date(2024, 2, 29),
        datetime.datetime(2024, 2, 29, 12, 0),
        {"a": [1]},
    )


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


async def test_record_is_readable_by_index_name_iteration_and_as_a_dict(
    aconn: AsyncConnection,
) -> None:
    row = await aconn.fetchrow("SELECT 1 AS a, 'two' AS b, NULL::date AS c")
    assert row is not None
    assert (row[0], row[1], row[2], row[-1]) == (1, "two", None, None)
    assert (row["a"], row["b"], row["c"]) == (1, "two", None)
    assert list(row) == [1, "two", None]
    assert dict(row) == {"a": 1, "b": "two", "c": None}
    assert list(row.keys()) == ["a", "b", "c"]
    assert len(row) == 3


async def test_record_with_duplicate_column_names_finds_the_first(aconn: AsyncConnection) -> None:
    row = await aconn.fetchrow("SELECT 1 AS x, 2 AS x")
    assert row is not None
    assert row["x"] == 1
    assert list(row) == [1, 2]


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


EVIL = "Robert'); DROP TABLE students; -- \" \\ $1 %s"


async def test_parameters_are_never_interpolated_into_the_sql(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    students = await anew_table("name text")
    await aconn.execute(f"INSERT INTO {students} VALUES ($1)", EVIL)
    assert await aconn.fetchval(f"SELECT name FROM {students}") == EVIL
    assert await aconn.fetchval(f"SELECT count(*) FROM {students} WHERE name = $1", EVIL) == 1
    assert await aconn.fetchval("SELECT $1::text", "'; DROP TABLE x; --") == "'; DROP TABLE x; --"


async def test_too_many_parameters_raise_programming_error(aconn: AsyncConnection) -> None:
    with pytest.raises(pgwire.ProgrammingError, match=r"expects 1 parameter.* got 2"):
        await aconn.fetchval("SELECT $1::int", 1, 2)
    await assert_usable(aconn)


async def test_too_few_parameters_raise_programming_error(aconn: AsyncConnection) -> None:
    with pytest.raises(pgwire.ProgrammingError, match=r"expects 2 parameter.* got 1"):
        await aconn.fetch("SELECT $1::int + $2::int", 1)
    await assert_usable(aconn)


async def test_unencodable_parameter_raises_data_error_naming_it(aconn: AsyncConnection) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        await aconn.fetchval("SELECT $1::text, $2::int", "fine", "not a number")
    message = str(caught.value)
    assert "$2" in message
    assert "str" in message
    assert "int4" in message
    await assert_usable(aconn)


async def test_out_of_range_parameter_raises_data_error_naming_both_types(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        await aconn.fetchval("SELECT $1::int2", 70000)
    message = str(caught.value)
    assert "$1" in message
    assert "Python int" in message
    assert "int2" in message
    await assert_usable(aconn)


async def test_unencodable_parameter_of_a_type_without_codec_names_the_server_type(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        await aconn.fetchval("SELECT $1::pg_lsn", b"0/1")
    message = str(caught.value)
    assert "$1" in message
    assert "bytes" in message
    assert "oid 3220" in message  # pg_lsn: the registry has no name for it
    await assert_usable(aconn)


async def test_text_parameter_with_a_nul_character_is_refused(aconn: AsyncConnection) -> None:
    # PostgreSQL text cannot hold NUL; the statement must fail, not the connection.
    with pytest.raises(pgwire.Error):
        await aconn.fetchval("SELECT $1::text", "a\x00b")
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# Errors from the server
# --------------------------------------------------------------------------------------


async def test_unique_violation_names_the_constraint_and_table(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int PRIMARY KEY")
    await aconn.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(errors.UniqueViolation) as caught:
        await aconn.execute(f"INSERT INTO {table} VALUES ($1)", 1)
    exc = caught.value
    assert isinstance(exc, pgwire.IntegrityError)
    assert exc.sqlstate == "23505"
    assert exc.constraint_name == f"{table}_pkey"
    assert exc.table_name == table
    assert exc.detail == "Key (id)=(1) already exists."
    await assert_usable(aconn)


async def test_syntax_error_gives_the_position(aconn: AsyncConnection) -> None:
    sql = "SELECT 1 FROM WHERE"
    with pytest.raises(errors.SyntaxError) as caught:
        await aconn.fetch(sql)
    assert isinstance(caught.value, pgwire.ProgrammingError)
    assert caught.value.sqlstate == "42601"
    assert caught.value.position == sql.index("WHERE") + 1
    await assert_usable(aconn)


async def test_syntax_error_in_the_simple_protocol_gives_the_position(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(errors.SyntaxError) as caught:
        await aconn.execute("SELEC 1")
    assert caught.value.position == 1
    await assert_usable(aconn)


async def test_division_by_zero_is_a_data_error(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero) as caught:
        await aconn.fetchval("SELECT $1::int / 0", 1)
    assert isinstance(caught.value, pgwire.DataError)
    assert caught.value.sqlstate == "22012"
    await assert_usable(aconn)


async def test_error_after_some_rows_discards_them(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        await aconn.fetch("SELECT 10 / (5 - n) FROM generate_series(1, 10) AS n")
    await assert_usable(aconn)


async def test_undefined_table_is_a_programming_error(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.UndefinedTable, match="no_such_table") as caught:
        await aconn.fetch("SELECT * FROM no_such_table")
    assert caught.value.sqlstate == "42P01"
    await assert_usable(aconn)


async def test_value_python_cannot_hold_raises_data_error_naming_the_column(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(pgwire.DataError, match=r"column 1 .*timestamptz"):
        await aconn.fetch("SELECT 1, '10000-01-01'::timestamptz")
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------


async def test_transaction_commits_on_success(
    aconn: AsyncConnection, aother: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    async with aconn.transaction():
        await aconn.execute(f"INSERT INTO {table} VALUES (1)")
        assert aconn.transaction_status == "T"
        assert await aother.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert aconn.transaction_status == "I"
    assert await aother.fetchval(f"SELECT count(*) FROM {table}") == 1


async def test_transaction_rolls_back_on_an_exception(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    with pytest.raises(KeyError):
        async with aconn.transaction():
            await aconn.execute(f"INSERT INTO {table} VALUES (1)")
            raise KeyError("application failure")
    assert aconn.transaction_status == "I"
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_transaction_rolls_back_on_a_sql_error(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int PRIMARY KEY")
    with pytest.raises(errors.UniqueViolation):
        async with aconn.transaction():
            await aconn.execute(f"INSERT INTO {table} VALUES (1)")
            await aconn.execute(f"INSERT INTO {table} VALUES (1)")
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
    await assert_usable(aconn)


async def test_transaction_whose_error_was_swallowed_does_not_pretend_to_commit(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    with pytest.raises(errors.InFailedSqlTransaction, match="rolled back"):
        async with aconn.transaction():
            await aconn.execute(f"INSERT INTO {table} VALUES (1)")
            with pytest.raises(errors.DivisionByZero):
                await aconn.fetchval("SELECT 1 / 0")
            with pytest.raises(errors.InFailedSqlTransaction):
                await aconn.execute("SELECT 1")
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
    await assert_usable(aconn)


async def test_nested_transaction_rolls_back_to_its_savepoint(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    async with aconn.transaction():
        await aconn.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.DivisionByZero):
            async with aconn.transaction():
                await aconn.execute(f"INSERT INTO {table} VALUES (2)")
                await aconn.fetchval("SELECT 1 / 0")
        assert aconn.transaction_status == "T"
        async with aconn.transaction():
            await aconn.execute(f"INSERT INTO {table} VALUES (3)")
    rows = await aconn.fetch(f"SELECT id FROM {table} ORDER BY id")
    assert [row[0] for row in rows] == [1, 3]


async def test_nested_transaction_uses_a_savepoint(aconn: AsyncConnection) -> None:
    async with aconn.transaction(), aconn.transaction():
        # Only a savepoint can be released; outside one this fails.
        await aconn.execute("SAVEPOINT probe")
        await aconn.execute("RELEASE SAVEPOINT probe")
        xid_inner = await aconn.fetchval("SELECT txid_current()")
    assert xid_inner is not None


@pytest.mark.parametrize(
    ("isolation", "shown"),
    [
        ("serializable", "serializable"),
        ("repeatable read", "repeatable read"),
        ("REPEATABLE_READ", "repeatable read"),
        ("read committed", "read committed"),
        ("read uncommitted", "read uncommitted"),
    ],
)
async def test_transaction_sets_the_isolation_level(
    aconn: AsyncConnection, isolation: str, shown: str
) -> None:
    async with aconn.transaction(isolation=isolation):
        assert await aconn.fetchval("SELECT current_setting('transaction_isolation')") == shown
    level = await aconn.fetchval("SELECT current_setting('transaction_isolation')")
    assert level == "read committed"


async def test_repeatable_read_transaction_sees_a_snapshot(
    aconn: AsyncConnection, aother: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    async with aconn.transaction(isolation="repeatable read"):
        assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
        await aother.execute(f"INSERT INTO {table} VALUES (1)")
        assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 1


async def test_unknown_isolation_level_is_refused(aconn: AsyncConnection) -> None:
    with pytest.raises(pgwire.InterfaceError, match="isolation"):
        async with aconn.transaction("sloppy"):
            pass
    assert aconn.transaction_status == "I"


async def test_nested_transaction_cannot_set_an_isolation_level(aconn: AsyncConnection) -> None:
    async with aconn.transaction():
        nested = aconn.transaction("serializable")
        with pytest.raises(pgwire.InterfaceError, match="nested"):
            async with nested:
                pass
    assert aconn.transaction_status == "I"


async def test_failed_statement_in_an_explicit_transaction_fails_the_next_ones(
    aconn: AsyncConnection,
) -> None:
    await aconn.execute("BEGIN")
    with pytest.raises(errors.DivisionByZero):
        await aconn.fetchval("SELECT 1 / 0")
    assert aconn.transaction_status == "E"
    with pytest.raises(errors.InFailedSqlTransaction):
        await aconn.fetchval("SELECT 1")
    await aconn.execute("ROLLBACK")
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# executemany()
# --------------------------------------------------------------------------------------


async def test_executemany_runs_once_per_argument_tuple(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int, name text")
    await aconn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, None)])
    rows = await aconn.fetch(f"SELECT * FROM {table} ORDER BY id")
    assert rows == [(1, "a"), (2, "b"), (3, None)]


async def test_executemany_sends_every_row_in_one_round_trip(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int, name text")
    await aconn.prepare(f"INSERT INTO {table} VALUES ($1, $2)")
    sends = SendCounter(aconn)
    await aconn.executemany(
        f"INSERT INTO {table} VALUES ($1, $2)", [(n, f"name {n}") for n in range(500)]
    )
    assert sends.calls == 1
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 500


async def test_executemany_accepts_a_generator(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    await aconn.executemany(f"INSERT INTO {table} VALUES ($1)", ((n,) for n in range(1000)))
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 1000


async def test_executemany_with_no_arguments_does_nothing(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    await aconn.executemany(f"INSERT INTO {table} VALUES ($1)", [])
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_executemany_is_atomic(aconn: AsyncConnection, anew_table: NewTable) -> None:
    table = await anew_table("id int PRIMARY KEY")
    with pytest.raises(errors.UniqueViolation):
        await aconn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,), (2,), (1,), (3,)])
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
    await assert_usable(aconn)


async def test_executemany_with_an_unencodable_row_sends_nothing(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    with pytest.raises(pgwire.DataError):
        await aconn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,), ("two",)])
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 0
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# The statement cache
# --------------------------------------------------------------------------------------


async def test_prepare_returns_the_cached_statement(aconn: AsyncConnection) -> None:
    first = await aconn.prepare("SELECT $1::int")
    assert await aconn.prepare("SELECT $1::int") is first
    assert await aconn.prepare("SELECT $1::bigint") is not first


async def test_queries_reuse_the_cached_statement(aconn: AsyncConnection) -> None:
    sql = "SELECT $1::int + 1"
    statement = await aconn.prepare(sql)
    sends = SendCounter(aconn)
    for n in range(5):
        assert await aconn.fetchval(sql, n) == n + 1
    assert sends.calls == 5  # bind and execute only: one round trip each
    assert await aconn.prepare(sql) is statement
    count = await aconn.fetchval(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", sql
    )
    assert count == 1


async def test_prepared_statement_knows_parameter_and_result_types(
    aconn: AsyncConnection,
) -> None:
    statement = await aconn.prepare("SELECT $1::int AS n, $2::text AS t")
    assert statement.param_oids == (23, 25)
    assert statement.columns is not None
    assert [column.name for column in statement.columns] == ["n", "t"]


async def test_cache_evicts_the_least_recently_used_statement_and_closes_it(
    aconnect: Connector,
) -> None:
    conn = await aconnect(statement_cache_size=2)
    first = await conn.prepare("SELECT 1")
    second = await conn.prepare("SELECT 2")
    await conn.prepare("SELECT 1")  # now the most recently used
    third = await conn.prepare("SELECT 3")
    assert second.closed
    assert not first.closed
    assert await conn.prepare("SELECT 1") is first
    # Preparing the query below evicts "SELECT 3" in turn; only two statements remain.
    names = await _prepared_names(conn)
    assert len(names) == 2
    assert first.name in names
    assert second.name not in names
    assert third.name not in names


async def test_statement_cache_size_zero_prepares_nothing(aconnect: Connector) -> None:
    conn = await aconnect(statement_cache_size=0)
    sends = SendCounter(conn)
    for n in range(5):
        assert await conn.fetchval("SELECT $1::int * 3", n) == n * 3
    assert sends.calls == 5  # parse, bind and execute in one round trip, every time
    await conn.executemany("SELECT $1::int", [(1,), (2,)])
    rows = [row async for row in conn.cursor("SELECT generate_series(1, 3)", batch_size=2)]
    assert rows == [(1,), (2,), (3,)]
    async with conn.transaction():
        assert await conn.fetchval("SELECT 'in a transaction'") == "in a transaction"
    assert await _prepared_names(conn) == set()


async def test_cached_select_star_survives_a_new_column(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("a int")
    await aconn.execute(f"INSERT INTO {table} VALUES (1)")
    assert await aconn.fetch(f"SELECT * FROM {table}") == [(1,)]
    await aconn.execute(f"ALTER TABLE {table} ADD COLUMN b text DEFAULT 'x'")
    rows = await aconn.fetch(f"SELECT * FROM {table}")
    assert rows == [(1, "x")]
    assert list(rows[0].keys()) == ["a", "b"]


async def test_cached_statement_in_a_transaction_fails_once_then_works_again(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("a int")
    await aconn.fetch(f"SELECT * FROM {table}")
    async with aconn.transaction():
        await aconn.execute(f"ALTER TABLE {table} ADD COLUMN b text")
    await aconn.execute("BEGIN")
    # Inside a transaction block the failure cannot be hidden by a retry...
    with pytest.raises(errors.FeatureNotSupported, match="cached plan"):
        await aconn.fetch(f"SELECT * FROM {table}")
    await aconn.execute("ROLLBACK")
    # ...but the stale statement was forgotten, so the next attempt prepares it again.
    assert await aconn.fetch(f"SELECT * FROM {table}") == []


async def test_cached_statement_survives_deallocate_all(aconn: AsyncConnection) -> None:
    assert await aconn.fetchval("SELECT $1::int", 1) == 1
    await aconn.execute("DEALLOCATE ALL")
    assert await aconn.fetchval("SELECT $1::int", 2) == 2


# --------------------------------------------------------------------------------------
# cursor()
# --------------------------------------------------------------------------------------


async def test_cursor_streams_ten_thousand_rows(aconn: AsyncConnection) -> None:
    total = 0
    count = 0
    async for row in aconn.cursor("SELECT n FROM generate_series(1, 10000) AS n", batch_size=500):
        total += row[0]
        count += 1
    assert count == 10000
    assert total == 10000 * 10001 // 2
    assert aconn.transaction_status == "I"


async def test_cursor_fetches_one_batch_per_round_trip(aconn: AsyncConnection) -> None:
    sends = SendCounter(aconn)
    count = 0
    async for _ in aconn.cursor("SELECT generate_series(1, 20000)", batch_size=1000):
        count += 1
    assert count == 20000
    # BEGIN, prepare, 20 batches of 1,000 rows, COMMIT: the rows came a batch at a time.
    assert 20 <= sends.calls <= 25


async def test_cursor_has_the_server_compute_only_the_batches_read(
    aconn: AsyncConnection,
) -> None:
    await aconn.execute("CREATE TEMP SEQUENCE seen")
    rows = aconn.cursor("SELECT nextval('seen') FROM generate_series(1, 10000)", batch_size=1000)
    assert await anext(rows) == (1,)
    # Only the first batch has been computed by the server so far.
    assert await aconn.fetchval("SELECT currval('seen')") == 1000
    for _ in range(1000):
        await anext(rows)
    assert await aconn.fetchval("SELECT currval('seen')") == 2000
    assert len([row async for row in rows]) == 8999
    assert await aconn.fetchval("SELECT currval('seen')") == 10000


async def test_cursor_left_early_reads_no_further_batch(aconn: AsyncConnection) -> None:
    sends = SendCounter(aconn)
    rows = aconn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=1000)
    async with contextlib.aclosing(rows):
        async for row in rows:
            if row[0] == 1500:
                break
    assert sends.calls <= 6  # BEGIN, prepare, two batches, COMMIT
    await assert_usable(aconn)


async def test_cursor_left_with_break_ends_its_transaction_before_the_next_operation(
    aconn: AsyncConnection,
) -> None:
    async for row in aconn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=100):
        if row[0] == 150:
            break
    # The abandoned generator is finalized later (an async one by the event loop, in a
    # task of its own); the next operation must find the cursor ended.
    gc.collect()
    await sleep(0.05)
    assert await aconn.fetchval("SELECT 1") == 1
    assert aconn.transaction_status == "I"


async def test_cursor_passes_parameters(aconn: AsyncConnection) -> None:
    cursor = aconn.cursor("SELECT n FROM generate_series(1, $1::int) AS n", 5, batch_size=2)
    assert [row async for row in cursor] == [(1,), (2,), (3,), (4,), (5,)]


async def test_cursor_inside_a_transaction_leaves_it_open(
    aconn: AsyncConnection, anew_table: NewTable
) -> None:
    table = await anew_table("id int")
    async with aconn.transaction():
        await aconn.execute(f"INSERT INTO {table} SELECT generate_series(1, 10000)")
        total = 0
        async for row in aconn.cursor(f"SELECT id FROM {table} ORDER BY id", batch_size=3000):
            total += row[0]
        assert total == 10000 * 10001 // 2
        assert aconn.transaction_status == "T"
    assert aconn.transaction_status == "I"
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 10000


async def test_two_cursors_run_one_after_the_other_in_a_transaction(
    aconn: AsyncConnection,
) -> None:
    async with aconn.transaction():
        first = [row async for row in aconn.cursor("SELECT generate_series(1, 5)", batch_size=2)]
        # The first portal was closed: a second cursor in the same transaction works too.
        second = [row async for row in aconn.cursor("SELECT generate_series(1, 5)", batch_size=2)]
    assert first == second == [(1,), (2,), (3,), (4,), (5,)]


async def test_cursors_can_be_nested(aconn: AsyncConnection) -> None:
    pairs = [
        (outer[0], inner[0])
        async for outer in aconn.cursor("SELECT generate_series(1, 3)", batch_size=1)
        async for inner in aconn.cursor("SELECT generate_series(1, 2)", batch_size=1)
    ]
    assert pairs == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]


async def test_cursor_abandoned_inside_a_transaction_closes_its_portal(
    aconn: AsyncConnection,
) -> None:
    async with aconn.transaction():
        rows = aconn.cursor("SELECT generate_series(1, 100)", batch_size=10)
        await anext(rows)
        assert await aconn.fetchval("SELECT count(*) FROM pg_cursors WHERE name <> ''") == 1
        await rows.aclose()
        # The unnamed portal of this very query is listed too: count only named ones.
        assert await aconn.fetchval("SELECT count(*) FROM pg_cursors WHERE name <> ''") == 0


async def test_cursor_abandoned_outside_a_transaction_ends_its_own(
    aconn: AsyncConnection,
) -> None:
    rows = aconn.cursor("SELECT generate_series(1, 100)", batch_size=10)
    assert await anext(rows) == (1,)
    assert aconn.transaction_status == "T"
    await rows.aclose()
    assert aconn.transaction_status == "I"


async def test_cursor_error_rolls_back_its_own_transaction(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        async for _ in aconn.cursor(
            "SELECT 10 / (5 - n) FROM generate_series(1, 10) AS n", batch_size=2
        ):
            pass
    await assert_usable(aconn)


async def test_cursor_with_a_syntax_error_leaves_the_connection_idle(
    aconn: AsyncConnection,
) -> None:
    with pytest.raises(errors.SyntaxError):
        async for _ in aconn.cursor("SELEC 1"):
            pass
    await assert_usable(aconn)
