"""pgwire.types: the built-in codecs and the registry, without a server.

Byte vectors were taken from PostgreSQL 18 (``select int4send(70000)`` and friends) and text
vectors from its default output (DateStyle ISO, IntervalStyle postgres). Real-server cross
checks of every codec live with the driver tests.
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwire.errors import DataError, InterfaceError
from pgwire.types import (
    BINARY,
    INFINITY,
    NEG_INFINITY,
    TEXT,
    Interval,
    StructDecoder,
    TypeRegistry,
    default_registry,
    encode_unknown,
    oids,
)
from pgwire.types.datetimes import format_interval

REGISTRY = default_registry()
UTC = timezone.utc


def encode(oid: int, value: Any) -> bytes:
    fmt, encoder = REGISTRY.encoder(oid)
    assert fmt == BINARY
    return encoder(value)


def decode(oid: int, data: bytes, fmt: int = BINARY) -> Any:
    return REGISTRY.decoder(oid, fmt)(data)


def roundtrip(oid: int, value: Any) -> Any:
    return decode(oid, encode(oid, value))


# Known binary vectors: (oid, Python value, bytes from PostgreSQL's *send function).
BINARY_VECTORS = [
    (oids.BOOL, True, "01"),
    (oids.BOOL, False, "00"),
    (oids.INT2, -2, "fffe"),
    (oids.INT4, 70000, "00011170"),
    (oids.INT8, -1, "ffffffffffffffff"),
    (oids.OID, 4294967295, "ffffffff"),
    (oids.FLOAT4, 1.5, "3fc00000"),
    (oids.FLOAT8, 1.5, "3ff8000000000000"),
    (oids.FLOAT8, -math.inf, "fff0000000000000"),
    (oids.NUMERIC, Decimal("12345.678"), "0003000100000003000109291a7c"),
    (oids.NUMERIC, Decimal("-12345.678"), "0003000140000003000109291a7c"),
    (oids.NUMERIC, Decimal("0.0001"), "0001ffff000000040001"),
    (oids.NUMERIC, Decimal("100000000"), "00010002000000000001"),
    (oids.NUMERIC, Decimal("0.00"), "0000000000000002"),
    (oids.NUMERIC, Decimal("-5000"), "00010000400000001388"),
    (oids.NUMERIC, Decimal("1E-20"), "0001fffb000000140001"),
    (oids.TEXT, "héllo", "68c3a96c6c6f"),
    (oids.VARCHAR, "héllo", "68c3a96c6c6f"),
    (oids.CHAR, "a", "61"),
    (oids.CHAR, "", "00"),
    (oids.BYTEA, b"\x01\x02", "0102"),
    (
        oids.UUID,
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
    ),
    (oids.DATE, date(2000, 1, 1), "00000000"),
    (oids.DATE, date(1999, 12, 31), "ffffffff"),
    (oids.DATE, date(2024, 2, 29), "00002279"),
    (oids.TIMESTAMP, datetime(2000, 1, 1, 0, 0, 1), "00000000000f4240"),
    (oids.TIMESTAMP, datetime(2024, 1, 2, 3, 4, 5, 123456), "0002b0ec8517d580"),
    (oids.TIMESTAMPTZ, datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "0002b0ec8517d580"),
    (oids.TIME, time(1), "00000000d693a400"),
    (
        oids.TIMETZ,
        time(1, tzinfo=timezone(timedelta(hours=2))),
        "00000000d693a400ffffe3e0",
    ),
    (
        oids.TIMETZ,
        time(1, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        "00000000d693a40000004d58",
    ),
    (
        oids.INTERVAL,
        Interval(months=14, days=3, microseconds=14_706_789_000),
        "000000036c97ca88000000030000000e",
    ),
]

# Binary values PostgreSQL sends that decode, but that pgwire encodes in another valid form.
BINARY_DECODE_ONLY = [
    (oids.FLOAT8, math.nan, "7ff8000000000000"),
    (oids.NUMERIC, Decimal("NaN"), "00000000c0000000"),
    (oids.NUMERIC, Decimal("Infinity"), "00000000d0000020"),
    (oids.NUMERIC, Decimal("-Infinity"), "00000000f0000020"),
    (oids.JSON, {"a": [1, True]}, "7b2261223a205b312c20747275655d7d"),
    (oids.JSONB, {"a": [1, True]}, "017b2261223a205b312c20747275655d7d"),
    (
        oids.INTERVAL,
        timedelta(days=-1, hours=2, minutes=3, seconds=4),
        "00000001b81ee600ffffffff00000000",
    ),
    (
        oids.TIMESTAMPTZ,
        datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "0002b0ec8517d580",
    ),
]


def same(left: Any, right: Any) -> bool:
    """Equality that also requires the same type, and lets NaN equal NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, Decimal) and left.is_nan():
        return isinstance(right, Decimal) and right.is_nan()
    return type(left) is type(right) and left == right


