# GENERATED from tests/driver/test_queries_async.py by scripts/gen_sync.py: do not edit.
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
from pgwire.sync import Connection
from tests.concurrency_sync import sleep
from tests.driver.fixtures_sync import Connector, NewTable, SendCounter, assert_usable


def _prepared_names(conn: Connection) -> set[str]:
    rows = conn.fetch("SELECT name FROM pg_prepared_statements")
    return {row[0] for row in rows}


# --------------------------------------------------------------------------------------
# execute() and command tags
# --------------------------------------------------------------------------------------


def test_execute_returns_create_table_tag(conn: Connection) -> None:
    assert conn.execute("CREATE TEMP TABLE items (id int)") == "CREATE TABLE"


def test_execute_returns_insert_tag(conn: Connection) -> None:
    conn.execute("CREATE TEMP TABLE items (id int)")
    assert conn.execute("INSERT INTO items VALUES (1)") == "INSERT 0 1"
    assert conn.execute("INSERT INTO items VALUES ($1), ($2)", 2, 3) == "INSERT 0 2"


def test_execute_returns_update_and_delete_counts(conn: Connection) -> None:
    conn.execute("CREATE TEMP TABLE items (id int)")
    conn.execute("INSERT INTO items SELECT generate_series(1, 5)")
    assert conn.execute("UPDATE items SET id = id + 10 WHERE id > $1", 2) == "UPDATE 3"
    assert conn.execute("DELETE FROM items") == "DELETE 5"


def test_execute_of_several_statements_returns_the_last_tag(conn: Connection) -> None:
    tag = conn.execute(
        "CREATE TEMP TABLE items (id int);"
        " INSERT INTO items VALUES (1), (2);"
        " UPDATE items SET id = 0"
    )
    assert tag == "UPDATE 2"
    assert conn.fetchval("SELECT sum(id) FROM items") == 0


def test_execute_of_an_empty_query_returns_an_empty_tag(conn: Connection) -> None:
    assert conn.execute("") == ""
    assert conn.execute("  ;  ") == ""


def test_execute_ignores_rows_it_could_not_decode(conn: Connection) -> None:
    # execute() returns only the tag: a value Python cannot hold must not make it fail.
    assert conn.execute("SELECT '10000-01-01'::timestamptz") == "SELECT 1"


def test_failing_statement_in_a_multi_statement_query_undoes_the_earlier_ones(
    conn: Connection,
) -> None:
    conn.execute("CREATE TEMP TABLE items (id int)")
    with pytest.raises(errors.DivisionByZero):
        conn.execute("INSERT INTO items VALUES (1); SELECT 1 / 0")
    assert conn.fetchval("SELECT count(*) FROM items") == 0


def test_execute_gives_the_tags_the_general_path_gives(conn: Connection) -> None:
    # execute() reads the reply on the core's fast path; execute_results() on the general one.
    sql = (
        "SELECT pg_catalog.pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;"
        " SELECT generate_series(1, 300), 'x'; ; SET application_name = 'tags'; VALUES (1, 2)"
    )
    results = conn.execute_results(sql)
    assert [r.tag for r in results if r.tag] == [
        "SELECT 1",
        "CLOSE CURSOR ALL",
        "UNLISTEN",
        "RESET",
        "SELECT 300",
        "SET",
        "SELECT 1",
    ]
    assert conn.execute(sql) == results[-1].tag
    assert conn.transaction_status == "I"
    assert conn.fetchval("SELECT current_setting('application_name')") == "tags"


def test_execute_delivers_what_arrives_between_its_answers(conn: Connection) -> None:
    notices: list[str] = []
    conn.add_notice_handler(lambda notice: notices.append(notice.message))
    conn.execute("LISTEN fast_path")
    tag = conn.execute(
        "DO $$ BEGIN RAISE NOTICE 'first'; END $$; SELECT 1;"
        " BEGIN; NOTIFY fast_path, 'hello'; COMMIT;"
        " SET application_name = 'middle'; DO $$ BEGIN RAISE NOTICE 'second'; END $$; SELECT 2"
    )
    assert tag == "SELECT 1"
    assert notices == ["first", "second"]
    assert [n.payload for n in conn.pending_notifications] == ["hello"]
    assert conn.transaction_status == "I"
    conn.execute("UNLISTEN *")


