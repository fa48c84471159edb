"""Codecs for composite types, anonymous records and hstore.

Binary layout of a composite or a record (record_send): int32 number of fields, then per
field uint32 type oid, int32 length (-1 for NULL) and the field's binary value. Text: ``(1,"a
b",)``, a field quoted when needed, ``""`` and ``\\`` escaping inside quotes, nothing for NULL.
hstore (hstore_send): int32 count, then per pair int32 key length and key, int32 value length
(-1 for NULL) and value.

Policies:

- A composite type (``CREATE TYPE ... AS (...)``, or a table's row type) decodes to a
  `pgwire.record.Record`, readable by index and by field name, that compares equal to the tuple
  of its values. It encodes from a tuple (fields in order; a Record or a NamedTuple is one), or
  a dict by field name (a missing field is NULL).
- An anonymous ``record`` (``SELECT ROW(1, 'a')``) decodes to a plain tuple. In binary format
  each field carries its type oid and is decoded by the codec of that oid; a field of a type
  without a binary codec comes back as its bytes (select it with a cast to text to get str).
  A record cannot be sent as a parameter (PostgreSQL cannot read an anonymous record).
- hstore decodes to ``dict[str, str | None]`` and encodes from a mapping of str to str/None.

This module must not import the registry: it gets the field codecs from the caller.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pgwire.errors import DataError
from pgwire.record import Record, RecordShape
from pgwire.types.base import Decoder, Encoder, wrong_type
from pgwire.types.ranges import unquote_field

_INT4 = struct.Struct("!i")
_FIELD = struct.Struct("!Ii")
_unpack_int4 = _INT4.unpack_from
_unpack_field = _FIELD.unpack_from
_NULL = b"\xff\xff\xff\xff"


def _bad(type_name: str, problem: str) -> DataError:
    return DataError(f"invalid binary {type_name}: {problem}")


def _read_fields(
    data: bytes, type_name: str, decoder_for: Callable[[int, int], Decoder]
) -> list[Any]:
    """Decode a binary record; `decoder_for(index, oid)` gives each field's decoder."""
    try:
        (count,) = _unpack_int4(data)
        end = len(data)
        if count < 0 or count * 8 > end - 4:
            raise _bad(type_name, f"{count} fields cannot fit in {end} bytes")
        position = 4
        values: list[Any] = []
        for index in range(count):
            oid, length = _unpack_field(data, position)
            position += 8
            if length == -1:
                values.append(None)
                continue
            if length < 0 or position + length > end:
                raise _bad(type_name, f"field length {length} out of bounds")
            values.append(decoder_for(index, oid)(data[position : position + length]))
            position += length
        if position != end:
            raise _bad(type_name, f"{end - position} trailing bytes")
        return values
    except (struct.error, ValueError, IndexError, OverflowError, TypeError) as exc:
        raise _bad(type_name, str(exc) or type(exc).__name__) from None


def binary_record_decoder(binary_decoder: Callable[[int], Decoder]) -> Decoder:
    """A decoder for anonymous records, looking each field's decoder up by its oid."""

    def decoder_for(index: int, oid: int) -> Decoder:
        return binary_decoder(oid)

    def decode(data: bytes) -> tuple[Any, ...]:
        return tuple(_read_fields(data, "record", decoder_for))

    return decode


def encode_record(value: Any) -> bytes:
    raise DataError(
        f"cannot send {type(value).__name__} as an anonymous record: PostgreSQL cannot read "
        "one; cast the parameter to a composite type ($1::my_type)"
    )


def binary_composite_decoder(
    type_name: str, names: Sequence[str], oids: Sequence[int], decoders: Sequence[Decoder]
) -> Decoder:
    """A binary decoder for composite `type_name`, whose fields the arguments describe."""
    shape = RecordShape(tuple(names))
    count = len(names)

    def decoder_for(index: int, oid: int) -> Decoder:
        if index >= count or oid != oids[index]:
            raise _bad(
                type_name,
                f"field {index} has type oid {oid}; the catalog said {count} fields of "
                f"types {list(oids)} (was the type altered? reconnect to read it again)",
            )
        return decoders[index]

    def decode(data: bytes) -> Record:
        values = _read_fields(data, type_name, decoder_for)
        if len(values) != count:
            raise _bad(type_name, f"{len(values)} fields, expected {count}")
        return Record(shape, tuple(values))

    return decode


