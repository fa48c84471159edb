"""Fixtures for the SQLAlchemy dialects' own tests: engines on the suite's PostgreSQL 18, for
``postgresql+pgwire`` (blocking) and ``postgresql+pgwire_async``, and a schema per test.

SQLAlchemy's compliance suite lives in ``compliance/`` and runs under SQLAlchemy's pytest
plugin, which takes over a whole pytest session: ``scripts/test-sqlalchemy`` runs it, and
this run leaves it out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.pg import TRUST_USER, PostgresServer

collect_ignore = ["compliance"]

#: SQLAlchemy's async layer runs on asyncio (and uvloop), not on trio.
BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The event loops the async tests run on: asyncio and asyncio with uvloop."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


def url(server: PostgresServer, driver: str = "pgwire", **query: str | int) -> str:
    """``postgresql+<driver>://trust_user@127.0.0.1:<port>/pgwire_test?...``."""
    dsn = server.dsn(TRUST_USER.name, **query)
    return dsn.replace("postgresql://", f"postgresql+{driver}://", 1)


@pytest.fixture
def schema(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh schema for the test's tables (dropped with them at teardown); hstore is
    installed in schema public."""
    name = f"sa_{uuid.uuid4().hex[:12]}"
    pg_server.psql(
        "CREATE EXTENSION IF NOT EXISTS hstore SCHEMA public;"
        f"CREATE SCHEMA {name} AUTHORIZATION {TRUST_USER.name}"
    )
    yield name
    pg_server.psql(f"DROP SCHEMA {name} CASCADE")


def schema_url(server: PostgresServer, schema: str, driver: str = "pgwire", **query: Any) -> str:
    """The URL of a session whose ``search_path`` is ``schema`` (then public)."""
    return url(server, driver, options=f"-csearch_path={schema},public", **query)


@pytest.fixture
def make_engine(pg_server: PostgresServer, schema: str) -> Iterator[Callable[..., sa.Engine]]:
    """``make_engine(query={...}, **create_engine_args)``: a ``postgresql+pgwire`` engine
    whose sessions work in the test's schema (``search_path``); disposed at teardown."""
    engines: list[sa.Engine] = []

    def make(query: dict[str, Any] | None = None, **kwargs: Any) -> sa.Engine:
        engine = sa.create_engine(schema_url(pg_server, schema, **(query or {})), **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def engine(make_engine: Callable[..., sa.Engine]) -> sa.Engine:
    return make_engine()


@pytest.fixture
async def async_engine(pg_server: PostgresServer, schema: str) -> AsyncIterator[AsyncEngine]:
    """A ``postgresql+pgwire_async`` engine whose sessions work in the test's schema."""
    engine = create_async_engine(schema_url(pg_server, schema, "pgwire_async"))
    yield engine
    await engine.dispose()
