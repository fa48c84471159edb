"""Every type through the real PostgreSQL 18: values sent and read back, text and binary agree.

Each hypothesis example sends a list of values as one array parameter (``$1::T[]``), reads it
back in binary, and reads the server's text form of the same array, decoded by the registry's
text decoders: the three must be equal. So each example checks the element type's binary
encoder and decoder, its text decoder, and the array codecs, in one round trip.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwire.sync import Connection
from pgwire.types import (
    INFINITY,
    NEG_INFINITY,
    TEXT,
    Array,
    Box,
    Circle,
    Line,
    LineSegment,
    Multirange,
    Path,
    Point,
    Polygon,
    Range,
)

UTC = timezone.utc
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _roundtrip_text_and_binary(conn: Connection, type_name: str, values: list[Any]) -> Any:
    """Send `values` as an array of `type_name`; return what came back, checking its text."""
    sql = f"SELECT $1::{type_name}[], $1::{type_name}[]::text"
    statement = conn.prepare(sql)
    assert statement.columns is not None
    array_oid = statement.columns[0].type_oid
    assert conn.registry.has_binary(array_oid), type_name
    row = conn.fetchrow(sql, values)
    assert row is not None
    binary, text = row
    from_text = conn.registry.decoder(array_oid, TEXT)(text.encode())
    assert _same(from_text, binary), (text, binary)
    return binary


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1, left) == math.copysign(1, right)
        )
    if isinstance(left, list) and isinstance(right, list):
        return (
            len(left) == len(right)
            and getattr(left, "lower_bounds", None) == getattr(right, "lower_bounds", None)
            and all(_same(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return str(left) == str(right)
    return type(left) is type(right) and bool(left == right)


def _check(conn: Connection, type_name: str, values: list[Any], expected: Any = None) -> None:
    back = _roundtrip_text_and_binary(conn, type_name, values)
    assert _same(back, values if expected is None else expected), (back, values)


lists = st.lists  # one array parameter per example
floats = st.floats(allow_nan=False, width=64)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@SETTINGS
@given(
    ints=lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), max_size=12),
    int2=lists(st.integers(-(2**15), 2**15 - 1), max_size=12),
    int8=lists(st.integers(-(2**63), 2**63 - 1), max_size=12),
)
def test_integer_arrays_round_trip(
    module_conn: Connection, ints: list[int | None], int2: list[int], int8: list[int]
) -> None:
    _check(module_conn, "int4", ints)
    _check(module_conn, "int2", int2)
    _check(module_conn, "int8", int8)


@SETTINGS
@given(values=lists(st.floats(width=64), max_size=12), small=lists(st.floats(width=32)))
def test_float_arrays_round_trip(
    module_conn: Connection, values: list[float], small: list[float]
) -> None:
    _check(module_conn, "float8", values)
    _check(module_conn, "float4", small)


decimals = st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(
    lambda d: not d.is_snan() and (not d.is_finite() or abs(d.adjusted()) < 1000)
)


@SETTINGS
@given(values=lists(decimals, max_size=10))
def test_numeric_arrays_round_trip(module_conn: Connection, values: list[Decimal]) -> None:
    expected = [Decimal("NaN") if d.is_nan() else d for d in values]
    back = _roundtrip_text_and_binary(module_conn, "numeric", values)
    assert [str(d) for d in back] == [str(d if d else abs(d)) for d in expected]


texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


@SETTINGS
@given(
    values=lists(st.one_of(st.none(), texts, st.sampled_from(["NULL", "", '"', "\\", "{a,b}"]))),
    raw=lists(st.binary(max_size=40), max_size=8),
    flags=lists(st.booleans()),
    uuids=lists(st.uuids(), max_size=5),
)
def test_text_bytea_bool_uuid_arrays_round_trip(
    module_conn: Connection,
    values: list[str | None],
    raw: list[bytes],
    flags: list[bool],
    uuids: list[Any],
) -> None:
    _check(module_conn, "text", values)
    _check(module_conn, "bytea", raw)
    _check(module_conn, "bool", flags)
    _check(module_conn, "uuid", uuids)


sentinels = st.sampled_from([INFINITY, NEG_INFINITY])


@SETTINGS
@given(
    dates=lists(st.one_of(st.dates(), sentinels), max_size=8),
    stamps=lists(st.one_of(st.datetimes(), sentinels), max_size=8),
    aware=lists(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
            lambda d: d.replace(tzinfo=UTC)
        ),
        max_size=8,
    ),
    times=lists(st.times(), max_size=8),
    intervals=lists(
        st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6)),
        max_size=8,
    ),
)
def test_date_and_time_arrays_round_trip(
    module_conn: Connection,
    dates: list[Any],
    stamps: list[Any],
    aware: list[datetime],
    times: list[Any],
    intervals: list[timedelta],
) -> None:
    _check(module_conn, "date", dates)
    _check(module_conn, "timestamp", stamps)
    _check(module_conn, "timestamptz", aware)
    _check(module_conn, "time", times)
    _check(module_conn, "interval", intervals)


ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)


def _interface(address: Any, prefix: int) -> Any:
    if prefix == address.max_prefixlen:
        return address
    return ipaddress.ip_interface((address, prefix))


inets = st.one_of(st.tuples(ipv4, st.integers(0, 32)), st.tuples(ipv6, st.integers(0, 128))).map(
    lambda pair: _interface(*pair)
)
cidrs = inets.map(lambda value: ipaddress.ip_network(str(value), strict=False))
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
macs8 = st.binary(min_size=8, max_size=8).map(lambda b: ":".join(f"{x:02x}" for x in b))
bit_strings = st.text("01", max_size=70)
money = st.integers(-(2**63), 2**63 - 1).map(lambda cents: Decimal(cents).scaleb(-2))


@SETTINGS
@given(
    inet=lists(inets, max_size=8),
    cidr=lists(cidrs, max_size=8),
    mac=lists(macs, max_size=4),
    mac8=lists(macs8, max_size=4),
    bits=lists(bit_strings, max_size=6),
    amounts=lists(money, max_size=6),
)
def test_network_bit_and_money_arrays_round_trip(
    module_conn: Connection,
    inet: list[Any],
    cidr: list[Any],
    mac: list[str],
    mac8: list[str],
    bits: list[str],
    amounts: list[Decimal],
) -> None:
    _check(module_conn, "inet", inet)
    _check(module_conn, "cidr", cidr)
    _check(module_conn, "macaddr", mac)
    _check(module_conn, "macaddr8", mac8)
    _check(module_conn, "varbit", bits)
    _check(module_conn, "money", amounts)


points = st.builds(Point, finite, finite)


def _box(a: Point, b: Point) -> Box:
    return Box(Point(max(a.x, b.x), max(a.y, b.y)), Point(min(a.x, b.x), min(a.y, b.y)))


@SETTINGS
@given(
    point=lists(points, max_size=5),
    box=lists(st.builds(_box, points, points), max_size=5),
    circle=lists(st.builds(Circle, points, st.floats(0, 1e300)), max_size=5),
    lseg=lists(st.builds(LineSegment, points, points), max_size=5),
    line=lists(
        st.builds(Line, finite, finite, finite).filter(
            lambda line: abs(line.a) > 1e-6 or abs(line.b) > 1e-6  # PostgreSQL's EPSILON
        ),
        max_size=5,
    ),
    path=lists(
        st.builds(Path, st.lists(points, min_size=1, max_size=5).map(tuple), st.booleans()),
        max_size=4,
    ),
    polygon=lists(
        st.builds(Polygon, st.lists(points, min_size=1, max_size=5).map(tuple)), max_size=4
    ),
)
def test_geometric_arrays_round_trip(
    module_conn: Connection,
    point: list[Point],
    box: list[Box],
    circle: list[Circle],
    lseg: list[LineSegment],
    line: list[Line],
    path: list[Path],
    polygon: list[Polygon],
) -> None:
    for type_name, values in [
        ("point", point),
        ("box", box),
        ("circle", circle),
        ("lseg", lseg),
        ("line", line),
        ("path", path),
        ("polygon", polygon),
    ]:
        _check(module_conn, type_name, values)


def _discrete(bounds: tuple[int | None, int | None], empty: bool) -> Range[int]:
    lower, upper = bounds
    if empty or (lower is not None and upper is not None and lower >= upper):
        return Range(empty=True)
    return Range(lower, upper, "[)")


int_bounds = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
int_ranges = st.builds(_discrete, st.tuples(int_bounds, int_bounds), st.booleans())


def _continuous(lower: Any, upper: Any, bounds: str) -> Range[Any]:
    if (
        lower is not None
        and upper is not None
        and (lower > upper or (lower == upper and bounds != "[]"))
    ):
        return Range(empty=True)
    return Range(lower, upper, bounds)


brackets = st.sampled_from(["[)", "(]", "[]", "()"])
num_bounds = st.one_of(st.none(), st.decimals(-(10**20), 10**20, places=3))
num_ranges = st.builds(_continuous, num_bounds, num_bounds, brackets)
ts_bounds = st.one_of(st.none(), st.datetimes())
ts_ranges = st.builds(_continuous, ts_bounds, ts_bounds, brackets)
date_bounds = st.one_of(st.none(), st.dates(max_value=date(9999, 12, 30)))
date_ranges = st.builds(
    lambda b, e: _discrete(b, e),  # type: ignore[arg-type]
    st.tuples(date_bounds, date_bounds),
    st.booleans(),
)


def _multirange(edges: list[int]) -> Multirange:
    edges = sorted(set(edges))
    return Multirange(Range(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 3))


@SETTINGS
@given(
    int4=lists(int_ranges, max_size=6),
    num=lists(num_ranges, max_size=6),
    ts=lists(ts_ranges, max_size=6),
    dates=lists(date_ranges, max_size=6),
    multi=lists(st.lists(st.integers(-1000, 1000), max_size=12).map(_multirange), max_size=4),
)
def test_range_and_multirange_arrays_round_trip(
    module_conn: Connection,
    int4: list[Range[int]],
    num: list[Range[Decimal]],
    ts: list[Range[datetime]],
    dates: list[Range[date]],
    multi: list[Multirange],
) -> None:
    _check(module_conn, "int4range", int4)
    _check(module_conn, "int8range", int4)
    _check(module_conn, "numrange", num)
    _check(module_conn, "tsrange", ts)
    _check(module_conn, "daterange", dates)
    _check(module_conn, "int4multirange", multi)


@SETTINGS
@given(
    rows=st.integers(1, 4),
    columns=st.integers(1, 4),
    lower=st.tuples(st.integers(-5, 5), st.integers(-5, 5)),
    data=st.data(),
)
def test_multidimensional_arrays_with_nulls_and_lower_bounds_round_trip(
    module_conn: Connection, rows: int, columns: int, lower: tuple[int, int], data: Any
) -> None:
    cells = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
    matrix = [data.draw(st.lists(cells, min_size=columns, max_size=columns)) for _ in range(rows)]
    value = Array(matrix, lower_bounds=lower) if lower != (1, 1) else matrix
    _check(module_conn, "int4", [])
    row = module_conn.fetchrow("SELECT $1::int4[], $1::int4[]::text", value)
    assert row is not None
    assert _same(row[0], value)
    assert _same(module_conn.registry.decoder(1007, TEXT)(row[1].encode()), value)


def test_the_issue_query_returns_the_documented_values(module_conn: Connection) -> None:
    row = module_conn.fetchrow(
        """SELECT '{"a": [1, 2]}'::jsonb, ARRAY[[1,NULL],[3,4]]::int[], '[1,5)'::int4range,"""
        " 'NaN'::numeric, 'infinity'::timestamptz"
    )
    assert row is not None
    jsonb, array, int4range, nan, infinity = row
    assert jsonb == {"a": [1, 2]}
    assert array == [[1, None], [3, 4]]
    assert int4range == Range(1, 5, "[)")
    assert isinstance(nan, Decimal) and nan.is_nan()
    assert infinity is INFINITY


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'[0:2]={1,2,3}'::int[]", Array([1, 2, 3], lower_bounds=(0,))),
        ("'{}'::int[]", []),
        ("'{{1,2},{3,4}}'::text[]", [["1", "2"], ["3", "4"]]),
        (
            "ARRAY['a,b', 'c\"d', 'e\\f', NULL, 'NULL', '']",
            ["a,b", 'c"d', "e\\f", None, "NULL", ""],
        ),
        (
            '\'{"(1,2),(0,0)";"(3,3),(2,2)"}\'::box[]',
            [Box(Point(1, 2), Point(0, 0)), Box(Point(3, 3), Point(2, 2))],
        ),
        ("'empty'::int4range", Range(empty=True)),
        ("'(,)'::numrange", Range(None, None, "()")),
        ("'[1,5]'::int4range", Range(1, 6, "[)")),
        ("'{}'::int4multirange", Multirange()),
        ("'[2024-01-01,infinity)'::daterange", Range(date(2024, 1, 1), INFINITY, "[)")),
        ("'192.168.0.1/24'::inet", ipaddress.ip_interface("192.168.0.1/24")),
        ("'::1'::inet", ipaddress.ip_address("::1")),
        ("'10.1.0.0/16'::cidr", ipaddress.ip_network("10.1.0.0/16")),
        ("'08002b010203'::macaddr8", "08:00:2b:ff:fe:01:02:03"),
        ("B'1010'::bit(4)", "1010"),
        ("B''::varbit", ""),
        ("'-12.34'::money", Decimal("-12.34")),
        ("'-infinity'::date", NEG_INFINITY),
        ("'infinity'::interval", INFINITY),
        ("ROW(1, 'a b', NULL, ROW(2))", (1, "a b", None, (2,))),
        ("'<a>x</a>'::xml", "<a>x</a>"),
        ("'a:1 b:2'::tsvector", "'a':1 'b':2"),
        ("ARRAY['<a/>'::xml, NULL]", ["<a/>", None]),
        ("'1 2 3'::int2vector", Array([1, 2, 3], lower_bounds=(0,))),
    ],
)
def test_values_decode_to_the_documented_python_values(
    module_conn: Connection, expression: str, expected: Any
) -> None:
    value = module_conn.fetchval(f"SELECT {expression}")
    assert _same(value, expected) or value == expected, value
    assert type(value) is type(expected)


def test_text_and_binary_agree_on_each_value_of_a_wide_row(module_conn: Connection) -> None:
    expressions = [
        "ARRAY[[1,NULL],[3,4]]::int[]",
        "'[1.5,2.5]'::numrange",
        "'{[1,3), [5,7)}'::int4multirange",
        "'[\"2024-01-01 00:00:00+02\",)'::tstzrange",
        "'2001:db8::1/64'::inet",
        "'08:00:2b:01:02:03'::macaddr",
        "B'10101'::varbit",
        "'1234.56'::money",
        "'((0,0),(1,1),(2,0))'::path",
        "'<(1.5,2.5),3>'::circle",
        "'{1,-1,0}'::line",
        "'{\"a\": 1}'::jsonb",
        "ARRAY['2024-02-29'::date, 'infinity']",
        "ARRAY[ROW(1, 'x')]",
    ]
    sql = "SELECT " + ", ".join(f"{e}, ({e})::text" for e in expressions)
    statement = module_conn.prepare(sql)
    row = module_conn.fetchrow(sql)
    assert row is not None and statement.columns is not None
    for index in range(0, len(row), 2):
        oid = statement.columns[index].type_oid
        from_text = module_conn.registry.decoder(oid, TEXT)(row[index + 1].encode())
        if oid == 2287:  # record[] text has no field types: fields are str
            assert from_text == [("1", "x")] and row[index] == [(1, "x")]
            continue
        assert from_text == row[index], expressions[index // 2]
