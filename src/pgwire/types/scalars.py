"""Codecs for the simple built-in types: bool, integers, floats, text-like types, bytea, uuid.

Binary formats follow PostgreSQL's ``*send``/``*recv`` functions (all big-endian); text decoders
read PostgreSQL's default output. Text-like values are UTF-8: the driver sets client_encoding.

Encoders accept only the Python types listed on each function and raise `DataError` otherwise,
so that a value is never silently converted into something else. This module must not import
the registry: it only provides functions.
"""

import binascii
import re
import struct
from operator import attrgetter, index
from typing import Any, Final
from uuid import UUID, SafeUUID

from pgwire.errors import DataError
from pgwire.types.base import Encoder, StructDecoder, struct_encoding, wrong_type

# bool


def decode_bool_binary(data: bytes) -> bool:
    return data == b"\x01"


def decode_bool_text(data: bytes) -> bool:
    if data == b"t":
        return True
    if data == b"f":
        return False
    raise DataError(f"invalid bool text {data[:20]!r}: expected b't' or b'f'")


@struct_encoding("?", (bool,))
def encode_bool(value: Any) -> bytes:
    """bool only: 1, 0, 'yes' and friends are refused rather than guessed at."""
    if value is True:
        return b"\x01"
    if value is False:
        return b"\x00"
    raise wrong_type(value, "bool", "bool")


# integers

decode_int2_binary: Final = StructDecoder("!h")
decode_int4_binary: Final = StructDecoder("!i")
decode_int8_binary: Final = StructDecoder("!q")
decode_oid_binary: Final = StructDecoder("!I")
# int() parses ASCII digits straight from bytes.
decode_int_text: Final = int


def _as_int(value: Any, type_name: str) -> int:
    # bool is an int subclass, but True for an integer column is far more often a bug.
    if isinstance(value, bool):
        raise wrong_type(value, type_name, "int")
    try:
        return index(value)  # int subclasses (IntEnum) and integer-like types (numpy.int64)
    except TypeError:
        raise wrong_type(value, type_name, "int") from None


def _int_encoder(fmt: str, type_name: str, low: int, high: int) -> Encoder:
    pack = struct.Struct(fmt).pack

    def encode(value: Any) -> bytes:
        if type(value) is not int:
            value = _as_int(value, type_name)
        try:
            return pack(value)
        except struct.error:
            raise DataError(
                f"value {value} out of range for {type_name} ({low} to {high})"
            ) from None

    encode.__name__ = encode.__qualname__ = f"encode_{type_name}"
    encode.__doc__ = f"int (not bool) from {low} to {high}."
    # struct refuses out-of-range ints and floats itself; other types take the encoder.
    return struct_encoding(fmt[1:], (int,))(encode)


encode_int2: Final = _int_encoder("!h", "int2", -(2**15), 2**15 - 1)
encode_int4: Final = _int_encoder("!i", "int4", -(2**31), 2**31 - 1)
encode_int8: Final = _int_encoder("!q", "int8", -(2**63), 2**63 - 1)
encode_oid: Final = _int_encoder("!I", "oid", 0, 2**32 - 1)


# floats

decode_float4_binary: Final = StructDecoder("!f")
decode_float8_binary: Final = StructDecoder("!d")
# float() parses PostgreSQL's output, 'NaN', 'Infinity' and '-Infinity' included, from bytes.
decode_float_text: Final = float

_pack_float4 = struct.Struct("!f").pack
_pack_float8 = struct.Struct("!d").pack
_unpack_float4 = struct.Struct("!f").unpack


def decode_float4_text(data: bytes) -> float:
    """float4 text is the shortest decimal that rounds to the float4 value: round it so.

    ``float(b'9.275951e+07')`` is 92759510.0, but the float4 PostgreSQL printed that way is
    92759512.0, which is what binary format gives; rounding to single precision makes the two
    formats agree.
    """
    try:
        return _unpack_float4(_pack_float4(float(data)))[0]  # type: ignore[no-any-return]
    except OverflowError:
        raise DataError(f"invalid float4 text {data[:40]!r}: out of range") from None


