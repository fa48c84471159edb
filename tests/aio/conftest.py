"""Fixtures for the async driver's tests: every test runs on asyncio, asyncio with uvloop and
trio (anyio's pytest plugin), with fresh connections and tables of its own.

Connections are opened and closed inside the test's own event loop; tables get unique names
and are dropped at teardown, so tests neither see nor disturb each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import pgwire
from pgwire.connection import AsyncConnection
from tests.pg import TRUST_USER, PostgresServer

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The event loop each test runs on: asyncio, asyncio with uvloop, trio."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


class AsyncConnector:
    """Opens async connections to the test server and remembers them, to close them at
    teardown."""

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
async def connect(
    pg_server: PostgresServer, anyio_backend: tuple[str, dict[str, Any]]
) -> AsyncIterator[AsyncConnector]:
    """A function that opens connections which the test need not close."""
    connector = AsyncConnector(pg_server)
    yield connector
    await connector.close_all()


@pytest.fixture
async def conn(connect: AsyncConnector) -> AsyncConnection:
    """A fresh connection as trust_user over TCP."""
    return await connect()


@pytest.fixture
async def other(connect: AsyncConnector) -> AsyncConnection:
    """A second fresh connection, to look at the first one from outside."""
    return await connect()


NewTable = Callable[[str], Awaitable[str]]


@pytest.fixture
async def new_table(connect: AsyncConnector, pg_server: PostgresServer) -> AsyncIterator[NewTable]:
    """``await new_table("a int, b text")`` creates a table with a unique name and returns it."""
    created: list[str] = []
    maker = await connect()

    async def create(columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        await maker.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        return name

    yield create
    # Close the connections first: one left inside a transaction would hold a lock on the table.
    await connect.close_all()
    if created:
        pg_server.psql(f"DROP TABLE IF EXISTS {', '.join(created)}")


@pytest.fixture
def channel() -> str:
    """A LISTEN/NOTIFY channel name no other test uses."""
    return f"chan_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def backend_name(anyio_backend: tuple[str, dict[str, Any]]) -> str:
    """``asyncio``, ``uvloop`` or ``trio``."""
    name, options = anyio_backend
    return "uvloop" if options.get("use_uvloop") else name


class SendCounter:
    """Counts the writes a connection makes from now on: every request the driver sends
    (one round trip) is one ``send_all`` on its stream, so this counts round trips."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.calls = 0
        #: Every write, as sent.
        self.sent: list[bytes] = []
        self._stream = conn._stream
        conn._stream = self

    async def send_all(self, data: bytes) -> None:
        self.calls += 1
        self.sent.append(data)
        await self._stream.send_all(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@pytest.fixture
def count_sends() -> Callable[[AsyncConnection], SendCounter]:
    """``count_sends(conn)`` starts counting the round trips ``conn`` starts."""
    return SendCounter
