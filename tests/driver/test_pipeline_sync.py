# GENERATED from tests/driver/test_pipeline_async.py by scripts/gen_sync.py: do not edit.
"""Pipelines: many statements, one round trip, errors kept apart, against the real
PostgreSQL 18, on the blocking driver and on asyncio, uvloop and trio (one source,
``test_pipeline_async.py``, for both drivers)."""

from __future__ import annotations

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.driver.fixtures_sync import Connector, NewTable, SendCounter


def test_pipeline_results_come_in_order_of_each_kind(conn: Connection) -> None:
    conn.execute("CREATE TEMP TABLE items (id int)")
    with conn.pipeline() as pipeline:
        inserted = pipeline.execute("INSERT INTO items SELECT generate_series(1, $1::int)", 3)
        rows = pipeline.fetch("SELECT id FROM items ORDER BY id")
        first = pipeline.fetchrow("SELECT id FROM items ORDER BY id DESC")
        count = pipeline.fetchval("SELECT count(*) FROM items")
        nothing = pipeline.fetchrow("SELECT 1 WHERE false")
        deleted = pipeline.execute("DELETE FROM items WHERE id > $1", 1)
        dropped = pipeline.execute("DROP TABLE items")
    assert inserted.result() == "INSERT 0 3"
    assert rows.result() == [(1,), (2,), (3,)]
    assert first.result() == (3,)
    assert count.result() == 3
    assert nothing.result() is None
    assert deleted.result() == "DELETE 2"
    assert dropped.result() == "DROP TABLE"


@pytest.mark.xfail(
    strict=True,
    raises=errors.UndefinedTable,
    reason="Pipeline.run prepares every new statement before running any, so a statement "
    "cannot use a table that an earlier statement of the same pipeline creates",
)
def test_statement_may_use_a_table_created_earlier_in_the_pipeline(
    conn: Connection,
) -> None:
    with conn.pipeline() as pipeline:
        pipeline.execute("CREATE TEMP TABLE items (id int)")
        inserted = pipeline.execute("INSERT INTO items VALUES (1)")
    assert inserted.result() == "INSERT 0 1"


def test_1000_pipelined_statements_run_in_one_round_trip(conn: Connection) -> None:
    sql = "SELECT $1::int * 2"
    conn.prepare(sql)
    sends = SendCounter(conn)
    with conn.pipeline() as pipeline:
        results = [pipeline.fetchval(sql, n) for n in range(1000)]
    assert sends.calls == 1
    assert [result.result() for result in results] == [n * 2 for n in range(1000)]


def test_new_statements_cost_one_more_round_trip_to_prepare(
    conn: Connection,
) -> None:
    sends = SendCounter(conn)
    with conn.pipeline() as pipeline:
        texts = [pipeline.fetchval("SELECT $1::text", str(n)) for n in range(500)]
        numbers = [pipeline.fetchval("SELECT $1::int", n) for n in range(500)]
    assert sends.calls == 2  # prepare both statements, then run all 1,000
    assert [result.result() for result in texts] == [str(n) for n in range(500)]
    assert [result.result() for result in numbers] == list(range(500))


def test_same_statement_queued_many_times_is_prepared_once(conn: Connection) -> None:
    with conn.pipeline() as pipeline:
        results = [pipeline.fetchval("SELECT $1::text", str(n)) for n in range(50)]
    assert [result.result() for result in results] == [str(n) for n in range(50)]
    count = conn.fetchval(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::text'"
    )
    assert count == 1


def test_pipeline_run_returns_the_results(conn: Connection) -> None:
    pipeline = conn.pipeline()
    for n in range(5):
        pipeline.fetchval("SELECT $1::int * 10", n)
    results = pipeline.run()
    assert [result.result() for result in results] == [0, 10, 20, 30, 40]


def test_empty_pipeline_does_nothing(conn: Connection) -> None:
    with conn.pipeline():
        pass
    assert conn.pipeline().run() == []


def test_result_before_the_pipeline_ran_raises_interface_error(
    conn: Connection,
) -> None:
    with conn.pipeline() as pipeline:
        pending = pipeline.fetchval("SELECT 1")
        with pytest.raises(pgwire.InterfaceError, match="not run yet"):
            pending.result()
        assert "queued" in repr(pending)
    assert pending.result() == 1
    assert "done" in repr(pending)


