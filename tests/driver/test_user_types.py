"""User-defined types are looked up once through the drivers and decoded like built-ins."""

from __future__ import annotations

import anyio
import pytest

import pgwire
from pgwire.types import Range


@pytest.fixture(scope="module")
def dsn(pg_server):  # type: ignore[no-untyped-def]
    dsn = pg_server.dsn("scram_user", "pw-scram")
    with pgwire.connect(dsn) as conn:
        conn.execute(
            "DROP TYPE IF EXISTS ut_mood, ut_pair CASCADE; DROP DOMAIN IF EXISTS ut_pos;"
            "CREATE TYPE ut_mood AS ENUM ('sad', 'ok', 'happy');"
            "CREATE TYPE ut_pair AS (a int, b text);"
            "CREATE DOMAIN ut_pos AS int CHECK (VALUE > 0)"
        )
    return dsn


QUERY = (
    "SELECT 'ok'::ut_mood AS m, ROW(1, 'x')::ut_pair AS p, 5::ut_pos AS d,"
    " ARRAY['sad', 'happy']::ut_mood[] AS ms, $1::ut_mood AS echoed"
)


def _check(row: pgwire.Record) -> None:
    assert row["m"] == "ok"
    assert tuple(row["p"]) == (1, "x")
    assert row["d"] == 5
    assert row["ms"] == ["sad", "happy"]
    assert row["echoed"] == "happy"


def test_blocking_driver_decodes_enums_composites_domains_and_their_arrays(dsn: str) -> None:
    with pgwire.connect(dsn) as conn:
        row = conn.fetchrow(QUERY, "happy")
        assert row is not None
        _check(row)


def test_each_user_type_is_looked_up_once_per_connection(dsn: str) -> None:
    with pgwire.connect(dsn) as conn:
        statement = conn.prepare(QUERY)
        assert not conn.registry.unknown(statement.type_oids())
        conn.fetchrow("SELECT ROW(3, 'z')::ut_pair")  # a new statement, known types
        assert conn.prepare(QUERY) is statement


def test_pipelines_look_up_user_types_before_running(dsn: str) -> None:
    with pgwire.connect(dsn) as conn, conn.pipeline() as pipe:
        pair = pipe.fetchval("SELECT $1::ut_pair", (2, "y"))
    assert tuple(pair.result()) == (2, "y")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_driver_decodes_the_same_values(dsn: str, backend: str) -> None:
    async def main() -> None:
        async with await pgwire.connect_async(dsn) as conn:
            row = await conn.fetchrow(QUERY, "happy")
            assert row is not None
            _check(row)
            issue_row = await conn.fetchrow(
                "SELECT '{\"a\": [1, 2]}'::jsonb, ARRAY[[1,NULL],[3,4]]::int[],"
                " '[1,5)'::int4range, 'NaN'::numeric"
            )
            assert issue_row is not None
            assert tuple(issue_row)[:3] == ({"a": [1, 2]}, [[1, None], [3, 4]], Range(1, 5, "[)"))

    anyio.run(main, backend=backend)
