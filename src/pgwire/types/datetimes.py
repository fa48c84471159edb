"""Codecs for date, time, timetz, timestamp, timestamptz and interval, and the `Interval` type.

Binary formats: PostgreSQL counts from 2000-01-01; date is int32 days, timestamp and timestamptz
are int64 microseconds (timestamptz always in UTC), time is int64 microseconds since midnight,
timetz adds int32 seconds *west* of UTC (the opposite sign of an ISO offset), and interval is
int64 microseconds, int32 days, int32 months.

Policies (the same for both formats):

- **'infinity' and '-infinity'** dates, timestamps, timestamptzs and intervals decode to the
  sentinels `INFINITY` and `NEG_INFINITY`, and those encode back to them. Python has no
  datetime for them, and mapping them to ``datetime.max`` (as asyncpg does) would silently
  turn a real value, 9999-12-31 23:59:59.999999, into infinity on the way back. The
  sentinels compare greater (or less) than every date, datetime and timedelta, so sorting a
  column works.
- **other values Python cannot hold raise `DataError`**, as psycopg does: dates before year
  1 or after 9999 (BC dates too), time '24:00:00', and intervals too large for
  `datetime.timedelta`. Select such a column as ``col::text``, or register your own decoder
  for the OID (`TypeRegistry.register`).
- timestamptz decodes to an aware datetime in UTC (``tzinfo=datetime.timezone.utc``), whatever
  the session's TimeZone; timestamp decodes to a naive datetime.
- **naive datetimes and times sent as timestamptz or timetz are taken as UTC**, as asyncpg does
  (psycopg would use the client's local time zone, which makes results depend on the machine).
  An aware datetime sent as timestamp (without time zone), or an aware time sent as time, is
  refused rather than having its offset dropped or guessed at.
- a `datetime.date` sent as timestamp or timestamptz means its midnight (UTC for timestamptz);
  a `datetime.datetime` sent as date is refused instead of being truncated.
- an interval with months decodes to `Interval` (a month has no fixed length, so no timedelta
  can hold it); one without months decodes to `datetime.timedelta`. Both encode; a timedelta
  is sent as its days and the time within the day (as asyncpg and psycopg do), so
  ``timedelta(days=1)`` arrives as '1 day', not '24:00:00'.

Text decoders expect PostgreSQL's output with DateStyle=ISO and IntervalStyle=postgres, the
settings the driver asks for. This module must not import the registry.
"""

import re
import struct
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

from pgwire.errors import DataError
from pgwire.types.base import struct_encoding, wrong_type

_INT32_MAX: Final = 2**31 - 1
_INT32_MIN: Final = -(2**31)
_INT64_MAX: Final = 2**63 - 1
_INT64_MIN: Final = -(2**63)
_USECS_PER_DAY: Final = 86_400_000_000
# PostgreSQL refuses time zone displacements of 16 hours or more (TZDISP_LIMIT).
_MAX_ZONE_SECONDS: Final = 16 * 3600

_EPOCH_DATE = date(2000, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH_DATE.toordinal()
_EPOCH = datetime(2000, 1, 1)
_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=timezone.utc)
_MIDNIGHT = time()
_UTC = timezone.utc
_MICROSECOND = timedelta(microseconds=1)

_int4 = struct.Struct("!i")
_int8 = struct.Struct("!q")
_timetz = struct.Struct("!qi")
_interval = struct.Struct("!qii")
_unpack_int4 = _int4.unpack
_unpack_int8 = _int8.unpack
_pack_int4 = _int4.pack
_pack_int8 = _int8.pack
_date_fromordinal = date.fromordinal


