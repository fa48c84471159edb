"""Fixtures for the PEP 249 module's tests: fresh DB-API connections and tables of their own.

Every test gets new connections (closed at teardown) and tables with unique names (dropped at
teardown through the harness's own client), so tests can run in any order.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pgwire
import pgwire.dbapi
from tests.pg import TRUST_USER, PostgresServer


class Connector:
    """Opens DB-API connections to the test server, to close them at teardown."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.opened: list[pgwire.dbapi.Connection] = []

    @property
    def dsn(self) -> str:
        return self.server.dsn(TRUST_USER.name)

    def __call__(self, **params: Any) -> pgwire.dbapi.Connection:
        conn = pgwire.dbapi.connect(self.dsn, **params)
        self.opened.append(conn)
        return conn

    def close_all(self) -> None:
        for conn in self.opened:
            with contextlib.suppress(pgwire.dbapi.InterfaceError):
                conn.close()


@pytest.fixture
def connect(pg_server: PostgresServer) -> Iterator[Connector]:
    """A function that opens DB-API connections which the test need not close."""
    connector = Connector(pg_server)
    yield connector
    connector.close_all()


@pytest.fixture
def conn(connect: Connector) -> pgwire.dbapi.Connection:
    """A fresh DB-API connection (autocommit off) as trust_user over TCP."""
    return connect()


@pytest.fixture
def new_table(connect: Connector, pg_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """``new_table("a int, b text")`` creates (and commits) a table with a unique name."""
    created: list[str] = []

    def create(columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with pgwire.connect(connect.dsn) as owner:
            owner.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        return name

    yield create
    # Close the connections first: one left inside a transaction would hold a lock.
    connect.close_all()
    if created:
        pg_server.psql(f"DROP TABLE IF EXISTS {', '.join(created)}")