@pytest.mark.parametrize(("oid", "value", "hexdata"), BINARY_VECTORS)
def test_encoder_produces_postgres_binary_format(oid: int, value: Any, hexdata: str) -> None:
    assert encode(oid, value).hex() == hexdata


@pytest.mark.parametrize(("oid", "value", "hexdata"), BINARY_VECTORS + BINARY_DECODE_ONLY)
def test_binary_decoder_reads_postgres_binary_format(oid: int, value: Any, hexdata: str) -> None:
    assert same(decode(oid, bytes.fromhex(hexdata)), value)


def test_numeric_vector_has_the_documented_layout() -> None:
    data = encode(oids.NUMERIC, Decimal("12345.678"))
    # ndigits=3 weight=1 sign=0 dscale=3 digits [1, 2345, 6780]
    assert struct.unpack("!HhHH3H", data) == (3, 1, 0, 3, 1, 2345, 6780)


# Text format: PostgreSQL's default output -> Python value.
TEXT_VECTORS = [
    (oids.BOOL, b"t", True),
    (oids.BOOL, b"f", False),
    (oids.INT2, b"-32768", -32768),
    (oids.INT4, b"70000", 70000),
    (oids.INT8, b"9223372036854775807", 2**63 - 1),
    (oids.OID, b"4294967295", 4294967295),
    (oids.FLOAT4, b"1.5", 1.5),
    (oids.FLOAT8, b"-Infinity", -math.inf),
    (oids.FLOAT8, b"NaN", math.nan),
    (oids.FLOAT8, b"1e+300", 1e300),
    (oids.NUMERIC, b"12345.678", Decimal("12345.678")),
    (oids.NUMERIC, b"-0.00", Decimal("-0.00")),
    (oids.NUMERIC, b"NaN", Decimal("NaN")),
    (oids.NUMERIC, b"-Infinity", Decimal("-Infinity")),
    (oids.TEXT, "héllo".encode(), "héllo"),
    (oids.BPCHAR, b"ab   ", "ab   "),
    (oids.NAME, b"pg_type", "pg_type"),
    (oids.UNKNOWN, b"x", "x"),
    (oids.CHAR, b"a", "a"),
    (oids.CHAR, b"", ""),
    (oids.CHAR, b"\\303", "\xc3"),
    (oids.BYTEA, b"\\x0102", b"\x01\x02"),
    (oids.BYTEA, b"\\x", b""),
    (oids.BYTEA, b"\\000\\001\\\\A\\377", b"\x00\x01\\A\xff"),
    (
        oids.UUID,
        b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ),
    (oids.JSON, b'{"a": [1, true, null]}', {"a": [1, True, None]}),
    (oids.JSONB, b'{"a": "\\u2603"}', {"a": "\u2603"}),
    (oids.DATE, b"2024-01-02", date(2024, 1, 2)),
    (oids.DATE, b"0044-03-15", date(44, 3, 15)),
    (oids.TIME, b"03:04:05", time(3, 4, 5)),
    (oids.TIME, b"03:04:05.12", time(3, 4, 5, 120000)),
    (oids.TIMETZ, b"01:02:03.5+05:30", time(1, 2, 3, 500000, timezone(timedelta(hours=5.5)))),
    (oids.TIMETZ, b"01:02:03-08", time(1, 2, 3, tzinfo=timezone(timedelta(hours=-8)))),
    (oids.TIMESTAMP, b"2024-01-02 03:04:05.12", datetime(2024, 1, 2, 3, 4, 5, 120000)),
    (oids.TIMESTAMP, b"2024-01-02 03:04:05", datetime(2024, 1, 2, 3, 4, 5)),
    (
        oids.TIMESTAMPTZ,
        b"2024-01-02 03:04:05.123456+00",
        datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    ),
    (
        oids.TIMESTAMPTZ,
        b"2024-01-02 04:04:05.123456+01",
        datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    ),
    (oids.TIMESTAMPTZ, b"0044-03-15 03:17:30+00:17:30", datetime(44, 3, 15, 3, tzinfo=UTC)),
    (oids.INTERVAL, b"1 day 02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    (oids.INTERVAL, b"-1 days +02:03:04", timedelta(days=-1, hours=2, minutes=3, seconds=4)),
    (oids.INTERVAL, b"-00:00:00.000001", timedelta(microseconds=-1)),
    (oids.INTERVAL, b"00:00:00", timedelta(0)),
    (oids.INTERVAL, b"100000:00:00", timedelta(hours=100000)),
    (oids.INTERVAL, b"-3 days", timedelta(days=-3)),
    (
        oids.INTERVAL,
        b"1 year 2 mons -3 days -04:05:06.5",
        Interval(months=14, days=-3, microseconds=-14_706_500_000),
    ),
    (oids.INTERVAL, b"-2 years", Interval(months=-24)),
    (oids.INTERVAL, b"1 mon", Interval(months=1)),
]


@pytest.mark.parametrize(("oid", "data", "value"), TEXT_VECTORS)
def test_text_decoder_reads_postgres_output(oid: int, data: bytes, value: Any) -> None:
    result = decode(oid, data, TEXT)
    assert same(result, value)
    if isinstance(value, (datetime, time)) and value.tzinfo is not None:
        assert result.utcoffset() == value.utcoffset()


def test_every_builtin_type_has_text_and_binary_codecs() -> None:
    names = "BOOL INT2 INT4 INT8 OID FLOAT4 FLOAT8 NUMERIC TEXT VARCHAR BPCHAR NAME CHAR UNKNOWN"
    names += " BYTEA UUID JSON JSONB DATE TIME TIMETZ TIMESTAMP TIMESTAMPTZ INTERVAL"
    for name in names.split():
        oid = getattr(oids, name)
        assert REGISTRY.has_binary(oid), name
        assert REGISTRY.encoder(oid)[0] == BINARY, name
        assert REGISTRY.type_name(oid) != f"oid {oid}", name


# bool and integers


def test_bool_encoder_refuses_ints() -> None:
    with pytest.raises(DataError, match="cannot encode int as bool"):
        encode(oids.BOOL, 1)


def test_bool_text_decoder_refuses_other_spellings() -> None:
    with pytest.raises(DataError, match="invalid bool text"):
        decode(oids.BOOL, b"true", TEXT)


@pytest.mark.parametrize(
    ("oid", "bits"), [(oids.INT2, 16), (oids.INT4, 32), (oids.INT8, 64), (oids.OID, 33)]
)
@given(data=st.data())
def test_integers_roundtrip(oid: int, bits: int, data: st.DataObject) -> None:
    low, high = (0, 2**32 - 1) if oid == oids.OID else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    value = data.draw(st.integers(low, high))
    assert same(roundtrip(oid, value), value)
    assert same(decode(oid, str(value).encode(), TEXT), value)


@pytest.mark.parametrize(
    ("oid", "value", "message"),
    [
        (oids.INT2, 70000, "value 70000 out of range for int2 (-32768 to 32767)"),
        (oids.INT2, -32769, "value -32769 out of range for int2"),
        (oids.INT4, 2**31, "out of range for int4"),
        (oids.INT8, -(2**63) - 1, "out of range for int8"),
        (oids.OID, -1, "value -1 out of range for oid (0 to 4294967295)"),
    ],
)
def test_integer_encoders_refuse_out_of_range(oid: int, value: int, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        encode(oid, value)


@pytest.mark.parametrize("value", [True, 1.0, "1", Decimal(1), b"1"])
def test_integer_encoders_refuse_non_ints(value: Any) -> None:
    with pytest.raises(DataError, match=f"cannot encode {type(value).__name__} as int4"):
        encode(oids.INT4, value)


def test_integer_encoders_accept_int_like_objects() -> None:
    class Index:
        def __index__(self) -> int:
            return 7

    assert encode(oids.INT8, Index()) == struct.pack("!q", 7)


# floats


@given(st.floats())
def test_float8_roundtrips_every_float(value: float) -> None:
    assert same(roundtrip(oids.FLOAT8, value), value)
    assert same(decode(oids.FLOAT8, repr(value).encode(), TEXT), value)


@given(st.floats(width=32))
def test_float4_roundtrips_single_precision_floats(value: float) -> None:
    assert same(roundtrip(oids.FLOAT4, value), value)


def test_float_encoders_accept_ints() -> None:
    assert roundtrip(oids.FLOAT8, 3) == 3.0


def test_float4_encoder_refuses_out_of_range() -> None:
    with pytest.raises(DataError, match="out of range for float4"):
        encode(oids.FLOAT4, 1e300)


def test_float_encoders_refuse_bool_and_decimal() -> None:
    with pytest.raises(DataError, match="cannot encode bool as float8"):
        encode(oids.FLOAT8, True)
    with pytest.raises(DataError, match="cannot encode Decimal as float4"):
        encode(oids.FLOAT4, Decimal("1.5"))


# numeric


def decimals_in_postgres_range() -> st.SearchStrategy[Decimal]:
    digits = st.lists(st.integers(0, 9), min_size=1, max_size=60)
    return st.builds(
        lambda sign, ds, exponent: Decimal((sign, tuple(ds), exponent)),
        st.integers(0, 1),
        digits,
        st.integers(-16383, 1000),
    )


@given(decimals_in_postgres_range())
def test_numeric_roundtrips_decimals_and_keeps_their_scale(value: Decimal) -> None:
    result = roundtrip(oids.NUMERIC, value)
    assert result == value
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    assert result.as_tuple().exponent == min(exponent, 0)
    assert decode(oids.NUMERIC, str(result).encode(), TEXT) == value


@given(st.integers())
def test_numeric_roundtrips_ints(value: int) -> None:
    result = roundtrip(oids.NUMERIC, value)
    assert result == value
    assert result.as_tuple().exponent == 0


@given(st.floats())
def test_numeric_encodes_floats_by_their_shortest_repr(value: float) -> None:
    assert same(roundtrip(oids.NUMERIC, value), Decimal(repr(value)))


@pytest.mark.parametrize(
    "text",
    ["0", "-0", "-0.000", "1E+5", "-5E+3", "1" + "0" * 5000, "9" * 131072, "0." + "1" * 16383],
)
def test_numeric_roundtrips_edge_values(text: str) -> None:
    assert roundtrip(oids.NUMERIC, Decimal(text)) == Decimal(text)


def test_numeric_roundtrips_ints_too_long_for_str() -> None:
    value = -(10**5000) - 1
    assert roundtrip(oids.NUMERIC, value) == value


def test_numeric_huge_exponent_stays_compact() -> None:
    data = encode(oids.NUMERIC, Decimal("1E+131071"))
    assert struct.unpack("!HhHHH", data) == (1, 32767, 0, 0, 1000)
    assert decode(oids.NUMERIC, data) == Decimal("1E+131071")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_numeric_special_values_roundtrip(text: str) -> None:
    assert same(roundtrip(oids.NUMERIC, Decimal(text)), Decimal(text))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("1E+131072"), "too large for PostgreSQL"),
        (Decimal("1E-16384"), "16384 digits after the decimal point"),
        (Decimal("sNaN"), "signaling NaN"),
        (True, "cannot encode bool as numeric"),
        ("1.5", "cannot encode str as numeric"),
    ],
)
def test_numeric_encoder_refuses_what_postgres_cannot_hold(value: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        encode(oids.NUMERIC, value)


def test_numeric_decoder_refuses_unknown_sign() -> None:
    with pytest.raises(DataError, match="invalid sign 0x1234"):
        decode(oids.NUMERIC, bytes.fromhex("0000000012340000"))


# text-like types

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))


