"""Codecs between PostgreSQL's wire formats and Python values, binary first.

`default_registry()` returns a `TypeRegistry` that knows bool, int2/4/8, oid, float4/8,
numeric, text, varchar, bpchar, name, "char", unknown, bytea, uuid, json, jsonb, date, time,
timetz, timestamp, timestamptz and interval, in both formats. Drivers ask it for decoders
(`TypeRegistry.row_decoder`, built once per RowDescription) and parameter encoders
(`TypeRegistry.encoder`); applications add their own codecs with `TypeRegistry.register`.

Policies, chosen so that no value is ever silently changed:

- Values Python cannot hold raise `pgwire.errors.DataError` when decoded: 'infinity' and
  '-infinity' dates, timestamps and intervals, dates outside years 1-9999, time '24:00:00'
  (as psycopg does). Select them as ``col::text``, or register a decoder that maps them.
- timestamptz decodes to an aware datetime in UTC; timestamp to a naive one. Naive datetimes
  and times sent as timestamptz or timetz are taken as UTC (as asyncpg does); aware ones sent
  as timestamp or time are refused.
- json and jsonb parameters always go through ``dumps``, a str included ('abc' is sent as the
  JSON string "abc"); results go through ``loads``. Both are set with `TypeRegistry.set_json`.
- Encoders accept only the Python types documented on them (an int for int4, never a bool or a
  str) and raise `DataError` naming the Python type and the server type otherwise.
- A parameter of a type with no encoder, or of oid 0, is sent as text by `encode_unknown`
  (str(value), 'true'/'false' for bools); bytes and containers are refused there.

The codecs assume client_encoding UTF8, DateStyle ISO and IntervalStyle postgres, which the
driver sets. This package must not do I/O or know about connections.
"""

from pgwire.types.arrays import Array
from pgwire.types.base import BINARY, TEXT, Decoder, Encoder, StructDecoder
from pgwire.types.builtins import default_registry, install_builtins
from pgwire.types.datetimes import INFINITY, NEG_INFINITY, Infinity, Interval
from pgwire.types.geometric import Box, Circle, Line, LineSegment, Path, Point, Polygon
from pgwire.types.jsoncodec import JsonDumps, JsonLoads
from pgwire.types.ranges import Multirange, Range
from pgwire.types.registry import RowDecoder, TypeRegistry, encode_unknown

__all__ = [
    "BINARY",
    "INFINITY",
    "NEG_INFINITY",
    "TEXT",
    "Array",
    "Box",
    "Circle",
    "Decoder",
    "Encoder",
    "Infinity",
    "Interval",
    "JsonDumps",
    "JsonLoads",
    "Line",
    "LineSegment",
    "Multirange",
    "Path",
    "Point",
    "Polygon",
    "Range",
    "RowDecoder",
    "StructDecoder",
    "TypeRegistry",
    "default_registry",
    "encode_unknown",
    "install_builtins",
]
