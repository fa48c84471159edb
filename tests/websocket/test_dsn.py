"""ws:// and wss:// DSNs in pgwire.connect / connect_async, through websockify."""

from __future__ import annotations

import anyio
import pytest

import pgwire
from pgwire.conninfo import parse_dsn, resolve

from .conftest import TLSBackend, Websockify


def test_a_websocket_dsn_keeps_the_bridge_address_in_the_url() -> None:
    parsed = parse_dsn("wss://app:s3cret@edge.example/v2?address=db:5432&dbname=shop")
    assert parsed["websocket_url"] == "wss://edge.example/v2?address=db:5432"
    assert (parsed["user"], parsed["password"], parsed["dbname"]) == ("app", "s3cret", "shop")


def test_a_websocket_connection_defaults_to_no_postgresql_level_tls() -> None:
    info = resolve("wss://edge.example/?user=app", environ={})
    assert info.websocket is not None
    assert (info.host, info.port, info.sslmode) == ("edge.example", 443, "disable")
    assert "s3cret" not in repr(resolve("ws://u:s3cret@h/", environ={}))


def test_an_invalid_websocket_url_is_refused_by_name() -> None:
    with pytest.raises(pgwire.InterfaceError, match="websocket_url"):
        resolve(websocket_url="http://x/", environ={})


def test_the_blocking_driver_connects_with_a_ws_dsn(websockify: Websockify) -> None:
    dsn = f"ws://127.0.0.1:{websockify.port}/?user=scram_user&password=pw-scram&dbname=pgwire_test"
    with pgwire.connect(dsn, websocket_subprotocols="binary") as conn:
        assert conn.fetchval("SELECT $1::int + 1", 41) == 42
        assert conn.fetchval("SELECT count(*) FROM generate_series(1, 5000)") == 5000
        conn.cancel()  # goes through the WebSocket too
        assert conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_driver_connects_with_a_ws_dsn(websockify: Websockify, backend: str) -> None:
    async def main() -> int:
        conn = await pgwire.connect_async(
            websocket_url=websockify.url, user="trust_user", dbname="pgwire_test"
        )
        async with conn:
            rows = await conn.fetch("SELECT g FROM generate_series(1, $1) g", 300)
            return len(rows)

    assert anyio.run(main, backend=backend) == 300


def test_postgresql_tls_inside_a_ws_tunnel(tls_backend: TLSBackend) -> None:
    dsn = (
        f"ws://127.0.0.1:{tls_backend.bridge.port}/?user=scram_user&password=pw-scram"
        f"&dbname=pgwire_test&sslmode=verify-full&sslrootcert={tls_backend.ca_file}"
        "&channel_binding=require"
    )
    with pgwire.connect(dsn) as conn:
        assert conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
