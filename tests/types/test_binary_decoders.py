"""The new codecs without a server: known vectors, encoder refusals, and fuzzed binary input.

A peer can send anything: every binary decoder must either return a value or raise
`DataError`, never a raw struct.error, IndexError or the like.
"""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import DataError, InterfaceError
from pgwire.types import (
    BINARY,
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
    TypeRegistry,
    composite,
    default_registry,
    oids,
)

REGISTRY = default_registry()
REGISTRY.register_composite(70000, "pair", [("a", oids.INT4), ("b", oids.TEXT)])
REGISTRY.register_array(70001, 70000)
REGISTRY.register_domain(70002, oids.INT4RANGE, "span")
REGISTRY.register_enum(70003, "mood")

FUZZED_OIDS = [
    1007, 1016, 1005, 1021, 1022, 1009, 1231, 1185, 2287,  # arrays (bulk and per element)
    oids.INT4RANGE, oids.NUMRANGE, oids.TSTZRANGE, oids.INT4MULTIRANGE, oids.DATEMULTIRANGE,
    oids.INET, oids.CIDR, oids.MACADDR, oids.MACADDR8, oids.BIT, oids.VARBIT, oids.MONEY,
    oids.POINT, oids.LINE, oids.LSEG, oids.BOX, oids.PATH, oids.POLYGON, oids.CIRCLE,
    oids.RECORD, 70000, 70001, 70002, oids.INT2VECTOR,
]  # fmt: skip


def _prefixes() -> st.SearchStrategy[bytes]:
    # Random bytes rarely get past a header; also mutate a valid value.
    valid = [
        REGISTRY.encoder(1007)[1]([[1, None], [3, 4]]),
        REGISTRY.encoder(oids.INT4RANGE)[1](Range(1, 5)),
        REGISTRY.encoder(oids.INT4MULTIRANGE)[1]([Range(1, 5), Range(7, None)]),
        REGISTRY.encoder(70000)[1]((1, "x")),
        REGISTRY.encoder(oids.PATH)[1](Path((Point(1, 2),), True)),
        REGISTRY.encoder(oids.INET)[1](ipaddress.ip_interface("10.0.0.1/8")),
    ]
    mutated = st.tuples(st.sampled_from(valid), st.integers(0, 40), st.binary(max_size=4)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]
    )
    return st.one_of(st.binary(max_size=64), mutated)


@settings(max_examples=300)
@given(oid=st.sampled_from(FUZZED_OIDS), data=_prefixes())
def test_binary_decoders_return_a_value_or_raise_data_error(oid: int, data: bytes) -> None:
    decode = REGISTRY.decoder(oid, BINARY)
    with contextlib.suppress(DataError):
        decode(data)


@settings(max_examples=200)
@given(oid=st.sampled_from(FUZZED_OIDS), data=st.binary(max_size=40))
def test_text_decoders_return_a_value_or_raise_data_error(oid: int, data: bytes) -> None:
    # The row decoder turns any of these into a DataError naming the column.
    with contextlib.suppress(DataError, ValueError):
        REGISTRY.decoder(oid, TEXT)(data)


@settings(max_examples=200)
@given(data=st.binary(max_size=60))
def test_hstore_decoder_returns_a_value_or_raises_data_error(data: bytes) -> None:
    with contextlib.suppress(DataError):
        composite.decode_hstore_binary(data)


def encode(oid: int, value: Any) -> bytes:
    fmt, encoder = REGISTRY.encoder(oid)
    assert fmt == BINARY
    return encoder(value)


def roundtrip(oid: int, value: Any) -> Any:
    return REGISTRY.decoder(oid, BINARY)(encode(oid, value))


def test_int4_array_matches_postgres_binary_format() -> None:
    # SELECT array_send('{{1,NULL},{3,4}}'::int[])
    expected = (
        "00000002000000010000001700000002000000010000000200000001"
        "0000000400000001ffffffff000000040000000300000004000000 04"
    ).replace(" ", "")
    assert encode(1007, [[1, None], [3, 4]]).hex() == expected
    assert roundtrip(1007, [[1, None], [3, 4]]) == [[1, None], [3, 4]]


@given(st.lists(st.integers(-(2**63), 2**63 - 1)), st.integers(-3, 3))
def test_int8_arrays_round_trip_in_bulk_with_lower_bounds(values: list[int], lower: int) -> None:
    value = Array(values, lower_bounds=(lower,)) if lower != 1 else values
    back = roundtrip(1016, value)
    assert back == values
    if values and lower != 1:
        assert isinstance(back, Array) and back.lower_bounds == (lower,)


