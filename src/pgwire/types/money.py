"""The money codec: a fixed-point amount, to and from `decimal.Decimal`.

Binary layout (cash_send): int64, the amount in units of the currency's smallest fraction.

Policy: money decodes to a Decimal with 2 decimal places, and encodes from a Decimal, an int
or a float with at most 2 decimal places (others are refused, never rounded). The 2 is an
assumption: PostgreSQL takes the number of fractional digits from the server's
``lc_monetary``, which is 2 for C, POSIX and most locales, but 0 for e.g. ja_JP and 3 for
ar_BH: with such a locale, use numeric (``col::numeric``) instead of money. The text format
depends on ``lc_monetary`` even more (``$1,234.50``, ``1.234,50 €``): the text decoder
keeps only the digits, the sign and the last ``.`` or ``,`` as the decimal point.

This module must not import the registry.
"""

from __future__ import annotations

import re
import struct
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from pgwire.errors import DataError
from pgwire.types.base import StructDecoder, wrong_type

_int8 = struct.Struct("!q")
FRACTION_DIGITS: Final = 2
_cents = StructDecoder("!q")


def decode_money_binary(data: bytes) -> Decimal:
    if len(data) != 8:
        raise DataError(f"invalid binary money: {len(data)} bytes, expected 8")
    return Decimal(_cents(data)).scaleb(-FRACTION_DIGITS)


_NOT_DIGITS = re.compile(rb"[^0-9]")


def decode_money_text(data: bytes) -> Decimal:
    negative = data.startswith(b"-") or b"(" in data or data.endswith(b"-")
    separator = max(data.rfind(b"."), data.rfind(b","))
    if separator >= 0 and len(_NOT_DIGITS.sub(b"", data[separator + 1 :])) == FRACTION_DIGITS:
        whole, fraction = data[:separator], data[separator + 1 :]
    else:
        whole, fraction = data, b""
    digits = _NOT_DIGITS.sub(b"", whole) + b"." + (_NOT_DIGITS.sub(b"", fraction) or b"00")
    if digits.startswith(b"."):
        raise DataError(f"invalid money text {data[:40]!r}: no digits")
    value = Decimal(digits.decode())
    return -value if negative else value


def encode_money(value: Any) -> bytes:
    """Decimal, int or float (not bool) with at most 2 decimal places."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise wrong_type(value, "money", "Decimal, int or float")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        cents = amount.scaleb(FRACTION_DIGITS)
        if not cents.is_finite() or cents != cents.to_integral_value():
            raise DataError(
                f"cannot encode {value!r} as money: it has more than {FRACTION_DIGITS} "
                "decimal places (or is not finite); round it first"
            )
        return _int8.pack(int(cents))
    except (struct.error, InvalidOperation):
        raise DataError(f"value {value!r} out of range for money") from None
