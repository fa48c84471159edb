"""Fixtures for the blocking driver's tests: fresh connections and tables of their own.

Every test gets new connections (closed at teardown) and tables with unique names (dropped at
teardown), so tests neither see nor disturb each other's data and can run in any order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pgwire
from pgwire.sync import Connection
from tests.pg import TRUST_USER, PostgresServer


class Connector:
    """Opens connections to the test server and remembers them, to close them at teardown."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.opened: list[Connection] = []

    def __call__(self, dsn: str | None = None, **params: Any) -> Connection:
        """Connect with ``dsn`` (default: trust_user over TCP) and keyword arguments."""
        conn = pgwire.connect(dsn or self.server.dsn(TRUST_USER.name), **params)
        self.opened.append(conn)
        return conn

    def close_all(self) -> None:
        for conn in self.opened:
            conn.close()


@pytest.fixture
def connect(pg_server: PostgresServer) -> Iterator[Connector]:
    """A function that opens connections which the test need not close."""
    connector = Connector(pg_server)
    yield connector
    connector.close_all()


@pytest.fixture
def conn(connect: Connector) -> Connection:
    """A fresh connection as trust_user over TCP."""
    return connect()


@pytest.fixture
def other(connect: Connector) -> Connection:
    """A second fresh connection, to look at the first one from outside."""
    return connect()


@pytest.fixture
def new_table(
    conn: Connection, connect: Connector, pg_server: PostgresServer
) -> Iterator[Callable[[str], str]]:
    """``new_table("a int, b text")`` creates a table with a unique name and returns it."""
    created: list[str] = []

    def create(columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        return name

    yield create
    # Close the connections first: one left inside a transaction would hold a lock on the table.
    connect.close_all()
    if created:
        pg_server.psql(f"DROP TABLE IF EXISTS {', '.join(created)}")


@pytest.fixture
def channel() -> str:
    """A LISTEN/NOTIFY channel name no other test uses."""
    return f"chan_{uuid.uuid4().hex[:12]}"
