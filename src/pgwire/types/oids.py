"""The OIDs of PostgreSQL's built-in types, as named in its ``pg_type`` catalog.

These numbers are fixed across PostgreSQL versions (they come from ``pg_type.dat``). This module
only names them: it must not hold codecs or anything that changes at run time. Types created by
extensions (hstore, PostGIS, ...) have per-database OIDs and never belong here.
"""

from typing import Final

BOOL: Final = 16
BYTEA: Final = 17
CHAR: Final = 18  # "char": one byte, not char(n) (that is BPCHAR)
NAME: Final = 19
INT8: Final = 20
INT2: Final = 21
INT4: Final = 23
TEXT: Final = 25
OID: Final = 26
JSON: Final = 114
FLOAT4: Final = 700
FLOAT8: Final = 701
UNKNOWN: Final = 705
BPCHAR: Final = 1042
VARCHAR: Final = 1043
DATE: Final = 1082
TIME: Final = 1083
TIMESTAMP: Final = 1114
TIMESTAMPTZ: Final = 1184
INTERVAL: Final = 1186
TIMETZ: Final = 1266
NUMERIC: Final = 1700
RECORD: Final = 2249
VOID: Final = 2278
UUID: Final = 2950
JSONB: Final = 3802
