"""pgwire, asyncpg and psycopg decode the same queries to equal values, where they agree.

Conventions differ, so each library's value goes through `_normal` first. Known differences
(not compared): asyncpg and psycopg return money as str ('$12.34'); asyncpg returns
'infinity' timestamps as datetime.max; psycopg raises DataError on 'infinity' timestamps,
returns str for bit strings, macaddr and the geometric types, and drops non-1 array lower
bounds; pgwire returns `INFINITY`, keeps lower bounds in `Array`, and decodes composites to
Records.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg.types.multirange import Multirange as PsycopgMultirange
from psycopg.types.range import Range as PsycopgRange

from pgwire.sync import Connection
from pgwire.types import Box, Circle, Line, LineSegment, Path, Point, Polygon, Range
from tests.pg import TRUST_USER, PostgresServer

# (expression, compared with asyncpg, compared with psycopg)
EXPRESSIONS = [
    ("ARRAY[[1,NULL],[3,4]]::int[]", True, True),
    ("ARRAY[1.5, NULL, 'NaN']::float8[]", True, True),
    ("ARRAY['a b', NULL, '\"', '']::text[]", True, True),
    ("ARRAY['2024-01-01'::date]", True, True),
    ("ARRAY[1.50::numeric]", True, True),
    ("'[1,5)'::int4range", True, True),
    ("'(,5]'::numrange", True, True),
    ("'empty'::int8range", True, True),
    ("'[2024-01-01,2024-02-01)'::daterange", True, True),
    ("'{[1,3), [5,7)}'::int4multirange", True, True),
    ("ARRAY['[1,2)'::int4range]", True, True),
    ("'192.168.0.1/24'::inet", True, True),
    ("'192.168.0.1'::inet", True, True),
    ("'2001:db8::/32'::cidr", True, True),
    ("'08:00:2b:01:02:03'::macaddr", True, False),
    ("'12.34'::money", False, False),
    ("point(1.5, 2)", True, False),
    ("box(point(1,2), point(3,4))", True, False),
    ("'<(1,2),3>'::circle", True, False),
    ("'[(1,2),(3,4)]'::lseg", True, False),
    ("'{1,2,3}'::line", True, False),
    ("'((0,0),(1,1))'::path", True, False),
    ("'[(0,0),(1,1)]'::path", True, False),
    ("'((0,0),(1,1),(1,0))'::polygon", True, False),
    ("ROW(1, 'a', NULL)", True, False),
    ("'<a/>'::xml", True, True),
]


def _normal(value: Any) -> Any:
    """One spelling per value: ranges as tuples, geometry as nested tuples, rows as tuples."""
    if isinstance(value, Range):
        return ("range", value.lower, value.upper, value.lower_inc, value.upper_inc, value.empty)
    if isinstance(value, PsycopgRange):
        return ("range", value.lower, value.upper, value.lower_inc, value.upper_inc, value.isempty)
    if isinstance(value, asyncpg.Range):
        return ("range", value.lower, value.upper, value.lower_inc, value.upper_inc, value.isempty)
    if isinstance(value, (Point, asyncpg.Point)) or (
        isinstance(value, tuple) and len(value) == 2 and all(type(v) is float for v in value)
    ):
        return ("point", float(value[0]), float(value[1]))
    if isinstance(value, Box):
        return ("box", _normal(value.high), _normal(value.low))
    if isinstance(value, asyncpg.Box):
        return ("box", _normal(value.high), _normal(value.low))
    if isinstance(value, Circle):
        return ("circle", _normal(value.center), value.radius)
    if isinstance(value, asyncpg.Circle):
        return ("circle", _normal(value.center), value.radius)
    if isinstance(value, LineSegment):
        return ("lseg", _normal(value.start), _normal(value.end))
    if isinstance(value, asyncpg.LineSegment):
        return ("lseg", _normal(value.p1), _normal(value.p2))
    if isinstance(value, Line):
        return ("line", value.a, value.b, value.c)
    if isinstance(value, asyncpg.Line):
        return ("line", *value)
    if isinstance(value, (Polygon, asyncpg.Polygon)):
        return ("polygon", tuple(map(_normal, value.points)))
    if isinstance(value, Path):
        return ("path", tuple(map(_normal, value.points)), value.closed)
    if isinstance(value, asyncpg.Path):
        return ("path", tuple(map(_normal, value.points)), value.is_closed)
    if isinstance(value, PsycopgMultirange):
        return [_normal(v) for v in value]
    if isinstance(value, asyncpg.Record):
        return tuple(_normal(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return (
            type(value)(_normal(v) for v in value)
            if isinstance(value, tuple)
            else [_normal(v) for v in value]
        )
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ("address", str(value))
    return value


def _asyncpg_values(dsn: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(sql)
            return list(row.values())
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def psycopg_conn(pg_server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_server.dsn(TRUST_USER.name), autocommit=True) as conn:
        yield conn


def test_pgwire_asyncpg_and_psycopg_decode_alike(
    module_conn: Connection, psycopg_conn: psycopg.Connection[Any], pg_server: PostgresServer
) -> None:
    sql = "SELECT " + ", ".join(expression for expression, _, _ in EXPRESSIONS)
    ours = list(module_conn.fetchrow(sql) or ())
    theirs_asyncpg = _asyncpg_values(pg_server.dsn(TRUST_USER.name), sql)
    theirs_psycopg = list(psycopg_conn.execute(sql.encode()).fetchone() or ())
    for index, (expression, with_asyncpg, with_psycopg) in enumerate(EXPRESSIONS):
        mine = _normal(ours[index])
        if with_asyncpg:
            assert mine == _normal(theirs_asyncpg[index]), (expression, "asyncpg")
        if with_psycopg:
            assert mine == _normal(theirs_psycopg[index]), (expression, "psycopg")