def test_bulk_array_decoding_checks_element_lengths() -> None:
    data = bytearray(encode(1007, [1, 2]))
    data[-8:-4] = struct.pack("!i", 3)
    with pytest.raises(DataError, match="length"):
        REGISTRY.decoder(1007, BINARY)(bytes(data))


def test_array_decoder_refuses_another_element_type() -> None:
    data = encode(1016, [1])
    with pytest.raises(DataError, match="element oid 20, expected 23"):
        REGISTRY.decoder(1007, BINARY)(data)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1], [2, 3]], "ragged"),
        ([[1], 2], "ragged"),
        ([1, [2]], "ragged"),
        ([[[[[[[1]]]]]]], "at most 6"),
        ((1, 2), "expected a list"),
        (["x"], "element 0"),
        (Array([1], lower_bounds=(1, 2)), "lower_bounds"),
    ],
)
def test_array_encoder_refuses_what_is_not_an_array(value: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        encode(1007, value)


def test_empty_nested_lists_are_the_empty_array() -> None:
    assert roundtrip(1007, [[], []]) == [] and roundtrip(1007, []) == []


def test_text_arrays_quote_what_needs_quoting() -> None:
    registry = TypeRegistry()
    registry.register_array(99999, 98765, "thing[]")  # element without codecs: text format
    fmt, encoder = registry.encoder(99999)
    assert fmt == TEXT
    assert encoder(["a b", None, "NULL", "", 'q"\\', "x"]) == b'{"a b",NULL,"NULL","","q\\"\\\\",x}'
    assert registry.decoder(99999, TEXT)(b'{"a b",NULL,"NULL","","q\\"\\\\",x}') == [
        "a b", None, "NULL", "", 'q"\\', "x"
    ]  # fmt: skip
    assert encoder(Array([[1, 2]], lower_bounds=(0, 5))) == b"[0:0][5:6]={{1,2}}"


@pytest.mark.parametrize("text", [b"{1,2", b"{1,,2}", b"1,2}", b'{"a}', b"{1}}", b"[1:2={1}"])
def test_array_text_decoder_refuses_malformed_text(text: bytes) -> None:
    with pytest.raises(DataError, match="invalid array text"):
        REGISTRY.decoder(1007, TEXT)(text)


def test_range_normalizes_infinite_bounds_and_refuses_bad_ones() -> None:
    assert Range(None, 5, "[]") == Range(None, 5, "(]")
    assert Range(empty=True).bounds == "()" and Range(1, 2).lower_inc and not Range(1, 2).upper_inc
    with pytest.raises(ValueError):
        Range(1, 2, "[[")
    with pytest.raises(ValueError):
        Range(1, 2, empty=True)


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        (oids.INT4RANGE, Range(1, 5)),
        (oids.INT4RANGE, Range(empty=True)),
        (oids.NUMRANGE, Range(None, Decimal("1.5"), "(]")),
        (oids.INT8MULTIRANGE, Multirange([Range(1, 2), Range(3, None)])),
        (oids.INET, ipaddress.ip_address("::1")),
        (oids.INET, ipaddress.ip_interface("10.1.2.3/16")),
        (oids.CIDR, ipaddress.ip_network("10.1.0.0/16")),
        (oids.MACADDR, "08:00:2b:01:02:03"),
        (oids.MACADDR8, "08:00:2b:ff:fe:01:02:03"),
        (oids.BIT, "101"),
        (oids.VARBIT, "1" * 17),
        (oids.MONEY, Decimal("-92233720368547758.08")),
        (oids.POINT, Point(1.5, -2.0)),
        (oids.LINE, Line(1.0, 2.0, 3.0)),
        (oids.LSEG, LineSegment(Point(0, 0), Point(1, 1))),
        (oids.BOX, Box(Point(1, 1), Point(0, 0))),
        (oids.PATH, Path((Point(0, 0), Point(1, 1)), closed=True)),
        (oids.POLYGON, Polygon((Point(0, 0), Point(1, 1), Point(1, 0)))),
        (oids.CIRCLE, Circle(Point(0, 0), 2.5)),
        (70000, (1, "x")),
        (70001, [(1, None), None]),
        (70002, Range(1, 3)),
        (70003, "happy"),
    ],
)
def test_new_types_round_trip_in_binary(oid: int, value: Any) -> None:
    assert roundtrip(oid, value) == value


