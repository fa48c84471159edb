"""The type adaptations both pgwire dialects share: SQLAlchemy's types as pgwire sends and
reads them.

pgwire prepares every statement and lets the server say each parameter's type, then encodes
the value strictly for that type (an ``int`` is not sent as ``text``). So, as for asyncpg,
the types whose parameters the server cannot always infer render a cast
(``render_bind_cast``: ``$1::VARCHAR``), and values keep the Python types the codecs take:
ranges become :class:`pgwire.types.Range`, JSON goes as the text SQLAlchemy serialized
(see :func:`json_passthrough`), hstore as a dict. Results arrive decoded in binary format
(``Decimal``, ``uuid.UUID``, aware ``datetime``, ...), so few result processors remain.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc, util
from sqlalchemy.dialects.postgresql import ranges
from sqlalchemy.dialects.postgresql.array import ARRAY as PGARRAY
from sqlalchemy.dialects.postgresql.base import ENUM, INTERVAL, OID, REGCLASS, REGCONFIG
from sqlalchemy.dialects.postgresql.hstore import HSTORE
from sqlalchemy.dialects.postgresql.json import JSON, JSONB, JSONPathType
from sqlalchemy.dialects.postgresql.types import BIT, BYTEA, CITEXT
from sqlalchemy.engine import processors
from sqlalchemy.sql import sqltypes

from pgwire.types import Multirange, Range

__all__ = ["colspecs", "json_passthrough"]

# The type OIDs of SQLAlchemy's PostgreSQL dialect, for the numeric result processors.
_FLOAT_TYPES = (700, 701, 1021, 1022)
_DECIMAL_TYPES = (1231, 1700)
_INT_TYPES = (20, 21, 23, 26, 1005, 1007, 1016)


def json_passthrough(dumps: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The ``dumps`` for pgwire's json/jsonb codecs under SQLAlchemy: SQLAlchemy has
    serialized the value already (with its ``json_serializer``), so text goes as it is;
    anything else (a value bound without SQLAlchemy's JSON type) is serialized here."""

    def passthrough(value: Any) -> Any:
        return value if isinstance(value, str) else dumps(value)

    return passthrough


class _String(sqltypes.String):
    render_bind_cast = True


class _Boolean(sqltypes.Boolean):
    render_bind_cast = True


class _Integer(sqltypes.Integer):
    render_bind_cast = True


class _SmallInteger(sqltypes.SmallInteger):
    render_bind_cast = True


class _BigInteger(sqltypes.BigInteger):
    render_bind_cast = True


class _NumericProcessing:
    """numeric comes back as Decimal and float8 as float: convert only across the two.
    (A mixin of its own: SQLAlchemy 2.0 has no NumericCommon.)"""

    render_bind_cast = True
    asdecimal: bool
    _effective_decimal_return_scale: Any

    def bind_processor(self, dialect: Any) -> Any:
        return None

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if coltype in _FLOAT_TYPES:
            if self.asdecimal:
                return processors.to_decimal_processor_factory(
                    decimal.Decimal, self._effective_decimal_return_scale
                )
            return None
        if coltype in _DECIMAL_TYPES or coltype in _INT_TYPES:
            return None if self.asdecimal else processors.to_float
        raise exc.InvalidRequestError(f"Unknown PG numeric type: {coltype}")


class _Numeric(_NumericProcessing, sqltypes.Numeric):  # type: ignore[type-arg]
    pass


class _Float(_NumericProcessing, sqltypes.Float):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Any) -> Any:
        # pgwire sends float8 from float or int only; a Decimal is converted here, as
        # other PostgreSQL drivers do.
        def process(value: Any) -> Any:
            return float(value) if isinstance(value, decimal.Decimal) else value

        return process


class _Date(sqltypes.Date):
    render_bind_cast = True

    def bind_processor(self, dialect: Any) -> Any:
        # pgwire refuses a datetime for a date (it would drop the time of day); under
        # SQLAlchemy a Date column takes one as its date, as other drivers do.
        def process(value: Any) -> Any:
            return value.date() if isinstance(value, datetime.datetime) else value

        return process


class _Time(sqltypes.Time):
    render_bind_cast = True


class _DateTime(sqltypes.DateTime):
    render_bind_cast = True


