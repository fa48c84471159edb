"""`Range`, and codecs for range and multirange types built from their subtype's codecs.

Binary layout (range_send): one flags byte (0x01 empty, 0x02 lower inclusive, 0x04 upper
inclusive, 0x08 lower infinite, 0x10 upper infinite), then each finite bound as int32 length
and the subtype's bytes. A multirange is int32 count, then each range as int32 length and
the range's bytes. Text: ``[1,5)``, ``(,"2024-01-01 00:00:00")``, ``empty``; ``{[1,3), [5,7)}``.

Policies:

- A range decodes to `Range`; a multirange to `Multirange`, a list of `Range` (the server
  sorts and merges them). A `Range` encodes as a range; a `Multirange`, or any list or tuple
  of `Range`, as a multirange (in an array of multiranges, use `Multirange`: a plain list
  there is a dimension of the array).
- An infinite bound is None and is always exclusive: ``Range(None, 5, "[]")`` is made
  ``Range(None, 5, "(]")`` when created, as PostgreSQL does.
- The server canonicalizes discrete ranges (int4range, int8range, daterange): ``[1,5]``
  comes back as ``[1,6)``. `Range` compares field by field and does not do this itself.

This module must not import the registry.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from pgwire.errors import DataError
from pgwire.types.base import Decoder, Encoder

T = TypeVar("T")

_EMPTY: Final = 0x01
_LOWER_INCLUSIVE: Final = 0x02
_UPPER_INCLUSIVE: Final = 0x04
_LOWER_INFINITE: Final = 0x08
_UPPER_INFINITE: Final = 0x10
_KNOWN_FLAGS: Final = 0x1F
_LENGTH = struct.Struct("!i")
_unpack_length = _LENGTH.unpack_from
_pack_length = _LENGTH.pack


@dataclass(frozen=True, slots=True)
class Range(Generic[T]):
    """A range value: ``Range(1, 5)`` is ``[1,5)``; None bounds are infinite.

    ``bounds`` is two characters: ``[`` or ``(`` for the lower bound, ``]`` or ``)`` for the
    upper. ``Range(empty=True)`` is the empty range (it has no bounds).
    """

    lower: T | None = None
    upper: T | None = None
    bounds: str = "[)"
    empty: bool = False

    def __post_init__(self) -> None:
        if self.bounds not in ("[)", "(]", "[]", "()"):
            raise ValueError(f"Range bounds must be '[)', '(]', '[]' or '()', not {self.bounds!r}")
        if self.empty:
            if self.lower is not None or self.upper is not None:
                raise ValueError("an empty Range has no bounds: use Range(empty=True)")
            object.__setattr__(self, "bounds", "()")
            return
        lower = "(" if self.lower is None else self.bounds[0]
        upper = ")" if self.upper is None else self.bounds[1]
        if lower + upper != self.bounds:
            object.__setattr__(self, "bounds", lower + upper)

    @property
    def lower_inc(self) -> bool:
        """Whether the lower bound is inclusive."""
        return self.bounds[0] == "["

    @property
    def upper_inc(self) -> bool:
        """Whether the upper bound is inclusive."""
        return self.bounds[1] == "]"

    @property
    def lower_inf(self) -> bool:
        """Whether the range has no lower bound (and is not empty)."""
        return self.lower is None and not self.empty

    @property
    def upper_inf(self) -> bool:
        """Whether the range has no upper bound (and is not empty)."""
        return self.upper is None and not self.empty

    def __repr__(self) -> str:
        if self.empty:
            return "Range(empty=True)"
        return f"Range({self.lower!r}, {self.upper!r}, {self.bounds!r})"


class Multirange(list):  # type: ignore[type-arg]
    """A multirange: a list of `Range`, sorted and merged by the server.

    It is a list subclass so that arrays of multiranges can tell it from an array dimension.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Multirange({list.__repr__(self)})"


def _bad(type_name: str, problem: str) -> DataError:
    return DataError(f"invalid binary {type_name}: {problem}")


