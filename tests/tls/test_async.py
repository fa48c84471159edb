"""The async driver's runner over TLS: classic and direct negotiation, SCRAM-SHA-256-PLUS,
an async password callable, cancellation over TLS, on asyncio, uvloop and trio."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import pgwire
from pgwire import errors
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.tls.conftest import Pki

pytestmark = pytest.mark.anyio

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
async def test_verify_full_with_channel_binding_and_an_async_password(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    async def token() -> str:
        await anyio.sleep(0)
        assert SCRAM_USER.password is not None
        return SCRAM_USER.password

    dsn = tls_server.dsn(
        SCRAM_USER.name,
        host="localhost",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslnegotiation=negotiation,
        channel_binding="require",
        max_protocol_version="3.2",
    )
    async with await pgwire.connect_async(dsn, password=token) as conn:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]


async def test_wrong_ca_fails_clearly(tls_server: PostgresServer, pki: Pki) -> None:
    dsn = tls_server.dsn(
        TRUST_USER.name, host="localhost", sslmode="verify-ca", sslrootcert=pki.other_ca_file
    )
    with pytest.raises(errors.OperationalError, match="certificate could not be verified"):
        await pgwire.connect_async(dsn)


async def test_direct_tls_against_postgresql_15_fails_clearly(pg15_server: PostgresServer) -> None:
    dsn = pg15_server.dsn(TRUST_USER.name, sslmode="require", sslnegotiation="direct")
    with pytest.raises(errors.OperationalError, match="sslnegotiation=postgres"):
        await pgwire.connect_async(dsn)


async def test_cancel_over_tls(tls_server: PostgresServer) -> None:
    dsn = tls_server.dsn(TRUST_USER.name, sslmode="require", max_protocol_version="3.2")
    async with await pgwire.connect_async(dsn) as conn:

        async def cancel_soon() -> None:
            await anyio.sleep(0.3)
            await conn.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cancel_soon)
            with pytest.raises(errors.QueryCanceled):
                await conn.execute("SELECT pg_sleep(30)")
        assert await conn.fetchval("SELECT 1") == 1