@pytest.mark.parametrize("oid", [oids.TEXT, oids.VARCHAR, oids.BPCHAR, oids.NAME, oids.UNKNOWN])
@given(value=texts)
def test_text_types_roundtrip_as_utf8(oid: int, value: str) -> None:
    assert encode(oid, value) == value.encode()
    assert roundtrip(oid, value) == value
    assert decode(oid, value.encode(), TEXT) == value


def test_text_encoder_refuses_nul() -> None:
    with pytest.raises(DataError, match="NUL"):
        encode(oids.TEXT, "a\x00b")


def test_text_encoder_refuses_lone_surrogates() -> None:
    with pytest.raises(DataError, match="UTF-8"):
        encode(oids.TEXT, "\ud800")


def test_text_encoder_refuses_bytes() -> None:
    with pytest.raises(DataError, match="cannot encode bytes as text: expected str"):
        encode(oids.TEXT, b"abc")


@given(st.integers(0, 255))
def test_char_roundtrips_one_byte(code: int) -> None:
    value = "" if code == 0 else chr(code)
    assert roundtrip(oids.CHAR, value) == value
    text = f"\\{code:03o}".encode() if code >= 0x80 else value.encode()
    assert decode(oids.CHAR, text, TEXT) == value


def test_char_encoder_refuses_longer_strings() -> None:
    with pytest.raises(DataError, match='"char" holds one byte'):
        encode(oids.CHAR, "ab")


