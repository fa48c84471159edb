"""Binary COPY encoding of Python records: `BinaryCopyEncoder.encode_many` against `encode_record`.

`encode_record` defines the output and the errors; `encode_many` (a compiled function per shape
of record, packing fixed-width columns together through their `StructEncoding`) must give the
same bytes for every batch, and the same error for the first record that fails. No server.
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pgwire.copy import BinaryCopyEncoder
from pgwire.errors import DataError
from pgwire.types import INFINITY, NEG_INFINITY, Interval, default_registry, oids
from pgwire.types.base import StructEncoding, find_struct_encoding, struct_encoding

REGISTRY = default_registry()
INT4_ARRAY = 1007
BENCH_TYPES = [oids.INT4, oids.INT8, oids.TEXT, oids.FLOAT8, oids.TIMESTAMPTZ, oids.BOOL, oids.DATE]


# Python values that test the edges of the encoders: subclasses, lookalikes, odd time zones.


class Colour(enum.IntEnum):
    RED = 1
    BIG = 2**40


class Indexable:
    """An integer-like object (as numpy.int64 is): the int encoders take it through index()."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Indexable({self.value})"


class MyStr(str):
    pass


class MyDate(date):
    pass


class MyDatetime(datetime):
    pass


class NoOffset(tzinfo):
    """A tzinfo whose utcoffset() is None: such a datetime counts as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def __repr__(self) -> str:
        return "NoOffset()"


Pair = namedtuple("Pair", "a b")

INT_EDGES = [
    0,
    -1,
    2**15 - 1,
    2**15,
    -(2**15),
    -(2**15) - 1,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**32 - 1,
    2**32,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    10**400,
]
FLOAT_EDGES = [0.0, -0.0, 3.4028235e38, 3.5e38, -3.5e38, 1e-46, float("inf"), float("nan"), 1e308]

zones = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
) | st.just(NoOffset())
ints = st.integers() | st.sampled_from(INT_EDGES)
floats = st.floats() | st.sampled_from(FLOAT_EDGES)
texts = st.text() | st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lu"]))
naive_datetimes = st.datetimes()
aware_datetimes = st.datetimes(timezones=zones)
datetimes = naive_datetimes | aware_datetimes
times = st.times() | st.times(timezones=zones)
infinities = st.sampled_from([INFINITY, NEG_INFINITY])

# Values of the right Python type for a column (what the fast path is for), by type OID.
TYPED: dict[int, st.SearchStrategy[Any]] = {
    oids.BOOL: st.booleans(),
    oids.INT2: ints,
    oids.INT4: ints,
    oids.INT8: ints,
    oids.OID: ints,
    oids.FLOAT4: floats | ints,
    oids.FLOAT8: floats | ints,
    oids.NUMERIC: st.decimals(allow_nan=False, allow_infinity=False, places=3) | ints,
    oids.TEXT: texts,
    oids.VARCHAR: texts,
    oids.BYTEA: st.binary(max_size=20),
    oids.UUID: st.uuids(),
    oids.DATE: st.dates() | infinities,
    oids.TIME: times,
    oids.TIMETZ: times,
    oids.TIMESTAMP: datetimes | infinities,
    oids.TIMESTAMPTZ: datetimes | infinities,
    oids.INTERVAL: st.timedeltas() | infinities,
    oids.JSONB: st.lists(st.integers(), max_size=3),
    INT4_ARRAY: st.lists(st.integers(-(2**31), 2**31 - 1) | st.none(), max_size=3),
}
COLUMN_TYPES = sorted(TYPED)

# Anything at all: other columns' values, and the subclasses and lookalikes the encoders take
# (or refuse) through their slower paths.
ODD = st.sampled_from(
    [
        None,
        True,
        False,
        Colour.RED,
        Colour.BIG,
        Indexable(5),
        Indexable(2**40),
        MyStr("sub"),
        MyDate(2024, 2, 29),
        MyDatetime(2024, 2, 29, 1, 2, 3),
        datetime(2024, 1, 1, tzinfo=NoOffset()),
        time(1, 2, tzinfo=NoOffset()),
        date(2024, 1, 1),
        datetime(2024, 1, 1),
        "a\x00b",
        "\ud800",
        b"bytes",
        bytearray(b"ba"),
        1.5,
        Decimal("1.5"),
        uuid.UUID(int=1),
        "12345678-1234-5678-1234-567812345678",
        Interval(1, 2, 3),
        timedelta(days=-1, microseconds=1),
        INFINITY,
        object(),
        [1, 2],
    ]
)
ANY_VALUE = ODD | st.one_of(*TYPED.values())


def column_value(oid: int) -> st.SearchStrategy[Any]:
    """Mostly a value of the column's own type; sometimes None, sometimes anything."""
    return st.one_of(TYPED[oid], TYPED[oid], TYPED[oid], st.none(), ANY_VALUE)


