"""Codecs for bit(n) and bit varying(n): bit strings, as str of '0' and '1'.

Binary layout (bit_send): int32 number of bits, then the bits packed into bytes, most
significant first, the last byte padded with zero bits.

Policy: a bit string decodes to a str such as ``'10110'`` (PostgreSQL's text output, and what
psycopg returns), and encodes from such a str. Ints are refused: their width would be a guess.
This module must not import the registry.
"""

from __future__ import annotations

import struct
from typing import Any

from pgwire.errors import DataError
from pgwire.types.base import wrong_type

_LENGTH = struct.Struct("!i")
_DIGITS = str.maketrans("", "", "01")


def decode_bit_binary(data: bytes) -> str:
    if len(data) < 4:
        raise DataError(f"invalid binary bit string: {len(data)} bytes, expected at least 4")
    (count,) = _LENGTH.unpack_from(data)
    if count < 0 or (count + 7) // 8 != len(data) - 4:
        raise DataError(f"invalid binary bit string: {count} bits in {len(data) - 4} bytes")
    if count == 0:
        return ""
    padding = -count % 8
    if data[-1] & ((1 << padding) - 1):
        raise DataError("invalid binary bit string: padding bits are set")
    return format(int.from_bytes(data[4:], "big") >> padding, f"0{count}b")


def decode_bit_text(data: bytes) -> str:
    text = data.decode("ascii")
    if text.translate(_DIGITS):
        raise DataError(f"invalid bit string text {text[:40]!r}: expected only 0 and 1")
    return text


def encode_bit(value: Any) -> bytes:
    """str of '0' and '1' characters."""
    if not isinstance(value, str):
        raise wrong_type(value, "bit", "str of '0' and '1'")
    if value.translate(_DIGITS):
        raise DataError(f"invalid bit string {value[:40]!r}: expected only '0' and '1'")
    count = len(value)
    if not count:
        return _LENGTH.pack(0)
    padding = -count % 8
    return _LENGTH.pack(count) + (int(value, 2) << padding).to_bytes((count + 7) // 8, "big")