@pytest.mark.parametrize(
    ("oid", "value", "message"),
    [
        (oids.INT4RANGE, (1, 5), "expected pgwire.types.Range"),
        (oids.INT4RANGE, Range(1, "x"), "int4range upper bound"),
        (oids.INT4MULTIRANGE, Range(1, 2), "expected a list"),
        (oids.INET, "not an address", "invalid inet"),
        (oids.INET, 167772161, "cannot encode int as inet"),
        (oids.CIDR, "10.0.0.1/8", "host bits|no bits set"),
        (oids.MACADDR, "08:00:2b", "expected 6"),
        (oids.MACADDR, "zz:00:2b:01:02:03", "hex digits"),
        (oids.BIT, "102", "only '0' and '1'"),
        (oids.BIT, 5, "cannot encode int as bit"),
        (oids.MONEY, Decimal("1.001"), "more than 2 decimal places"),
        (oids.MONEY, Decimal("1e30"), "out of range"),
        (oids.MONEY, True, "cannot encode bool"),
        (oids.POINT, (1, "x"), "Point"),
        (oids.LINE, Line(0, 0, 1), "cannot both be zero"),
        (oids.CIRCLE, Circle(Point(0, 0), -1), "negative radius"),
        (oids.PATH, Path(()), "at least one point"),
        (70000, (1,), "1 values as pair, which has 2 fields"),
        (70000, {"c": 1}, "no field"),
        (70000, (1, 2), "pair field 'b'"),
        (70003, 1, "cannot encode int as mood"),
        (oids.RECORD, (1,), "anonymous record"),
    ],
)
def test_encoders_refuse_what_they_cannot_encode(oid: int, value: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        REGISTRY.encoder(oid)[1](value)


@pytest.mark.parametrize(
    ("oid", "text", "value"),
    [
        (oids.MONEY, b"$1,234.50", Decimal("1234.50")),
        (oids.MONEY, b"-$0.05", Decimal("-0.05")),
        (oids.MONEY, b"1.234,50 \xe2\x82\xac", Decimal("1234.50")),
        (oids.INT4RANGE, b"empty", Range(empty=True)),
        (
            oids.TSTZRANGE,
            b'["2024-01-01 00:00:00+00",)',
            Range(REGISTRY.decoder(1184, 0)(b"2024-01-01 00:00:00+00"), None),
        ),
        (oids.INT4MULTIRANGE, b"{[1,3), [5,7)}", [Range(1, 3), Range(5, 7)]),
        (70000, b'(1,"a ""b"" \\\\ c")', (1, 'a "b" \\ c')),
        (70000, b"(,)", (None, None)),
        (oids.RECORD, b'(1,"",)', ("1", "", None)),
        (oids.PATH, b"((0,0),(1,1))", Path((Point(0, 0), Point(1, 1)), closed=True)),
        (oids.LINE, b"{1,-Infinity,NaN}", None),
    ],
)
def test_text_decoders_read_postgres_output(oid: int, text: bytes, value: Any) -> None:
    decoded = REGISTRY.decoder(oid, TEXT)(text)
    if value is not None:
        assert decoded == value


def test_hstore_text_and_binary_agree() -> None:
    value = {"a": "1", "b": None, 'c"d': "e\\f"}
    assert composite.decode_hstore_binary(composite.encode_hstore(value)) == value
    assert composite.decode_hstore_text(b'"a"=>"1", "b"=>NULL, "c\\"d"=>"e\\\\f"') == value
    with pytest.raises(DataError):
        composite.encode_hstore({"a": 1})


def test_derived_codecs_follow_the_element_codecs_registered_later() -> None:
    registry = default_registry()
    before = registry.decoder(1007, BINARY)
    registry.register(oids.INT4, "int4", binary_decoder=lambda data: "custom")
    data = encode(1007, [1])
    assert before(data) == [1]
    assert registry.decoder(1007, BINARY)(data) == ["custom"]


def test_unknown_returns_only_unseen_non_builtin_oids() -> None:
    registry = default_registry()
    assert registry.unknown([23, 142, 0, 70000, 70001]) == {70000, 70001}
    registry.mark_introspected([70000])
    registry.register_enum(70001, "e")
    assert registry.unknown([70000, 70001, 70002]) == {70002}
    copied = registry.copy()
    assert copied.unknown([70000, 70002]) == {70002}


def test_register_array_refuses_a_long_delimiter() -> None:
    with pytest.raises(InterfaceError):
        TypeRegistry().register_array(1, 2, delimiter=",,")