def _field_values(value: Any, type_name: str, names: Sequence[str]) -> Sequence[Any]:
    if isinstance(value, Mapping):
        unknown = set(value) - set(names)
        if unknown:
            raise DataError(
                f"cannot encode dict as {type_name}: no field(s) {sorted(unknown)!r}; the "
                f"fields are {list(names)!r}"
            )
        return [value.get(name) for name in names]
    if isinstance(value, (tuple, Record)):
        values = tuple(value)
        if len(values) != len(names):
            raise DataError(
                f"cannot encode {type(value).__name__} of {len(values)} values as {type_name}, "
                f"which has {len(names)} fields {list(names)!r}"
            )
        return values
    raise wrong_type(value, type_name, "a tuple of its fields, or a dict by field name")


def binary_composite_encoder(
    type_name: str, names: Sequence[str], oids: Sequence[int], encoders: Sequence[Encoder]
) -> Encoder:
    """A binary encoder for composite `type_name` from tuples or dicts."""
    header = _INT4.pack(len(names))
    oid_bytes = [struct.pack("!I", oid) for oid in oids]

    def encode(value: Any) -> bytes:
        values = _field_values(value, type_name, names)
        parts = [header]
        for name, item, oid, encoder in zip(names, values, oid_bytes, encoders, strict=True):
            parts.append(oid)
            if item is None:
                parts.append(_NULL)
                continue
            try:
                data = encoder(item)
            except DataError as exc:
                raise DataError(f"{type_name} field {name!r}: {exc}") from None
            parts.append(_INT4.pack(len(data)))
            parts.append(data)
        return b"".join(parts)

    return encode


# text format

_QUOTED = re.compile(rb'"((?:[^"\\]|\\.|"")*)"', re.DOTALL)
_UNQUOTED = re.compile(rb'[^,)"]*')


def parse_record_text(data: bytes, decoders: Sequence[Decoder] | None) -> list[Any]:
    """Parse ``(a,b,...)``; decode field i with ``decoders[i]``, or keep str without them."""
    try:
        if data[:1] != b"(" or data[-1:] != b")":
            raise ValueError("expected '(...)'")
        values: list[Any] = []
        position = 1
        end = len(data) - 1
        while True:
            index = len(values)
            decode = (lambda b: b.decode()) if decoders is None else decoders[index]
            if data[position : position + 1] == b'"':
                match = _QUOTED.match(data, position)
                if match is None:
                    raise ValueError("unterminated quoted field")
                values.append(decode(unquote_field(match.group(1))))
            else:
                match = _UNQUOTED.match(data, position)
                assert match is not None
                token = match.group()
                values.append(decode(token) if token else None)
            position = match.end()
            if position == end:
                return values
            if data[position : position + 1] != b",":
                raise ValueError(f"expected ',' at {position}")
            position += 1
    except (ValueError, IndexError, TypeError, ArithmeticError) as exc:
        text = data[:60].decode("utf-8", "replace")
        raise DataError(f"invalid record text {text!r}: {exc}") from None


def decode_record_text(data: bytes) -> tuple[Any, ...]:
    """An anonymous record's text: a tuple of str (or None), the field types being unknown."""
    if data == b"()":
        return ()
    return tuple(parse_record_text(data, None))


def text_composite_decoder(
    type_name: str, names: Sequence[str], decoders: Sequence[Decoder]
) -> Decoder:
    """A text decoder for composite `type_name` with these field text decoders."""
    shape = RecordShape(tuple(names))
    count = len(names)

    def decode(data: bytes) -> Record:
        values = [] if (count == 0 and data == b"()") else parse_record_text(data, decoders)
        if len(values) != count:
            raise DataError(f"invalid {type_name} text: {len(values)} fields, expected {count}")
        return Record(shape, tuple(values))

    return decode


