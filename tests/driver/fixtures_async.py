"""Fixtures and helpers of the driver tests: fresh connections and tables of their own.

``fixtures_async.py`` is the source; ``scripts/gen_sync.py`` generates ``fixtures_sync.py``
from it: the same fixtures for the blocking driver, each named as its async twin without
the leading "a". That is how a test written once asks for the right connection in both
drivers' tests. ``conftest.py`` offers both sets.

Every test gets new connections (closed at teardown) and tables with unique names (dropped
at teardown), so tests neither see nor disturb each other's data and can run in any order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import pgwire
from pgwire.connection import AsyncConnection
from tests.pg import TRUST_USER, PostgresServer

if True:  # ASYNC
    #: ``await anew_table("a int, b text")`` creates a table and returns its name.
    NewTable = Callable[[str], Awaitable[str]]
else:
    NewTable = Callable[[str], str]


class Connector:
    """Opens connections to the test server and remembers them, to close them at teardown."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.opened: list[AsyncConnection] = []

    async def __call__(self, dsn: str | None = None, **params: Any) -> AsyncConnection:
        """Connect with ``dsn`` (default: trust_user over TCP) and keyword arguments."""
        conn = await pgwire.connect_async(dsn or self.server.dsn(TRUST_USER.name), **params)
        self.opened.append(conn)
        return conn

    async def close_all(self) -> None:
        for conn in self.opened:
            await conn.close()


@pytest.fixture
async def aconnect(pg_server: PostgresServer) -> AsyncIterator[Connector]:
    """A function that opens connections which the test need not close."""
    connector = Connector(pg_server)
    yield connector
    await connector.close_all()


@pytest.fixture
async def aconn(aconnect: Connector) -> AsyncConnection:
    """A fresh connection as trust_user over TCP."""
    return await aconnect()


@pytest.fixture
async def aother(aconnect: Connector) -> AsyncConnection:
    """A second fresh connection, to look at the first one from outside."""
    return await aconnect()


@pytest.fixture
async def anew_table(aconnect: Connector, pg_server: PostgresServer) -> AsyncIterator[NewTable]:
    """``await anew_table("a int, b text")`` creates a table with a unique name and returns
    it (on a connection of its own, committed at once)."""
    created: list[str] = []
    maker = await aconnect()

    async def create(columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        await maker.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        return name

    yield create
    # Close the connections first: one left inside a transaction would hold a lock on the table.
    await aconnect.close_all()
    if created:
        pg_server.psql(f"DROP TABLE IF EXISTS {', '.join(created)}")


async def assert_usable(conn: AsyncConnection) -> None:
    """The connection is open, idle, and answers the next queries (extended and simple
    protocol) with their own results: nothing of an earlier reply was left unread."""
    assert not conn.closed
    assert conn.transaction_status == "I"
    assert await conn.fetchval("SELECT $1::int * 2", 21) == 42
    assert await conn.execute("SELECT 1") == "SELECT 1"


class SendCounter:
    """Counts the writes a connection makes from now on: every request the driver sends
    (one round trip) is one ``send_all`` on its stream, so this counts round trips."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.calls = 0
        #: Every write, as sent.
        self.sent: list[bytes] = []
        self._stream = conn._stream
        conn._stream = self  # type: ignore[assignment]

    async def send_all(self, data: bytes) -> None:
        self.calls += 1
        self.sent.append(data)
        await self._stream.send_all(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
