"""Codecs for arrays of any element type, in both formats, built from the element's codecs.

Binary layout (array_send): int32 ndim, int32 has-nulls flag, uint32 element oid, then per
dimension int32 length and int32 lower bound, then each element as int32 length (-1 for NULL)
and its bytes, in row-major order. Text layout: ``{1,2}``, ``{{1,NULL},{3,4}}``, and
``[0:1]={1,2}`` when a lower bound is not 1; elements that need it are double-quoted with
backslash escapes.

Policies:

- A one-dimensional array decodes to a list, an n-dimensional one to nested lists; NULL
  elements are None; an empty array (of any dimension) is ``[]``.
- **Lower bounds**: an array whose lower bounds are all 1 (the default) decodes to a plain
  list. Any other lower bound decodes to `Array`, a list subclass that keeps the bounds in
  ``lower_bounds`` (one per dimension, outermost first) and sends them back when encoded. A
  plain list is sent with lower bounds 1.
- Only ``list`` (and `Array`) makes a dimension when encoding: a tuple is one element (a
  composite value), a str is one element, and so is a list subclass such as
  `pgwire.types.ranges.Multirange`. Nested lists must be rectangular, at most 6 deep (PostgreSQL's
  MAXDIM). For json and jsonb arrays this means a list *is* a dimension: wrap a JSON array
  element in another type (or cast a json parameter to json[] in SQL) to send one.
- Arrays of int2, int4, int8, oid, float4 and float8 without NULLs are read in bulk by one
  `struct` call instead of a call per element.

This module must not import the registry: `array_codecs` gets the element's codecs.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from pgwire.errors import DataError
from pgwire.types.base import Decoder, Encoder, StructDecoder

MAX_DIMENSIONS: Final = 6

_HEADER = struct.Struct("!iiI")
_DIMENSION = struct.Struct("!ii")
_LENGTH = struct.Struct("!i")
_NULL: Final = b"\xff\xff\xff\xff"
_unpack_length = _LENGTH.unpack_from
_pack_length = _LENGTH.pack


class Array(list):  # type: ignore[type-arg]
    """A list holding a PostgreSQL array whose lower bounds are not all 1.

    ``Array([10, 20], lower_bounds=(0,))`` is the array ``[0:1]={10,20}``. It compares equal
    to a list with the same elements (bounds are not compared); read ``lower_bounds`` when
    they matter.
    """

    __slots__ = ("lower_bounds",)

    def __init__(self, values: Any = (), lower_bounds: tuple[int, ...] = (1,)) -> None:
        super().__init__(values)
        self.lower_bounds = tuple(lower_bounds)

    def __repr__(self) -> str:
        return f"Array({list.__repr__(self)}, lower_bounds={self.lower_bounds!r})"


_DIMENSIONS = (list, Array)


def _malformed(type_name: str, problem: str) -> DataError:
    return DataError(f"invalid binary {type_name}: {problem}")


def _reshape(flat: list[Any], dims: list[int]) -> list[Any]:
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


@lru_cache(maxsize=128)
def _bulk_struct(code: str, count: int) -> struct.Struct:
    # One compiled struct per (element format, element count): length/value pairs.
    return struct.Struct("!" + ("i" + code) * count)


@lru_cache(maxsize=128)
def _bulk_values(code: str, count: int) -> Callable[[bytes, int], tuple[Any, ...]]:
    # The values alone, their length words skipped (checked apart, see _fast_list).
    return struct.Struct("!" + ("4x" + code) * count).unpack_from


#: The header of a one-dimensional array: dimensions, has-nulls flag, element oid, length
#: and lower bound.
_ONE_DIMENSION = struct.Struct("!iiIii").unpack_from


def binary_array_decoder(
    element_oid: int, element: Decoder, type_name: str
) -> Callable[[bytes], list[Any]]:
    """A binary decoder for arrays of `element_oid`, whose elements `element` decodes."""
    decode = general_binary_array_decoder(element_oid, element, type_name)
    if not isinstance(element, StructDecoder):
        return decode
    code = element.format.lstrip("!>")
    stride = 4 + struct.calcsize("!" + code)
    # The bytes of every element's length word, each with its offset in the word.
    length_bytes = tuple(enumerate(_pack_length(stride - 4)))

    def decode_one_dimension(data: bytes) -> list[Any]:
        """The common case in fewer steps: one dimension, lower bound 1, no NULL, every
        element of its type's width; anything else is left to ``decode``, so what this
        returns is what ``decode`` returns."""
        if len(data) >= 20:
            ndim, flags, oid, size, lower = _ONE_DIMENSION(data)
            if (
                ndim == 1
                and not flags
                and oid == element_oid
                and lower == 1
                and size >= 0
                and len(data) - 20 == size * stride
            ):
                # Each byte of the length words, read as one slice: all as expected?
                for offset, byte in length_bytes:
                    if data[20 + offset :: stride].count(byte) != size:
                        return decode(data)
                return list(_bulk_values(code, size)(data, 20))
        return decode(data)

    return decode_one_dimension


def general_binary_array_decoder(
    element_oid: int, element: Decoder, type_name: str
) -> Callable[[bytes], list[Any]]:
    """The decoder :func:`binary_array_decoder` gives, without its shortcut for the most
    common arrays (which tests compare it with)."""
    bulk_code = None
    if isinstance(element, StructDecoder):
        bulk_code = element.format.lstrip("!>")
        bulk_size = struct.calcsize("!" + bulk_code)

    def decode(data: bytes) -> list[Any]:
        try:
            ndim, flags, oid = _HEADER.unpack_from(data)
            if ndim == 0:
                if len(data) != 12:
                    raise _malformed(type_name, "trailing bytes after an empty array")
                return []
            if not 0 < ndim <= MAX_DIMENSIONS:
                raise _malformed(type_name, f"{ndim} dimensions (expected 0 to 6)")
            if oid != element_oid:
                raise _malformed(type_name, f"element oid {oid}, expected {element_oid}")
            if flags not in (0, 1):
                raise _malformed(type_name, f"has-nulls flag {flags}, expected 0 or 1")
            dims = []
            bounds = []
            count = 1
            offset = 12
            for _ in range(ndim):
                size, lower = _DIMENSION.unpack_from(data, offset)
                offset += 8
                if size < 0:
                    raise _malformed(type_name, f"negative dimension {size}")
                dims.append(size)
                bounds.append(lower)
                count *= size
            end = len(data)
            if count * 4 > end - offset:
                raise _malformed(type_name, f"{count} elements cannot fit in {end} bytes")
            if bulk_code is not None and not flags and end - offset == count * (4 + bulk_size):
                pairs = _bulk_struct(bulk_code, count).unpack_from(data, offset)
                if pairs[0::2].count(bulk_size) != count:
                    raise _malformed(type_name, f"an element length is not {bulk_size}")
                flat = list(pairs[1::2])
            else:
                flat = []
                append = flat.append
                for _ in range(count):
                    (length,) = _unpack_length(data, offset)
                    offset += 4
                    if length == -1:
                        append(None)
                        continue
                    if length < 0 or offset + length > end:
                        raise _malformed(type_name, f"element length {length} out of bounds")
                    append(element(data[offset : offset + length]))
                    offset += length
                if offset != end:
                    raise _malformed(type_name, f"{end - offset} trailing bytes")
        except (struct.error, ValueError, IndexError, OverflowError, TypeError) as exc:
            raise _malformed(type_name, str(exc) or type(exc).__name__) from None
        result = _reshape(flat, dims) if ndim > 1 else flat
        if any(lower != 1 for lower in bounds):
            return Array(result, tuple(bounds))
        return result

    return decode


def _shape(value: Any, type_name: str) -> tuple[list[int], list[Any]]:
    """The dimensions of nested lists `value` and its elements in row-major order."""
    dims: list[int] = []
    probe = value
    while type(probe) in _DIMENSIONS and probe:
        dims.append(len(probe))
        probe = probe[0]
    if type(probe) in _DIMENSIONS:
        # [[], []] is an empty array, as '{{},{}}' is in PostgreSQL; [[], [1]] is ragged.
        if _has_elements(value):
            raise DataError(f"cannot encode ragged nested lists as {type_name}")
        return [], []
    if len(dims) > MAX_DIMENSIONS:
        raise DataError(f"cannot encode {type_name}: {len(dims)} nested lists, at most 6")
    flat: list[Any] = []
    _flatten(value, dims, 0, flat, type_name)
    return dims, flat


def _has_elements(value: list[Any]) -> bool:
    return any(type(item) not in _DIMENSIONS or _has_elements(item) for item in value)


def _flatten(value: list[Any], dims: list[int], depth: int, out: list[Any], type_name: str) -> None:
    if len(value) != dims[depth]:
        raise DataError(
            f"cannot encode ragged nested lists as {type_name}: a list at depth {depth} has "
            f"{len(value)} items, another {dims[depth]}; arrays must be rectangular"
        )
    if depth + 1 == len(dims):
        for item in value:
            if type(item) in _DIMENSIONS:
                raise DataError(
                    f"cannot encode ragged nested lists as {type_name}: a list at depth "
                    f"{depth + 1} where the first element there is not a list"
                )
        out.extend(value)
        return
    for item in value:
        if type(item) not in _DIMENSIONS:
            raise DataError(
                f"cannot encode ragged nested lists as {type_name}: {type(item).__name__} at "
                f"depth {depth + 1} where the first element there is a list"
            )
        _flatten(item, dims, depth + 1, out, type_name)


def _lower_bounds(value: Any, ndim: int, type_name: str) -> list[int]:
    bounds = getattr(value, "lower_bounds", None)
    if bounds is None or ndim == 0:
        return [1] * ndim
    if len(bounds) != ndim:
        raise DataError(
            f"cannot encode {type_name}: lower_bounds {bounds!r} has {len(bounds)} entries "
            f"for {ndim} dimensions"
        )
    return list(bounds)


def binary_array_encoder(element_oid: int, element: Encoder, type_name: str) -> Encoder:
    """A binary encoder for lists (nested for more dimensions) of `element` values."""

    def encode(value: Any) -> bytes:
        if not isinstance(value, list):
            raise DataError(
                f"cannot encode {type(value).__name__} as {type_name}: expected a list "
                "(nested lists for more dimensions)"
            )
        dims, flat = _shape(value, type_name)
        bounds = _lower_bounds(value, len(dims), type_name)
        parts: list[bytes] = []
        has_nulls = 0
        append = parts.append
        for index, item in enumerate(flat):
            if item is None:
                has_nulls = 1
                append(_NULL)
                continue
            try:
                data = element(item)
            except DataError as exc:
                raise DataError(f"{type_name} element {index}: {exc}") from None
            append(_pack_length(len(data)))
            append(data)
        header = [_HEADER.pack(len(dims), has_nulls, element_oid)]
        try:
            header.extend(
                _DIMENSION.pack(size, lower) for size, lower in zip(dims, bounds, strict=True)
            )
        except struct.error:
            raise DataError(f"cannot encode {type_name}: lower bound out of int32 range") from None
        return b"".join(header + parts)

    return encode


# text format

_BOUNDS = re.compile(rb"((?:\[-?\d+:-?\d+\])+)=")
_BOUND = re.compile(rb"\[(-?\d+):(-?\d+)\]")
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)


@lru_cache(maxsize=8)
def _unquoted(delimiter: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"[^" + re.escape(delimiter) + rb'{}"]*')


def parse_array_text(data: bytes, element: Decoder, delimiter: bytes = b",") -> list[Any]:
    """Parse PostgreSQL's text output of an array, decoding each element with `element`."""
    try:
        bounds: list[int] = []
        position = 0
        if data[:1] == b"[":
            match = _BOUNDS.match(data)
            if match is None:
                raise ValueError("malformed dimension decoration")
            for lower, _upper in _BOUND.findall(match.group(1)):
                bounds.append(int(lower))
            position = match.end()
        if data[position : position + 1] != b"{":
            raise ValueError("expected '{'")
        result, position = _parse_level(data, position, element, delimiter, _unquoted(delimiter))
        if position != len(data):
            raise ValueError("trailing characters")
    except (ValueError, IndexError, RecursionError, ArithmeticError) as exc:
        text = data[:60].decode("utf-8", "replace")
        raise DataError(f"invalid array text {text!r}: {exc}") from None
    if bounds and any(lower != 1 for lower in bounds):
        return Array(result, tuple(bounds))
    return result