class _Interval(INTERVAL):
    render_bind_cast = True

    @classmethod
    def adapt_emulated_to_native(  # type: ignore[override]
        cls, interval: Any, **kw: Any
    ) -> _Interval:
        return cls(precision=interval.second_precision)


class _ByteA(BYTEA):
    render_bind_cast = True


class _Enum(ENUM):
    render_bind_cast = True


class _Array(PGARRAY):  # type: ignore[type-arg]
    render_bind_cast = True


class _Bit(BIT):
    render_bind_cast = True


class _Char(sqltypes.CHAR):
    render_bind_cast = True


class _Oid(OID):
    render_bind_cast = True


class _RegClass(REGCLASS):
    render_bind_cast = True


class _RegConfig(REGCONFIG):
    render_bind_cast = True


class _JSON(JSON):
    render_bind_cast = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # pgwire decodes json with the dialect's deserializer (SQLAlchemy 2.0 would
        # deserialize again otherwise).
        return None


class _JSONB(JSONB):
    render_bind_cast = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return None


class _JSONIndex(sqltypes.JSON.JSONIndexType):
    pass


class _JSONIntIndex(sqltypes.JSON.JSONIntIndexType):
    __visit_name__ = "json_int_index"
    render_bind_cast = True


class _JSONStrIndex(sqltypes.JSON.JSONStrIndexType):
    __visit_name__ = "json_str_index"
    render_bind_cast = True


class _JSONPath(JSONPathType):
    """A JSON path goes as text[] (``{a,1}``): a list of its elements as str."""

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if isinstance(value, str):
                return value  # already in PostgreSQL's path syntax
            return [str(element) for element in value] if value else []

        return process


class _HStore(HSTORE):
    """pgwire reads and writes hstore as a dict (its codec is found by name once the
    extension exists): no string processing."""

    def bind_processor(self, dialect: Any) -> Any:
        return None

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return None


def _to_pgwire_range(value: Any) -> Any:
    if isinstance(value, ranges.Range):
        if value.empty:
            return Range(empty=True)
        return Range(value.lower, value.upper, value.bounds)
    return value


def _from_pgwire_range(value: Any) -> Any:
    if value is None:
        return None
    if value.empty:
        return ranges.Range(empty=True)
    return ranges.Range(value.lower, value.upper, bounds=value.bounds)


class _Range(ranges.AbstractSingleRangeImpl):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Any) -> Any:
        return _to_pgwire_range

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return _from_pgwire_range


class _MultiRange(ranges.AbstractMultiRangeImpl):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None or isinstance(value, str):
                return value
            return Multirange(_to_pgwire_range(element) for element in value)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None:
                return None
            return ranges.MultiRange(_from_pgwire_range(element) for element in value)

        return process


def colspecs(base: dict[Any, Any]) -> dict[Any, Any]:
    """SQLAlchemy's PostgreSQL ``colspecs`` with pgwire's adaptations."""
    return util.update_copy(
        base,
        {
            sqltypes.String: _String,
            sqltypes.Boolean: _Boolean,
            sqltypes.Integer: _Integer,
            sqltypes.SmallInteger: _SmallInteger,
            sqltypes.BigInteger: _BigInteger,
            sqltypes.Numeric: _Numeric,
            sqltypes.Float: _Float,
            sqltypes.Date: _Date,
            sqltypes.Time: _Time,
            sqltypes.DateTime: _DateTime,
            sqltypes.Interval: _Interval,
            INTERVAL: _Interval,
            sqltypes.LargeBinary: _ByteA,
            sqltypes.Enum: _Enum,
            sqltypes.ARRAY: _Array,
            sqltypes.CHAR: _Char,
            BIT: _Bit,
            CITEXT: CITEXT,
            OID: _Oid,
            REGCLASS: _RegClass,
            REGCONFIG: _RegConfig,
            sqltypes.JSON: _JSON,
            JSON: _JSON,
            JSONB: _JSONB,
            sqltypes.JSON.JSONIndexType: _JSONIndex,
            sqltypes.JSON.JSONIntIndexType: _JSONIntIndex,
            sqltypes.JSON.JSONStrIndexType: _JSONStrIndex,
            sqltypes.JSON.JSONPathType: _JSONPath,
            HSTORE: _HStore,
            ranges.AbstractSingleRange: _Range,
            ranges.AbstractMultiRange: _MultiRange,
        },
    )
