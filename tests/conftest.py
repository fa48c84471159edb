"""Fixtures shared by every test: the real PostgreSQL 18 server.

This file must stay cheap to import, because unit tests that need no server load it too:
it imports only pytest and the harness module, and the server starts the first time a test
asks for `pg_server`. Nothing is skipped: a server that cannot start fails the tests that
need it, with the server log in the error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import PostgresServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 18 server (npm build, with OpenSSL) for the whole session."""
    with PostgresServer() as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tag the tests that use the server, so `-m "not pg"` runs only the ones that need none.
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pg)