def _parse_level(
    data: bytes, position: int, element: Decoder, delimiter: bytes, unquoted: re.Pattern[bytes]
) -> tuple[list[Any], int]:
    # data[position] is '{'; returns the list and the position after the matching '}'.
    items: list[Any] = []
    position += 1
    if data[position : position + 1] == b"}":
        return items, position + 1
    while True:
        head = data[position : position + 1]
        if head == b"{":
            inner, position = _parse_level(data, position, element, delimiter, unquoted)
            items.append(inner)
        elif head == b'"':
            match = _QUOTED.match(data, position)
            if match is None:
                raise ValueError("unterminated quoted element")
            items.append(element(_ESCAPE.sub(rb"\1", match.group(1))))
            position = match.end()
        else:
            match = unquoted.match(data, position)
            assert match is not None  # the pattern matches the empty string
            token = match.group()
            if not token:
                raise ValueError(f"empty element at {position}")
            items.append(None if token == b"NULL" else element(token))
            position = match.end()
        head = data[position : position + 1]
        if head == delimiter:
            position += 1
        elif head == b"}":
            return items, position + 1
        else:
            raise ValueError(f"expected {delimiter.decode()!r} or '}}' at {position}")


_NEEDS_QUOTES = re.compile(rb'[{}"\\\s]|^$|^null$', re.IGNORECASE)


