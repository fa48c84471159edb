"""``Connection.execute_results``, the driver method pgwire.dbapi is built on: each result
whole (columns, rows, command tag), for one statement, several runs, or a script; the
async twin the same."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

import pgwire
from tests.pg import TRUST_USER, PostgresServer

pytestmark = pytest.mark.pg


@pytest.fixture
def driver(pg_server: PostgresServer) -> pgwire.Connection:
    conn = pgwire.connect(pg_server.dsn(TRUST_USER.name))
    yield conn  # type: ignore[misc]
    conn.close()


def test_one_run_gives_columns_rows_and_tag(driver: pgwire.Connection) -> None:
    (result,) = driver.execute_results("SELECT $1::int AS a, 'x' AS b", [(5,)])
    assert [c.name for c in result.columns] == ["a", "b"]
    assert [c.type_oid for c in result.columns] == [23, 25]
    assert result.rows == [(5, "x")] and result.tag == "SELECT 1"


def test_a_statement_without_rows_has_no_columns(driver: pgwire.Connection) -> None:
    (result,) = driver.execute_results("SET search_path = public", [()])
    assert result.columns is None and result.rows == [] and result.tag == "SET"


def test_several_runs_give_one_tag_each(
    driver: pgwire.Connection, new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    results = driver.execute_results(
        f"INSERT INTO {table} SELECT generate_series(1, $1::int)", [(1,), (2,), (3,)]
    )
    assert [r.tag for r in results] == ["INSERT 0 1", "INSERT 0 2", "INSERT 0 3"]
    assert driver.fetchval(f"SELECT count(*) FROM {table}") == 6


def test_a_script_gives_one_result_per_statement(driver: pgwire.Connection) -> None:
    results = driver.execute_results("SELECT 1 AS one; SET search_path = public; SELECT 'a', 2")
    assert [r.tag for r in results] == ["SELECT 1", "SET", "SELECT 1"]
    assert [c.name for c in results[0].columns] == ["one"]
    assert results[1].columns is None
    assert results[2].rows == [("a", 2)]


def test_without_a_statement_cache_the_columns_come_from_the_same_batch(
    pg_server: PostgresServer,
) -> None:
    with pgwire.connect(pg_server.dsn(TRUST_USER.name), statement_cache_size=0) as conn:
        (result,) = conn.execute_results("SELECT $1::int8 AS n", [(7,)])
        assert [(c.name, c.type_oid) for c in result.columns] == [("n", 20)]
        assert result.rows == [(7,)]


def test_the_async_twin(pg_server: PostgresServer) -> None:
    async def main() -> list[object]:
        async with await pgwire.connect_async(pg_server.dsn(TRUST_USER.name)) as conn:
            return await conn.execute_results("SELECT $1::text", [("hi",)])

    (result,) = anyio.run(main)
    assert result.rows == [("hi",)] and result.tag == "SELECT 1"  # type: ignore[attr-defined]
