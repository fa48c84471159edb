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

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from pgwire.errors import DataError, Error, InterfaceError
from pgwire.protocol.framing import RowParser
from pgwire.record import RecordShape
from pgwire.types import oids
from pgwire.types.base import (
    BINARY,
    TEXT,
    Decoder,
    Encoder,
    StructDecoder,
    compile_maker,
    wrong_type,
)
from pgwire.types.datetimes import Interval, format_interval
from pgwire.types.derived import Derived, build_derived
from pgwire.types.jsoncodec import JsonDumps, JsonLoads, default_dumps, default_loads, json_codecs
from pgwire.types.rows import make_row_parser
from pgwire.types.scalars import decode_bytea_binary, encode_str

RowDecoder = Callable[[Sequence["bytes | None"]], tuple[Any, ...]]

_decode_unknown_text: Decoder = bytes.decode


def _decode_unknown_binary(data: bytes) -> bytes:
    return data


#: Decoders that return the column's bytes unchanged: row parsers keep the slice as it is.
_RAW_DECODERS: frozenset[Decoder] = frozenset({_decode_unknown_binary, decode_bytea_binary})


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


class _CodecSet(NamedTuple):
    text_decoder: Decoder | None
    binary_decoder: Decoder | None
    text_encoder: Encoder | None
    binary_encoder: Encoder | None