_NEEDS_QUOTES = re.compile(rb'[(),"\\\s]|^$')


def text_composite_encoder(
    type_name: str, names: Sequence[str], encoders: Sequence[Encoder]
) -> Encoder:
    """A text encoder for composite `type_name`: each field by its text encoder."""

    def encode(value: Any) -> bytes:
        values = _field_values(value, type_name, names)
        parts = []
        for name, item, encoder in zip(names, values, encoders, strict=True):
            if item is None:
                parts.append(b"")
                continue
            try:
                text = encoder(item)
            except DataError as exc:
                raise DataError(f"{type_name} field {name!r}: {exc}") from None
            if _NEEDS_QUOTES.search(text):
                text = b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'""') + b'"'
            parts.append(text)
        return b"(" + b",".join(parts) + b")"

    return encode


# hstore


def decode_hstore_binary(data: bytes) -> dict[str, str | None]:
    try:
        (count,) = _unpack_int4(data)
        end = len(data)
        if count < 0 or count * 8 > end - 4:
            raise _bad("hstore", f"{count} pairs cannot fit in {end} bytes")
        position = 4
        result: dict[str, str | None] = {}
        for _ in range(count):
            (length,) = _unpack_int4(data, position)
            position += 4
            if length < 0 or position + length > end:
                raise _bad("hstore", f"key length {length} out of bounds")
            key = data[position : position + length].decode()
            position += length
            (length,) = _unpack_int4(data, position)
            position += 4
            if length == -1:
                result[key] = None
                continue
            if length < 0 or position + length > end:
                raise _bad("hstore", f"value length {length} out of bounds")
            result[key] = data[position : position + length].decode()
            position += length
        if position != end:
            raise _bad("hstore", f"{end - position} trailing bytes")
        return result
    except (struct.error, ValueError, IndexError, OverflowError) as exc:
        raise _bad("hstore", str(exc) or type(exc).__name__) from None


_HSTORE_ITEM = re.compile(
    rb'\s*"((?:[^"\\]|\\.)*)"\s*=>\s*(?:"((?:[^"\\]|\\.)*)"|(NULL))\s*(,|$)', re.DOTALL
)
_BACKSLASH = re.compile(rb"\\(.)", re.DOTALL)


def decode_hstore_text(data: bytes) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    position = 0
    end = len(data)
    while position < end:
        match = _HSTORE_ITEM.match(data, position)
        if match is None or match.end() == position:
            text = data[:60].decode("utf-8", "replace")
            raise DataError(f"invalid hstore text {text!r} at {position}")
        key, value, _, _ = match.groups()
        try:
            result[_BACKSLASH.sub(rb"\1", key).decode()] = (
                None if value is None else _BACKSLASH.sub(rb"\1", value).decode()
            )
        except UnicodeDecodeError as exc:
            raise DataError(f"invalid hstore text: {exc}") from None
        position = match.end()
    return result


def encode_hstore(value: Any) -> bytes:
    """A mapping of str keys to str values or None."""
    if not isinstance(value, Mapping):
        raise wrong_type(value, "hstore", "a dict of str to str or None")
    parts = [_INT4.pack(len(value))]
    for key, item in value.items():
        if not isinstance(key, str) or not (item is None or isinstance(item, str)):
            raise DataError(
                f"cannot encode hstore pair {key!r}: {item!r}: keys must be str and values "
                "str or None"
            )
        for text in (key, item):
            if text is None:
                parts.append(_NULL)
                continue
            data = text.encode()
            if b"\x00" in data:
                raise DataError("cannot send a string containing NUL (\\x00) in an hstore")
            parts.append(_INT4.pack(len(data)))
            parts.append(data)
    return b"".join(parts)
