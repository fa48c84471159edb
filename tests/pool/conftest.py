"""Fixtures for the pool tests: the async pool's tests run on asyncio, asyncio with uvloop and
trio (anyio's pytest plugin), the blocking pool's once; each test's connections carry an
``application_name`` of their own, so the server's ``pg_stat_activity`` tells how many
connections that test's pool holds.

Connection counts on the server are read with ``pg_server.psql`` (a separate psycopg
connection) and polled until they settle, because a backend leaves ``pg_stat_activity`` a
moment after its client closed the connection.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.backends import anyio_backend
from tests.pg import TRUST_USER, PostgresServer

# pytest finds fixtures by their names in this module.
__all__ = ["Server", "anyio_backend", "server"]

#: How long to wait for the server's view to catch up before a count is asserted anyway.
SETTLE_SECONDS = 10.0


class Server:
    """The test server as one test's pools see it: a DSN naming the test, and counts."""

    def __init__(self, server: PostgresServer) -> None:
        self.pg = server
        self.app = f"pool_{uuid.uuid4().hex[:12]}"

    def dsn(self, user: str = TRUST_USER.name, password: str | None = None) -> str:
        """A DSN whose connections carry this test's application_name."""
        return self.pg.dsn(user, password, application_name=self.app)

    def pids(self) -> set[int]:
        """The backend pids of this test's connections, right now."""
        rows = self.pg.psql(
            f"SELECT pid FROM pg_stat_activity WHERE application_name = '{self.app}'"
        )
        return {row[0] for row in rows}

    def count(self) -> int:
        """How many connections this test holds open on the server, right now."""
        return len(self.pids())

    def settled_count(self, expected: int) -> int:
        """The connection count once it equals ``expected`` (or after SETTLE_SECONDS)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        count = self.count()
        while count != expected and time.monotonic() < deadline:
            time.sleep(0.02)
            count = self.count()
        return count

    def terminate(self, pid: int | None) -> None:
        """Kill a backend, as an administrator or a failover would."""
        assert pid is not None
        self.pg.psql(f"SELECT pg_terminate_backend({pid}, 10000)")


@pytest.fixture
def server(pg_server: PostgresServer) -> Server:
    """The test server, with an application_name for this test's connections."""
    return Server(pg_server)
