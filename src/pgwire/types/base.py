"""The vocabulary every codec module shares: format codes, codec signatures, error helpers.

A *decoder* turns one column value as it arrived on the wire (the payload of a DataRow field,
without its length, never NULL) into a Python object. An *encoder* turns a Python object into the
payload of one Bind parameter. NULL never reaches either: the driver maps it to and from ``None``.

This module must stay tiny and import nothing from the rest of the package, so that every codec
module can import it without cycles.
"""

import struct
from collections.abc import Callable
from typing import Any, Final, TypeVar

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


class StructEncoding:
    """How to encode common values of a fixed-width type in one `struct` call with others.

    It is metadata attached to an ordinary encoder (with `struct_encoding`), which stays the
    plain function it was: parameters still call it. Batch encoders (binary COPY,
    `pgwire.copy.BinaryCopyEncoder.encode_many`) look it up with `find_struct_encoding` and, for
    a value whose type is exactly one of ``types`` (not a subclass), pack ``prepare(value)``
    (the value itself when ``prepare`` is None; a tuple, unpacked, for a format of several
    fields) with big-endian ``format``, together with the other columns of a record and their
    length prefixes: no Python call at all for ints, floats and bools.

    The contract, which the tests check for every built-in one: for such a value, either
    ``struct.pack("!" + format, prepare(value))`` equals ``encoder(value)``, or ``prepare`` or
    the packing raises (any `Exception`: out of range, an offset to refuse, ...) and the batch
    encoder calls the encoder itself, which gives the value's bytes or its precise error.
    """

    __slots__ = ("fields", "format", "prepare", "size", "types")

    def __init__(
        self,
        fmt: str,
        types: tuple[type, ...],
        prepare: Callable[[Any], Any] | None = None,
    ) -> None:
        if not fmt or fmt[0] in "@=<>!":
            raise ValueError(f"StructEncoding takes a format without byte order, got {fmt!r}")
        packer = struct.Struct("!" + fmt)
        if not types:
            raise ValueError("StructEncoding needs at least one Python type")
        self.format = fmt
        self.types = types
        self.prepare = prepare
        self.fields = len(packer.unpack(bytes(packer.size)))
        self.size = packer.size

    def __repr__(self) -> str:
        names = ", ".join(t.__name__ for t in self.types)
        return f"StructEncoding({self.format!r}, ({names}), {self.prepare!r})"


_STRUCT_ENCODINGS: dict[Callable[..., Any], StructEncoding] = {}
_E = TypeVar("_E", bound=Callable[..., Any])


def struct_encoding(
    fmt: str, types: tuple[type, ...], prepare: Callable[[Any], Any] | None = None
) -> Callable[[_E], _E]:
    """Attach a `StructEncoding` to an encoder (a decorator; the encoder is returned as is)."""
    encoding = StructEncoding(fmt, types, prepare)

    def attach(encoder: _E) -> _E:
        _STRUCT_ENCODINGS[encoder] = encoding
        return encoder

    return attach


def find_struct_encoding(encoder: Encoder) -> StructEncoding | None:
    """The `StructEncoding` attached to `encoder`, or None."""
    try:
        return _STRUCT_ENCODINGS.get(encoder)
    except TypeError:  # an unhashable callable
        return None


#: What encoding a parameter or a COPY record may raise for a bad value (a wrong count, an
#: out-of-range number, a value of the wrong type): the generated fast encoders give up on
#: these and a careful path gives the precise error. Anything else, such as a bug in an
#: encoder of the user's own, propagates from either path alike.
ENCODE_ERRORS: Final = (DataError, TypeError, ValueError, OverflowError, LookupError, struct.error)


def compile_maker(source: str, filename: str, namespace: dict[str, Any] | None = None) -> Any:
    """The function ``make`` that generated ``source`` defines, compiled under ``filename``
    (what tracebacks show) with ``namespace`` as its globals: the codecs' generated row
    decoders, row parsers, parameter and COPY encoders all come from here."""
    scope: dict[str, Any] = {} if namespace is None else dict(namespace)
    exec(compile(source, filename, "exec"), scope)
    return scope["make"]


def wrong_type(value: object, type_name: str, expected: str) -> DataError:
    """The error for a parameter value of a Python type the encoder for `type_name` refuses."""
    return DataError(
        f"cannot encode {type(value).__name__} as {type_name}: expected {expected}; "
        f"convert the value, or cast the parameter in SQL"
    )