class TypeRegistry:
    """Codecs by type OID. Empty when created; `pgwire.types.default_registry()` fills one.

    Lookups never fail: a type without a decoder reads as str (text format) or bytes (binary
    format), and a type without an encoder takes text parameters made by `encode_unknown`.
    Ask `has_binary` before requesting binary results or sending binary parameters.

    Besides types with codecs of their own (`register`), a registry knows types whose codecs
    are *derived* from other types' codecs: arrays, ranges, multiranges, domains, composites
    (`register_array` and friends). Derived codecs are built when first asked for, from the
    codecs registered at that moment, so registering a decoder for timestamptz also changes
    how timestamptz[] and tstzrange decode in row decoders built afterwards.

    Types of the database (domains, enums, composites, extension types) have OIDs only the
    server knows: `unknown` says which OIDs to look up, and
    `pgwire.types.introspect.IntrospectTypes` looks them up and installs their codecs, once
    per OID. `register_by_name` attaches codecs to a type name, resolved when a type of that
    name is looked up. `copy` gives each connection of a pool its own registry.
    """

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._decoders: tuple[dict[int, Decoder], dict[int, Decoder]] = ({}, {})
        self._text_encoders: dict[int, Encoder] = {}
        self._binary_encoders: dict[int, Encoder] = {}
        self._encoders: dict[int, tuple[int, Encoder]] = {}
        self._json_loads = default_loads
        self._json_dumps = default_dumps
        # oid -> ("array", element, delimiter) | ("range", subtype) | ("multirange", range)
        #        | ("domain", base) | ("composite", names, field oids) | ("record",)
        self._kinds: dict[int, tuple[Any, ...]] = {}
        self._derived: dict[int, Derived | None] = {}
        self._deriving: set[int] = set()
        self._pending: dict[str, _CodecSet] = {}
        self._oids_by_name: dict[str, int] = {}
        self._introspected: set[int] = set()

    def copy(self) -> "TypeRegistry":
        """An independent registry with the same codecs, kinds, names and lookups done.

        A pool makes one registry, registers its codecs, and gives each connection a copy:
        registering on one connection's copy then changes no other connection.
        """
        other = TypeRegistry()
        other._names = dict(self._names)
        other._decoders = (dict(self._decoders[0]), dict(self._decoders[1]))
        other._text_encoders = dict(self._text_encoders)
        other._binary_encoders = dict(self._binary_encoders)
        other._encoders = dict(self._encoders)
        other._json_loads = self._json_loads
        other._json_dumps = self._json_dumps
        other._kinds = dict(self._kinds)
        other._pending = dict(self._pending)
        other._oids_by_name = dict(self._oids_by_name)
        other._introspected = set(self._introspected)
        return other

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
        _check_oid(oid)
        self._names[oid] = name
        self._derived.clear()
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

    # ------------------------------------------------------------------------------------
    # Derived types

    def _set_kind(self, oid: int, name: str, kind: tuple[Any, ...]) -> None:
        _check_oid(oid)
        self._names[oid] = name
        self._kinds[oid] = kind
        self._derived.clear()

    def register_array(
        self, oid: int, element_oid: int, name: str | None = None, *, delimiter: str = ","
    ) -> None:
        """Make `oid` an array of `element_oid` (named `name`, by default 'element[]').

        `delimiter` separates elements in the text format (',' for every type but box).
        """
        if len(delimiter.encode()) != 1:
            raise InterfaceError(f"an array delimiter is one byte, not {delimiter!r}")
        name = name or f"{self.type_name(element_oid)}[]"
        self._set_kind(oid, name, ("array", element_oid, delimiter.encode()))

    def register_range(self, oid: int, subtype_oid: int, name: str) -> None:
        """Make `oid` a range over `subtype_oid`: values are `pgwire.types.Range`."""
        self._set_kind(oid, name, ("range", subtype_oid))

    def register_multirange(self, oid: int, range_oid: int, name: str) -> None:
        """Make `oid` a multirange of the range `range_oid`: values are lists of `Range`."""
        self._set_kind(oid, name, ("multirange", range_oid))

    def register_domain(self, oid: int, base_oid: int, name: str) -> None:
        """Make `oid` a domain over `base_oid`: it takes the base type's codecs."""
        self._set_kind(oid, name, ("domain", base_oid))

    def register_composite(self, oid: int, name: str, fields: Sequence[tuple[str, int]]) -> None:
        """Make `oid` a composite type with these (field name, type oid) pairs, in order.

        Values decode to `pgwire.record.Record` and encode from tuples or dicts.
        """
        names = tuple(field_name for field_name, _ in fields)
        field_oids = tuple(field_oid for _, field_oid in fields)
        self._set_kind(oid, name, ("composite", names, field_oids))

    def register_enum(self, oid: int, name: str) -> None:
        """Make `oid` an enum: its labels are str in both formats (a str subclass too)."""

        def encode_label(value: Any) -> bytes:
            if not isinstance(value, str):
                raise wrong_type(value, name, "str (one of the enum's labels)")
            return encode_str(value)

        self.register(
            oid,
            name,
            text_decoder=_decode_unknown_text,
            binary_decoder=_decode_unknown_text,
            text_encoder=encode_label,
            binary_encoder=encode_label,
        )

    def register_record(self, oid: int = oids.RECORD, name: str = "record") -> None:
        """Make `oid` the anonymous record: tuples whose fields carry their own type oids."""
        self._set_kind(oid, name, ("record",))

    def _derive(self, oid: int) -> Derived | None:
        try:
            return self._derived[oid]
        except KeyError:
            pass
        if oid in self._deriving:  # a type made of itself: PostgreSQL forbids it; be safe
            return None
        self._deriving.add(oid)
        try:
            derived = self._build_derived(oid)
        finally:
            self._deriving.discard(oid)
        self._derived[oid] = derived
        return derived

    def text_encoder(self, oid: int) -> Encoder:
        """The text-format encoder of ``oid`` (the codec's own, or the value's ``str``)."""
        fmt, encoder = self.encoder(oid)
        if fmt == TEXT:
            return encoder
        return self._text_encoders.get(oid, encode_unknown)

    def kind(self, oid: int) -> tuple[Any, ...] | None:
        """How the derived type ``oid`` is made (see :func:`~pgwire.types.derived.build_derived`),
        or ``None`` for a base type or an unknown one."""
        return self._kinds.get(oid)

    def _build_derived(self, oid: int) -> Derived | None:
        kind = self._kinds.get(oid)
        if kind is None:
            return None
        return build_derived(self, oid, self.type_name(oid), kind)

    # ------------------------------------------------------------------------------------
    # Types by name, and the types a database defines

    def register_by_name(
        self,
        name: str,
        *,
        text_decoder: Decoder | None = None,
        binary_decoder: Decoder | None = None,
        text_encoder: Encoder | None = None,
        binary_encoder: Encoder | None = None,
    ) -> None:
        """Set the codecs of the type called `name` ('hstore', or 'schema.name').

        A type's OID differs between databases (extension types, user types), so the codecs
        wait until a type of that name is looked up (`pgwire.types.introspect`): right away if
        this registry already knows the name, else when a statement first uses the type. The
        codecs then behave as if given to `register`: functions left out are kept.
        """
        given = _CodecSet(text_decoder, binary_decoder, text_encoder, binary_encoder)
        waiting = self._pending.get(name)
        if waiting is not None:  # functions left out are kept, as with register()
            given = _CodecSet(*(new or old for new, old in zip(given, waiting, strict=True)))
        codecs = self._pending[name] = given
        oid = self._oids_by_name.get(name)
        if oid is not None:
            self._install_pending(oid, name, codecs)

    def _install_pending(self, oid: int, name: str, codecs: _CodecSet) -> None:
        self.register(
            oid,
            self._names.get(oid, name),
            text_decoder=codecs.text_decoder,
            binary_decoder=codecs.binary_decoder,
            text_encoder=codecs.text_encoder,
            binary_encoder=codecs.binary_encoder,
        )

    def name_type(self, oid: int, schema: str, name: str) -> bool:
        """Record that `oid` is the type `schema`.`name`; apply codecs waiting for that name.

        Returns whether codecs were waiting (`register_by_name`). Introspection calls this.
        """
        qualified = f"{schema}.{name}"
        self._oids_by_name[qualified] = oid
        self._oids_by_name.setdefault(name, oid)
        for key in (qualified, name):
            codecs = self._pending.get(key)
            if codecs is not None:
                self._install_pending(oid, name if schema in _PLAIN_SCHEMAS else qualified, codecs)
                return True
        return False

    def unknown(self, type_oids: Iterable[int]) -> set[int]:
        """The OIDs among `type_oids` to look up in the catalog before decoding or encoding.

        That is the OIDs of types created by the database (10000 and up: built-in types are
        all known or read as text) that have no codecs here and were not looked up before:
        each OID is looked up once per registry, found or not (`mark_introspected`).
        """
        return {
            oid
            for oid in type_oids
            if oid >= oids.FIRST_NON_BUILTIN
            and oid not in self._introspected
            and oid not in self._names
        }

    def knows(self, oid: int) -> bool:
        """Whether `oid` has codecs of its own or derived ones (or at least a name) here."""
        return oid in self._names

    def mark_introspected(self, type_oids: Iterable[int]) -> None:
        """Remember that these OIDs were looked up, so `unknown` never returns them again."""
        self._introspected.update(type_oids)

    # ------------------------------------------------------------------------------------
    # Lookups

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
        if oid in self._kinds:
            derived = self._derive(oid)
            if derived is not None:
                found = derived.binary_decoder if fmt == BINARY else derived.text_decoder
                if found is not None:
                    return found
        return _decode_unknown_text if fmt == TEXT else _decode_unknown_binary

    def has_binary(self, oid: int) -> bool:
        """Whether both a binary decoder and a binary encoder are known for `oid`."""
        if oid in self._decoders[BINARY] and oid in self._binary_encoders:
            return True
        if oid in self._kinds:
            derived = self._derive(oid)
            return derived is not None and derived.binary
        return False

    def encoder(self, oid: int) -> tuple[int, Encoder]:
        """The format code and the encoder for a parameter of server type `oid`.

        An unknown type, or oid 0 (the server's "unspecified"), gets text format and
        `encode_unknown`.
        """
        found = self._encoders.get(oid)
        if found is not None:
            return found
        if oid in self._kinds:
            derived = self._derive(oid)
            if derived is not None:
                return derived.encoder
        return (TEXT, encode_unknown)

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

    def row_parser(self, fields: Sequence[tuple[int, int]], shape: RecordShape) -> RowParser | None:
        """A fused framing-and-decoding parser (see `pgwire.types.rows`) for rows of
        `fields` ((type oid, format code) per column) made into Records of `shape`; it
        declines any row it cannot decode, which `row_decoder` then reports."""
        decoders = [self.decoder(oid, fmt) for oid, fmt in fields]
        return make_row_parser(decoders, shape, _RAW_DECODERS)

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


_PLAIN_SCHEMAS = ("pg_catalog", "public")


def _check_oid(oid: int) -> None:
    if not 0 < oid < 2**32:
        raise InterfaceError(f"invalid type oid {oid!r}: expected 1 to 4294967295")


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
    maker: Callable[..., RowDecoder] = compile_maker(
        source, f"<pgwire row decoder {count} columns>"
    )
    return maker