# bytea


@given(st.binary())
def test_bytea_roundtrips(value: bytes) -> None:
    assert roundtrip(oids.BYTEA, value) == value
    assert decode(oids.BYTEA, b"\\x" + value.hex().encode(), TEXT) == value


def test_bytea_encoder_accepts_bytes_like_objects() -> None:
    assert encode(oids.BYTEA, bytearray(b"ab")) == b"ab"
    assert encode(oids.BYTEA, memoryview(b"abc")[1:]) == b"bc"


def test_bytea_encoder_refuses_str() -> None:
    with pytest.raises(DataError, match="cannot encode str as bytea"):
        encode(oids.BYTEA, "abc")


# uuid


@given(st.uuids())
def test_uuid_roundtrips(value: uuid.UUID) -> None:
    result = roundtrip(oids.UUID, value)
    assert same(result, value)
    assert hash(result) == hash(value) and str(result) == str(value)
    assert decode(oids.UUID, str(value).encode(), TEXT) == value


def test_uuid_encoder_accepts_strings() -> None:
    text = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert encode(oids.UUID, text) == uuid.UUID(text).bytes


def test_uuid_encoder_refuses_invalid_strings() -> None:
    with pytest.raises(DataError, match="invalid uuid string"):
        encode(oids.UUID, "not-a-uuid")


