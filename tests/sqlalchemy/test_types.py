"""PostgreSQL's types through both dialects: each value makes a round trip through a table
column and as a bound parameter, and comes back as the Python type SQLAlchemy documents.
The same checks run on ``postgresql+pgwire`` and, through ``run_sync``, on
``postgresql+pgwire_async``."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import MultiRange, Range
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.pg import PostgresServer


class Mood(enum.Enum):
    sad = "sad"
    ok = "ok"
    happy = "happy"


UTC = datetime.timezone.utc
PLUS2 = datetime.timezone(datetime.timedelta(hours=2))

#: (column type, value written, value expected back)
VALUES: list[tuple[str, sa.types.TypeEngine[Any], Any, Any]] = [
    ("json", sa.JSON(), {"a": [1, 2.5, None, "x"], "b": True}, None),
    ("json_text", pg.JSON(), "just a string", None),
    ("jsonb", pg.JSONB(), {"nested": {"k": "v"}, "n": 3}, None),
    ("int_array", pg.ARRAY(sa.Integer), [1, 2, None, 4], None),
    ("text_2d", pg.ARRAY(sa.Text, dimensions=2), [["a", "b"], ["c", "d"]], None),
    ("uuid", sa.Uuid(), uuid.UUID("12345678-1234-5678-1234-567812345678"), None),
    ("uuid_as_str", sa.Uuid(as_uuid=False), "12345678-1234-5678-1234-567812345678", None),
    ("enum", sa.Enum(Mood, name="mood"), Mood.happy, None),
    ("interval", sa.Interval(), datetime.timedelta(days=3, seconds=7, microseconds=5), None),
    ("pg_interval", pg.INTERVAL(), datetime.timedelta(hours=-5), None),
    ("int4range", pg.INT4RANGE(), Range(1, 10, bounds="[]"), Range(1, 11, bounds="[)")),
    ("tstzrange", pg.TSTZRANGE(), Range(None, datetime.datetime(2024, 1, 1, tzinfo=UTC)), None),
    ("empty_range", pg.NUMRANGE(), Range(empty=True), None),
    (
        "int4multirange",
        pg.INT4MULTIRANGE(),
        MultiRange([Range(1, 3), Range(5, 8)]),
        None,
    ),
    ("hstore", pg.HSTORE(), {"a": "1", "b": None}, None),
    ("numeric", sa.Numeric(20, 8), decimal.Decimal("-12345678901.12345678"), None),
    ("numeric_float", sa.Numeric(10, 2, asdecimal=False), 12.5, None),
    ("float_decimal", sa.Float(asdecimal=True), decimal.Decimal("2.5"), None),
    ("double", sa.Double(), 1e300, None),
    ("bytea", sa.LargeBinary(), b"\x00\xffbinary\x01", None),
    (
        "timestamptz",
        sa.DateTime(timezone=True),
        datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=PLUS2),
        datetime.datetime(2024, 5, 6, 5, 8, 9, 123456, tzinfo=UTC),
    ),
    ("timestamp", sa.DateTime(), datetime.datetime(1999, 12, 31, 23, 59, 59), None),
    ("date", sa.Date(), datetime.date(1, 1, 1), None),
    ("timetz", sa.Time(timezone=True), datetime.time(12, 30, tzinfo=PLUS2), None),
    ("bool", sa.Boolean(), False, None),
    ("bigint", sa.BigInteger(), 2**62, None),
    ("text", sa.Text(), "ünïcode ✓ 100%", None),
    ("inet", pg.INET(), "192.168.1.5/24", None),
    ("citext_like_varchar", sa.String(10), "short", None),
]


def _table() -> sa.Table:
    metadata = sa.MetaData()
    columns = [sa.Column(name, type_) for name, type_, _, _ in VALUES]
    return sa.Table("typed", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)


def _check_round_trips(conn: sa.Connection) -> None:
    table = _table()
    table.create(conn)
    row = {name: value for name, _, value, _ in VALUES}
    conn.execute(sa.insert(table), [{"id": 1, **row}])
    back = conn.execute(sa.select(table).where(table.c.id == 1)).one()._mapping
    for name, _, value, expected in VALUES:
        wanted = value if expected is None else expected
        got = back[name]
        if name == "inet":
            got = str(got)
        assert got == wanted, name
        assert type(got) is type(wanted), name
    # Each value also serves as a parameter compared with the column.
    for name, type_, value, _ in VALUES:
        if name in ("json", "json_text", "double", "numeric_float", "float_decimal"):
            continue  # json has no equality; floats compare with their own rounding
        column = table.c[name]
        found = conn.scalar(sa.select(table.c.id).where(column == sa.bindparam("v", value, type_)))
        assert found == 1, name


def test_values_round_trip_through_the_blocking_dialect(
    pg_server: PostgresServer, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        _check_round_trips(conn)


@pytest.mark.anyio
async def test_values_round_trip_through_the_async_dialect(async_engine: AsyncEngine) -> None:
    async with async_engine.begin() as conn:
        await conn.run_sync(_check_round_trips)


def _check_json_options(conn: sa.Connection) -> None:
    table = sa.Table(
        "doc",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("d", pg.JSONB),
    )
    table.create(conn)
    conn.execute(sa.insert(table), [{"id": 1, "d": {"k": [1, 2]}}, {"id": 2, "d": None}])
    assert conn.scalar(sa.select(table.c.d["k"][1].as_integer()).where(table.c.id == 1)) == 2
    assert conn.scalar(sa.select(table.c.d["k"].as_json()).where(table.c.id == 1)) == [1, 2]
    path = table.c.d[("k", 0)].as_integer()
    assert conn.scalar(sa.select(path).where(table.c.id == 1)) == 1
    assert conn.scalar(sa.select(table.c.id).where(table.c.d.contains({"k": [2]}))) == 1
    assert conn.scalar(sa.select(table.c.d).where(table.c.id == 2)) is None


def test_json_operators_through_the_blocking_dialect(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _check_json_options(conn)


@pytest.mark.anyio
async def test_json_operators_through_the_async_dialect(async_engine: AsyncEngine) -> None:
    async with async_engine.begin() as conn:
        await conn.run_sync(_check_json_options)


def test_json_serializer_and_deserializer_are_used(
    pg_server: PostgresServer, make_engine: Any
) -> None:
    seen: list[str] = []

    def loads(text: str) -> Any:
        seen.append(text)
        return {"loaded": text}

    engine = make_engine(json_serializer=lambda value: '{"fixed": 1}', json_deserializer=loads)
    with engine.connect() as conn:
        value = conn.scalar(sa.select(sa.cast(sa.literal({"x": 1}, pg.JSONB), pg.JSONB)))
    assert value == {"loaded": '{"fixed": 1}'}
    assert seen == ['{"fixed": 1}']