class Infinity:
    """PostgreSQL's 'infinity' (`INFINITY`) or '-infinity' (`NEG_INFINITY`) date or time.

    There are exactly two instances. `INFINITY` compares greater than every date, datetime,
    timedelta and `Interval`, `NEG_INFINITY` less; each equals only itself. ``str()`` gives
    PostgreSQL's spelling, so they also work as text parameters.
    """

    __slots__ = ("_positive",)
    _positive: bool

    def __new__(cls, positive: bool = True) -> "Infinity":
        existing = _INFINITIES.get(positive)
        if existing is not None:
            return existing
        instance = super().__new__(cls)
        object.__setattr__(instance, "_positive", positive)
        _INFINITIES[positive] = instance
        return instance

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Infinity is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Infinity, (self._positive,))

    def __repr__(self) -> str:
        return "pgwire.types.INFINITY" if self._positive else "pgwire.types.NEG_INFINITY"

    def __str__(self) -> str:
        return "infinity" if self._positive else "-infinity"

    def __hash__(self) -> int:
        return hash(("pgwire infinity", self._positive))

    def __eq__(self, other: object) -> bool:
        return self is other

    def _order(self, other: object) -> int:
        # -1, 0 or 1 as self is less than, equal to or greater than other.
        if other is self:
            return 0
        if isinstance(other, (Infinity, date, time, timedelta, Interval)):
            return 1 if self._positive else -1
        raise TypeError

    def __lt__(self, other: object) -> bool:
        try:
            return self._order(other) < 0
        except TypeError:
            return NotImplemented

    def __le__(self, other: object) -> bool:
        try:
            return self._order(other) <= 0
        except TypeError:
            return NotImplemented

    def __gt__(self, other: object) -> bool:
        try:
            return self._order(other) > 0
        except TypeError:
            return NotImplemented

    def __ge__(self, other: object) -> bool:
        try:
            return self._order(other) >= 0
        except TypeError:
            return NotImplemented


_INFINITIES: dict[bool, Infinity] = {}
INFINITY: Final = Infinity(True)
NEG_INFINITY: Final = Infinity(False)


@dataclass(frozen=True, slots=True)
class Interval:
    """A PostgreSQL interval that has months, which no `datetime.timedelta` can hold.

    PostgreSQL keeps the three fields apart: '1 mon' is not '30 days' (it depends on the month it
    is added to) and '1 day' is not '24:00:00' (across a daylight saving change). Intervals
    without months decode to `datetime.timedelta` instead.
    """

    months: int = 0
    days: int = 0
    microseconds: int = 0


def _unrepresentable(type_name: str, what: str, oid: int) -> DataError:
    return DataError(
        f"{type_name} value {what} cannot be represented in Python: select it as text "
        f"(col::text), or register a decoder for oid {oid} that handles it"
    )


# date


def _date_error(days: int) -> DataError:
    return _unrepresentable("date", f"{days} days from 2000-01-01 (outside years 1-9999)", 1082)


def decode_date_binary(data: bytes) -> "date | Infinity":
    days = _unpack_int4(data)[0]
    try:
        return _date_fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        if days == _INT32_MAX:
            return INFINITY
        if days == _INT32_MIN:
            return NEG_INFINITY
        raise _date_error(days) from None


_DATE_TEXT = re.compile(rb"(\d{4})-(\d\d)-(\d\d)")


def _infinity_text(data: bytes) -> "Infinity | None":
    if data == b"infinity":
        return INFINITY
    if data == b"-infinity":
        return NEG_INFINITY
    return None


def decode_date_text(data: bytes) -> "date | Infinity":
    match = _DATE_TEXT.fullmatch(data)
    if match is None:
        infinite = _infinity_text(data)
        if infinite is not None:
            return infinite
        raise _text_error("date", data, 1082)
    year, month, day = match.groups()
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise _text_error("date", data, 1082) from None


def _check_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise DataError(
            "cannot encode datetime as date: it would drop the time of day; pass value.date()"
        )
    if not isinstance(value, date):
        raise wrong_type(value, "date", "datetime.date")
    return value