def test_uuid_decoder_refuses_wrong_length() -> None:
    with pytest.raises(DataError, match="expected 16 bytes, got 3"):
        decode(oids.UUID, b"abc")


# json and jsonb

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children) | st.dictionaries(texts, children),
    max_leaves=20,
)


@pytest.mark.parametrize("oid", [oids.JSON, oids.JSONB])
@given(value=json_values)
def test_json_types_roundtrip(oid: int, value: Any) -> None:
    assert roundtrip(oid, value) == value


def test_json_encoder_sends_str_as_a_json_string() -> None:
    assert encode(oids.JSON, "abc") == b'"abc"'
    assert encode(oids.JSONB, "abc") == b'\x01"abc"'


def test_json_encoder_writes_compact_utf8() -> None:
    assert encode(oids.JSON, {"a": ["☃", 1]}) == '{"a":["☃",1]}'.encode()


@pytest.mark.parametrize(("value", "message"), [(math.nan, "Out of range float"), (object(), "")])
def test_json_encoder_refuses_what_json_cannot_hold(value: Any, message: str) -> None:
    with pytest.raises(DataError, match=f"cannot encode {type(value).__name__} as json: {message}"):
        encode(oids.JSONB, value)


def test_jsonb_decoder_refuses_unknown_version() -> None:
    with pytest.raises(DataError, match="unsupported jsonb binary format version"):
        decode(oids.JSONB, b"\x02{}")


def test_set_json_replaces_loads_and_dumps() -> None:
    registry = default_registry()
    registry.set_json(loads=lambda data: ("loaded", bytes(data)))
    registry.set_json(dumps=lambda value: json.dumps(value).encode())  # bytes are fine too
    assert registry.decoder(oids.JSONB, BINARY)(b"\x01[1]") == ("loaded", b"[1]")
    assert registry.decoder(oids.JSON, TEXT)(b"[1]") == ("loaded", b"[1]")
    assert registry.encoder(oids.JSONB)[1]([1, 2]) == b"\x01[1, 2]"
    assert REGISTRY.decoder(oids.JSON, TEXT)(b"[1]") == [1]  # other registries unchanged


# date


@given(st.dates())
def test_date_roundtrips(value: date) -> None:
    assert same(roundtrip(oids.DATE, value), value)
    assert same(decode(oids.DATE, value.isoformat().encode(), TEXT), value)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("002d2482", r"2958466 days from 2000-01-01 \(outside years 1-9999\)"),
        ("7ffffffe", r"2147483646 days from 2000-01-01 \(outside years 1-9999\)"),
    ],
)
def test_date_decoder_refuses_unrepresentable_dates(data: str, what: str) -> None:
    with pytest.raises(DataError, match=f"date value {what}.*col::text"):
        decode(oids.DATE, bytes.fromhex(data))


@pytest.mark.parametrize("oid", [oids.DATE, oids.TIMESTAMP, oids.TIMESTAMPTZ, oids.INTERVAL])
def test_infinity_decodes_to_the_sentinels_and_back(oid: int) -> None:
    for sentinel, text in ((INFINITY, b"infinity"), (NEG_INFINITY, b"-infinity")):
        assert roundtrip(oid, sentinel) is sentinel
        assert decode(oid, text, TEXT) is sentinel


def test_infinity_sentinels_order_around_dates_and_times() -> None:
    values = [INFINITY, datetime(2024, 1, 1), NEG_INFINITY, datetime(1, 1, 1)]
    assert sorted(values) == [NEG_INFINITY, datetime(1, 1, 1), datetime(2024, 1, 1), INFINITY]
    assert date.min > NEG_INFINITY and timedelta.max < INFINITY and INFINITY > NEG_INFINITY
    assert datetime.max != INFINITY and INFINITY == INFINITY and str(NEG_INFINITY) == "-infinity"
    with pytest.raises(TypeError):
        assert INFINITY < 1


@pytest.mark.parametrize("text", [b"10000-01-01", b"0044-03-15 BC"])
def test_date_text_decoder_refuses_unrepresentable_dates(text: bytes) -> None:
    with pytest.raises(DataError, match="cannot be represented in Python"):
        decode(oids.DATE, text, TEXT)


def test_date_encoder_refuses_datetimes() -> None:
    with pytest.raises(DataError, match=r"drop the time of day; pass value.date\(\)"):
        encode(oids.DATE, datetime(2024, 1, 2, 3))


# timestamp and timestamptz

offsets = st.integers(-86399, 86399).map(lambda s: timezone(timedelta(seconds=s)))


@given(st.datetimes())
def test_timestamp_roundtrips_naive_datetimes(value: datetime) -> None:
    assert same(roundtrip(oids.TIMESTAMP, value), value)
    assert same(decode(oids.TIMESTAMP, value.isoformat(" ").encode(), TEXT), value)