def _read_range(data: bytes, start: int, end: int, bound: Decoder, type_name: str) -> Range[Any]:
    flags = data[start]
    if flags & ~_KNOWN_FLAGS:
        raise _bad(type_name, f"unknown flags 0x{flags:02x}")
    if flags & _EMPTY:
        if start + 1 != end:
            raise _bad(type_name, "an empty range with bounds")
        return Range(empty=True)
    position = start + 1
    values: list[Any] = []
    for infinite in (_LOWER_INFINITE, _UPPER_INFINITE):
        if flags & infinite:
            values.append(None)
            continue
        (length,) = _unpack_length(data, position)
        position += 4
        if length < 0 or position + length > end:
            raise _bad(type_name, f"bound length {length} out of bounds")
        values.append(bound(data[position : position + length]))
        position += length
    if position != end:
        raise _bad(type_name, f"{end - position} trailing bytes")
    bounds = ("[" if flags & _LOWER_INCLUSIVE else "(") + ("]" if flags & _UPPER_INCLUSIVE else ")")
    return Range(values[0], values[1], bounds)


def binary_range_decoder(bound: Decoder, type_name: str) -> Callable[[bytes], Range[Any]]:
    """A binary decoder for a range whose subtype `bound` decodes."""

    def decode(data: bytes) -> Range[Any]:
        try:
            return _read_range(data, 0, len(data), bound, type_name)
        except (struct.error, ValueError, IndexError, OverflowError, TypeError) as exc:
            raise _bad(type_name, str(exc) or type(exc).__name__) from None

    return decode


def binary_multirange_decoder(
    bound: Decoder, type_name: str
) -> Callable[[bytes], list[Range[Any]]]:
    """A binary decoder for a multirange whose ranges' subtype `bound` decodes."""

    def decode(data: bytes) -> list[Range[Any]]:
        try:
            (count,) = _unpack_length(data)
            end = len(data)
            if count < 0 or count * 5 > end - 4:
                raise _bad(type_name, f"{count} ranges cannot fit in {end} bytes")
            position = 4
            ranges = Multirange()
            for _ in range(count):
                (length,) = _unpack_length(data, position)
                position += 4
                if length < 1 or position + length > end:
                    raise _bad(type_name, f"range length {length} out of bounds")
                ranges.append(_read_range(data, position, position + length, bound, type_name))
                position += length
            if position != end:
                raise _bad(type_name, f"{end - position} trailing bytes")
            return ranges
        except (struct.error, ValueError, IndexError, OverflowError, TypeError) as exc:
            raise _bad(type_name, str(exc) or type(exc).__name__) from None

    return decode


def _check_range(value: Any, type_name: str) -> Range[Any]:
    if not isinstance(value, Range):
        raise DataError(
            f"cannot encode {type(value).__name__} as {type_name}: expected pgwire.types.Range"
        )
    return value


def _range_bytes(value: Range[Any], bound: Encoder, type_name: str) -> bytes:
    if value.empty:
        return b"\x01"
    flags = 0
    parts = []
    for item, inclusive, infinite, which in (
        (value.lower, value.lower_inc, _LOWER_INFINITE, "lower"),
        (value.upper, value.upper_inc, _UPPER_INFINITE, "upper"),
    ):
        if item is None:
            flags |= infinite
            continue
        if inclusive:
            flags |= _LOWER_INCLUSIVE if which == "lower" else _UPPER_INCLUSIVE
        try:
            data = bound(item)
        except DataError as exc:
            raise DataError(f"{type_name} {which} bound: {exc}") from None
        parts.append(_pack_length(len(data)))
        parts.append(data)
    return bytes([flags]) + b"".join(parts)


def binary_range_encoder(bound: Encoder, type_name: str) -> Encoder:
    """A binary encoder of `Range` values whose bounds `bound` encodes."""

    def encode(value: Any) -> bytes:
        return _range_bytes(_check_range(value, type_name), bound, type_name)

    return encode


def binary_multirange_encoder(bound: Encoder, type_name: str) -> Encoder:
    """A binary encoder of lists of `Range` whose bounds `bound` encodes."""

    def encode(value: Any) -> bytes:
        if not isinstance(value, (list, tuple)):
            raise DataError(
                f"cannot encode {type(value).__name__} as {type_name}: expected a list of "
                "pgwire.types.Range"
            )
        parts = [_pack_length(len(value))]
        for item in value:
            data = _range_bytes(_check_range(item, type_name), bound, type_name)
            parts.append(_pack_length(len(data)))
            parts.append(data)
        return b"".join(parts)

    return encode


