"""The type registry: which functions turn a type's wire bytes into Python values and back.

A `TypeRegistry` maps a type OID and a format code (0 text, 1 binary) to a decoder, and a type
OID to the format and encoder for parameters of that type. `TypeRegistry.row_decoder` builds,
once per RowDescription, the function a driver runs on every DataRow: it binds each column's
decoder once and compiles a function with one expression per column, because that is the
hottest loop of the driver (measurements in `_row_decoder_factory`).

A registry is plain data: it must not do I/O or know about connections. The session settings
the codecs rely on (client_encoding UTF8, DateStyle ISO, IntervalStyle postgres) are the
driver's to set. The codecs of PostgreSQL's own types are in the sibling modules, and
`pgwire.types.default_registry` returns a registry holding them all.
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from pgwire.errors import DataError, Error, InterfaceError
from pgwire.types import oids
from pgwire.types.base import BINARY, TEXT, Decoder, Encoder, StructDecoder
from pgwire.types.datetimes import Interval, format_interval
from pgwire.types.jsoncodec import JsonDumps, JsonLoads, default_dumps, default_loads, json_codecs
from pgwire.types.scalars import encode_str

RowDecoder = Callable[[Sequence["bytes | None"]], tuple[Any, ...]]

_decode_unknown_text: Decoder = bytes.decode


def _decode_unknown_binary(data: bytes) -> bytes:
    return data


def encode_unknown(value: Any) -> bytes:
    """Text for a parameter whose type has no encoder here, or that the server left unknown.

    str goes as is; bool as 'true'/'false'; numbers, dates, times, UUIDs and Decimals in a
    form PostgreSQL's input functions read; timedelta and `Interval` as interval text; other
    objects as str(value). bytes and containers (list, tuple, dict, set) are refused: their str()
    is never what the server expects, and guessing between bytea, text, arrays and json would
    silently store the wrong thing. Cast the parameter in SQL ($1::bytea, $1::jsonb) instead.
    """
    if isinstance(value, str):
        return encode_str(value)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        try:
            return int.__repr__(value).encode()  # the plain digits, even for int enums
        except ValueError as exc:  # more digits than sys.get_int_max_str_digits()
            raise DataError(f"cannot send int as text: {exc}") from None
    if isinstance(value, float):
        return float.__repr__(value).encode()  # 'inf' and 'nan' are read by float and numeric
    if isinstance(value, datetime):
        return value.isoformat(" ").encode()
    if isinstance(value, (date, time, Decimal, UUID)):
        return str(value).encode()
    if isinstance(value, (timedelta, Interval)):
        return format_interval(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise DataError(
            f"cannot send {type(value).__name__} as a parameter of unknown type: cast the "
            "parameter to bytea in SQL ($1::bytea)"
        )
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        raise DataError(
            f"cannot send {type(value).__name__} as a parameter of unknown type: cast the "
            "parameter in SQL ($1::jsonb, $1::int[], ...)"
        )
    return encode_str(str(value))


class TypeRegistry:
    """Codecs by type OID. Empty when created; `pgwire.types.default_registry()` fills one.

    Lookups never fail: a type without a decoder reads as str (text format) or bytes (binary
    format), and a type without an encoder takes text parameters made by `encode_unknown`.
    Ask `has_binary` before requesting binary results or sending binary parameters.
    """

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._decoders: tuple[dict[int, Decoder], dict[int, Decoder]] = ({}, {})
        self._text_encoders: dict[int, Encoder] = {}
        self._binary_encoders: dict[int, Encoder] = {}
        self._encoders: dict[int, tuple[int, Encoder]] = {}
        self._json_loads = default_loads
        self._json_dumps = default_dumps

    def register(
        self,
        oid: int,
        name: str,
        *,
        text_decoder: Decoder | None = None,
        binary_decoder: Decoder | None = None,
        text_encoder: Encoder | None = None,
        binary_encoder: Encoder | None = None,
    ) -> None:
        """Set the codecs of type `oid` (called `name` in messages).

        The functions passed replace the current ones; those left out are kept, so registering
        only a decoder that maps 'infinity' for timestamptz keeps the built-in encoder.
        Parameters are sent in binary when a binary encoder is known, else in text. Decoders
        get the value's bytes (never NULL); encoders return bytes and raise
        `pgwire.errors.DataError` for values they cannot encode. Row decoders already built
        keep the codecs they were built with.
        """
        if not 0 < oid < 2**32:
            raise InterfaceError(f"invalid type oid {oid!r}: expected 1 to 4294967295")
        self._names[oid] = name
        if text_decoder is not None:
            self._decoders[TEXT][oid] = text_decoder
        if binary_decoder is not None:
            self._decoders[BINARY][oid] = binary_decoder
        if text_encoder is not None:
            self._text_encoders[oid] = text_encoder
        if binary_encoder is not None:
            self._binary_encoders[oid] = binary_encoder
        if oid in self._binary_encoders:
            self._encoders[oid] = (BINARY, self._binary_encoders[oid])
        elif oid in self._text_encoders:
            self._encoders[oid] = (TEXT, self._text_encoders[oid])

    def set_json(self, *, loads: JsonLoads | None = None, dumps: JsonDumps | None = None) -> None:
        """(Re)register json and jsonb with these functions; those left out are kept.

        `loads` receives the JSON text as bytes; `dumps` returns str or bytes (UTF-8) and gets
        every parameter value, str included (see `pgwire.types.jsoncodec`). The defaults are
        ``json.loads`` and a compact ``json.dumps`` that refuses NaN.
        """
        if loads is not None:
            self._json_loads = loads
        if dumps is not None:
            self._json_dumps = dumps
        codecs = json_codecs(self._json_loads, self._json_dumps)
        self.register(
            oids.JSON,
            "json",
            text_decoder=codecs.decode_json,
            binary_decoder=codecs.decode_json,
            binary_encoder=codecs.encode_json,
        )
        self.register(
            oids.JSONB,
            "jsonb",
            text_decoder=codecs.decode_json,
            binary_decoder=codecs.decode_jsonb_binary,
            binary_encoder=codecs.encode_jsonb,
        )

    def type_name(self, oid: int) -> str:
        """The registered name of `oid`, or 'oid N' for a type this registry does not know."""
        return self._names.get(oid) or f"oid {oid}"

    def decoder(self, oid: int, fmt: int) -> Decoder:
        """The decoder for values of type `oid` in format `fmt` (0 text, 1 binary)."""
        if fmt != TEXT and fmt != BINARY:
            raise InterfaceError(f"invalid format code {fmt!r}: expected 0 (text) or 1 (binary)")
        found = self._decoders[fmt].get(oid)
        if found is not None:
            return found
        return _decode_unknown_text if fmt == TEXT else _decode_unknown_binary

    def has_binary(self, oid: int) -> bool:
        """Whether both a binary decoder and a binary encoder are known for `oid`."""
        return oid in self._decoders[BINARY] and oid in self._binary_encoders

    def encoder(self, oid: int) -> tuple[int, Encoder]:
        """The format code and the encoder for a parameter of server type `oid`.

        An unknown type, or oid 0 (the server's "unspecified"), gets text format and
        `encode_unknown`.
        """
        return self._encoders.get(oid) or (TEXT, encode_unknown)

    def row_decoder(self, fields: Sequence[tuple[int, int]]) -> RowDecoder:
        """A function from a DataRow's values to a tuple of Python values (NULL is None).

        `fields` gives (type oid, format code) per column, as in the RowDescription. The
        function raises `pgwire.errors.DataError` naming the column when a value cannot be
        decoded, and `pgwire.errors.InterfaceError` when the row has a different number of
        values than `fields`.
        """
        fields = tuple((oid, fmt) for oid, fmt in fields)
        decoders = tuple(self.decoder(oid, fmt) for oid, fmt in fields)
        inline = tuple(isinstance(d, StructDecoder) for d in decoders)
        targets = [d.unpack if isinstance(d, StructDecoder) else d for d in decoders]

        def explain(values: Sequence[bytes | None], exc: Exception) -> Error:
            return self._row_error(fields, decoders, values, exc)

        return _row_decoder_factory(inline)(explain, *targets)

    def _row_error(
        self,
        fields: tuple[tuple[int, int], ...],
        decoders: tuple[Decoder, ...],
        values: Sequence[bytes | None],
        exc: Exception,
    ) -> Error:
        # Only runs after a row failed: find the column again, for a useful message.
        if len(values) != len(fields):
            return InterfaceError(
                f"DataRow has {len(values)} values but RowDescription has {len(fields)} "
                "columns: the row and the row decoder do not belong together"
            )
        for column, ((oid, fmt), decode, value) in enumerate(
            zip(fields, decoders, values, strict=True)
        ):
            if value is None:
                continue
            try:
                decode(value)
            except Exception as column_exc:
                return DataError(
                    f"cannot decode column {column} ({self.type_name(oid)}, "
                    f"{'binary' if fmt == BINARY else 'text'} format, {len(value)} bytes): "
                    f"{column_exc}"
                )
        return DataError(f"cannot decode row: {exc}")


@lru_cache(maxsize=256)
def _row_decoder_factory(inline: tuple[bool, ...]) -> Callable[..., RowDecoder]:
    """Compile a maker of row decoders for this shape of row (once per shape).

    For three columns, the second a `StructDecoder`, the maker returns::

        def decode_row(values):
            try:
                v0, v1, v2, = values
                return (None if v0 is None else d0(v0), None if v1 is None else d1(v1)[0],
                        None if v2 is None else d2(v2), )
            except Exception as exc:
                raise explain(values, exc) from exc

    On CPython 3.11, 10k rows of 10 binary columns take 6.1 ms (int/float columns) and 6.3 ms
    (text) this way, against 15 ms and 11 ms for ``tuple([None if v is None else d(v) for d, v
    in zip(decoders, values)])``; calling ``unpack(v)[0]`` inline for a `StructDecoder` saves
    a further ~15% on numeric columns. The unpacking also checks the number of values for
    free. Compiling costs ~150 us per new shape (hence the cache); only column numbers go into
    the source, never names or data.
    """
    count = len(inline)
    params = "".join(f", d{i}" for i in range(count))
    if count:
        unpack = "".join(f"v{i}, " for i in range(count)) + "= values"
    else:
        unpack = "if len(values): raise ValueError"
    columns = "".join(
        f"None if v{i} is None else d{i}(v{i}){'[0]' if struct_field else ''}, "
        for i, struct_field in enumerate(inline)
    )
    source = (
        f"def make(explain{params}):\n"
        "    def decode_row(values):\n"
        "        try:\n"
        f"            {unpack}\n"
        f"            return ({columns})\n"
        "        except Exception as exc:\n"
        "            raise explain(values, exc) from exc\n"
        "    return decode_row\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<pgwire row decoder {count} columns>", "exec"), namespace)
    maker: Callable[..., RowDecoder] = namespace["make"]
    return maker
