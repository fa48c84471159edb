"""The codecs of PostgreSQL's built-in types, installed into a registry.

`install_builtins` is the one list of which built-in OID gets which codec; `default_registry`
returns a fresh registry holding them. The codecs themselves live in `scalars`, `numeric`,
`datetimes`, `jsoncodec`, `network`, `bits`, `money`, `geometric` and `composite`; arrays and
ranges of built-in types are derived from their elements' codecs (`oids.ARRAYS`,
`oids.RANGES`). This module must not hold codec logic of its own.
"""

from pgwire.types import (
    bits,
    composite,
    datetimes,
    geometric,
    money,
    network,
    numeric,
    oids,
    scalars,
)
from pgwire.types.arrays import Array
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
        scalars.decode_float4_text,
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
    (oids.INET, "inet", network.decode_inet_text, network.decode_inet_binary, network.encode_inet),
    (oids.CIDR, "cidr", network.decode_cidr_text, network.decode_cidr_binary, network.encode_cidr),
    (
        oids.MACADDR,
        "macaddr",
        network.decode_mac_text,
        network.decode_macaddr_binary,
        network.encode_macaddr,
    ),
    (
        oids.MACADDR8,
        "macaddr8",
        network.decode_mac_text,
        network.decode_macaddr8_binary,
        network.encode_macaddr8,
    ),
    (oids.BIT, "bit", bits.decode_bit_text, bits.decode_bit_binary, bits.encode_bit),
    (oids.VARBIT, "varbit", bits.decode_bit_text, bits.decode_bit_binary, bits.encode_bit),
    (oids.MONEY, "money", money.decode_money_text, money.decode_money_binary, money.encode_money),
    (
        oids.POINT,
        "point",
        geometric.decode_point_text,
        geometric.decode_point_binary,
        geometric.encode_point,
    ),
    (
        oids.LINE,
        "line",
        geometric.decode_line_text,
        geometric.decode_line_binary,
        geometric.encode_line,
    ),
    (
        oids.LSEG,
        "lseg",
        geometric.decode_lseg_text,
        geometric.decode_lseg_binary,
        geometric.encode_lseg,
    ),
    (oids.BOX, "box", geometric.decode_box_text, geometric.decode_box_binary, geometric.encode_box),
    (
        oids.PATH,
        "path",
        geometric.decode_path_text,
        geometric.decode_path_binary,
        geometric.encode_path,
    ),
    (
        oids.POLYGON,
        "polygon",
        geometric.decode_polygon_text,
        geometric.decode_polygon_binary,
        geometric.encode_polygon,
    ),
    (
        oids.CIRCLE,
        "circle",
        geometric.decode_circle_text,
        geometric.decode_circle_binary,
        geometric.encode_circle,
    ),
)

# Extension types: their OIDs differ between databases, so they are attached by name and
# resolved when a statement first uses them (pgwire.types.introspect).
_BY_NAME: tuple[tuple[str, Decoder, Decoder, Encoder], ...] = (
    (
        "hstore",
        composite.decode_hstore_text,
        composite.decode_hstore_binary,
        composite.encode_hstore,
    ),
    ("citext", scalars.decode_text, scalars.decode_text, scalars.encode_text),
)


def _decode_vector_text(data: bytes) -> list[int]:
    # int2vector and oidvector print as space-separated numbers, without braces; their lower
    # bound is 0, as binary format says.
    return Array([int(item) for item in data.split()], lower_bounds=(0,))


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
    registry.register_record()
    for range_oid, name, subtype, multirange_oid, multirange_name in oids.RANGES:
        registry.register_range(range_oid, subtype, name)
        registry.register_multirange(multirange_oid, range_oid, multirange_name)
    for array_oid, element_oid, delimiter in oids.ARRAYS:
        registry.register_array(array_oid, element_oid, delimiter=delimiter)
    for vector_oid, name in ((oids.INT2VECTOR, "int2vector"), (oids.OIDVECTOR, "oidvector")):
        registry.register(vector_oid, name, text_decoder=_decode_vector_text)
    for type_name, text_decoder, binary_decoder, binary_encoder in _BY_NAME:
        registry.register_by_name(
            type_name,
            text_decoder=text_decoder,
            binary_decoder=binary_decoder,
            binary_encoder=binary_encoder,
        )


def default_registry() -> TypeRegistry:
    """A new registry with the codecs of the built-in types; changing it changes no other."""
    registry = TypeRegistry()
    install_builtins(registry)
    return registry
