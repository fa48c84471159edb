"""The codecs of PostgreSQL's built-in types, installed into a registry.

`install_builtins` is the one list of which built-in OID gets which codec; `default_registry`
returns a fresh registry holding them. The codecs themselves live in `scalars`, `numeric`,
`datetimes` and `jsoncodec`. This module must not hold codec logic of its own.
"""

from pgwire.types import datetimes, numeric, oids, scalars
from pgwire.types.base import Decoder, Encoder
from pgwire.types.registry import TypeRegistry

# oid, name, text decoder, binary decoder, binary encoder
_BUILTINS: tuple[tuple[int, str, Decoder, Decoder, Encoder], ...] = (
    (oids.BOOL, "bool", scalars.decode_bool_text, scalars.decode_bool_binary, scalars.encode_bool),
    (oids.INT2, "int2", scalars.decode_int_text, scalars.decode_int2_binary, scalars.encode_int2),
    (oids.INT4, "int4", scalars.decode_int_text, scalars.decode_int4_binary, scalars.encode_int4),
    (oids.INT8, "int8", scalars.decode_int_text, scalars.decode_int8_binary, scalars.encode_int8),
    (oids.OID, "oid", scalars.decode_int_text, scalars.decode_oid_binary, scalars.encode_oid),
    (
        oids.FLOAT4,
        "float4",
        scalars.decode_float_text,
        scalars.decode_float4_binary,
        scalars.encode_float4,
    ),
    (
        oids.FLOAT8,
        "float8",
        scalars.decode_float_text,
        scalars.decode_float8_binary,
        scalars.encode_float8,
    ),
    (
        oids.NUMERIC,
        "numeric",
        numeric.decode_numeric_text,
        numeric.decode_numeric_binary,
        numeric.encode_numeric,
    ),
    (oids.TEXT, "text", scalars.decode_text, scalars.decode_text, scalars.encode_text),
    (oids.VARCHAR, "varchar", scalars.decode_text, scalars.decode_text, scalars.encode_text),
    (oids.BPCHAR, "bpchar", scalars.decode_text, scalars.decode_text, scalars.encode_text),
    (oids.NAME, "name", scalars.decode_text, scalars.decode_text, scalars.encode_text),
    (oids.UNKNOWN, "unknown", scalars.decode_text, scalars.decode_text, scalars.encode_text),
    (
        oids.CHAR,
        '"char"',
        scalars.decode_char_text,
        scalars.decode_char_binary,
        scalars.encode_char,
    ),
    (
        oids.BYTEA,
        "bytea",
        scalars.decode_bytea_text,
        scalars.decode_bytea_binary,
        scalars.encode_bytea,
    ),
    (oids.UUID, "uuid", scalars.decode_uuid_text, scalars.decode_uuid_binary, scalars.encode_uuid),
    (
        oids.DATE,
        "date",
        datetimes.decode_date_text,
        datetimes.decode_date_binary,
        datetimes.encode_date,
    ),
    (
        oids.TIME,
        "time",
        datetimes.decode_time_text,
        datetimes.decode_time_binary,
        datetimes.encode_time,
    ),
    (
        oids.TIMETZ,
        "timetz",
        datetimes.decode_timetz_text,
        datetimes.decode_timetz_binary,
        datetimes.encode_timetz,
    ),
    (
        oids.TIMESTAMP,
        "timestamp",
        datetimes.decode_timestamp_text,
        datetimes.decode_timestamp_binary,
        datetimes.encode_timestamp,
    ),
    (
        oids.TIMESTAMPTZ,
        "timestamptz",
        datetimes.decode_timestamptz_text,
        datetimes.decode_timestamptz_binary,
        datetimes.encode_timestamptz,
    ),
    (
        oids.INTERVAL,
        "interval",
        datetimes.decode_interval_text,
        datetimes.decode_interval_binary,
        datetimes.encode_interval,
    ),
)


def install_builtins(registry: TypeRegistry) -> None:
    """Register the codecs of every built-in type pgwire knows (json and jsonb included)."""
    for oid, name, text_decoder, binary_decoder, binary_encoder in _BUILTINS:
        registry.register(
            oid,
            name,
            text_decoder=text_decoder,
            binary_decoder=binary_decoder,
            binary_encoder=binary_encoder,
        )
    registry.set_json()


def default_registry() -> TypeRegistry:
    """A new registry with the codecs of the built-in types; changing it changes no other."""
    registry = TypeRegistry()
    install_builtins(registry)
    return registry
