"""Fixtures of the chaos tests: the loops (asyncio, uvloop, trio; the blocking twins run
once), a chaos relay in front of the session's PostgreSQL, and a server of their own for
the tests that restart it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import anyio_backend
from tests.chaos.relay import ChaosRelay
from tests.pg import PostgresServer

# pytest finds fixtures by their names in this module.
__all__ = ["anyio_backend", "chaos_relay", "restartable_server"]


@pytest.fixture(scope="session")
def chaos_relay(pg_server: PostgresServer) -> Iterator[ChaosRelay]:
    """A relay to ``pg_server`` that breaks the connections it is armed for."""
    with ChaosRelay((pg_server.host, pg_server.port)) as relay:
        yield relay


@pytest.fixture(scope="module")
def restartable_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of the module's own, which its tests may restart."""
    with PostgresServer() as server:
        yield server