@given(st.datetimes(timezones=offsets))
def test_timestamptz_roundtrips_aware_datetimes_as_utc(value: datetime) -> None:
    try:
        expected = value.astimezone(UTC)
    except OverflowError:
        return  # its UTC instant is outside years 1-9999
    result = roundtrip(oids.TIMESTAMPTZ, value)
    assert result == value and result.tzinfo is UTC
    assert result.replace(tzinfo=None) == expected.replace(tzinfo=None)


@given(st.datetimes())
def test_timestamptz_takes_naive_datetimes_as_utc(value: datetime) -> None:
    assert roundtrip(oids.TIMESTAMPTZ, value) == value.replace(tzinfo=UTC)


@given(st.datetimes(timezones=st.none() | st.just(UTC) | offsets))
def test_timestamp_encoders_count_microseconds_from_2000(value: datetime) -> None:
    # The fast paths (naive, and timezone.utc itself) against the plain arithmetic.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - datetime(2000, 1, 1, tzinfo=UTC)
    micro = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert encode(oids.TIMESTAMPTZ, value) == struct.pack("!q", micro)
    if value.tzinfo is None:
        assert encode(oids.TIMESTAMP, value) == struct.pack("!q", micro)


def test_timestamp_encoders_take_dates_as_midnight() -> None:
    assert roundtrip(oids.TIMESTAMP, date(2024, 1, 2)) == datetime(2024, 1, 2)
    assert roundtrip(oids.TIMESTAMPTZ, date(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)


def test_timestamp_encoder_refuses_aware_datetimes() -> None:
    with pytest.raises(DataError, match="aware datetime as timestamp"):
        encode(oids.TIMESTAMP, datetime(2024, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize("oid", [oids.TIMESTAMP, oids.TIMESTAMPTZ])
@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("7ffffffffffffffe", r"\d+ microseconds from 2000-01-01 \(outside years 1-9999\)"),
        ("0400000000000000", r"\d+ microseconds from 2000-01-01 \(outside years 1-9999\)"),
    ],
)
def test_timestamp_decoders_refuse_unrepresentable_values(oid: int, data: str, what: str) -> None:
    with pytest.raises(DataError, match=f"value {what} cannot be represented in Python"):
        decode(oid, bytes.fromhex(data))


@pytest.mark.parametrize("oid", [oids.TIMESTAMP, oids.TIMESTAMPTZ])
@pytest.mark.parametrize(
    "text",
    [b"10000-01-01 00:00:00", b"0044-03-15 03:00:00 BC"],
)
def test_timestamp_text_decoders_refuse_unrepresentable_values(oid: int, text: bytes) -> None:
    with pytest.raises(DataError, match="cannot be represented in Python"):
        decode(oid, text, TEXT)


def test_timestamp_text_decoder_names_the_expected_datestyle() -> None:
    with pytest.raises(DataError, match="DateStyle=ISO"):
        decode(oids.TIMESTAMP, b"Tue Jan 02 03:04:05 2024", TEXT)


def test_timestamptz_text_decoder_requires_an_offset() -> None:
    with pytest.raises(DataError, match="invalid timestamptz text"):
        decode(oids.TIMESTAMPTZ, b"2024-01-02 03:04:05", TEXT)


# time and timetz


@given(st.times())
def test_time_roundtrips(value: time) -> None:
    assert same(roundtrip(oids.TIME, value), value)
    assert same(decode(oids.TIME, value.isoformat().encode(), TEXT), value)


whole_second_offsets = st.integers(-57599, 57599).map(
    lambda s: timezone(timedelta(seconds=s)) if s else UTC
)


@given(st.times(timezones=whole_second_offsets))
def test_timetz_roundtrips_with_its_offset(value: time) -> None:
    result = roundtrip(oids.TIMETZ, value)
    assert result == value and result.utcoffset() == value.utcoffset()


def test_timetz_takes_naive_times_as_utc() -> None:
    assert roundtrip(oids.TIMETZ, time(1, 2)) == time(1, 2, tzinfo=UTC)


def test_time_encoder_refuses_aware_times() -> None:
    with pytest.raises(DataError, match="aware time as time"):
        encode(oids.TIME, time(1, tzinfo=UTC))


def test_timetz_encoder_refuses_offsets_postgres_cannot_hold() -> None:
    with pytest.raises(DataError, match="whole seconds under 16 hours"):
        encode(oids.TIMETZ, time(1, tzinfo=timezone(timedelta(hours=16))))
    with pytest.raises(DataError, match="whole seconds under 16 hours"):
        encode(oids.TIMETZ, time(1, tzinfo=timezone(timedelta(microseconds=1))))


def test_time_decoders_refuse_24_00() -> None:
    with pytest.raises(DataError, match="'24:00:00' cannot be represented"):
        decode(oids.TIME, bytes.fromhex("000000141dd76000"))
    with pytest.raises(DataError, match="'24:00:00' cannot be represented"):
        decode(oids.TIME, b"24:00:00", TEXT)


# interval


@given(st.timedeltas())
def test_interval_roundtrips_timedeltas(value: timedelta) -> None:
    assert same(roundtrip(oids.INTERVAL, value), value)


@given(
    st.builds(
        Interval,
        st.integers(-(2**31) + 1, 2**31 - 2).filter(bool),
        st.integers(-(2**31), 2**31 - 1),
        st.integers(-(2**63), 2**63 - 1),
    )
)
def test_interval_roundtrips_intervals_with_months(value: Interval) -> None:
    assert same(roundtrip(oids.INTERVAL, value), value)


@given(
    st.timedeltas()
    | st.builds(
        Interval,
        st.integers(-(10**6), 10**6),
        st.integers(-(10**6), 10**6),
        st.integers(-(10**15), 10**15),
    )
)
def test_interval_text_decoder_reads_format_interval_output(value: timedelta | Interval) -> None:
    # format_interval writes 'N mons N days H:MM:SS.ffffff', a subset of IntervalStyle postgres.
    text = format_interval(value).encode()
    text = text[len(b"0 mons ") :] if text.startswith(b"0 mons ") else text
    if isinstance(value, Interval) and value.months == 0:
        value = timedelta(value.days, 0, value.microseconds)
    assert decode(oids.INTERVAL, text, TEXT) == value


@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("000000000000000077359400" + "00000000", "of 2000000000 days"),
    ],
)
def test_interval_decoder_refuses_unrepresentable_values(data: str, what: str) -> None:
    with pytest.raises(DataError, match=f"interval value {what}"):
        decode(oids.INTERVAL, bytes.fromhex(data))


