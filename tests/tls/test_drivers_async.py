"""What each driver's own I/O does over TLS, against real PostgreSQL 18 and 15 servers, on
the blocking driver and on asyncio, uvloop and trio (one source, ``test_drivers_async.py``,
for both drivers): the handshake and verification, SCRAM-SHA-256-PLUS bound to the channel,
direct TLS refused clearly by a server without it, and cancel requests sent over TLS.

The sslmode matrix and the other connection rules are decided by the shared connect flows
and are tested once, on the blocking driver, in ``test_tls.py`` and ``test_pg15.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.concurrency_async import running, sleep
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.tls.conftest import Pki

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


async def _connect(
    server: PostgresServer, user: str, password: str | None = None, **extra: Any
) -> AsyncConnection:
    extra.setdefault("host", "localhost")
    return await pgwire.connect_async(server.dsn(user, password, **extra))


async def _uses_tls(conn: AsyncConnection) -> bool:
    return bool(await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))


async def _cancel_running_query(conn: AsyncConnection) -> None:
    async def cancel_soon() -> None:
        await sleep(0.3)
        await conn.cancel()

    async with running(cancel_soon):
        with pytest.raises(errors.QueryCanceled):
            await conn.execute("SELECT pg_sleep(30)")
    assert await conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
async def test_channel_binding_require_succeeds_over_verified_tls_with_scram_plus(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    async def token() -> str:
        await sleep(0)
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
        assert await _uses_tls(conn)
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]
        assert conn._core.channel_bound


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
async def test_wrong_ca_says_the_certificate_could_not_be_verified(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    with pytest.raises(
        errors.OperationalError, match="certificate could not be verified"
    ) as caught:
        await _connect(
            tls_server,
            TRUST_USER.name,
            sslmode="verify-full",
            sslnegotiation=negotiation,
            sslrootcert=pki.other_ca_file,
        )
    # The server sends its whole chain, whose root the client does not trust.
    assert "self-signed certificate in certificate chain" in str(caught.value)


async def test_direct_tls_against_a_server_without_it_is_a_clear_error(
    pg15_server: PostgresServer,
) -> None:
    with pytest.raises(errors.OperationalError) as caught:
        await _connect(pg15_server, TRUST_USER.name, sslmode="require", sslnegotiation="direct")
    message = str(caught.value)
    assert "may not support direct TLS" in message
    assert "sslnegotiation=postgres" in message


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
async def test_cancel_over_tls_with_a_protocol_3_2_key(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    async with await _connect(
        tls_server,
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslnegotiation=negotiation,
        max_protocol_version="3.2",
    ) as conn:
        await _cancel_running_query(conn)


async def test_cancel_over_tls_after_a_protocol_downgrade(pg15_server: PostgresServer) -> None:
    async with await _connect(
        pg15_server, TRUST_USER.name, sslmode="require", max_protocol_version="latest"
    ) as conn:
        await _cancel_running_query(conn)