def outcome(encode: Callable[[], bytes]) -> tuple[Any, ...]:
    try:
        return ("ok", encode())
    except Exception as exc:
        return ("error", type(exc), str(exc))


def one_by_one(encoder: BinaryCopyEncoder, records: Sequence[Any]) -> bytes:
    return b"".join([encoder.encode_record(record) for record in records])


def assert_same(encoder: BinaryCopyEncoder, records: Sequence[Any]) -> None:
    expected = outcome(lambda: one_by_one(encoder, records))
    assert outcome(lambda: encoder.encode_many(records)) == expected


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[int], list[Any]]:
    """Column types, and records for them: mostly tuples of the right length."""
    types = draw(st.lists(st.sampled_from(COLUMN_TYPES), min_size=1, max_size=8))
    record = st.tuples(*(column_value(oid) for oid in types))
    container = st.sampled_from([tuple, list, tuple, tuple])
    records = draw(
        st.lists(
            st.builds(lambda r, c: c(r), record, container)
            | st.lists(ANY_VALUE, max_size=len(types) + 1).map(tuple),
            max_size=12,
        )
    )
    return types, records


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_encode_many_gives_the_bytes_and_errors_of_encode_record(
    batch: tuple[list[int], list[Any]],
) -> None:
    types, records = batch
    assert_same(BinaryCopyEncoder(types, REGISTRY), records)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*(column_value(oid) for oid in BENCH_TYPES)), max_size=20))
@example([(2**31, 1, "a", 1.0, datetime(2024, 1, 1), True, date(2024, 1, 1))])
@example([(1, 1, "a\x00", 1.0, datetime(2024, 1, 1), True, date(2024, 1, 1))])
@example([(1, 1, "a", 1.0, datetime(2024, 1, 1, tzinfo=NoOffset()), True, date.min)])
@example([(True, 1, "a", 1.0, datetime(2024, 1, 1), 1, INFINITY)])
@example([(1, 1, "a", 10**400, datetime.max, False, date.max), (None,) * 7])
def test_the_benchmark_shape(records: list[Any]) -> None:
    assert_same(BinaryCopyEncoder(BENCH_TYPES, REGISTRY), records)


# One column at a time: every encoder with a StructEncoding, through its fast path.

STRUCT_TYPES = [oid for oid in COLUMN_TYPES if find_struct_encoding(REGISTRY.encoder(oid)[1])]


def test_the_fixed_width_types_have_struct_encodings() -> None:
    assert set(STRUCT_TYPES) == {
        oids.BOOL,
        oids.INT2,
        oids.INT4,
        oids.INT8,
        oids.OID,
        oids.FLOAT4,
        oids.FLOAT8,
        oids.UUID,
        oids.DATE,
        oids.TIME,
        oids.TIMESTAMP,
        oids.TIMESTAMPTZ,
        oids.INTERVAL,
    }


