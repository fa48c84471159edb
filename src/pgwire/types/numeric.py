"""The numeric codec: PostgreSQL's arbitrary-precision decimal to and from `decimal.Decimal`.

Binary layout (numeric_send): int16 ndigits, int16 weight, uint16 sign, uint16 dscale, then
ndigits base-10000 digits. The value is sum(digit[i] * 10000 ** (weight - i)), shown with dscale
decimal places. sign is 0x0000 (+), 0x4000 (-), 0xC000 (NaN), 0xD000 (+Infinity) or 0xF000
(-Infinity; the infinities exist from PostgreSQL 14 on).

Decoding is exact: the Decimal has exactly dscale decimal places, whatever its size, and never
goes through the decimal context (which would round to 28 digits) or through int() and str() of
big ints (which Python limits to 4300 digits). Encoding keeps a Decimal's exponent as the scale,
so Decimal('1.50') arrives as 1.50; values beyond PostgreSQL's limits (131072 digits before the
point, 16383 after) raise `DataError`. This module must not import the registry.
"""

import struct
from decimal import Decimal
from typing import Any, Final

from pgwire.errors import DataError
from pgwire.types.base import wrong_type

_HEADER = struct.Struct("!HhHH")
_POSITIVE: Final = 0x0000
_NEGATIVE: Final = 0x4000
_NAN: Final = 0xC000
_PLUS_INFINITY: Final = 0xD000
_MINUS_INFINITY: Final = 0xF000
_MAX_DSCALE: Final = 0x3FFF
_MAX_WEIGHT: Final = 0x7FFF

# Most numerics have a handful of base-10000 digits: precompile their structs.
_FEW: Final = 32
_DIGITS = tuple(struct.Struct(f"!{n}H") for n in range(_FEW))

_DECIMAL_NAN: Final = Decimal("NaN")
_DECIMAL_PLUS_INFINITY: Final = Decimal("Infinity")
_DECIMAL_MINUS_INFINITY: Final = Decimal("-Infinity")
_SPECIAL = {
    _NAN: _DECIMAL_NAN,
    _PLUS_INFINITY: _DECIMAL_PLUS_INFINITY,
    _MINUS_INFINITY: _DECIMAL_MINUS_INFINITY,
}


def decode_numeric_binary(data: bytes) -> Decimal:
    ndigits, weight, sign, dscale = _HEADER.unpack_from(data)
    if sign != _POSITIVE and sign != _NEGATIVE:
        try:
            return _SPECIAL[sign]
        except KeyError:
            raise DataError(f"invalid sign 0x{sign:04X} in binary numeric") from None
    if ndigits < _FEW:
        # Faster than formatting each digit with %04d; at most 128 decimal digits here.
        coefficient = 0
        for digit in _DIGITS[ndigits].unpack_from(data, 8):
            coefficient = coefficient * 10000 + digit
        text = str(coefficient)
    else:
        text = ("%04d" * ndigits) % struct.unpack_from(f"!{ndigits}H", data, 8)
    # The last base-10000 digit is worth 10000 ** (weight - ndigits + 1); rescale the digit
    # string so that its last character is worth 10 ** -dscale.
    shift = 4 * (weight - ndigits + 1) + dscale
    if shift > 0:
        text += "0" * shift
    elif shift < 0:
        text = text[:shift] or "0"
    return Decimal(f"-{text}E{-dscale}" if sign else f"{text}E{-dscale}")


def decode_numeric_text(data: bytes) -> Decimal:
    return Decimal(data.decode("ascii"))


def encode_numeric(value: Any) -> bytes:
    """Decimal, int (not bool) or float; NaN and the infinities too (infinities need PG 14+).

    A float goes through its shortest repr, so 0.1 is sent as 0.1, not as the 55 digits of the
    binary fraction it really is.
    """
    if not isinstance(value, Decimal):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong_type(value, "numeric", "Decimal, int or float")
        value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    negative, digit_tuple, exponent = value.as_tuple()
    if isinstance(exponent, str):
        if exponent == "n":
            return _HEADER.pack(0, 0, _NAN, 0)
        if exponent == "F":
            return _HEADER.pack(0, 0, _MINUS_INFINITY if negative else _PLUS_INFINITY, 0)
        raise DataError("cannot encode a signaling NaN as numeric: use Decimal('NaN')")
    dscale = -exponent if exponent < 0 else 0
    if dscale > _MAX_DSCALE:
        raise DataError(
            f"numeric value {value} has {dscale} digits after the decimal point; "
            f"PostgreSQL allows at most {_MAX_DSCALE}: round it first"
        )
    # Pad the digit string on the right until the exponent is a multiple of 4 and on the left
    # until its length is, then cut it into base-10000 digits.
    text = ("%d" * len(digit_tuple)) % digit_tuple
    right = exponent % 4
    text = text + "0" * right
    text = "0" * (-len(text) % 4) + text
    digits = [int(text[i : i + 4]) for i in range(0, len(text), 4)]
    weight = (exponent - right) // 4 + len(digits) - 1
    while digits and digits[-1] == 0:
        digits.pop()
    start = 0
    while start < len(digits) and digits[start] == 0:
        start += 1
    if start:
        del digits[:start]
        weight -= start
    if not digits:
        # Zero, -0 included: PostgreSQL's zero is positive and has no digits.
        return _HEADER.pack(0, 0, _POSITIVE, dscale)
    if weight > _MAX_WEIGHT:
        raise DataError(
            f"numeric value {value:.6E} is too large for PostgreSQL "
            "(at most 131072 digits before the decimal point)"
        )
    ndigits = len(digits)
    header = _HEADER.pack(ndigits, weight, _NEGATIVE if negative else _POSITIVE, dscale)
    if ndigits < _FEW:
        return header + _DIGITS[ndigits].pack(*digits)
    return header + struct.pack(f"!{ndigits}H", *digits)