def test_execute_reports_an_error_after_rows_and_tags(conn: Connection) -> None:
    with pytest.raises(errors.DivisionByZero):
        conn.execute("SELECT 1; SELECT generate_series(1, 10); SELECT 1 / 0; SELECT 3")
    assert conn.transaction_status == "I"
    conn.execute("BEGIN; SELECT 1")
    assert conn.transaction_status == "T"
    with pytest.raises(errors.DivisionByZero):
        conn.execute("SELECT 1 / 0")
    assert conn.transaction_status == "E"
    assert conn.execute("ROLLBACK") == "ROLLBACK"
    assert conn.fetchval("SELECT 5") == 5


def test_execute_refuses_copy_and_stays_usable(conn: Connection) -> None:
    conn.execute("CREATE TEMP TABLE copied (id int)")
    with pytest.raises(errors.InterfaceError, match="copy_in"):
        conn.execute("SELECT 1; COPY copied FROM STDIN")
    with pytest.raises(errors.InterfaceError, match="copy_out"):
        conn.execute("COPY (SELECT generate_series(1, 5)) TO STDOUT; SELECT 1")
    assert conn.execute("INSERT INTO copied VALUES (1)") == "INSERT 0 1"
    assert conn.fetchval("SELECT count(*) FROM copied") == 1


# --------------------------------------------------------------------------------------
# fetch(), fetchrow(), fetchval()
# --------------------------------------------------------------------------------------


def test_fetch_returns_every_row(conn: Connection) -> None:
    rows = conn.fetch("SELECT n, n * n AS square FROM generate_series(1, $1::int) AS n", 3)
    assert rows == [(1, 1), (2, 4), (3, 9)]
    assert [row["square"] for row in rows] == [1, 4, 9]


def test_fetch_with_no_rows_returns_an_empty_list(conn: Connection) -> None:
    assert conn.fetch("SELECT 1 WHERE $1::bool", False) == []


def test_fetch_of_a_statement_without_rows_returns_an_empty_list(
    conn: Connection,
) -> None:
    assert conn.fetch("CREATE TEMP TABLE items (id int)") == []


def test_fetch_returns_ten_thousand_rows(conn: Connection) -> None:
    rows = conn.fetch("SELECT n, repeat('x', n % 10) FROM generate_series(1, 10000) AS n")
    assert len(rows) == 10000
    assert rows[0] == (1, "x")
    assert rows[-1] == (10000, "")
    assert sum(row[0] for row in rows) == 10000 * 10001 // 2


def test_fetchrow_returns_the_first_row(conn: Connection) -> None:
    row = conn.fetchrow("SELECT n, $1::text AS word FROM generate_series(5, 9) AS n", "w")
    assert row is not None
    assert (row["n"], row["word"]) == (5, "w")


def test_fetchrow_with_no_rows_returns_none(conn: Connection) -> None:
    assert conn.fetchrow("SELECT 1 WHERE false") is None


def test_fetchval_returns_the_first_value(conn: Connection) -> None:
    assert conn.fetchval("SELECT $1::int + 1", 41) == 42
    assert conn.fetchval("SELECT 'a', 'b'") == "a"
    assert conn.fetchval("SELECT 'a', 'b'", column=1) == "b"


def test_fetchval_with_no_rows_returns_none(conn: Connection) -> None:
    assert conn.fetchval("SELECT 1 WHERE false") is None


def test_fetchrow_of_insert_returning_still_inserts_every_row(
    conn: Connection,
) -> None:
    conn.execute("CREATE TEMP TABLE items (id int)")
    row = conn.fetchrow("INSERT INTO items SELECT generate_series(1, 5) RETURNING id")
    assert row == (1,)
    assert conn.fetchval("SELECT count(*) FROM items") == 5