def test_exception_in_the_block_runs_nothing(conn: Connection, new_table: NewTable) -> None:
    table = new_table("id int")
    with pytest.raises(RuntimeError), conn.pipeline() as pipeline:
        pipeline.execute(f"INSERT INTO {table} VALUES (1)")
        raise RuntimeError("changed my mind")
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def test_error_outside_a_transaction_fails_only_its_statement(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    pipeline = conn.pipeline()
    before = pipeline.execute(f"INSERT INTO {table} VALUES (1)")
    failing = pipeline.fetchval("SELECT 1 / 0")
    after = pipeline.execute(f"INSERT INTO {table} VALUES (2)")
    with pytest.raises(errors.DivisionByZero):
        pipeline.run()
    assert before.result() == "INSERT 0 1"
    with pytest.raises(errors.DivisionByZero):
        failing.result()
    assert after.result() == "INSERT 0 1"
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 2
    assert "error" in repr(failing)


def test_error_inside_a_transaction_fails_the_statements_after_it(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    conn.execute("BEGIN")
    pipeline = conn.pipeline()
    before = pipeline.execute(f"INSERT INTO {table} VALUES (1)")
    failing = pipeline.fetchval("SELECT 1 / 0")
    after = pipeline.execute(f"INSERT INTO {table} VALUES (2)")
    later = pipeline.fetchval("SELECT 1")
    with pytest.raises(errors.DivisionByZero):
        pipeline.run()
    assert before.result() == "INSERT 0 1"
    with pytest.raises(errors.DivisionByZero):
        failing.result()
    for result in (after, later):
        with pytest.raises(errors.InFailedSqlTransaction) as caught:
            result.result()
        assert caught.value.sqlstate == "25P02"
    assert conn.transaction_status == "E"
    conn.execute("ROLLBACK")
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def test_leaving_the_block_raises_the_first_error_and_keeps_the_connection(
    conn: Connection,
) -> None:
    with pytest.raises(errors.DivisionByZero), conn.pipeline() as pipeline:
        pipeline.fetchval("SELECT 1")
        pipeline.fetchval("SELECT 1 / 0")
        pipeline.fetchval("SELECT * FROM no_such_table")
    assert conn.fetchval("SELECT 2") == 2


def test_syntax_error_fails_only_its_statement(conn: Connection) -> None:
    pipeline = conn.pipeline()
    good = pipeline.fetchval("SELECT 'good'")
    bad = pipeline.fetchval("SELEC 'bad'")
    also_good = pipeline.fetchval("SELECT 'also good'")
    with pytest.raises(errors.SyntaxError):
        pipeline.run()
    assert good.result() == "good"
    assert also_good.result() == "also good"
    with pytest.raises(errors.SyntaxError):
        bad.result()


def test_wrong_parameter_count_fails_only_its_statement(conn: Connection) -> None:
    pipeline = conn.pipeline()
    good = pipeline.fetchval("SELECT $1::int", 1)
    bad = pipeline.fetchval("SELECT $1::int", 1, 2)
    with pytest.raises(pgwire.ProgrammingError):
        pipeline.run()
    assert good.result() == 1
    with pytest.raises(pgwire.ProgrammingError):
        bad.result()


def test_decode_error_fails_only_its_statement(conn: Connection) -> None:
    pipeline = conn.pipeline()
    bad = pipeline.fetchval("SELECT '10000-01-01'::date")
    good = pipeline.fetchval("SELECT 'today'::date IS NOT NULL")
    with pytest.raises(pgwire.DataError):
        pipeline.run()
    with pytest.raises(pgwire.DataError):
        bad.result()
    assert good.result() is True
    assert conn.fetchval("SELECT 1") == 1


def test_stale_cached_statement_fails_only_its_statement_and_is_prepared_again(
    conn: Connection, new_table: NewTable
) -> None:
    table = new_table("a int")
    conn.fetch(f"SELECT * FROM {table}")
    conn.execute(f"ALTER TABLE {table} ADD COLUMN b int")
    pipeline = conn.pipeline()
    stale = pipeline.fetch(f"SELECT * FROM {table}")
    after = pipeline.fetchval("SELECT 'after'")
    with pytest.raises(errors.FeatureNotSupported, match="cached plan"):
        pipeline.run()
    with pytest.raises(errors.FeatureNotSupported):
        stale.result()
    assert after.result() == "after"
    assert conn.fetch(f"SELECT a, b FROM {table}") == []
    assert conn.fetch(f"SELECT * FROM {table}") == []


def test_pipeline_inside_a_transaction_commits_with_it(
    conn: Connection, other: Connection, new_table: NewTable
) -> None:
    table = new_table("id int")
    with conn.transaction():
        with conn.pipeline() as pipeline:
            for n in range(3):
                pipeline.execute(f"INSERT INTO {table} VALUES ($1)", n)
        assert other.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert other.fetchval(f"SELECT count(*) FROM {table}") == 3


def test_pipeline_with_a_small_statement_cache_leaves_no_statement_behind(
    connect: Connector,
) -> None:
    conn = connect(statement_cache_size=2)
    with conn.pipeline() as pipeline:
        results = [pipeline.fetchval(f"SELECT {n}") for n in range(6)]
    assert [result.result() for result in results] == list(range(6))
    # The query below is prepared too, and evicts one more: two statements stay prepared.
    assert conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 2


def test_pipeline_with_no_statement_cache_works(connect: Connector) -> None:
    conn = connect(statement_cache_size=0)
    with conn.pipeline() as pipeline:
        results = [pipeline.fetchval("SELECT $1::int", n) for n in range(3)]
        word = pipeline.fetchval("SELECT 'x'")
    assert [result.result() for result in results] == [0, 1, 2]
    assert word.result() == "x"
    assert conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
