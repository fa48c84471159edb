"""Fixtures for type tests through the real server: connections that look up unknown types.

`TypedConnection` does what the drivers will do once introspection is wired in: after
preparing a statement, it looks up the OIDs the registry does not know
(`pgwire.types.introspect.IntrospectTypes`) and rebuilds the statement's codecs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import pgwire
from pgwire.operations import PreparedStatement
from pgwire.protocol.messages import RowDescription
from pgwire.record import Record
from pgwire.sync import Connection
from pgwire.types.introspect import IntrospectTypes
from tests.pg import TRUST_USER, PostgresServer


class TypedConnection:
    """A blocking connection whose statements get codecs for the database's own types."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.registry = conn.registry
        self.introspections = 0

    def prepare(self, sql: str) -> PreparedStatement:
        conn = self.conn
        statement = conn.prepare(sql)
        columns = statement.columns or ()
        missing = self.registry.unknown([*statement.param_oids, *(c.type_oid for c in columns)])
        if not missing:
            return statement
        self.introspections += 1
        conn._run(IntrospectTypes(missing, self.registry))
        description = None if statement.columns is None else RowDescription(statement.columns)
        rebuilt = PreparedStatement.build(
            statement.name, sql, statement.param_oids, description, self.registry
        )
        conn._cache.put(rebuilt)
        return rebuilt

    def fetch(self, sql: str, *args: Any) -> list[Record]:
        self.prepare(sql)
        return self.conn.fetch(sql, *args)

    def fetchrow(self, sql: str, *args: Any) -> Record | None:
        self.prepare(sql)
        return self.conn.fetchrow(sql, *args)

    def fetchval(self, sql: str, *args: Any) -> Any:
        self.prepare(sql)
        return self.conn.fetchval(sql, *args)

    def execute(self, sql: str, *args: Any) -> str:
        if args:
            self.prepare(sql)
        return self.conn.execute(sql, *args)


@pytest.fixture(scope="module")
def module_conn(pg_server: PostgresServer) -> Iterator[Connection]:
    """One connection for a whole module (hypothesis tests cannot use function fixtures)."""
    with pgwire.connect(pg_server.dsn(TRUST_USER.name)) as conn:
        yield conn


@pytest.fixture
def tconn(pg_server: PostgresServer) -> Iterator[TypedConnection]:
    """A fresh connection, with its own registry, that introspects unknown types."""
    with pgwire.connect(pg_server.dsn(TRUST_USER.name)) as conn:
        yield TypedConnection(conn)