def _as_float(value: Any, type_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(value, type_name, "float or int")
    try:
        return float(value)
    except OverflowError:
        raise DataError(f"value {value} out of range for {type_name}") from None


# struct packs an int as float(int) does, and raises OverflowError where the encoders do.
@struct_encoding("f", (float, int))
def encode_float4(value: Any) -> bytes:
    """float or int (not bool), rounded to single precision; NaN and infinities included."""
    if type(value) is not float:
        value = _as_float(value, "float4")
    try:
        return _pack_float4(value)
    except OverflowError:
        raise DataError(f"value {value!r} out of range for float4") from None


@struct_encoding("d", (float, int))
def encode_float8(value: Any) -> bytes:
    """float or int (not bool); NaN and infinities included."""
    if type(value) is not float:
        value = _as_float(value, "float8")
    return _pack_float8(value)


# text, varchar, bpchar, name, unknown: the same bytes in both formats

decode_text: Final = bytes.decode  # UTF-8, strict


def encode_text(value: Any) -> bytes:
    """str (subclasses too) as UTF-8; NUL characters are refused, as PostgreSQL would."""
    # encode_str's body, repeated: one Python call per text value (binary COPY calls this).
    if not isinstance(value, str):
        raise wrong_type(value, "text", "str")
    if "\x00" in value:
        raise _nul_error(value)
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise DataError(f"cannot encode string as UTF-8: {exc}") from None


def encode_str(value: str) -> bytes:
    """`value` as UTF-8 for any text parameter: no NUL, no lone surrogates."""
    if "\x00" in value:
        raise _nul_error(value)
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise DataError(f"cannot encode string as UTF-8: {exc}") from None


def _nul_error(value: str) -> DataError:
    return DataError(
        f"cannot send a string containing NUL (\\x00) at index {value.index(chr(0))}: "
        "PostgreSQL text cannot hold it; use bytea for binary data"
    )


# "char" (oid 18): one byte. Its value is a str of length 1 whose code point is the byte (0 to
# 255), or '' for the zero byte, which is what PostgreSQL prints for it.


def decode_char_binary(data: bytes) -> str:
    return "" if data == b"\x00" else data.decode("latin-1")


def decode_char_text(data: bytes) -> str:
    # PostgreSQL 15+ prints bytes >= 0x80 as a backslash and three octal digits.
    if len(data) == 4 and data[:1] == b"\\":
        return chr(int(data[1:], 8))
    return data.decode("latin-1")


def encode_char(value: Any) -> bytes:
    """A str of length 0 or 1 whose code point is below 256."""
    if not isinstance(value, str):
        raise wrong_type(value, '"char"', "str of length 1")
    if value == "":
        return b"\x00"
    if len(value) != 1 or ord(value) > 255:
        raise DataError(
            f'"char" holds one byte: expected a str of length 1 with a code point below 256, '
            f"got {value[:10]!r}{'...' if len(value) > 10 else ''}; use text for longer strings"
        )
    return value.encode("latin-1")


# bytea


def decode_bytea_binary(data: bytes) -> bytes:
    return data


_BYTEA_ESCAPE = re.compile(rb"\\(\\|[0-7]{3})")


def _unescape_bytea(match: "re.Match[bytes]") -> bytes:
    token = match.group(1)
    return b"\\" if token == b"\\" else bytes([int(token, 8)])


def decode_bytea_text(data: bytes) -> bytes:
    """Both of PostgreSQL's bytea_output styles: hex (``\\x0102``) and escape (``\\001\\002``)."""
    if data[:2] == b"\\x":
        try:
            return binascii.unhexlify(data[2:])
        except binascii.Error as exc:
            raise DataError(f"invalid bytea hex text: {exc}") from None
    return _BYTEA_ESCAPE.sub(_unescape_bytea, data)


def encode_bytea(value: Any) -> bytes:
    """bytes, bytearray or memoryview. str is refused: encode it first, and choose how."""
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise wrong_type(value, "bytea", "bytes, bytearray or memoryview")


# uuid

_new_object = object.__new__
_set_attribute = object.__setattr__
_UUID_UNKNOWN = SafeUUID.unknown


def decode_uuid_binary(data: bytes) -> UUID:
    # UUID(bytes=...) validates its arguments at length; this builds the same object 3x faster.
    if len(data) != 16:
        raise DataError(f"invalid binary uuid: expected 16 bytes, got {len(data)}")
    result = _new_object(UUID)
    _set_attribute(result, "int", int.from_bytes(data, "big"))
    _set_attribute(result, "is_safe", _UUID_UNKNOWN)
    return result


def decode_uuid_text(data: bytes) -> UUID:
    return UUID(data.decode("ascii"))


@struct_encoding("16s", (UUID,), attrgetter("bytes"))
def encode_uuid(value: Any) -> bytes:
    """uuid.UUID, or a str that uuid.UUID accepts."""
    if isinstance(value, UUID):
        return value.bytes
    if isinstance(value, str):
        try:
            return UUID(value).bytes
        except ValueError:
            raise DataError(f"invalid uuid string {value[:40]!r}") from None
    raise wrong_type(value, "uuid", "uuid.UUID or str")