@settings(max_examples=1000)
@given(st.data())
def test_struct_encodings_pack_what_the_encoders_return(data: st.DataObject) -> None:
    """The contract of StructEncoding: packing ``prepare(value)`` for a value of an exact type
    gives the encoder's bytes, or raises (then the encoder decides)."""
    oid = data.draw(st.sampled_from(STRUCT_TYPES))
    encoder = REGISTRY.encoder(oid)[1]
    encoding = find_struct_encoding(encoder)
    assert encoding is not None
    value = data.draw(TYPED[oid] | ODD)
    if type(value) not in encoding.types:
        return
    try:
        prepared = value if encoding.prepare is None else encoding.prepare(value)
        packed = struct.pack(
            "!" + encoding.format, *(prepared if encoding.fields > 1 else (prepared,))
        )
    except Exception:
        return
    assert encoder(value) == packed


@pytest.mark.parametrize("oid", STRUCT_TYPES)
def test_every_struct_type_alone_with_nulls_and_edges(oid: int) -> None:
    encoder = BinaryCopyEncoder([oid], REGISTRY)
    values = [
        None,
        *INT_EDGES,
        *FLOAT_EDGES,
        True,
        False,
        Colour.BIG,
        Indexable(3),
        date(1, 1, 1),
        date(9999, 12, 31),
        MyDate(2000, 1, 1),
        datetime.min,
        datetime.max,
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2000, 1, 1, tzinfo=NoOffset()),
        MyDatetime(2000, 1, 1),
        time.max,
        time(1, tzinfo=timezone.utc),
        time(1, tzinfo=NoOffset()),
        timedelta.max,
        timedelta.min,
        Interval(2**31, 0, 0),
        uuid.UUID(int=2**128 - 1),
        INFINITY,
        NEG_INFINITY,
        "1",
    ]
    for value in values:
        assert_same(encoder, [(value,)])
        assert_same(encoder, [(value,), (None,)])
    good = [(v,) for v in values if outcome(lambda v=v: encoder.encode_record((v,)))[0] == "ok"]
    assert good
    assert encoder.encode_many(good) == one_by_one(encoder, good)


# Records: containers, lengths, and where the error comes from.


def test_records_may_be_any_sized_sequence() -> None:
    encoder = BinaryCopyEncoder([oids.INT4, oids.TEXT], REGISTRY)
    records: list[Any] = [(1, "a"), [2, "b"], Pair(3, "c"), Pair(None, None), "xy"]
    with pytest.raises(DataError):
        encoder.encode_many(records)  # "x" is not an int4
    assert_same(encoder, records)
    assert_same(encoder, records[:4])
    assert encoder.encode_many(records[:4]) == one_by_one(encoder, records[:4])


def test_a_record_without_a_length_fails_as_in_encode_record() -> None:
    encoder = BinaryCopyEncoder([oids.INT4, oids.INT4], REGISTRY)

    def values() -> Iterator[int]:
        yield 1
        yield 2

    with pytest.raises(TypeError, match="has no len"):
        encoder.encode_many([(1, 2), values()])  # type: ignore[list-item]
    assert_same(encoder, [(1, 2), values()])


def test_a_record_of_the_wrong_length_names_the_counts() -> None:
    encoder = BinaryCopyEncoder(BENCH_TYPES, REGISTRY)
    with pytest.raises(DataError, match="a record has 2 values for 7 columns"):
        encoder.encode_many([(1, 2)])
    with pytest.raises(DataError, match="a record has 8 values for 7 columns"):
        encoder.encode_many([[None] * 8])


def test_errors_name_the_column_and_the_types() -> None:
    encoder = BinaryCopyEncoder(BENCH_TYPES, REGISTRY)
    good = (1, 2, "x", 1.5, datetime(2024, 1, 1, tzinfo=timezone.utc), True, date(2024, 1, 1))
    with pytest.raises(DataError, match=r"column 1: value 2147483648 out of range for int4"):
        encoder.encode_many([good, (2**31, *good[1:])])
    with pytest.raises(DataError, match=r"column 6: cannot encode int as bool"):
        encoder.encode_many([good, (*good[:5], 1, good[6])])
    with pytest.raises(DataError, match=r"column 3: cannot send a string containing NUL"):
        encoder.encode_many([(*good[:2], "a\x00", *good[3:])])
    with pytest.raises(DataError, match=r"column 7: cannot encode datetime as date"):
        encoder.encode_many([(*good[:6], datetime(2024, 1, 1))])


