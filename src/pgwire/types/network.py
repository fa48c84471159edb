"""Codecs for inet, cidr, macaddr and macaddr8.

Binary layout of inet and cidr (inet_send): family byte (2 IPv4, 3 IPv6), prefix length byte,
is-cidr byte, address length byte (4 or 16), then the address. macaddr is its 6 bytes,
macaddr8 its 8.

Policies (those of asyncpg and psycopg):

- inet decodes to `ipaddress.IPv4Address`/`IPv6Address` when its prefix covers the whole
  address (a host), else to `IPv4Interface`/`IPv6Interface` (an address with its network).
  cidr decodes to `IPv4Network`/`IPv6Network`.
- inet accepts addresses, interfaces, networks and str; cidr accepts networks, addresses
  (as a /32 or /128), and str. A cidr with bits set right of its prefix is refused, as
  PostgreSQL would.
- macaddr and macaddr8 decode to lowercase str in PostgreSQL's format (``08:00:2b:01:02:03``).
  They accept str in any format PostgreSQL reads (``:``, ``-``, ``.`` or no separators) and
  bytes of the right length; a 6-byte address sent as macaddr8 gets ``ff:fe`` in the middle
  (the EUI-64 rule PostgreSQL applies).

This module must not import the registry.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from pgwire.errors import DataError
from pgwire.types.base import wrong_type

_IPV4: Final = 2
_IPV6: Final = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _unpack(data: bytes, type_name: str) -> tuple[int, bytes, bool]:
    if len(data) < 4:
        raise DataError(f"invalid binary {type_name}: {len(data)} bytes, expected at least 4")
    family, bits, is_cidr, size = data[0], data[1], data[2], data[3]
    expected = {_IPV4: 4, _IPV6: 16}.get(family)
    if expected is None or size != expected or len(data) != 4 + size:
        raise DataError(
            f"invalid binary {type_name}: family {family}, address length {size}, "
            f"{len(data)} bytes in all"
        )
    if bits > size * 8 or is_cidr > 1:
        raise DataError(f"invalid binary {type_name}: prefix length {bits}, is_cidr {is_cidr}")
    return bits, data[4:], bool(is_cidr)


def decode_inet_binary(data: bytes) -> IPAddress | IPInterface:
    bits, address, _ = _unpack(data, "inet")
    if bits == len(address) * 8:
        return ipaddress.ip_address(address)
    if len(address) == 4:
        return ipaddress.IPv4Interface((address, bits))
    return ipaddress.IPv6Interface((address, bits))


def decode_cidr_binary(data: bytes) -> IPNetwork:
    bits, address, _ = _unpack(data, "cidr")
    try:
        if len(address) == 4:
            return ipaddress.IPv4Network((address, bits))
        return ipaddress.IPv6Network((address, bits))
    except ValueError as exc:
        raise DataError(f"invalid binary cidr: {exc}") from None


def decode_inet_text(data: bytes) -> IPAddress | IPInterface:
    text = data.decode("ascii")
    try:
        if "/" in text:
            return ipaddress.ip_interface(text)
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise DataError(f"invalid inet text {text[:60]!r}: {exc}") from None


def decode_cidr_text(data: bytes) -> IPNetwork:
    text = data.decode("ascii")
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        raise DataError(f"invalid cidr text {text[:60]!r}: {exc}") from None


def _pack(address: IPAddress, bits: int, is_cidr: bool) -> bytes:
    packed = address.packed
    family = _IPV4 if len(packed) == 4 else _IPV6
    return bytes([family, bits, is_cidr, len(packed)]) + packed


def encode_inet(value: Any) -> bytes:
    """An ipaddress address, interface or network, or a str ipaddress reads."""
    if isinstance(value, str):
        try:
            value = ipaddress.ip_interface(value)
        except ValueError as exc:
            raise DataError(f"invalid inet string {value[:60]!r}: {exc}") from None
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return _pack(value.ip, value.network.prefixlen, False)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return _pack(value, value.max_prefixlen, False)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return _pack(value.network_address, value.prefixlen, False)
    raise wrong_type(value, "inet", "an ipaddress address, interface or network, or str")


def encode_cidr(value: Any) -> bytes:
    """An ipaddress network or address, or a str ipaddress reads as a network."""
    if isinstance(value, (str, ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        try:
            value = ipaddress.ip_network(str(value))
        except ValueError as exc:
            raise DataError(
                f"invalid cidr value {str(value)[:60]!r}: {exc}; a cidr has no bits set "
                "right of its prefix (use inet for host addresses with a prefix)"
            ) from None
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return _pack(value, value.max_prefixlen, True)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return _pack(value.network_address, value.prefixlen, True)
    raise wrong_type(value, "cidr", "an ipaddress network or address, or str")


# macaddr and macaddr8


def _format_mac(data: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in data)


def decode_macaddr_binary(data: bytes) -> str:
    if len(data) != 6:
        raise DataError(f"invalid binary macaddr: {len(data)} bytes, expected 6")
    return _format_mac(data)


def decode_macaddr8_binary(data: bytes) -> str:
    if len(data) != 8:
        raise DataError(f"invalid binary macaddr8: {len(data)} bytes, expected 8")
    return _format_mac(data)


def decode_mac_text(data: bytes) -> str:
    return data.decode("ascii")


_MAC_SEPARATORS = re.compile(r"[:.\-]")
_HEX = re.compile(r"[0-9a-fA-F]*")


def _mac_bytes(value: Any, type_name: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise wrong_type(value, type_name, "str or bytes")
    digits = _MAC_SEPARATORS.sub("", value)
    if not _HEX.fullmatch(digits) or len(digits) % 2:
        raise DataError(f"invalid {type_name} string {value[:40]!r}: expected hex digits")
    return bytes.fromhex(digits)


def encode_macaddr(value: Any) -> bytes:
    """str such as '08:00:2b:01:02:03' (any separator PostgreSQL reads), or 6 bytes."""
    data = _mac_bytes(value, "macaddr")
    if len(data) != 6:
        raise DataError(f"invalid macaddr {value!r}: {len(data)} bytes, expected 6")
    return data


def encode_macaddr8(value: Any) -> bytes:
    """str or bytes of 8 bytes, or of 6 (made EUI-64 by inserting ff:fe, as PostgreSQL does)."""
    data = _mac_bytes(value, "macaddr8")
    if len(data) == 6:
        return data[:3] + b"\xff\xfe" + data[3:]
    if len(data) != 8:
        raise DataError(f"invalid macaddr8 {value!r}: {len(data)} bytes, expected 6 or 8")
    return data
