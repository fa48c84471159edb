"""Real sessions through websockify (PyPI) in front of the real PostgreSQL 18, plaintext and
with PostgreSQL's own TLS inside the plain ``ws://`` tunnel (memory-BIO TLS, verify-full,
SCRAM-SHA-256-PLUS channel binding), opened from a stream or from a ``ws://`` DSN, on the
blocking driver and on asyncio, uvloop and trio (one source, ``test_websockify_async.py``,
for both drivers)."""

from __future__ import annotations

import pytest
import trustme

import pgwire
from pgwire.errors import OperationalError
from pgwire.transports.websocket import connect_websocket_async
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.websocket.conftest import TLSBackend, Websockify
from tests.websocket.sessions_async import open_connection

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

ROWS_SQL = "SELECT g AS n, repeat('x', g) AS s FROM generate_series(1, $1::int) AS g"


def plain_dsn(server: PostgresServer, user: str = TRUST_USER.name, **extra: str) -> str:
    return server.dsn(user, sslmode="disable", **extra)


def tls_dsn(backend: TLSBackend, **extra: str) -> str:
    return backend.server.dsn(
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="verify-full",
        sslrootcert=backend.ca_file,
        channel_binding="require",
        **extra,
    )


# --------------------------------------------------------------------------------------
# Over a WebSocket stream the test opened
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("subprotocols", [[], ["binary"]], ids=["no-subprotocol", "binary"])
async def test_queries_run_through_websockify(
    websockify: Websockify, pg_server: PostgresServer, subprotocols: list[str]
) -> None:
    stream = await connect_websocket_async(websockify.url, subprotocols=subprotocols, timeout=10)
    assert stream.ws.subprotocol == (subprotocols[0] if subprotocols else None)
    async with await open_connection(stream, plain_dsn(pg_server)) as conn:
        assert await conn.fetchval("SELECT $1::int + $2::int", 40, 2) == 42
        rows = await conn.fetch(ROWS_SQL, 2000)
        assert [row["n"] for row in rows] == list(range(1, 2001))
        assert rows[-1]["s"] == "x" * 2000


async def test_scram_authentication_through_websockify(
    websockify: Websockify, pg_server: PostgresServer
) -> None:
    stream = await connect_websocket_async(websockify.url, timeout=10)
    dsn = pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password, sslmode="disable")
    async with await open_connection(stream, dsn) as conn:
        assert await conn.fetchval("SELECT current_user") == SCRAM_USER.name


async def test_copy_and_transactions_through_websockify(
    websockify: Websockify, pg_server: PostgresServer
) -> None:
    stream = await connect_websocket_async(websockify.url, timeout=10)
    async with await open_connection(stream, plain_dsn(pg_server)) as conn:
        await conn.execute("CREATE TEMP TABLE t (a int, b text)")
        async with conn.transaction():
            rows = [(i, str(i)) for i in range(50)]
            await conn.executemany("INSERT INTO t VALUES ($1, $2)", rows)
        assert await conn.fetchval("SELECT count(*) FROM t") == 50
        out = await conn.copy_out("COPY t TO STDOUT")
        assert out.count(b"\n") == 50


async def test_postgresql_tls_inside_a_plain_websocket_tunnel(tls_backend: TLSBackend) -> None:
    stream = await connect_websocket_async(
        tls_backend.bridge.url, subprotocols=["binary"], timeout=10
    )
    async with await open_connection(stream, tls_dsn(tls_backend)) as conn:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]
        assert len(await conn.fetch(ROWS_SQL, 3000)) == 3000


async def test_tls_inside_the_tunnel_verifies_the_database_certificate(
    tls_backend: TLSBackend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = tmp_path_factory.mktemp("stranger") / "ca.pem"
    stranger.write_bytes(trustme.CA().cert_pem.bytes())
    stream = await connect_websocket_async(tls_backend.bridge.url, timeout=10)
    dsn = tls_backend.server.dsn(TRUST_USER.name, sslmode="verify-ca", sslrootcert=str(stranger))
    with pytest.raises(OperationalError, match="certificate could not be verified"):
        await open_connection(stream, dsn)


# --------------------------------------------------------------------------------------
# From a ws:// DSN
# --------------------------------------------------------------------------------------


async def test_a_ws_dsn_connects_through_websockify(websockify: Websockify) -> None:
    dsn = f"ws://127.0.0.1:{websockify.port}/?user=scram_user&password=pw-scram&dbname=pgwire_test"
    async with await pgwire.connect_async(dsn, websocket_subprotocols="binary") as conn:
        assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
        rows = await conn.fetch("SELECT g FROM generate_series(1, $1) g", 300)
        assert len(rows) == 300
        await conn.cancel()  # goes through the WebSocket too
        assert await conn.fetchval("SELECT 1") == 1


async def test_a_websocket_url_keyword_connects_through_websockify(websockify: Websockify) -> None:
    conn = await pgwire.connect_async(
        websocket_url=websockify.url, user="trust_user", dbname="pgwire_test"
    )
    async with conn:
        assert await conn.fetchval("SELECT current_user") == "trust_user"


async def test_postgresql_tls_inside_a_ws_tunnel_from_a_dsn(tls_backend: TLSBackend) -> None:
    dsn = (
        f"ws://127.0.0.1:{tls_backend.bridge.port}/?user=scram_user&password=pw-scram"
        f"&dbname=pgwire_test&sslmode=verify-full&sslrootcert={tls_backend.ca_file}"
        "&channel_binding=require"
    )
    async with await pgwire.connect_async(dsn) as conn:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