def test_an_empty_batch_and_a_table_without_columns() -> None:
    assert BinaryCopyEncoder(BENCH_TYPES, REGISTRY).encode_many([]) == b""
    encoder = BinaryCopyEncoder([], REGISTRY)
    assert encoder.encode_many([(), []]) == b"\x00\x00\x00\x00"
    assert_same(encoder, [(), (1,)])


def test_many_columns() -> None:
    types = [oids.INT4, oids.TEXT, oids.FLOAT8] * 200
    encoder = BinaryCopyEncoder(types, REGISTRY)
    records = [tuple(v for i in range(200) for v in (i, str(i), i / 3))] * 3
    records.append(tuple(None for _ in types))
    assert encoder.encode_many(records) == one_by_one(encoder, records)


def test_the_benchmark_records() -> None:
    records = [
        (
            i,
            i * 1_000_003,
            f"row number {i}",
            i / 7,
            datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=i),
            i % 2 == 0,
            date(2024, 1, 1) + timedelta(days=i % 1000),
        )
        for i in range(1000)
    ]
    encoder = BinaryCopyEncoder(BENCH_TYPES, REGISTRY)
    assert encoder.encode_many(records) == one_by_one(encoder, records)
    assert encoder.encode_many(iter(records)) == one_by_one(encoder, records)


# User encoders: a registered encoder replaces the built-in one and its StructEncoding.


def test_a_registered_encoder_is_called_and_its_errors_named() -> None:
    registry = default_registry()
    calls: list[Any] = []

    def encode_int4_as_twice(value: Any) -> bytes:
        calls.append(value)
        if value == 13:
            raise ValueError("unlucky")
        return struct.pack("!i", 2 * value)

    registry.register(oids.INT4, "int4", binary_encoder=encode_int4_as_twice)
    encoder = BinaryCopyEncoder([oids.INT4, oids.INT8], registry)
    assert encoder.encode_many([(1, 1), (None, 2)]) == one_by_one(encoder, [(1, 1), (None, 2)])
    assert encoder.encode_many([(5, 1)])[6:10] == struct.pack("!i", 10)
    with pytest.raises(DataError, match="column 1: cannot encode int as int4: unlucky"):
        encoder.encode_many([(1, 1), (13, 1)])


def test_none_is_null_even_for_an_encoder_that_takes_it() -> None:
    registry = default_registry()
    registry.register(oids.TEXT, "text", binary_encoder=lambda value: repr(value).encode())
    encoder = BinaryCopyEncoder([oids.TEXT, oids.INT4], registry)
    records = [(None, 1), ("a", None), (None, None)]
    assert encoder.encode_many(records) == one_by_one(encoder, records)
    assert (
        encoder.encode_many([(None, 1)])
        == b"\x00\x02\xff\xff\xff\xff\x00\x00\x00\x04\x00\x00\x00\x01"
    )


def test_a_user_struct_encoding() -> None:
    registry = default_registry()

    @struct_encoding("ii", (tuple,), lambda pair: pair)
    def encode_pair(value: Any) -> bytes:
        if not isinstance(value, tuple) or len(value) != 2:
            raise DataError("expected a pair")
        return struct.pack("!ii", *value)

    registry.register(oids.POINT, "point", binary_encoder=encode_pair)
    encoding = find_struct_encoding(encode_pair)
    assert isinstance(encoding, StructEncoding)
    assert (encoding.size, encoding.fields) == (8, 2)
    encoder = BinaryCopyEncoder([oids.POINT, oids.TEXT], registry)
    records: list[Any] = [((1, 2), "a"), (None, "b"), ((3, 4), None), ((1, 2, 3), "c")]
    assert encoder.encode_many(records[:3]) == one_by_one(encoder, records[:3])
    assert_same(encoder, records)


def test_struct_encoding_checks_its_format() -> None:
    with pytest.raises(ValueError, match="without byte order"):
        struct_encoding("!i", (int,))
    with pytest.raises(ValueError, match="at least one"):
        struct_encoding("i", ())
    assert find_struct_encoding(len) is None
