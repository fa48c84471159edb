# GENERATED from tests/driver/test_user_types_async.py by scripts/gen_sync.py: do not edit.
"""User-defined types (enums, composites, domains and their arrays) are looked up once per
connection and decoded like built-ins, against PostgreSQL 18, on the blocking driver and on
asyncio, uvloop and trio (one source, ``test_user_types_async.py``, for both drivers)."""

from __future__ import annotations

import pytest

import pgwire
from pgwire.types import Range
from tests.driver.fixtures_sync import Connector
from tests.pg import SCRAM_USER, PostgresServer

QUERY = (
    "SELECT 'ok'::ut_mood AS m, ROW(1, 'x')::ut_pair AS p, 5::ut_pos AS d,"
    " ARRAY['sad', 'happy']::ut_mood[] AS ms, $1::ut_mood AS echoed"
)


@pytest.fixture(scope="module")
def dsn(pg_server: PostgresServer) -> str:
    """A DSN of a database that has the user types of :data:`QUERY`."""
    pg_server.psql(
        "DROP TYPE IF EXISTS ut_mood, ut_pair CASCADE; DROP DOMAIN IF EXISTS ut_pos;"
        "CREATE TYPE ut_mood AS ENUM ('sad', 'ok', 'happy');"
        "CREATE TYPE ut_pair AS (a int, b text);"
        "CREATE DOMAIN ut_pos AS int CHECK (VALUE > 0)"
    )
    return pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password)


def _check(row: pgwire.Record | None) -> None:
    assert row is not None
    assert row["m"] == "ok"
    assert tuple(row["p"]) == (1, "x")
    assert row["d"] == 5
    assert row["ms"] == ["sad", "happy"]
    assert row["echoed"] == "happy"


def test_enums_composites_domains_and_their_arrays_are_decoded(
    connect: Connector, dsn: str
) -> None:
    conn = connect(dsn)
    _check(conn.fetchrow(QUERY, "happy"))


def test_each_user_type_is_looked_up_once_per_connection(connect: Connector, dsn: str) -> None:
    conn = connect(dsn)
    statement = conn.prepare(QUERY)
    assert not conn.registry.unknown(statement.type_oids())
    conn.fetchrow("SELECT ROW(3, 'z')::ut_pair")  # a new statement, known types
    assert conn.prepare(QUERY) is statement


def test_pipelines_look_up_user_types_before_running(connect: Connector, dsn: str) -> None:
    conn = connect(dsn)
    with conn.pipeline() as pipe:
        pair = pipe.fetchval("SELECT $1::ut_pair", (2, "y"))
    assert tuple(pair.result()) == (2, "y")


def test_jsonb_arrays_ranges_and_numeric_nan_are_decoded(connect: Connector, dsn: str) -> None:
    conn = connect(dsn)
    row = conn.fetchrow(
        "SELECT '{\"a\": [1, 2]}'::jsonb, ARRAY[[1,NULL],[3,4]]::int[],"
        " '[1,5)'::int4range, 'NaN'::numeric"
    )
    assert row is not None
    assert tuple(row)[:3] == ({"a": [1, 2]}, [[1, None], [3, 4]], Range(1, 5, "[)"))
    assert row[3].is_nan()
