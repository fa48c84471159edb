# GENERATED from tests/websocket/test_websockify_async.py by scripts/gen_sync.py: do not edit.
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
from pgwire.transports.websocket import connect_websocket
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.websocket.conftest import TLSBackend, Websockify
from tests.websocket.sessions_sync import open_connection

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
def test_queries_run_through_websockify(
    websockify: Websockify, pg_server: PostgresServer, subprotocols: list[str]
) -> None:
    stream = connect_websocket(websockify.url, subprotocols=subprotocols, timeout=10)
    assert stream.ws.subprotocol == (subprotocols[0] if subprotocols else None)
    with open_connection(stream, plain_dsn(pg_server)) as conn:
        assert conn.fetchval("SELECT $1::int + $2::int", 40, 2) == 42
        rows = conn.fetch(ROWS_SQL, 2000)
        assert [row["n"] for row in rows] == list(range(1, 2001))
        assert rows[-1]["s"] == "x" * 2000


def test_scram_authentication_through_websockify(
    websockify: Websockify, pg_server: PostgresServer
) -> None:
    stream = connect_websocket(websockify.url, timeout=10)
    dsn = pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password, sslmode="disable")
    with open_connection(stream, dsn) as conn:
        assert conn.fetchval("SELECT current_user") == SCRAM_USER.name


def test_copy_and_transactions_through_websockify(
    websockify: Websockify, pg_server: PostgresServer
) -> None:
    stream = connect_websocket(websockify.url, timeout=10)
    with open_connection(stream, plain_dsn(pg_server)) as conn:
        conn.execute("CREATE TEMP TABLE t (a int, b text)")
        with conn.transaction():
            rows = [(i, str(i)) for i in range(50)]
            conn.executemany("INSERT INTO t VALUES ($1, $2)", rows)
        assert conn.fetchval("SELECT count(*) FROM t") == 50
        out = conn.copy_out("COPY t TO STDOUT")
        assert out.count(b"\n") == 50


def test_postgresql_tls_inside_a_plain_websocket_tunnel(tls_backend: TLSBackend) -> None:
    stream = connect_websocket(tls_backend.bridge.url, subprotocols=["binary"], timeout=10)
    with open_connection(stream, tls_dsn(tls_backend)) as conn:
        assert conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]
        assert len(conn.fetch(ROWS_SQL, 3000)) == 3000


def test_tls_inside_the_tunnel_verifies_the_database_certificate(
    tls_backend: TLSBackend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = tmp_path_factory.mktemp("stranger") / "ca.pem"
    stranger.write_bytes(trustme.CA().cert_pem.bytes())
    stream = connect_websocket(tls_backend.bridge.url, timeout=10)
    dsn = tls_backend.server.dsn(TRUST_USER.name, sslmode="verify-ca", sslrootcert=str(stranger))
    with pytest.raises(OperationalError, match="certificate could not be verified"):
        open_connection(stream, dsn)


# --------------------------------------------------------------------------------------
# From a ws:// DSN
# --------------------------------------------------------------------------------------


def test_a_ws_dsn_connects_through_websockify(websockify: Websockify) -> None:
    dsn = f"ws://127.0.0.1:{websockify.port}/?user=scram_user&password=pw-scram&dbname=pgwire_test"
    with pgwire.connect(dsn, websocket_subprotocols="binary") as conn:
        assert conn.fetchval("SELECT $1::int + 1", 41) == 42
        rows = conn.fetch("SELECT g FROM generate_series(1, $1) g", 300)
        assert len(rows) == 300
        conn.cancel()  # goes through the WebSocket too
        assert conn.fetchval("SELECT 1") == 1


def test_a_websocket_url_keyword_connects_through_websockify(websockify: Websockify) -> None:
    conn = pgwire.connect(websocket_url=websockify.url, user="trust_user", dbname="pgwire_test")
    with conn:
        assert conn.fetchval("SELECT current_user") == "trust_user"


def test_postgresql_tls_inside_a_ws_tunnel_from_a_dsn(tls_backend: TLSBackend) -> None:
    dsn = (
        f"ws://127.0.0.1:{tls_backend.bridge.port}/?user=scram_user&password=pw-scram"
        f"&dbname=pgwire_test&sslmode=verify-full&sslrootcert={tls_backend.ca_file}"
        "&channel_binding=require"
    )
    with pgwire.connect(dsn) as conn:
        assert conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
