"""The vocabulary every codec module shares: format codes, codec signatures, error helpers.

A *decoder* turns one column value as it arrived on the wire (the payload of a DataRow field,
without its length, never NULL) into a Python object. An *encoder* turns a Python object into the
payload of one Bind parameter. NULL never reaches either: the driver maps it to and from ``None``.

This module must stay tiny and import nothing from the rest of the package, so that every codec
module can import it without cycles.
"""

import struct
from collections.abc import Callable
from typing import Any, Final

from pgwire.errors import DataError

TEXT: Final = 0
BINARY: Final = 1

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]


class StructDecoder:
    """A decoder for a value that is exactly one big-endian `struct` field (int4, float8, ...).

    It is an ordinary decoder, but row decoders recognise it and call its ``unpack`` directly,
    which saves one Python call per value on the hottest path of the driver.
    """

    __slots__ = ("format", "unpack")

    def __init__(self, fmt: str) -> None:
        packer = struct.Struct(fmt)
        if len(packer.unpack(bytes(packer.size))) != 1:
            raise ValueError(f"StructDecoder needs a format with exactly one field, got {fmt!r}")
        self.format = fmt
        self.unpack: Callable[[bytes], tuple[Any, ...]] = packer.unpack

    def __call__(self, data: bytes) -> Any:
        return self.unpack(data)[0]

    def __repr__(self) -> str:
        return f"StructDecoder({self.format!r})"


def wrong_type(value: object, type_name: str, expected: str) -> DataError:
    """The error for a parameter value of a Python type the encoder for `type_name` refuses."""
    return DataError(
        f"cannot encode {type(value).__name__} as {type_name}: expected {expected}; "
        f"convert the value, or cast the parameter in SQL"
    )