def test_large_values_travel_both_ways(conn: Connection) -> None:
    text = "é" * 3_000_000  # 6 MB of UTF-8: many reads and writes per message
    data = bytes(range(256)) * 20_000
    assert conn.fetchval("SELECT length($1::text)", text) == len(text)
    assert conn.fetchval("SELECT $1::bytea", data) == data
    assert conn.fetchval("SELECT repeat('xy', 2_000_000)") == "xy" * 2_000_000


def test_nulls_come_back_as_none(conn: Connection) -> None:
    row = conn.fetchrow("SELECT NULL::int, NULL::text, NULL::jsonb, NULL, 1")
    assert row == (None, None, None, None, 1)


def test_none_parameters_are_sent_as_null(conn: Connection) -> None:
    row = conn.fetchrow("SELECT $1::int IS NULL, $2::text IS NULL", None, None)
    assert row == (True, True)


def test_values_of_every_common_type_come_back_as_python_objects(
    conn: Connection,
) -> None:
    row = conn.fetchrow(
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


def test_record_is_readable_by_index_name_iteration_and_as_a_dict(
    conn: Connection,
) -> None:
    row = conn.fetchrow("SELECT 1 AS a, 'two' AS b, NULL::date AS c")
    assert row is not None
    assert (row[0], row[1], row[2], row[-1]) == (1, "two", None, None)
    assert (row["a"], row["b"], row["c"]) == (1, "two", None)
    assert list(row) == [1, "two", None]
    assert dict(row) == {"a": 1, "b": "two", "c": None}
    assert list(row.keys()) == ["a", "b", "c"]
    assert len(row) == 3


def test_record_with_duplicate_column_names_finds_the_first(conn: Connection) -> None:
    row = conn.fetchrow("SELECT 1 AS x, 2 AS x")
    assert row is not None
    assert row["x"] == 1
    assert list(row) == [1, 2]


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


EVIL = "Robert'); DROP TABLE students; -- \" \\ $1 %s"


def test_parameters_are_never_interpolated_into_the_sql(
    conn: Connection, new_table: NewTable
) -> None:
    students = new_table("name text")
    conn.execute(f"INSERT INTO {students} VALUES ($1)", EVIL)
    assert conn.fetchval(f"SELECT name FROM {students}") == EVIL
    assert conn.fetchval(f"SELECT count(*) FROM {students} WHERE name = $1", EVIL) == 1
    assert conn.fetchval("SELECT $1::text", "'; DROP TABLE x; --") == "'; DROP TABLE x; --"


def test_too_many_parameters_raise_programming_error(conn: Connection) -> None:
    with pytest.raises(pgwire.ProgrammingError, match=r"expects 1 parameter.* got 2"):
        conn.fetchval("SELECT $1::int", 1, 2)
    assert_usable(conn)


def test_too_few_parameters_raise_programming_error(conn: Connection) -> None:
    with pytest.raises(pgwire.ProgrammingError, match=r"expects 2 parameter.* got 1"):
        conn.fetch("SELECT $1::int + $2::int", 1)
    assert_usable(conn)


def test_unencodable_parameter_raises_data_error_naming_it(conn: Connection) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        conn.fetchval("SELECT $1::text, $2::int", "fine", "not a number")
    message = str(caught.value)
    assert "$2" in message
    assert "str" in message
    assert "int4" in message
    assert_usable(conn)


def test_out_of_range_parameter_raises_data_error_naming_both_types(
    conn: Connection,
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        conn.fetchval("SELECT $1::int2", 70000)
    message = str(caught.value)
    assert "$1" in message
    assert "Python int" in message
    assert "int2" in message
    assert_usable(conn)


def test_unencodable_parameter_of_a_type_without_codec_names_the_server_type(
    conn: Connection,
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        conn.fetchval("SELECT $1::pg_lsn", b"0/1")
    message = str(caught.value)
    assert "$1" in message
    assert "bytes" in message
    assert "oid 3220" in message  # pg_lsn: the registry has no name for it
    assert_usable(conn)


def test_text_parameter_with_a_nul_character_is_refused(conn: Connection) -> None:
    # PostgreSQL text cannot hold NUL; the statement must fail, not the connection.
    with pytest.raises(pgwire.Error):
        conn.fetchval("SELECT $1::text", "a\x00b")
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# Errors from the server
# --------------------------------------------------------------------------------------


def test_unique_violation_names_the_constraint_and_table(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int PRIMARY KEY")
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(errors.UniqueViolation) as caught:
        conn.execute(f"INSERT INTO {table} VALUES ($1)", 1)
    exc = caught.value
    assert isinstance(exc, pgwire.IntegrityError)
    assert exc.sqlstate == "23505"
    assert exc.constraint_name == f"{table}_pkey"
    assert exc.table_name == table
    assert exc.detail == "Key (id)=(1) already exists."
    assert_usable(conn)


def test_syntax_error_gives_the_position(conn: Connection) -> None:
    sql = "SELECT 1 FROM WHERE"
    with pytest.raises(errors.SyntaxError) as caught:
        conn.fetch(sql)
    assert isinstance(caught.value, pgwire.ProgrammingError)
    assert caught.value.sqlstate == "42601"
    assert caught.value.position == sql.index("WHERE") + 1
    assert_usable(conn)


def test_syntax_error_in_the_simple_protocol_gives_the_position(
    conn: Connection,
) -> None:
    with pytest.raises(errors.SyntaxError) as caught:
        conn.execute("SELEC 1")
    assert caught.value.position == 1
    assert_usable(conn)


def test_division_by_zero_is_a_data_error(conn: Connection) -> None:
    with pytest.raises(errors.DivisionByZero) as caught:
        conn.fetchval("SELECT $1::int / 0", 1)
    assert isinstance(caught.value, pgwire.DataError)
    assert caught.value.sqlstate == "22012"
    assert_usable(conn)


def test_error_after_some_rows_discards_them(conn: Connection) -> None:
    with pytest.raises(errors.DivisionByZero):
        conn.fetch("SELECT 10 / (5 - n) FROM generate_series(1, 10) AS n")
    assert_usable(conn)


def test_undefined_table_is_a_programming_error(conn: Connection) -> None:
    with pytest.raises(errors.UndefinedTable, match="no_such_table") as caught:
        conn.fetch("SELECT * FROM no_such_table")
    assert caught.value.sqlstate == "42P01"
    assert_usable(conn)


def test_value_python_cannot_hold_raises_data_error_naming_the_column(
    conn: Connection,
) -> None:
    with pytest.raises(pgwire.DataError, match=r"column 1 .*timestamptz"):
        conn.fetch("SELECT 1, '10000-01-01'::timestamptz")
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------


def test_transaction_commits_on_success(
    conn: Connection, other: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert conn.transaction_status == "T"
        assert other.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert conn.transaction_status == "I"
    assert other.fetchval(f"SELECT count(*) FROM {table}") == 1


def test_transaction_rolls_back_on_an_exception(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int")
    with pytest.raises(KeyError), conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        raise KeyError("application failure")
    assert conn.transaction_status == "I"
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def test_transaction_rolls_back_on_a_sql_error(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int PRIMARY KEY")
    with pytest.raises(errors.UniqueViolation), conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert_usable(conn)


def test_transaction_whose_error_was_swallowed_does_not_pretend_to_commit(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with pytest.raises(errors.InFailedSqlTransaction, match="rolled back"), conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.DivisionByZero):
            conn.fetchval("SELECT 1 / 0")
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert_usable(conn)


def test_nested_transaction_rolls_back_to_its_savepoint(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.DivisionByZero), conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (2)")
            conn.fetchval("SELECT 1 / 0")
        assert conn.transaction_status == "T"
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (3)")
    rows = conn.fetch(f"SELECT id FROM {table} ORDER BY id")
    assert [row[0] for row in rows] == [1, 3]


def test_nested_transaction_uses_a_savepoint(conn: Connection) -> None:
    with conn.transaction(), conn.transaction():
        # Only a savepoint can be released; outside one this fails.
        conn.execute("SAVEPOINT probe")
        conn.execute("RELEASE SAVEPOINT probe")
        xid_inner = conn.fetchval("SELECT txid_current()")
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
def test_transaction_sets_the_isolation_level(conn: Connection, isolation: str, shown: str) -> None:
    with conn.transaction(isolation=isolation):
        assert conn.fetchval("SELECT current_setting('transaction_isolation')") == shown
    level = conn.fetchval("SELECT current_setting('transaction_isolation')")
    assert level == "read committed"


def test_repeatable_read_transaction_sees_a_snapshot(
    conn: Connection, other: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with conn.transaction(isolation="repeatable read"):
        assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
        other.execute(f"INSERT INTO {table} VALUES (1)")
        assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 1


def test_unknown_isolation_level_is_refused(conn: Connection) -> None:
    with pytest.raises(pgwire.InterfaceError, match="isolation"), conn.transaction("sloppy"):
        pass
    assert conn.transaction_status == "I"


def test_nested_transaction_cannot_set_an_isolation_level(conn: Connection) -> None:
    with conn.transaction():
        nested = conn.transaction("serializable")
        with pytest.raises(pgwire.InterfaceError, match="nested"), nested:
            pass
    assert conn.transaction_status == "I"


def test_failed_statement_in_an_explicit_transaction_fails_the_next_ones(
    conn: Connection,
) -> None:
    conn.execute("BEGIN")
    with pytest.raises(errors.DivisionByZero):
        conn.fetchval("SELECT 1 / 0")
    assert conn.transaction_status == "E"
    with pytest.raises(errors.InFailedSqlTransaction):
        conn.fetchval("SELECT 1")
    conn.execute("ROLLBACK")
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# executemany()
# --------------------------------------------------------------------------------------


def test_executemany_runs_once_per_argument_tuple(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int, name text")
    conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, None)])
    rows = conn.fetch(f"SELECT * FROM {table} ORDER BY id")
    assert rows == [(1, "a"), (2, "b"), (3, None)]


def test_executemany_sends_every_row_in_one_round_trip(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int, name text")
    conn.prepare(f"INSERT INTO {table} VALUES ($1, $2)")
    sends = SendCounter(conn)
    conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(n, f"name {n}") for n in range(500)])
    assert sends.calls == 1
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 500


def test_executemany_accepts_a_generator(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int")
    conn.executemany(f"INSERT INTO {table} VALUES ($1)", ((n,) for n in range(1000)))
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 1000


def test_executemany_with_no_arguments_does_nothing(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int")
    conn.executemany(f"INSERT INTO {table} VALUES ($1)", [])
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def test_executemany_is_atomic(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int PRIMARY KEY")
    with pytest.raises(errors.UniqueViolation):
        conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,), (2,), (1,), (3,)])
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert_usable(conn)


def test_executemany_with_an_unencodable_row_sends_nothing(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with pytest.raises(pgwire.DataError):
        conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(1,), ("two",)])
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# The statement cache
# --------------------------------------------------------------------------------------


def test_prepare_returns_the_cached_statement(conn: Connection) -> None:
    first = conn.prepare("SELECT $1::int")
    assert conn.prepare("SELECT $1::int") is first
    assert conn.prepare("SELECT $1::bigint") is not first


def test_queries_reuse_the_cached_statement(conn: Connection) -> None:
    sql = "SELECT $1::int + 1"
    statement = conn.prepare(sql)
    sends = SendCounter(conn)
    for n in range(5):
        assert conn.fetchval(sql, n) == n + 1
    assert sends.calls == 5  # bind and execute only: one round trip each
    assert conn.prepare(sql) is statement
    count = conn.fetchval("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", sql)
    assert count == 1


def test_prepared_statement_knows_parameter_and_result_types(
    conn: Connection,
) -> None:
    statement = conn.prepare("SELECT $1::int AS n, $2::text AS t")
    assert statement.param_oids == (23, 25)
    assert statement.columns is not None
    assert [column.name for column in statement.columns] == ["n", "t"]


def test_cache_evicts_the_least_recently_used_statement_and_closes_it(
    connect: Connector,
) -> None:
    conn = connect(statement_cache_size=2)
    first = conn.prepare("SELECT 1")
    second = conn.prepare("SELECT 2")
    conn.prepare("SELECT 1")  # now the most recently used
    third = conn.prepare("SELECT 3")
    assert second.closed
    assert not first.closed
    assert conn.prepare("SELECT 1") is first
    # Preparing the query below evicts "SELECT 3" in turn; only two statements remain.
    names = _prepared_names(conn)
    assert len(names) == 2
    assert first.name in names
    assert second.name not in names
    assert third.name not in names


def test_statement_cache_size_zero_prepares_nothing(connect: Connector) -> None:
    conn = connect(statement_cache_size=0)
    sends = SendCounter(conn)
    for n in range(5):
        assert conn.fetchval("SELECT $1::int * 3", n) == n * 3
    assert sends.calls == 5  # parse, bind and execute in one round trip, every time
    conn.executemany("SELECT $1::int", [(1,), (2,)])
    rows = [row for row in conn.cursor("SELECT generate_series(1, 3)", batch_size=2)]
    assert rows == [(1,), (2,), (3,)]
    with conn.transaction():
        assert conn.fetchval("SELECT 'in a transaction'") == "in a transaction"
    assert _prepared_names(conn) == set()


def test_cached_select_star_survives_a_new_column(conn: Connection, new_table: NewTable) -> None:
    table = new_table("a int")
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert conn.fetch(f"SELECT * FROM {table}") == [(1,)]
    conn.execute(f"ALTER TABLE {table} ADD COLUMN b text DEFAULT 'x'")
    rows = conn.fetch(f"SELECT * FROM {table}")
    assert rows == [(1, "x")]
    assert list(rows[0].keys()) == ["a", "b"]


def test_cached_statement_in_a_transaction_fails_once_then_works_again(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("a int")
    conn.fetch(f"SELECT * FROM {table}")
    with conn.transaction():
        conn.execute(f"ALTER TABLE {table} ADD COLUMN b text")
    conn.execute("BEGIN")
    # Inside a transaction block the failure cannot be hidden by a retry...
    with pytest.raises(errors.FeatureNotSupported, match="cached plan"):
        conn.fetch(f"SELECT * FROM {table}")
    conn.execute("ROLLBACK")
    # ...but the stale statement was forgotten, so the next attempt prepares it again.
    assert conn.fetch(f"SELECT * FROM {table}") == []


def test_cached_statement_survives_deallocate_all(conn: Connection) -> None:
    assert conn.fetchval("SELECT $1::int", 1) == 1
    conn.execute("DEALLOCATE ALL")
    assert conn.fetchval("SELECT $1::int", 2) == 2


# --------------------------------------------------------------------------------------
# cursor()
# --------------------------------------------------------------------------------------


def test_cursor_streams_ten_thousand_rows(conn: Connection) -> None:
    total = 0
    count = 0
    for row in conn.cursor("SELECT n FROM generate_series(1, 10000) AS n", batch_size=500):
        total += row[0]
        count += 1
    assert count == 10000
    assert total == 10000 * 10001 // 2
    assert conn.transaction_status == "I"


def test_cursor_fetches_one_batch_per_round_trip(conn: Connection) -> None:
    sends = SendCounter(conn)
    count = 0
    for _ in conn.cursor("SELECT generate_series(1, 20000)", batch_size=1000):
        count += 1
    assert count == 20000
    # BEGIN, prepare, 20 batches of 1,000 rows, COMMIT: the rows came a batch at a time.
    assert 20 <= sends.calls <= 25


def test_cursor_has_the_server_compute_only_the_batches_read(
    conn: Connection,
) -> None:
    conn.execute("CREATE TEMP SEQUENCE seen")
    rows = conn.cursor("SELECT nextval('seen') FROM generate_series(1, 10000)", batch_size=1000)
    assert next(rows) == (1,)
    # Only the first batch has been computed by the server so far.
    assert conn.fetchval("SELECT currval('seen')") == 1000
    for _ in range(1000):
        next(rows)
    assert conn.fetchval("SELECT currval('seen')") == 2000
    assert len([row for row in rows]) == 8999
    assert conn.fetchval("SELECT currval('seen')") == 10000


def test_cursor_left_early_reads_no_further_batch(conn: Connection) -> None:
    sends = SendCounter(conn)
    rows = conn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=1000)
    with contextlib.closing(rows):
        for row in rows:
            if row[0] == 1500:
                break
    assert sends.calls <= 6  # BEGIN, prepare, two batches, COMMIT
    assert_usable(conn)


def test_cursor_left_with_break_ends_its_transaction_before_the_next_operation(
    conn: Connection,
) -> None:
    for row in conn.cursor("SELECT n FROM generate_series(1, 20000) AS n", batch_size=100):
        if row[0] == 150:
            break
    # The abandoned generator is finalized later (an async one by the event loop, in a
    # task of its own); the next operation must find the cursor ended.
    gc.collect()
    sleep(0.05)
    assert conn.fetchval("SELECT 1") == 1
    assert conn.transaction_status == "I"


def test_cursor_passes_parameters(conn: Connection) -> None:
    cursor = conn.cursor("SELECT n FROM generate_series(1, $1::int) AS n", 5, batch_size=2)
    assert [row for row in cursor] == [(1,), (2,), (3,), (4,), (5,)]


def test_cursor_inside_a_transaction_leaves_it_open(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int")
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 10000)")
        total = 0
        for row in conn.cursor(f"SELECT id FROM {table} ORDER BY id", batch_size=3000):
            total += row[0]
        assert total == 10000 * 10001 // 2
        assert conn.transaction_status == "T"
    assert conn.transaction_status == "I"
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 10000


def test_two_cursors_run_one_after_the_other_in_a_transaction(
    conn: Connection,
) -> None:
    with conn.transaction():
        first = [row for row in conn.cursor("SELECT generate_series(1, 5)", batch_size=2)]
        # The first portal was closed: a second cursor in the same transaction works too.
        second = [row for row in conn.cursor("SELECT generate_series(1, 5)", batch_size=2)]
    assert first == second == [(1,), (2,), (3,), (4,), (5,)]


def test_cursors_can_be_nested(conn: Connection) -> None:
    pairs = [
        (outer[0], inner[0])
        for outer in conn.cursor("SELECT generate_series(1, 3)", batch_size=1)
        for inner in conn.cursor("SELECT generate_series(1, 2)", batch_size=1)
    ]
    assert pairs == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]


def test_cursor_abandoned_inside_a_transaction_closes_its_portal(
    conn: Connection,
) -> None:
    with conn.transaction():
        rows = conn.cursor("SELECT generate_series(1, 100)", batch_size=10)
        next(rows)
        assert conn.fetchval("SELECT count(*) FROM pg_cursors WHERE name <> ''") == 1
        rows.close()
        # The unnamed portal of this very query is listed too: count only named ones.
        assert conn.fetchval("SELECT count(*) FROM pg_cursors WHERE name <> ''") == 0


def test_cursor_abandoned_outside_a_transaction_ends_its_own(
    conn: Connection,
) -> None:
    rows = conn.cursor("SELECT generate_series(1, 100)", batch_size=10)
    assert next(rows) == (1,)
    assert conn.transaction_status == "T"
    rows.close()
    assert conn.transaction_status == "I"


def test_cursor_error_rolls_back_its_own_transaction(conn: Connection) -> None:
    with pytest.raises(errors.DivisionByZero):
        for _ in conn.cursor("SELECT 10 / (5 - n) FROM generate_series(1, 10) AS n", batch_size=2):
            pass
    assert_usable(conn)


def test_cursor_with_a_syntax_error_leaves_the_connection_idle(
    conn: Connection,
) -> None:
    with pytest.raises(errors.SyntaxError):
        for _ in conn.cursor("SELEC 1"):
            pass
    assert_usable(conn)