def _date_days(value: date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


@struct_encoding("i", (date,), _date_days)
def encode_date(value: Any) -> bytes:
    """datetime.date (not datetime.datetime), `INFINITY` or `NEG_INFINITY`."""
    if type(value) is not date:
        if isinstance(value, Infinity):
            return _pack_int4(_INT32_MAX if value is INFINITY else _INT32_MIN)
        value = _check_date(value)
    return _pack_int4(value.toordinal() - _EPOCH_ORDINAL)


# timestamp and timestamptz


def _timestamp_error(type_name: str, microseconds: int, oid: int) -> DataError:
    return _unrepresentable(
        type_name, f"{microseconds} microseconds from 2000-01-01 (outside years 1-9999)", oid
    )


def decode_timestamp_binary(data: bytes) -> "datetime | Infinity":
    microseconds = _unpack_int8(data)[0]
    try:
        return _EPOCH + timedelta(0, 0, microseconds)
    except OverflowError:
        return _infinite_timestamp("timestamp", microseconds, 1114)


def decode_timestamptz_binary(data: bytes) -> "datetime | Infinity":
    microseconds = _unpack_int8(data)[0]
    try:
        return _EPOCH_UTC + timedelta(0, 0, microseconds)
    except OverflowError:
        return _infinite_timestamp("timestamptz", microseconds, 1184)


def _infinite_timestamp(type_name: str, microseconds: int, oid: int) -> Infinity:
    if microseconds == _INT64_MAX:
        return INFINITY
    if microseconds == _INT64_MIN:
        return NEG_INFINITY
    raise _timestamp_error(type_name, microseconds, oid) from None


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _naive_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            raise DataError(
                "cannot encode an aware datetime as timestamp (without time zone): its offset "
                "would be lost; pass a naive datetime, or use a timestamptz parameter"
            )
        return value
    if isinstance(value, date):
        return datetime.combine(value, _MIDNIGHT)
    raise wrong_type(value, "timestamp", "datetime.datetime or datetime.date")


# The batch (binary COPY) forms of the two encoders below, for exact datetimes: timedelta //
# timedelta divides the exact microsecond counts. Where the subtraction raises (an aware
# datetime minus the naive epoch, or a tzinfo whose utcoffset() is None minus the UTC one), the
# encoder decides.


def _timestamp_microseconds(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def _timestamptz_microseconds(value: datetime) -> int:
    if value.tzinfo is None:
        return (value - _EPOCH) // _MICROSECOND
    return (value - _EPOCH_UTC) // _MICROSECOND


@struct_encoding("q", (datetime,), _timestamp_microseconds)
def encode_timestamp(value: Any) -> bytes:
    """A naive datetime.datetime, a datetime.date (its midnight), or an `Infinity`."""
    if type(value) is datetime and value.tzinfo is None:
        return _pack_int8((value - _EPOCH) // _MICROSECOND)  # exact, in C
    if isinstance(value, Infinity):
        return _pack_int8(_INT64_MAX if value is INFINITY else _INT64_MIN)
    value = _naive_timestamp(value)
    return _pack_int8(_microseconds(value - _EPOCH))


@struct_encoding("q", (datetime,), _timestamptz_microseconds)
def encode_timestamptz(value: Any) -> bytes:
    """datetime.datetime (naive means UTC), a datetime.date (its midnight in UTC), `Infinity`."""
    if type(value) is datetime:
        # The common cases in two C operations: naive, or in UTC (timezone.utc itself, so
        # the subtraction needs no utcoffset() call); timedelta // timedelta is exact.
        zone = value.tzinfo
        if zone is None:
            return _pack_int8((value - _EPOCH) // _MICROSECOND)
        if zone is _UTC:
            return _pack_int8((value - _EPOCH_UTC) // _MICROSECOND)
    if not isinstance(value, datetime):
        if isinstance(value, Infinity):
            return _pack_int8(_INT64_MAX if value is INFINITY else _INT64_MIN)
        if not isinstance(value, date):
            raise wrong_type(value, "timestamptz", "datetime.datetime or datetime.date")
        value = datetime.combine(value, _MIDNIGHT)
    if value.tzinfo is None or value.utcoffset() is None:
        return _pack_int8(_microseconds(value - _EPOCH))
    return _pack_int8(_microseconds(value - _EPOCH_UTC))


_TIMESTAMP_TEXT = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    rb"(?:([-+])(\d\d)(?::(\d\d))?(?::(\d\d))?)?"
)


def _parse_timestamp(data: bytes, type_name: str, oid: int) -> datetime:
    match = _TIMESTAMP_TEXT.fullmatch(data)
    if match is None:
        raise _text_error(type_name, data, oid)
    year, month, day, hour, minute, second, fraction, sign = match.groups()[:8]
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int(fraction.ljust(6, b"0")) if fraction else 0,
        )
        if sign is None:
            return value
        offset = _offset_seconds(sign, *match.groups()[8:])
        return (value - timedelta(seconds=offset)).replace(tzinfo=_UTC)
    except ValueError:
        raise _text_error(type_name, data, oid) from None
    except OverflowError:
        raise _unrepresentable(type_name, repr(data.decode()), oid) from None


def decode_timestamp_text(data: bytes) -> "datetime | Infinity":
    infinite = _infinity_text(data)
    if infinite is not None:
        return infinite
    return _parse_timestamp(data, "timestamp", 1114)


def decode_timestamptz_text(data: bytes) -> "datetime | Infinity":
    infinite = _infinity_text(data)
    if infinite is not None:
        return infinite
    value = _parse_timestamp(data, "timestamptz", 1184)
    if value.tzinfo is None:
        raise _text_error("timestamptz", data, 1184)
    return value


# time and timetz


def _time_of_day(microseconds: int, type_name: str, oid: int) -> time:
    if not 0 <= microseconds < _USECS_PER_DAY:
        what = "'24:00:00'" if microseconds == _USECS_PER_DAY else f"{microseconds} microseconds"
        raise _unrepresentable(type_name, what, oid)
    seconds, microseconds = divmod(microseconds, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return time(hours, minutes, seconds, microseconds)


@lru_cache(maxsize=64)
def _fixed_zone(seconds_east: int) -> timezone:
    return _UTC if seconds_east == 0 else timezone(timedelta(seconds=seconds_east))


def decode_time_binary(data: bytes) -> time:
    return _time_of_day(_unpack_int8(data)[0], "time", 1083)


def decode_timetz_binary(data: bytes) -> time:
    microseconds, seconds_west = _timetz.unpack(data)
    value = _time_of_day(microseconds, "timetz", 1266)
    return value.replace(tzinfo=_fixed_zone(-seconds_west))


def _time_microseconds(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _naive_time_microseconds(value: time) -> int:
    if value.tzinfo is not None:
        raise ValueError("not naive")
    return _time_microseconds(value)


@struct_encoding("q", (time,), _naive_time_microseconds)
def encode_time(value: Any) -> bytes:
    """A naive datetime.time."""
    if not isinstance(value, time):
        raise wrong_type(value, "time", "datetime.time")
    if value.utcoffset() is not None:
        raise DataError(
            "cannot encode an aware time as time (without time zone): its offset would be "
            "lost; pass a naive time, or use a timetz parameter"
        )
    return _pack_int8(_time_microseconds(value))


def encode_timetz(value: Any) -> bytes:
    """datetime.time; naive means UTC. The offset must be whole seconds, under 16 hours."""
    if not isinstance(value, time):
        raise wrong_type(value, "timetz", "datetime.time")
    offset = value.utcoffset()
    seconds_east = 0
    if offset is not None:
        if offset.microseconds or abs(offset) >= timedelta(seconds=_MAX_ZONE_SECONDS):
            raise DataError(
                f"cannot encode time with UTC offset {offset} as timetz: PostgreSQL needs "
                "whole seconds under 16 hours"
            )
        seconds_east = offset.days * 86400 + offset.seconds
    return _timetz.pack(_time_microseconds(value), -seconds_east)


_TIME_TEXT = re.compile(
    rb"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([-+])(\d\d)(?::(\d\d))?(?::(\d\d))?)?"
)


def _parse_time(data: bytes, type_name: str, oid: int) -> time:
    match = _TIME_TEXT.fullmatch(data)
    if match is None:
        raise _text_error(type_name, data, oid)
    hour, minute, second, fraction, sign = match.groups()[:5]
    value = _time_of_day(_clock(hour, minute, second, fraction), type_name, oid)
    if sign is None:
        return value
    return value.replace(tzinfo=_fixed_zone(_offset_seconds(sign, *match.groups()[5:])))


def decode_time_text(data: bytes) -> time:
    return _parse_time(data, "time", 1083)


def decode_timetz_text(data: bytes) -> time:
    value = _parse_time(data, "timetz", 1266)
    if value.tzinfo is None:
        raise _text_error("timetz", data, 1266)
    return value


# interval


def decode_interval_binary(data: bytes) -> "timedelta | Interval | Infinity":
    microseconds, days, months = _interval.unpack(data)
    if months == 0:
        try:
            return timedelta(days, 0, microseconds)
        except OverflowError:
            raise _unrepresentable(
                "interval", f"of {days} days {microseconds} microseconds", 1186
            ) from None
    if months == _INT32_MAX and days == _INT32_MAX and microseconds == _INT64_MAX:
        return INFINITY
    if months == _INT32_MIN and days == _INT32_MIN and microseconds == _INT64_MIN:
        return NEG_INFINITY
    return Interval(months, days, microseconds)


def _timedelta_fields(value: timedelta) -> tuple[int, int, int]:
    return (value.seconds * 1_000_000 + value.microseconds, value.days, 0)


@struct_encoding("qii", (timedelta,), _timedelta_fields)
def encode_interval(value: Any) -> bytes:
    """datetime.timedelta, `Interval` or `Infinity`."""
    if isinstance(value, Infinity):
        if value is INFINITY:
            return _interval.pack(_INT64_MAX, _INT32_MAX, _INT32_MAX)
        return _interval.pack(_INT64_MIN, _INT32_MIN, _INT32_MIN)
    if isinstance(value, timedelta):
        return _interval.pack(value.seconds * 1_000_000 + value.microseconds, value.days, 0)
    if isinstance(value, Interval):
        try:
            return _interval.pack(value.microseconds, value.days, value.months)
        except struct.error:
            raise DataError(
                f"{value!r} out of range for interval: microseconds must fit in int64, "
                "days and months in int32"
            ) from None
    raise wrong_type(
        value, "interval", "datetime.timedelta, pgwire.types.Interval or pgwire.types.INFINITY"
    )


_INTERVAL_TEXT = re.compile(
    rb"(?:([-+]?\d+) years? ?)?(?:([-+]?\d+) mons? ?)?(?:([-+]?\d+) days? ?)?"
    rb"(?:([-+])?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?"
)


def decode_interval_text(data: bytes) -> "timedelta | Interval | Infinity":
    """IntervalStyle 'postgres' output, such as '1 year 2 mons -3 days +04:05:06.5'."""
    infinite = _infinity_text(data)
    if infinite is not None:
        return infinite
    match = _INTERVAL_TEXT.fullmatch(data)
    if match is None or not data:
        raise _text_error("interval", data, 1186)
    years, months, days, sign, hours, minutes, seconds, fraction = match.groups()
    total_months = int(years or 0) * 12 + int(months or 0)
    microseconds = 0
    if hours is not None:
        microseconds = _clock(hours, minutes, seconds, fraction)
        if sign == b"-":
            microseconds = -microseconds
    if total_months:
        return Interval(total_months, int(days or 0), microseconds)
    try:
        return timedelta(int(days or 0), 0, microseconds)
    except OverflowError:
        raise _unrepresentable("interval", repr(data.decode()), 1186) from None


# text helpers


def _clock(hours: bytes, minutes: bytes, seconds: bytes, fraction: "bytes | None") -> int:
    """Microseconds in 'HH:MM:SS.ffffff' (the fraction has 1 to 6 digits, or is absent)."""
    whole = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000
    return whole + int(fraction.ljust(6, b"0")) if fraction else whole


def _offset_seconds(
    sign: bytes, hours: bytes, minutes: "bytes | None", seconds: "bytes | None"
) -> int:
    offset = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return -offset if sign == b"-" else offset


def _text_error(type_name: str, data: bytes, oid: int) -> DataError:
    text = data.decode("utf-8", "replace")
    if text.endswith(" BC") or re.match(r"\d{5}", text):
        return _unrepresentable(type_name, repr(text), oid)
    return DataError(
        f"invalid {type_name} text {text[:40]!r}: expected PostgreSQL's output with "
        "DateStyle=ISO and IntervalStyle=postgres"
    )


def format_interval(value: "timedelta | Interval") -> str:
    """Interval text PostgreSQL reads back exactly, such as '1 mons -2 days 03:04:05.000006'."""
    if isinstance(value, timedelta):
        months, days, microseconds = 0, value.days, value.seconds * 1_000_000 + value.microseconds
    else:
        months, days, microseconds = value.months, value.days, value.microseconds
    sign = "-" if microseconds < 0 else ""
    seconds, fraction = divmod(abs(microseconds), 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{months} mons {days} days {sign}{hours}:{minutes:02d}:{seconds:02d}.{fraction:06d}"
