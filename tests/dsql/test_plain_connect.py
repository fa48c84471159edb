"""pgwire.connect and pgwire.connect_async take dsql:// DSNs and iam= themselves."""

from __future__ import annotations

import anyio
import pytest

import pgwire
from pgwire.conninfo import wants_iam

from .conftest import TEST_CREDENTIALS, RunningEndpoint


def test_iam_is_recognised_in_dsns_and_parameters() -> None:
    assert wants_iam("dsql://admin@abc.dsql.us-east-1.on.aws/postgres", {})
    assert wants_iam("postgresql://u@h/db?iam=rds", {})
    assert wants_iam("host=h iam=dsql", {})
    assert wants_iam(None, {"iam": "dsql"})
    assert not wants_iam("postgresql://u@h/db?application_name=iam", {})
    assert not wants_iam(None, {})


def _uri(dsql_endpoint: RunningEndpoint) -> str:
    endpoint = dsql_endpoint.endpoint
    return (
        f"dsql://admin@{endpoint.endpoint}:{dsql_endpoint.port}/postgres"
        f"?hostaddr=127.0.0.1&sslrootcert={endpoint.ca_file}"
    )


def test_pgwire_connect_takes_a_dsql_uri(dsql_endpoint: RunningEndpoint) -> None:
    with pgwire.connect(_uri(dsql_endpoint), credentials=TEST_CREDENTIALS) as conn:
        assert conn.fetchval("SELECT $1::int + 1", 41) == 42


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_pgwire_connect_async_takes_iam_dsql(dsql_endpoint: RunningEndpoint, backend: str) -> None:
    async def main() -> int:
        params = dsql_endpoint.params(iam="dsql")
        async with await pgwire.connect_async(**params) as conn:
            value: int = await conn.fetchval("SELECT 7")
            return value

    assert anyio.run(main, backend=backend) == 7
