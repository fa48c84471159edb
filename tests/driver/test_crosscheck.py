"""pgwire decodes and encodes values as psycopg does, on the same PostgreSQL 18 server.

psycopg (the reference) reads each value in text and in binary format; pgwire must agree with
both. NaN never equals itself, so values are compared through `_comparable`.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Json, Jsonb

from pgwire.sync import Connection
from pgwire.types import Interval
from tests.pg import TRUST_USER, PostgresServer

EXPRESSIONS = [
    # integers
    "0::int2",
    "(-32768)::int2",
    "32767::int2",
    "2147483647::int4",
    "(-2147483648)::int4",
    "9223372036854775807::int8",
    "(-9223372036854775808)::int8",
    "4294967295::oid",
    # floats
    "1.5::float8",
    "'-0'::float8",
    "'NaN'::float8",
    "'Infinity'::float8",
    "'-Infinity'::float8",
    "1e308::float8",
    "5e-324::float8",
    "3.14::float4",
    "'NaN'::float4",
    "'-Infinity'::float4",
    # numerics
    "0::numeric",
    "1.50::numeric",
    "'-123456789012345678901234567890.000000001'::numeric",
    "'NaN'::numeric",
    "'Infinity'::numeric",
    "'-Infinity'::numeric",
    "1e-20::numeric",
    "0.000::numeric",
    "1e30::numeric",
    "123.4500::numeric(10, 4)",
    "(2::numeric ^ 200)",
    # text
    "'héllo wörld ✓ 🐘 日本語'::text",
    "''::text",
    "'quote '' and backslash \\'::text",
    "'ab'::varchar(5)",
    "'ab'::char(5)",
    "'x'::name",
    "'a'::\"char\"",
    "'untyped literal'",
    # bytea
    "'\\x00ff10'::bytea",
    "''::bytea",
    "decode(repeat('ab', 1000), 'hex')",
    # bool
    "true",
    "false",
    # dates and times
    "'2024-02-29'::date",
    "'0001-01-01'::date",
    "'9999-12-31'::date",
    "'13:45:06.789'::time",
    "'23:59:59.999999'::time",
    "'00:00'::time",
    "'13:45:06+05:30'::timetz",
    "'2024-01-02 03:04:05.123456'::timestamp",
    "'0001-01-01 00:00:00'::timestamp",
    "'9999-12-31 23:59:59.999999'::timestamp",
    "'2024-01-02 03:04:05.123456+05:30'::timestamptz",
    "'1970-01-01 00:00:00+00'::timestamptz",
    "'1900-06-15 12:00:00-08'::timestamptz",
    # intervals without months (psycopg folds months into 30-day blocks; pgwire does not)
    "'1 day 02:03:04.5'::interval",
    "'-1 day'::interval",
    "'00:00:00.000001'::interval",
    "'-00:00:01'::interval",
    "'100 days 99:00:00'::interval",
    # uuid
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "'00000000-0000-0000-0000-000000000000'::uuid",
    # json
    """'{"a": [1, 2.5, null, true, "x"], "b": {"c": "ü"}}'::json""",
    """'{"a": [1, 2.5, null, true, "x"], "b": {"c": "ü"}}'::jsonb""",
    "'[]'::jsonb",
    """'"just a string"'::jsonb""",
    "'null'::jsonb",
    "'12345678901234567890'::jsonb",
    # NULLs
    "NULL::int4",
    "NULL::text",
    "NULL::bytea",
    "NULL::timestamptz",
    "NULL::jsonb",
    "NULL",
]


@pytest.fixture(scope="module")
def psycopg_conn(pg_server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_server.dsn(TRUST_USER.name), autocommit=True) as conn:
        yield conn


def _comparable(value: Any) -> Any:
    """The value with NaN made equal to itself, and its exact type and form kept."""
    if isinstance(value, float) and math.isnan(value):
        return ("float nan",)
    if isinstance(value, Decimal):
        return ("decimal", str(value))  # str keeps the scale: 1.50 is not 1.5
    if isinstance(value, float):
        return ("float", value, math.copysign(1, value))  # -0.0 is not 0.0
    if isinstance(value, datetime.datetime):
        return ("datetime", value, value.utcoffset())
    if isinstance(value, datetime.time):
        return ("time", value, value.utcoffset())
    if isinstance(value, list | dict):
        return ("json", repr(value))
    return (type(value).__name__, value)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_decoded_value_matches_psycopg(
    conn: Connection, psycopg_conn: psycopg.Connection[Any], expression: str
) -> None:
    sql = f"SELECT {expression}"
    ours = conn.fetchval(sql)
    binary = psycopg_conn.execute(sql.encode(), binary=True).fetchone()
    text = psycopg_conn.execute(sql.encode(), binary=False).fetchone()
    assert binary is not None and text is not None
    assert _comparable(ours) == _comparable(binary[0])
    if "float4" not in expression:  # psycopg reads float4 text as the shorter float8
        assert _comparable(ours) == _comparable(text[0])


def test_a_row_of_every_type_matches_psycopg(
    conn: Connection, psycopg_conn: psycopg.Connection[Any]
) -> None:
    sql = "SELECT " + ", ".join(EXPRESSIONS)
    ours = conn.fetchrow(sql)
    theirs = psycopg_conn.execute(sql.encode(), binary=True).fetchone()
    assert ours is not None and theirs is not None
    assert [_comparable(v) for v in ours] == [_comparable(v) for v in theirs]


def test_many_rows_match_psycopg(conn: Connection, psycopg_conn: psycopg.Connection[Any]) -> None:
    sql = (
        "SELECT n, n * 1.5::float8, (n / 7.0)::numeric(20, 6), md5(n::text),"
        " '2000-01-01'::timestamptz + n * interval '1 hour 1 second',"
        " CASE WHEN n % 3 = 0 THEN NULL ELSE n::text::bytea END"
        " FROM generate_series(1, 2000) AS n"
    )
    ours = [tuple(_comparable(v) for v in row) for row in conn.fetch(sql)]
    theirs = [
        tuple(_comparable(v) for v in row)
        for row in psycopg_conn.execute(sql.encode(), binary=True).fetchall()
    ]
    assert ours == theirs


def test_intervals_with_months_stay_exact_where_psycopg_approximates(
    conn: Connection, psycopg_conn: psycopg.Connection[Any]
) -> None:
    sql = "SELECT '1 year 2 mons 3 days 04:05:06'::interval"
    ours = conn.fetchval(sql)
    row = psycopg_conn.execute(sql.encode()).fetchone()
    assert row is not None
    assert ours == Interval(months=14, days=3, microseconds=(4 * 3600 + 5 * 60 + 6) * 10**6)
    # psycopg counts a year as 365 days and a month as 30.
    assert row[0] == datetime.timedelta(days=365 + 2 * 30 + 3, seconds=4 * 3600 + 5 * 60 + 6)


# Parameters: the server's text form of what pgwire sends equals that of what psycopg sends.
PARAMETERS: list[tuple[Any, str]] = [
    (0, "int2"),
    (-32768, "int2"),
    (2**31 - 1, "int4"),
    (-(2**63), "int8"),
    (2**63 - 1, "int8"),
    (10**40, "numeric"),
    (1.5, "float8"),
    (-0.0, "float8"),
    (float("nan"), "float8"),
    (float("inf"), "float8"),
    (-float("inf"), "float4"),
    (1e-310, "float8"),
    (Decimal("1.50"), "numeric"),
    (Decimal("-123456789012345678901234567890.000000001"), "numeric"),
    (Decimal("NaN"), "numeric"),
    (Decimal("Infinity"), "numeric"),
    (Decimal("-Infinity"), "numeric"),
    (Decimal("1E-20"), "numeric"),
    (Decimal("1E+30"), "numeric"),
    (Decimal("0.000"), "numeric"),
    ("héllo ✓ 🐘", "text"),
    ("", "text"),
    ("a'b\"c\\d", "text"),
    ("ab", "varchar"),
    ("ab", "bpchar"),
    (b"\x00\xff", "bytea"),
    (b"", "bytea"),
    (True, "bool"),
    (False, "bool"),
    (datetime.date(2024, 2, 29), "date"),
    (datetime.date(1, 1, 1), "date"),
    (datetime.date(9999, 12, 31), "date"),
    (datetime.time(13, 45, 6, 789000), "time"),
    (
        datetime.time(13, 45, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
        "timetz",
    ),
    (datetime.datetime(2024, 1, 2, 3, 4, 5, 123456), "timestamp"),
    (datetime.datetime(1, 1, 1), "timestamp"),
    (datetime.datetime(9999, 12, 31, 23, 59, 59, 999999), "timestamp"),
    (
        datetime.datetime(
            2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))
        ),
        "timestamptz",
    ),
    (datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc), "timestamptz"),
    (datetime.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000), "interval"),
    (datetime.timedelta(days=-1), "interval"),
    (datetime.timedelta(microseconds=-1), "interval"),
    (uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid"),
    ({"a": [1, 2.5, None, True, "x"]}, "jsonb"),
    ([], "json"),
    ("a string", "jsonb"),
    (None, "int4"),
    (None, "text"),
]


def _psycopg_param(value: Any, type_name: str) -> Any:
    if type_name == "jsonb":
        return Jsonb(value)
    if type_name == "json":
        return Json(value)
    return value


@pytest.mark.parametrize(
    ("value", "type_name"), PARAMETERS, ids=[f"{t}-{v!r}"[:60] for v, t in PARAMETERS]
)
def test_encoded_parameter_matches_psycopg(
    conn: Connection, psycopg_conn: psycopg.Connection[Any], value: Any, type_name: str
) -> None:
    ours = conn.fetchval(f"SELECT $1::{type_name}::text", value)
    row = psycopg_conn.execute(
        f"SELECT %s::{type_name}::text".encode(), [_psycopg_param(value, type_name)]
    ).fetchone()
    assert row is not None
    assert ours == row[0]


def _same_value(received: Any, sent: Any) -> bool:
    """Whether a value read back equals the one sent: same type, NaN and -0.0 kept."""
    if type(received) is not type(sent):
        return False
    if isinstance(sent, float) and math.isnan(sent):
        return math.isnan(received)
    if isinstance(sent, Decimal) and sent.is_nan():
        return bool(received.is_nan())
    if isinstance(sent, float):
        return bool(received == sent and math.copysign(1, received) == math.copysign(1, sent))
    # timestamptz comes back in UTC: the same instant, not the same offset.
    return bool(received == sent)


# float4 loses precision and an int sent as numeric comes back as a Decimal, by design.
ROUND_TRIPS = [
    (v, t) for v, t in PARAMETERS if t != "float4" and not (t == "numeric" and type(v) is int)
]


@pytest.mark.parametrize(
    ("value", "type_name"), ROUND_TRIPS, ids=[f"{t}-{v!r}"[:60] for v, t in ROUND_TRIPS]
)
def test_parameter_round_trips_unchanged(conn: Connection, value: Any, type_name: str) -> None:
    assert _same_value(conn.fetchval(f"SELECT $1::{type_name}", value), value)