@pytest.mark.parametrize("text", [b"2000000000 days"])
def test_interval_text_decoder_refuses_unrepresentable_values(text: bytes) -> None:
    with pytest.raises(DataError, match="cannot be represented in Python"):
        decode(oids.INTERVAL, text, TEXT)


def test_interval_text_decoder_names_the_expected_intervalstyle() -> None:
    with pytest.raises(DataError, match="IntervalStyle=postgres"):
        decode(oids.INTERVAL, b"P1D", TEXT)


def test_interval_encoder_refuses_out_of_range_intervals() -> None:
    with pytest.raises(DataError, match="out of range for interval"):
        encode(oids.INTERVAL, Interval(months=2**31))


# the registry


def test_unknown_types_decode_to_str_or_bytes() -> None:
    assert REGISTRY.decoder(999999, TEXT)(b"caf\xc3\xa9") == "café"
    assert REGISTRY.decoder(999999, BINARY)(b"\x00\x01") == b"\x00\x01"
    assert not REGISTRY.has_binary(999999)


def test_decoder_refuses_unknown_format_codes() -> None:
    with pytest.raises(InterfaceError, match="invalid format code 2"):
        REGISTRY.decoder(oids.INT4, 2)


@pytest.mark.parametrize("oid", [0, 999999])
def test_unknown_parameter_types_are_sent_as_text(oid: int) -> None:
    assert REGISTRY.encoder(oid) == (TEXT, encode_unknown)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("héllo", "héllo"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (1.5, "1.5"),
        (math.inf, "inf"),
        (Decimal("1.50"), "1.50"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02 03:04:05+00:00"),
        (date(2024, 1, 2), "2024-01-02"),
        (time(3, 4, 5), "03:04:05"),
        (timedelta(days=-1, seconds=1), "0 mons -1 days 0:00:01.000000"),
        (Interval(1, 2, -3), "1 mons 2 days -0:00:00.000003"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_encode_unknown_writes_postgres_input_text(value: Any, text: str) -> None:
    assert encode_unknown(value) == text.encode()


@pytest.mark.parametrize(
    "value", [b"x", bytearray(b"x"), memoryview(b"x"), [1], (1,), {"a": 1}, {1}]
)
def test_encode_unknown_refuses_bytes_and_containers(value: Any) -> None:
    with pytest.raises(DataError, match="cast the parameter"):
        encode_unknown(value)


def test_register_replaces_only_the_codecs_given() -> None:
    registry = default_registry()
    _, builtin_encoder = registry.encoder(oids.TIMESTAMPTZ)
    registry.register(oids.TIMESTAMPTZ, "timestamptz", binary_decoder=lambda data: "custom")
    assert registry.decoder(oids.TIMESTAMPTZ, BINARY)(b"") == "custom"
    assert registry.encoder(oids.TIMESTAMPTZ) == (BINARY, builtin_encoder)
    assert REGISTRY.decoder(oids.TIMESTAMPTZ, BINARY) is not registry.decoder(
        oids.TIMESTAMPTZ, BINARY
    )


def test_register_a_text_only_type() -> None:
    registry = TypeRegistry()

    def encode_hstore(value: Any) -> bytes:
        return str(value).encode()

    registry.register(16385, "hstore", text_decoder=bytes.decode, text_encoder=encode_hstore)
    assert registry.encoder(16385) == (TEXT, encode_hstore)
    assert not registry.has_binary(16385)
    assert registry.type_name(16385) == "hstore"
    assert registry.type_name(16386) == "oid 16386"


def test_register_refuses_invalid_oids() -> None:
    with pytest.raises(InterfaceError, match="invalid type oid 0"):
        TypeRegistry().register(0, "zero")


def test_default_registry_returns_independent_registries() -> None:
    first, second = default_registry(), default_registry()
    first.register(oids.INT4, "int4", binary_decoder=lambda data: "custom")
    assert second.decoder(oids.INT4, BINARY)(b"\x00\x00\x00\x01") == 1


def test_struct_decoder_needs_one_field() -> None:
    with pytest.raises(ValueError, match="exactly one field"):
        StructDecoder("!ii")
    assert StructDecoder("!h")(b"\xff\xfe") == -2


# row decoders


def test_row_decoder_decodes_each_column_with_its_codec() -> None:
    fields = [(oids.INT4, BINARY), (oids.TEXT, BINARY), (oids.INT8, TEXT), (oids.FLOAT8, BINARY)]
    decode_row = REGISTRY.row_decoder(fields)
    row = (struct.pack("!i", -5), b"abc", b"12", struct.pack("!d", 0.5))
    assert decode_row(row) == (-5, "abc", 12, 0.5)


def test_row_decoder_maps_null_to_none() -> None:
    decode_row = REGISTRY.row_decoder([(oids.INT4, BINARY), (oids.TEXT, TEXT)])
    assert decode_row((None, None)) == (None, None)


def test_row_decoder_for_no_columns() -> None:
    decode_row = REGISTRY.row_decoder([])
    assert decode_row(()) == ()
    with pytest.raises(InterfaceError, match="DataRow has 1 values but RowDescription has 0"):
        decode_row((b"x",))


def test_row_decoder_refuses_a_row_of_another_length() -> None:
    decode_row = REGISTRY.row_decoder([(oids.INT4, BINARY), (oids.TEXT, TEXT)])
    with pytest.raises(InterfaceError, match="DataRow has 3 values but RowDescription has 2"):
        decode_row((None, None, None))


def test_row_decoder_names_the_column_that_failed() -> None:
    decode_row = REGISTRY.row_decoder([(oids.INT4, BINARY), (oids.TIMESTAMPTZ, BINARY)])
    with pytest.raises(DataError) as info:
        decode_row((struct.pack("!i", 1), bytes.fromhex("7ffffffffffffffe")))
    assert str(info.value).startswith(
        "cannot decode column 1 (timestamptz, binary format, 8 bytes)"
    )
    assert "outside years 1-9999" in str(info.value)
    assert isinstance(info.value.__cause__, DataError)


def test_row_decoder_wraps_low_level_errors_in_data_error() -> None:
    decode_row = REGISTRY.row_decoder([(oids.INT4, BINARY), (oids.TEXT, TEXT)])
    with pytest.raises(DataError, match=r"column 0 \(int4, binary format, 3 bytes\)"):
        decode_row((b"abc", b"x"))
    with pytest.raises(DataError, match=r"column 1 \(text, text format, 1 bytes\)"):
        decode_row((None, b"\xff"))


def test_row_decoders_keep_the_codecs_they_were_built_with() -> None:
    registry = default_registry()
    decode_row = registry.row_decoder([(oids.INT4, BINARY)])
    registry.register(oids.INT4, "int4", binary_decoder=lambda data: "custom")
    assert decode_row((struct.pack("!i", 3),)) == (3,)
    assert registry.row_decoder([(oids.INT4, BINARY)])((struct.pack("!i", 3),)) == ("custom",)


@given(
    st.lists(st.sampled_from([oids.INT2, oids.INT8, oids.TEXT, oids.FLOAT4, oids.BOOL])), st.data()
)
def test_row_decoder_matches_column_by_column_decoding(
    columns: list[int], data: st.DataObject
) -> None:
    fields = [(oid, data.draw(st.sampled_from([TEXT, BINARY]))) for oid in columns]
    samples: dict[int, tuple[Any, bytes]] = {
        oids.INT2: (7, b"7"),
        oids.INT8: (-8, b"-8"),
        oids.TEXT: ("t", b"t"),
        oids.FLOAT4: (0.5, b"0.5"),
        oids.BOOL: (True, b"t"),
    }
    row: list[bytes | None] = []
    for oid, fmt in fields:
        value, text = samples[oid]
        if data.draw(st.booleans()):
            row.append(None)
        else:
            row.append(encode(oid, value) if fmt == BINARY else text)
    expected = tuple(
        None if v is None else decode(oid, v, fmt)
        for (oid, fmt), v in zip(fields, row, strict=True)
    )
    assert REGISTRY.row_decoder(fields)(row) == expected