def _quote_bound(text: bytes) -> bytes:
    return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _range_text(value: Range[Any], bound: Encoder, type_name: str) -> bytes:
    if value.empty:
        return b"empty"
    parts = []
    for item, which in ((value.lower, "lower"), (value.upper, "upper")):
        if item is None:
            parts.append(b"")
            continue
        try:
            parts.append(_quote_bound(bound(item)))
        except DataError as exc:
            raise DataError(f"{type_name} {which} bound: {exc}") from None
    return value.bounds[0].encode() + parts[0] + b"," + parts[1] + value.bounds[1].encode()


def text_range_encoder(bound: Encoder, type_name: str, multirange: bool = False) -> Encoder:
    """A text encoder of `Range` (or, with `multirange`, lists of them); `bound` gives text."""

    def encode(value: Any) -> bytes:
        if not multirange:
            return _range_text(_check_range(value, type_name), bound, type_name)
        if not isinstance(value, (list, tuple)):
            raise DataError(
                f"cannot encode {type(value).__name__} as {type_name}: expected a list of "
                "pgwire.types.Range"
            )
        items = [_range_text(_check_range(item, type_name), bound, type_name) for item in value]
        return b"{" + b",".join(items) + b"}"

    return encode


# text format

_QUOTED_BOUND = re.compile(rb'"((?:[^"\\]|\\.|"")*)"', re.DOTALL)
_BOUND_ESCAPE = re.compile(rb'\\(.)|""', re.DOTALL)
_UNQUOTED_BOUND = re.compile(rb'[^,)\]"]*')


def _unescape(match: re.Match[bytes]) -> bytes:
    return match.group(1) if match.group(1) is not None else b'"'


def unquote_field(token: bytes) -> bytes:
    """The content of a quoted range bound or composite field (``\\x`` and ``""`` unescaped)."""
    return _BOUND_ESCAPE.sub(_unescape, token)


def _parse_bound(data: bytes, position: int, bound: Decoder) -> tuple[Any, int]:
    if data[position : position + 1] == b'"':
        match = _QUOTED_BOUND.match(data, position)
        if match is None:
            raise ValueError("unterminated quoted bound")
        return bound(unquote_field(match.group(1))), match.end()
    match = _UNQUOTED_BOUND.match(data, position)
    assert match is not None
    token = match.group()
    return (bound(token) if token else None), match.end()


def parse_range_text(data: bytes, position: int, bound: Decoder) -> tuple[Range[Any], int]:
    """Parse one range at `position`; return it and the position after it."""
    if data.startswith(b"empty", position):
        return Range(empty=True), position + 5
    opening = data[position : position + 1]
    if opening not in (b"[", b"("):
        raise ValueError(f"expected '[', '(' or 'empty' at {position}")
    lower, position = _parse_bound(data, position + 1, bound)
    if data[position : position + 1] != b",":
        raise ValueError(f"expected ',' at {position}")
    upper, position = _parse_bound(data, position + 1, bound)
    closing = data[position : position + 1]
    if closing not in (b"]", b")"):
        raise ValueError(f"expected ']' or ')' at {position}")
    return Range(lower, upper, (opening + closing).decode()), position + 1


def text_range_decoder(bound: Decoder, type_name: str) -> Callable[[bytes], Range[Any]]:
    """A text decoder for a range whose subtype's text `bound` decodes."""

    def decode(data: bytes) -> Range[Any]:
        try:
            value, position = parse_range_text(data, 0, bound)
            if position != len(data):
                raise ValueError("trailing characters")
            return value
        except (ValueError, IndexError, TypeError, ArithmeticError) as exc:
            text = data[:60].decode("utf-8", "replace")
            raise DataError(f"invalid {type_name} text {text!r}: {exc}") from None

    return decode


def text_multirange_decoder(bound: Decoder, type_name: str) -> Callable[[bytes], list[Range[Any]]]:
    """A text decoder for a multirange whose subtype's text `bound` decodes."""

    def decode(data: bytes) -> list[Range[Any]]:
        try:
            if data[:1] != b"{" or data[-1:] != b"}":
                raise ValueError("expected '{...}'")
            ranges = Multirange()
            position = 1
            end = len(data) - 1
            while position < end:
                value, position = parse_range_text(data, position, bound)
                ranges.append(value)
                if data.startswith(b", ", position):
                    position += 2
                elif data.startswith(b",", position):
                    position += 1
                elif position != end:
                    raise ValueError(f"expected ',' at {position}")
            return ranges
        except (ValueError, IndexError, TypeError, ArithmeticError) as exc:
            text = data[:60].decode("utf-8", "replace")
            raise DataError(f"invalid {type_name} text {text!r}: {exc}") from None

    return decode
