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
INT2VECTOR: Final = 22
OIDVECTOR: Final = 30
XML: Final = 142
POINT: Final = 600
LSEG: Final = 601
PATH: Final = 602
BOX: Final = 603
POLYGON: Final = 604
LINE: Final = 628
CIDR: Final = 650
CIRCLE: Final = 718
MACADDR8: Final = 774
MONEY: Final = 790
MACADDR: Final = 829
INET: Final = 869
BIT: Final = 1560
VARBIT: Final = 1562
TSVECTOR: Final = 3614
INT4RANGE: Final = 3904
NUMRANGE: Final = 3906
TSRANGE: Final = 3908
TSTZRANGE: Final = 3910
DATERANGE: Final = 3912
INT8RANGE: Final = 3926
INT4MULTIRANGE: Final = 4451
NUMMULTIRANGE: Final = 4532
TSMULTIRANGE: Final = 4533
TSTZMULTIRANGE: Final = 4534
DATEMULTIRANGE: Final = 4535
INT8MULTIRANGE: Final = 4536

#: Types created by initdb and later have OIDs from here on (FirstGenbkiObjectId): only they
#: can be domains, enums, composites or extension types that a registry must look up.
FIRST_NON_BUILTIN: Final = 10000

#: Built-in array types: (array oid, element oid, element delimiter). From pg_type of
#: PostgreSQL 18 (typcategory 'A'); the vectors read like arrays in both formats.
ARRAYS: Final[tuple[tuple[int, int, str], ...]] = (
    (1000, BOOL, ","), (1001, BYTEA, ","), (1002, CHAR, ","), (1003, NAME, ","),
    (1016, INT8, ","), (INT2VECTOR, INT2, ","), (1005, INT2, ","), (1006, INT2VECTOR, ","),
    (1007, INT4, ","), (1008, 24, ","), (1009, TEXT, ","), (OIDVECTOR, OID, ","),
    (1028, OID, ","), (1010, 27, ","), (1011, 28, ","), (1012, 29, ","), (1013, OIDVECTOR, ","),
    (210, 71, ","), (270, 75, ","), (272, 81, ","), (273, 83, ","), (199, JSON, ","),
    (143, XML, ","), (1017, POINT, ","), (1018, LSEG, ","), (1019, PATH, ","), (1020, BOX, ";"),
    (1027, POLYGON, ","), (629, LINE, ","), (651, CIDR, ","), (1021, FLOAT4, ","),
    (1022, FLOAT8, ","), (719, CIRCLE, ","), (775, MACADDR8, ","), (791, MONEY, ","),
    (1040, MACADDR, ","), (1041, INET, ","), (1034, 1033, ","), (1014, BPCHAR, ","),
    (1015, VARCHAR, ","), (1182, DATE, ","), (1183, TIME, ","), (1115, TIMESTAMP, ","),
    (1185, TIMESTAMPTZ, ","), (1187, INTERVAL, ","), (1270, TIMETZ, ","), (1561, BIT, ","),
    (1563, VARBIT, ","), (1231, NUMERIC, ","), (2201, 1790, ","), (2207, 2202, ","),
    (2208, 2203, ","), (2209, 2204, ","), (2210, 2205, ","), (2211, 2206, ","),
    (1263, 2275, ","), (2951, UUID, ","), (2949, 2970, ","), (3221, 3220, ","),
    (3643, TSVECTOR, ","), (3645, 3615, ","), (3644, 3642, ","), (3735, 3734, ","),
    (3770, 3769, ","), (3807, JSONB, ","), (3905, INT4RANGE, ","), (3907, NUMRANGE, ","),
    (3909, TSRANGE, ","), (3911, TSTZRANGE, ","), (3913, DATERANGE, ","), (3927, INT8RANGE, ","),
    (4073, 4072, ","), (4090, 4089, ","), (4097, 4096, ","), (4192, 4191, ","),
    (6150, INT4MULTIRANGE, ","), (6151, NUMMULTIRANGE, ","), (6152, TSMULTIRANGE, ","),
    (6153, TSTZMULTIRANGE, ","), (6155, DATEMULTIRANGE, ","), (6157, INT8MULTIRANGE, ","),
    (5039, 5038, ","), (271, 5069, ","), (2287, RECORD, ","),
)  # fmt: skip

#: Built-in range types: (range oid, name, subtype oid, multirange oid, multirange name).
RANGES: Final[tuple[tuple[int, str, int, int, str], ...]] = (
    (INT4RANGE, "int4range", INT4, INT4MULTIRANGE, "int4multirange"),
    (NUMRANGE, "numrange", NUMERIC, NUMMULTIRANGE, "nummultirange"),
    (TSRANGE, "tsrange", TIMESTAMP, TSMULTIRANGE, "tsmultirange"),
    (TSTZRANGE, "tstzrange", TIMESTAMPTZ, TSTZMULTIRANGE, "tstzmultirange"),
    (DATERANGE, "daterange", DATE, DATEMULTIRANGE, "datemultirange"),
    (INT8RANGE, "int8range", INT8, INT8MULTIRANGE, "int8multirange"),
)
