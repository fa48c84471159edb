"""IAM through the dialects: ``?iam=dsql`` against pgwire's local DSQL endpoint (a real
relay to the suite's PostgreSQL that checks each token), one cached token provider per
engine, and a pool recycle under DSQL's 60-minute limit unless the user sets one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from pgwire.dsql_local import TEST_CREDENTIALS, LocalDsqlEndpoint, Upstream
from pgwire.iam import TokenProvider
from pgwire.sqlalchemy.base import IAM_POOL_RECYCLE, PGDialect_pgwire
from tests.pg import TRUST_USER, PostgresServer


class Endpoint:
    def __init__(self, endpoint: LocalDsqlEndpoint, port: int) -> None:
        self.endpoint = endpoint
        self.port = port

    def url(self, driver: str = "pgwire", **query: str) -> str:
        params = {"iam": "dsql", "hostaddr": "127.0.0.1", "sslrootcert": self.endpoint.ca_file}
        params.update(query)
        text = "&".join(f"{key}={value}" for key, value in params.items())
        return f"postgresql+{driver}://admin@{self.endpoint.endpoint}:{self.port}/postgres?{text}"


@pytest.fixture(scope="module")
def dsql(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    upstream = Upstream(pg_server.host, pg_server.port, TRUST_USER.name, None, pg_server.database)
    endpoint = LocalDsqlEndpoint(upstream, cert_dir=Path(tmp_path_factory.mktemp("dsql")))
    with endpoint.running_in_thread() as port:
        yield Endpoint(endpoint, port)


CONNECT_ARGS: dict[str, Any] = {"credentials": TEST_CREDENTIALS}


def _provider(engine: sa.Engine) -> TokenProvider:
    dialect = engine.dialect
    assert isinstance(dialect, PGDialect_pgwire)
    assert dialect._iam is not None
    password = dialect._iam[1]["password"]
    provider = getattr(password, "__self__", password)  # async_token is a bound method
    assert isinstance(provider, TokenProvider)
    return provider


def test_every_physical_connection_gets_the_engines_cached_token(dsql: Endpoint) -> None:
    engine = sa.create_engine(dsql.url(), connect_args=CONNECT_ARGS, pool_size=3)
    sessions = dsql.endpoint.sessions
    connections = [engine.connect() for _ in range(3)]
    for conn in connections:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    for conn in connections:
        conn.close()
    assert dsql.endpoint.sessions - sessions == 3
    # One token made, cached and handed to each new connection.
    assert _provider(engine).tokens_made == 1
    engine.dispose()
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 2")) == 2
    assert _provider(engine).tokens_made == 1


def test_a_refused_token_fails_the_connection(dsql: Endpoint) -> None:
    from pgwire.iam import StaticCredentials

    wrong = StaticCredentials(TEST_CREDENTIALS.access_key, "not-the-secret", None)
    engine = sa.create_engine(dsql.url(), connect_args={"credentials": wrong})
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    engine.dispose()


def test_the_pool_recycles_before_dsqls_limit_unless_told_otherwise(dsql: Endpoint) -> None:
    default = sa.create_engine(dsql.url(), connect_args=CONNECT_ARGS)
    assert default.pool._recycle == IAM_POOL_RECYCLE < 3600
    chosen = sa.create_engine(dsql.url(), connect_args=CONNECT_ARGS, pool_recycle=600)
    assert chosen.pool._recycle == 600
    plain = sa.create_engine("postgresql+pgwire://app@localhost/app")
    assert plain.pool._recycle == -1


def test_rds_iam_makes_rds_tokens() -> None:
    dialect = PGDialect_pgwire()
    _, params = dialect.create_connect_args(
        sa.engine.make_url(
            "postgresql+pgwire://iam_user@db.cluster-x.eu-west-1.rds.amazonaws.com/app?iam=rds"
        )
    )
    resolved = dialect._with_iam(dict(params, credentials=TEST_CREDENTIALS))
    assert resolved["sslmode"] == "require"
    provider = resolved["password"]
    assert isinstance(provider, TokenProvider)
    assert "rds-db" in repr(provider)
    assert "iam" not in resolved


def test_the_async_engine_connects_with_iam(dsql: Endpoint) -> None:
    async def main() -> list[int]:
        engine = create_async_engine(dsql.url("pgwire_async"), connect_args=CONNECT_ARGS)
        try:

            async def one(number: int) -> int:
                async with engine.connect() as conn:
                    value = await conn.scalar(sa.text(f"SELECT {number}"))
                    await asyncio.sleep(0.05)  # hold it, so that the pool opens several
                    assert isinstance(value, int)
                    return value

            values = await asyncio.gather(*(one(n) for n in range(3)))
            assert _provider(engine.sync_engine).tokens_made == 1
            assert engine.sync_engine.pool._recycle == IAM_POOL_RECYCLE
            return values
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == [0, 1, 2]
