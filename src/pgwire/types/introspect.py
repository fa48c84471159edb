"""Look up types the registry does not know in the server's catalog, and install their codecs.

Domains, enums, composite types, arrays and ranges of those, and extension types such as
hstore have OIDs that only the database knows. `IntrospectTypes` is an operation (in the sense
of `pgwire.operations`) that asks the catalog about a set of OIDs, and everything they are made
of (an array's element, a domain's base type, a range's subtype, a composite's fields,
recursively), in one simple query, then installs codecs into the registry:

- a domain gets its base type's codecs, an enum str codecs, a composite type
  `pgwire.record.Record` codecs, an array, range or multirange of any of them codecs derived
  from its element or subtype;
- a base type gets the codecs waiting for its name (`TypeRegistry.register_by_name`: hstore
  and citext by default), or none (its values read as text, as str); codecs waiting for the
  name of a type of the other kinds replace the functions they name.

How a driver uses it, after preparing a statement and before running it::

    missing = registry.unknown(statement.param_oids + column_oids)
    if missing:
        conn._run(IntrospectTypes(missing, registry))
        statement = PreparedStatement.build(...)  # again: encoders and decoders changed

Each OID is looked up once per registry: `TypeRegistry.unknown` leaves out OIDs looked up
before, found or not. A lookup the server refuses (a server without ``pg_range``, say) is not
raised: the OIDs are marked as looked up, a warning is logged, and their values read as text.

This module does no I/O itself: it only builds the messages and reads the events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pgwire.errors import ProtocolError
from pgwire.operations import Operation
from pgwire.protocol.messages import (
    BackendMessage,
    CommandComplete,
    DataRow,
    Query,
    RowDescription,
)
from pgwire.types.arrays import parse_array_text
from pgwire.types.registry import TypeRegistry

__all__ = ["IntrospectTypes", "introspection_query"]

logger = logging.getLogger("pgwire")

_QUERY = """\
WITH RECURSIVE wanted(oid) AS (
    SELECT unnest('{%s}'::pg_catalog.oid[])
  UNION
    SELECT part FROM wanted w JOIN pg_catalog.pg_type t ON t.oid = w.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem WHERE t.typcategory = 'A' AND t.typelem <> 0 AND t.typtype = 'b'
        UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
        UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid
        UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
            WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
            AND NOT a.attisdropped
    ) AS parts(part)
)
SELECT t.oid, t.typname, n.nspname, pg_catalog.format_type(t.oid, NULL), t.typtype,
    t.typcategory, t.typelem, t.typdelim, t.typbasetype, r.rngsubtype, m.rngtypid,
    ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
        WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
        AND NOT a.attisdropped ORDER BY a.attnum),
    ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0
        AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_catalog.pg_range m ON m.rngmultitypid = t.oid
WHERE t.oid IN (SELECT oid FROM wanted)"""


def introspection_query(oids: Iterable[int]) -> str:
    """The catalog query for `oids` (ints only: they are written into the SQL)."""
    numbers = sorted({int(oid) for oid in oids})
    if any(not 0 < oid < 2**32 for oid in numbers):
        raise ValueError(f"type oids are 1 to 4294967295, got {numbers}")
    return _QUERY % ",".join(map(str, numbers))


def _text(value: bytes | None) -> str:
    return "" if value is None else bytes(value).decode()


def _number(value: bytes | None) -> int:
    return 0 if value is None else int(value)


class IntrospectTypes(Operation):
    """Look up `oids` (and what they are made of) and install their codecs into `registry`.

    Send ``messages`` (one simple Query), ``feed`` the events up to ReadyForQuery, then
    ``check()``: by then the registry has the codecs. ``found`` holds the OIDs the catalog
    knew.
    """

    def __init__(self, oids: Iterable[int], registry: TypeRegistry) -> None:
        super().__init__()
        self.oids = frozenset(oids)
        self.registry = registry
        self._messages = [Query(introspection_query(self.oids))]
        self.found: set[int] = set()
        self._rows: list[tuple[bytes | None, ...]] = []

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, DataRow):
            if len(event.values) != 13:
                raise ProtocolError(
                    f"type introspection row has {len(event.values)} values, expected 13"
                )
            self._rows.append(tuple(event.values))
        elif not isinstance(event, RowDescription | CommandComplete):
            super().on_event(event)

    def feed(self, event: BackendMessage) -> None:
        super().feed(event)
        if not self.done:
            return
        if self.error is not None:
            logger.warning(
                "could not look up types %s in the catalog (%s); their values read as text",
                sorted(self.oids),
                self.error,
            )
            self.error = None
        else:
            self._install()
        self.registry.mark_introspected(self.oids | self.found)

    def _install(self) -> None:
        registry = self.registry
        for values in self._rows:
            (
                oid,
                typname,
                schema,
                display,
                typtype,
                category,
                element,
                delimiter,
                base,
                subtype,
                range_oid,
                field_names,
                field_oids,
            ) = values
            type_oid = _number(oid)
            name = _text(display) or _text(typname)
            kind = _text(typtype)
            self.found.add(type_oid)
            if registry.knows(type_oid) and type_oid not in self.oids:
                continue  # a part already known: keep its codecs
            if kind == "d":
                registry.register_domain(type_oid, _number(base), name)
            elif kind == "e":
                registry.register_enum(type_oid, name)
            elif kind == "c":
                names = parse_array_text(field_names or b"{}", bytes.decode)
                types = parse_array_text(field_oids or b"{}", int)
                registry.register_composite(type_oid, name, list(zip(names, types, strict=True)))
            elif kind == "r":
                registry.register_range(type_oid, _number(subtype), name)
            elif kind == "m":
                registry.register_multirange(type_oid, _number(range_oid), name)
            elif kind == "b" and _text(category) == "A" and _number(element):
                registry.register_array(
                    type_oid, _number(element), name, delimiter=_text(delimiter) or ","
                )
            # Codecs given by name go on top, replacing only the functions they name.
            registry.name_type(type_oid, _text(schema), _text(typname))
