"""PEP 249's type objects and constructors, and the columns of ``Cursor.description``.

The type objects (``STRING``, ``BINARY``, ``NUMBER``, ``DATETIME``, ``ROWID``) compare equal
to the OIDs of the PostgreSQL types they stand for, which are the ``type_code`` of each
column; ``STRINGARRAY`` and the like do the same for arrays of those types (psycopg 2 has
them too). A :class:`Column` is the 7-item sequence PEP 249 asks for, with names: its
sizes, precision and scale come from the RowDescription's type size and type modifier
(``varchar(20)``, ``numeric(10, 2)``, ``timestamp(3)``, ...). No I/O here.
"""

from __future__ import annotations

import datetime
import time
from typing import Any, NamedTuple

from pgwire.types import oids

__all__ = [
    "BINARY",
    "BINARYARRAY",
    "DATETIME",
    "DATETIMEARRAY",
    "NUMBER",
    "NUMBERARRAY",
    "ROWID",
    "ROWIDARRAY",
    "STRING",
    "STRINGARRAY",
    "Binary",
    "Column",
    "DBAPITypeObject",
    "Date",
    "DateFromTicks",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "column_of",
]


class DBAPITypeObject:
    """A PEP 249 type object: equal to the OID of each type it stands for."""

    __slots__ = ("name", "values")

    def __init__(self, name: str, values: tuple[int, ...]) -> None:
        self.name = name
        self.values = frozenset(values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.values == other.values
        if isinstance(other, int):
            return other in self.values
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"<pgwire.dbapi.{self.name} {sorted(self.values)}>"


_ARRAY_OF = {element: array for array, element, _ in oids.ARRAYS}
_ELEMENT_OF = {array: element for array, element, _ in oids.ARRAYS}

_STRINGS = (oids.TEXT, oids.VARCHAR, oids.BPCHAR, oids.NAME, oids.CHAR)
_BINARIES = (oids.BYTEA,)
_NUMBERS = (oids.INT2, oids.INT4, oids.INT8, oids.FLOAT4, oids.FLOAT8, oids.NUMERIC, oids.OID)
_DATETIMES = (
    oids.DATE,
    oids.TIME,
    oids.TIMETZ,
    oids.TIMESTAMP,
    oids.TIMESTAMPTZ,
    oids.INTERVAL,
)
_ROWIDS = (oids.OID,)

STRING = DBAPITypeObject("STRING", _STRINGS)
BINARY = DBAPITypeObject("BINARY", _BINARIES)
NUMBER = DBAPITypeObject("NUMBER", _NUMBERS)
DATETIME = DBAPITypeObject("DATETIME", _DATETIMES)
ROWID = DBAPITypeObject("ROWID", _ROWIDS)
STRINGARRAY = DBAPITypeObject("STRINGARRAY", tuple(_ARRAY_OF[o] for o in _STRINGS))
BINARYARRAY = DBAPITypeObject("BINARYARRAY", tuple(_ARRAY_OF[o] for o in _BINARIES))
NUMBERARRAY = DBAPITypeObject("NUMBERARRAY", tuple(_ARRAY_OF[o] for o in _NUMBERS))
DATETIMEARRAY = DBAPITypeObject("DATETIMEARRAY", tuple(_ARRAY_OF[o] for o in _DATETIMES))
ROWIDARRAY = DBAPITypeObject("ROWIDARRAY", tuple(_ARRAY_OF[o] for o in _ROWIDS))

# PEP 249's constructors: the standard library's types, which the codecs take and give.
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:
    """The local date at ``ticks`` seconds since the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    """The local time of day at ``ticks`` seconds since the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    """The local date and time at ``ticks`` seconds since the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


class Column(NamedTuple):
    """One item of ``Cursor.description``: PEP 249's seven, by position or by name.

    ``type_code`` is the type's OID; ``display_size``, ``precision`` and ``scale`` come from
    the column's type modifier where the type has one (character lengths, numeric precision
    and scale, fractional seconds), ``internal_size`` is the type's fixed size in bytes
    (``None`` for variable-length types); ``null_ok`` is always ``None``: PostgreSQL does
    not say.
    """

    name: str
    type_code: int
    display_size: int | None
    internal_size: int | None
    precision: int | None
    scale: int | None
    null_ok: bool | None


_CHARACTER = frozenset((oids.VARCHAR, oids.BPCHAR))
_BITS = frozenset((oids.BIT, oids.VARBIT))
_FRACTIONAL_SECONDS = frozenset(
    (oids.TIME, oids.TIMETZ, oids.TIMESTAMP, oids.TIMESTAMPTZ, oids.INTERVAL)
)


def column_of(field: Any) -> Column:
    """The description of one RowDescription field (name, type_oid, type_size,
    type_modifier)."""
    oid: int = field.type_oid
    size: int = field.type_size
    modifier: int = field.type_modifier
    kind = _ELEMENT_OF.get(oid, oid)  # an array's modifier is its element's
    display = precision = scale = None
    if modifier >= 0:
        if kind in _CHARACTER:
            display = modifier - 4  # VARHDRSZ
        elif kind in _BITS:
            display = modifier
        elif kind == oids.NUMERIC:
            # ((precision << 16) | scale) + VARHDRSZ; the scale may be negative (11 bits).
            packed = modifier - 4
            precision = packed >> 16
            scale = packed & 0x7FF
            if scale >= 0x400:
                scale -= 0x800
            display = precision + (1 if scale > 0 else 0) + 1  # sign and decimal point
        elif kind in _FRACTIONAL_SECONDS:
            fraction = modifier & 0xFFFF  # an interval keeps its fields in the high bits
            if fraction != 0xFFFF:
                precision = fraction
    internal = size if size >= 0 else None
    return Column(field.name, oid, display, internal, precision, scale, None)