def quote_array_element(text: bytes, delimiter: bytes = b",") -> bytes:
    """`text` as an element of an array literal: quoted and escaped when needed."""
    if _NEEDS_QUOTES.search(text) or delimiter in text:
        return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return text


def text_array_encoder(element: Encoder, type_name: str, delimiter: bytes = b",") -> Encoder:
    """A text encoder for lists whose elements `element` turns into their text form."""

    def encode(value: Any) -> bytes:
        if not isinstance(value, list):
            raise DataError(
                f"cannot encode {type(value).__name__} as {type_name}: expected a list "
                "(nested lists for more dimensions)"
            )
        dims, flat = _shape(value, type_name)
        bounds = _lower_bounds(value, len(dims), type_name)
        if not dims:
            return b"{}"
        items = []
        for index, item in enumerate(flat):
            if item is None:
                items.append(b"NULL")
                continue
            try:
                items.append(quote_array_element(element(item), delimiter))
            except DataError as exc:
                raise DataError(f"{type_name} element {index}: {exc}") from None
        for size in reversed(dims):
            items = [
                b"{" + delimiter.join(items[i : i + size]) + b"}"
                for i in range(0, len(items), size)
            ]
        prefix = b""
        if any(lower != 1 for lower in bounds):
            prefix = b"".join(
                b"[%d:%d]" % (lower, lower + size - 1)
                for lower, size in zip(bounds, dims, strict=True)
            )
            prefix += b"="
        return prefix + items[0]

    return encode
