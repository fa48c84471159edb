"""COPY helpers shared by the drivers, with no I/O: the statements for table-level COPY and
the binary COPY format for Python records.

Binary COPY (``COPY ... FROM STDIN (FORMAT binary)``) is the fastest way to load rows: each
value travels in its type's binary form, encoded once by the same codecs as parameters.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from pgwire.errors import DataError, InterfaceError, NotSupportedError
from pgwire.types import BINARY, TypeRegistry

__all__ = [
    "BINARY_HEADER",
    "BINARY_TRAILER",
    "BinaryCopyEncoder",
    "copy_query_statement",
    "copy_statement",
    "qualified_name",
    "quote_identifier",
]

#: The binary COPY signature, flags (no OIDs) and header-extension length.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
BINARY_TRAILER = struct.pack("!h", -1)
_FORMATS = ("text", "csv", "binary")
_OPTIONS = {
    "delimiter": "DELIMITER",
    "null": "NULL",
    "header": "HEADER",
    "quote": "QUOTE",
    "escape": "ESCAPE",
    "encoding": "ENCODING",
    "force_quote": "FORCE_QUOTE",
    "force_not_null": "FORCE_NOT_NULL",
    "force_null": "FORCE_NULL",
    "freeze": "FREEZE",
}
_pack_count = struct.Struct("!h").pack
_pack_length = struct.Struct("!i").pack
_NULL = _pack_length(-1)


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    if "\0" in name:
        raise InterfaceError("identifiers cannot contain NUL characters")
    return '"' + name.replace('"', '""') + '"'


def qualified_name(table: str, schema: str | None = None) -> str:
    """``"schema"."table"`` (or ``"table"``), quoted."""
    target = quote_identifier(table)
    return f"{quote_identifier(schema)}.{target}" if schema else target


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def copy_statement(
    table: str,
    direction: str,
    *,
    columns: Sequence[str] | None = None,
    schema: str | None = None,
    format: str | None = None,
    **options: Any,
) -> str:
    """``COPY "schema"."table" (cols) FROM STDIN | TO STDOUT (FORMAT ..., ...)``.

    ``direction`` is ``FROM STDIN`` or ``TO STDOUT``. Options are COPY's, by their
    lower-case names (``delimiter``, ``null``, ``header``, ``quote``, ``escape``,
    ``force_quote``, ...); every name is quoted, every value a literal.
    """
    target = qualified_name(table, schema)
    if columns:
        target += " (" + ", ".join(quote_identifier(c) for c in columns) + ")"
    parts = []
    if format is not None:
        if format.lower() not in _FORMATS:
            raise InterfaceError(f"unknown COPY format {format!r}; expected one of {_FORMATS}")
        parts.append(f"FORMAT {format.lower()}")
    for name, value in options.items():
        keyword = _OPTIONS.get(name)
        if keyword is None:
            raise InterfaceError(
                f"unknown COPY option {name!r}; known: {', '.join(sorted(_OPTIONS))}"
            )
        if value is None:
            continue
        if isinstance(value, bool):
            parts.append(f"{keyword} {'true' if value else 'false'}")
        elif isinstance(value, list | tuple):
            parts.append(f"{keyword} (" + ", ".join(quote_identifier(v) for v in value) + ")")
        else:
            parts.append(f"{keyword} {_literal(str(value))}")
    suffix = f" ({', '.join(parts)})" if parts else ""
    return f"COPY {target} {direction}{suffix}"


class BinaryCopyEncoder:
    """Turns Python records into binary COPY data for columns of the given type OIDs."""

    def __init__(self, type_oids: Sequence[int], registry: TypeRegistry) -> None:
        encoders: list[Callable[[Any], bytes]] = []
        for position, oid in enumerate(type_oids, 1):
            fmt, encoder = registry.encoder(oid)
            if fmt != BINARY:
                raise NotSupportedError(
                    f"column {position} has type {registry.type_name(oid)}, which has no binary "
                    "encoder; use copy_to_table() with text or CSV data instead"
                )
            encoders.append(encoder)
        self._encoders = tuple(encoders)
        self._names = tuple(registry.type_name(oid) for oid in type_oids)

    def encode_record(self, record: Sequence[Any]) -> bytes:
        """One tuple of binary COPY data."""
        encoders = self._encoders
        if len(record) != len(encoders):
            raise DataError(
                f"a record has {len(record)} values for {len(encoders)} columns: {record!r:.80}"
            )
        parts = [_pack_count(len(encoders))]
        for position, (value, encoder) in enumerate(zip(record, encoders, strict=True), 1):
            if value is None:
                parts.append(_NULL)
                continue
            try:
                data = encoder(value)
            except DataError as exc:
                raise DataError(f"column {position}: {exc}") from None
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataError(
                    f"column {position}: cannot encode {type(value).__name__} as "
                    f"{self._names[position - 1]}: {exc}"
                ) from None
            parts.append(_pack_length(len(data)))
            parts.append(data)
        return b"".join(parts)


def copy_query_statement(query: str, *, format: str | None = None, **options: Any) -> str:
    """``COPY (query) TO STDOUT (FORMAT ..., ...)``, with the options of :func:`copy_statement`."""
    statement = copy_statement("_", "TO STDOUT", format=format, **options)
    return f"COPY ({query}) TO STDOUT" + statement.split("TO STDOUT", 1)[1]
