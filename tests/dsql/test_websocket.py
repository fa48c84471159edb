"""DSQL over WebSocket, end to end: ``pgwire.dsql.connect(..., transport="websocket")`` (blocking,
asyncio, trio, pools) through the local endpoint's ``wss://`` listener with IAM tokens, TLS
verify-full at the WebSocket layer with the connection's ``sslrootcert``, refusals, and
cancellation through the WebSocket."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
import trustme
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)

import pgwire
from pgwire import dsql, errors, tls
from pgwire.conninfo import resolve
from pgwire.dsql_local import TEST_CREDENTIALS, LocalDsqlEndpoint
from pgwire.iam import StaticCredentials
from pgwire.protocol import SSLRequest
from pgwire.transports.websocket import WebSocketHandshakeError, connect_websocket
from tests.dsql.conftest import _upstream
from tests.pg import TRUST_USER, PostgresServer


class WssEndpoint:
    """The local endpoint with its wss:// listener, and the parameters that reach it."""

    def __init__(self, endpoint: LocalDsqlEndpoint) -> None:
        self.endpoint = endpoint
        assert endpoint.websocket_port is not None
        self.port: int = endpoint.websocket_port

    def params(self, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "host": self.endpoint.endpoint,
            "hostaddr": "127.0.0.1",
            "port": self.port,
            "transport": "websocket",
            "sslrootcert": self.endpoint.ca_file,
            "credentials": TEST_CREDENTIALS,
            "connect_timeout": 10,
        }
        params.update(overrides)
        return params


@pytest.fixture(scope="module")
def wss(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WssEndpoint]:
    endpoint = LocalDsqlEndpoint(_upstream(pg_server), cert_dir=tmp_path_factory.mktemp("wss"))
    with endpoint.running_in_thread(websocket_port=0):
        yield WssEndpoint(endpoint)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


# Parameters.


def test_transport_websocket_targets_dsqls_wss_endpoint() -> None:
    params = dsql.connection_params(
        "abcdefghijklmnopqrstuvwxyz", region="us-east-1", transport="websocket"
    )
    assert params["websocket_url"] == "wss://abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws/"
    assert (params["sslmode"], params["sslrootcert"]) == ("disable", "system")
    assert "websocket_subprotocols" not in params and "sslnegotiation" not in params
    info = resolve(None, environ={}, **params)
    assert info.websocket is not None and info.websocket.secure
    assert (info.port, info.sslmode, info.websocket.subprotocols) == (443, "disable", ())
    assert callable(info.password)


def test_a_dsql_uri_may_ask_for_the_websocket_transport() -> None:
    host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
    params = dsql.connection_params(f"dsql://admin@{host}:8443/postgres?transport=websocket")
    assert params["websocket_url"] == f"wss://{host}:8443/"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sslmode": "require"}, "always verifies"),
        ({"sslnegotiation": "direct"}, "sslnegotiation does not apply"),
        ({"iam": "rds", "user": "u"}, "DSQL only"),
        ({"transport": "carrier-pigeon"}, "unknown transport"),
    ],
)
def test_settings_that_do_not_fit_the_websocket_are_refused(
    options: dict[str, Any], message: str
) -> None:
    options.setdefault("transport", "websocket")
    with pytest.raises(pgwire.InterfaceError, match=message):
        dsql.connection_params("abcdefghijklmnopqrstuvwxyz", region="us-east-1", **options)


def test_the_websocket_tls_uses_the_connections_files_and_always_verify_full(
    tmp_path: Path,
) -> None:
    info = resolve("wss://edge.example/?user=u", environ={}, sslrootcert=str(tmp_path / "none"))
    with pytest.raises(pgwire.OperationalError, match="could not read root certificate"):
        tls.websocket_context(info)
    info = resolve("wss://edge.example/?user=u", environ={}, sslcrl=str(tmp_path / "none.crl"))
    with pytest.raises(pgwire.OperationalError, match="SSL CRL file"):
        tls.websocket_context(info)
    context = tls.websocket_context(resolve("wss://edge.example/?user=u", environ={}))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


# End to end.


def test_the_blocking_driver_connects_over_wss(wss: WssEndpoint) -> None:
    before = wss.endpoint.sessions
    with dsql.connect(**wss.params()) as conn:
        row = conn.fetchrow("SELECT current_user, current_setting('application_name') AS app")
        assert conn.fetchval("SELECT count(*) FROM generate_series(1, $1)", 20000) == 20000
    assert row is not None
    assert row["current_user"] == TRUST_USER.name
    assert row["app"] == f"pgwire/{pgwire.__version__}"
    assert wss.endpoint.sessions == before + 1


def test_a_non_admin_user_connects_over_wss(wss: WssEndpoint) -> None:
    with dsql.connect(**wss.params(user="app_user")) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_a_blocking_pool_over_wss(wss: WssEndpoint) -> None:
    with dsql.create_blocking_pool(**wss.params(), min_size=1, max_size=2) as pool:
        assert pool.fetchval("SELECT 40 + $1::int", 2) == 42


@pytest.mark.anyio
async def test_the_async_driver_connects_over_wss(wss: WssEndpoint) -> None:
    async with await dsql.connect_async(**wss.params()) as conn:
        assert await conn.fetchval("SELECT current_user") == TRUST_USER.name
        rows = await conn.fetch("SELECT g FROM generate_series(1, $1) g", 3000)
        assert len(rows) == 3000


@pytest.mark.anyio
async def test_an_async_pool_over_wss(wss: WssEndpoint) -> None:
    async with await dsql.create_pool(**wss.params(), min_size=1) as pool:
        assert await pool.fetchval("SELECT 1") == 1


def localhost_dsn(wss: WssEndpoint) -> str:
    """A plain ``wss://`` DSN to the endpoint by the name ``localhost`` (which its
    certificate also names): no hostaddr, so the runners open it with connect_websocket."""
    token = dsql.generate_token(
        "localhost", region="us-east-1", admin=True, credentials=TEST_CREDENTIALS
    )
    return (
        f"wss://admin:{quote(token, safe='')}@localhost:{wss.port}/"
        f"?dbname=postgres&sslrootcert={wss.endpoint.ca_file}&connect_timeout=10"
    )


def test_a_wss_dsn_verifies_with_its_sslrootcert(wss: WssEndpoint, other_ca: str) -> None:
    with pgwire.connect(localhost_dsn(wss)) as conn:
        assert conn.fetchval("SELECT 1") == 1
        conn.cancel()  # a new WebSocket, verified the same way
    with pytest.raises(pgwire.OperationalError, match="certificate could not be verified"):
        pgwire.connect(localhost_dsn(wss), sslrootcert=other_ca)


@pytest.mark.anyio
async def test_a_wss_dsn_verifies_with_its_sslrootcert_async(
    wss: WssEndpoint, other_ca: str
) -> None:
    async with await pgwire.connect_async(localhost_dsn(wss)) as conn:
        assert await conn.fetchval("SELECT 1") == 1
        await conn.cancel()
    with pytest.raises(pgwire.OperationalError, match="certificate could not be verified"):
        await pgwire.connect_async(localhost_dsn(wss), sslrootcert=other_ca)


# Refusals.


def test_a_bad_token_is_refused_over_wss(wss: WssEndpoint) -> None:
    bad = StaticCredentials(TEST_CREDENTIALS.access_key, "wrong")
    with pytest.raises(errors.InvalidPassword) as caught:
        dsql.connect(**wss.params(credentials=bad))
    assert "access denied" in str(caught.value)
    assert "signature does not match" in str(caught.value)
    assert "X-Amz-Signature" not in str(caught.value)


def test_a_wrong_ca_fails_verification(wss: WssEndpoint, other_ca: str) -> None:
    with pytest.raises(pgwire.OperationalError, match="certificate could not be verified"):
        dsql.connect(**wss.params(sslrootcert=other_ca))


def test_the_default_system_roots_do_not_trust_the_test_ca(wss: WssEndpoint) -> None:
    with pytest.raises(pgwire.OperationalError, match="certificate could not be verified"):
        dsql.connect(**wss.params(sslrootcert=None))


def test_the_host_name_is_checked(wss: WssEndpoint) -> None:
    other = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
    with pytest.raises(pgwire.OperationalError, match=r"(?i)hostname mismatch"):
        dsql.connect(**wss.params(host=other))


@pytest.mark.anyio
async def test_a_wrong_ca_fails_verification_async(wss: WssEndpoint, other_ca: str) -> None:
    with pytest.raises(pgwire.OperationalError, match="certificate could not be verified"):
        await dsql.connect_async(**wss.params(sslrootcert=other_ca))


# Cancellation goes through the WebSocket too.


def test_cancel_over_wss(wss: WssEndpoint) -> None:
    with dsql.connect(**wss.params()) as conn:
        timer = threading.Timer(0.3, conn.cancel)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryCanceled):
                conn.execute("SELECT pg_sleep(30)")
        finally:
            timer.join()
        assert time.monotonic() - started < 10
        assert conn.fetchval("SELECT 1") == 1


@pytest.mark.anyio
async def test_cancel_over_wss_async(wss: WssEndpoint) -> None:
    async with await dsql.connect_async(**wss.params()) as conn:

        async def cancel_soon() -> None:
            await anyio.sleep(0.3)
            await conn.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cancel_soon)
            with pytest.raises(errors.QueryCanceled):
                await conn.execute("SELECT pg_sleep(30)")
        assert await conn.fetchval("SELECT 1") == 1


# The endpoint's WebSocket side.


def client_context(endpoint: LocalDsqlEndpoint) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=endpoint.ca_file)
    context.set_alpn_protocols(["http/1.1"])
    return context


def test_the_endpoint_refuses_another_path(wss: WssEndpoint) -> None:
    url = f"wss://localhost:{wss.port}/v2"
    with pytest.raises(WebSocketHandshakeError) as caught:
        connect_websocket(url, ssl_context=client_context(wss.endpoint), timeout=5)
    assert caught.value.status_code == 404


def test_the_endpoint_declines_an_ssl_request_inside_and_takes_one_byte_frames(
    wss: WssEndpoint,
) -> None:
    url = f"wss://localhost:{wss.port}/"
    stream = connect_websocket(url, ssl_context=client_context(wss.endpoint), timeout=5)
    try:
        for byte in SSLRequest().encode():
            stream.send_all(bytes([byte]))
        assert stream.receive_some() == b"N"
    finally:
        stream.close()


class RawClient:
    """A WebSocket client with wsproto alone, to send what pgwire never sends."""

    def __init__(self, endpoint: LocalDsqlEndpoint, port: int) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = client_context(endpoint).wrap_socket(raw, server_hostname=endpoint.endpoint)
        assert self.sock.selected_alpn_protocol() == "http/1.1"
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=endpoint.endpoint, target="/")))
        assert isinstance(self.next_event(), AcceptConnection)

    def next_event(self) -> object:
        while True:
            for event in self.ws.events():
                return event
            self.ws.receive_data(self.sock.recv(65536) or None)

    def close(self) -> None:
        self.sock.close()


def test_the_endpoint_answers_pings_and_refuses_text_frames(wss: WssEndpoint) -> None:
    client = RawClient(wss.endpoint, wss.port)
    try:
        client.sock.sendall(client.ws.send(Ping(payload=b"are you there")))
        pong = client.next_event()
        assert isinstance(pong, Pong) and pong.payload == b"are you there"
        client.sock.sendall(client.ws.send(Message(data=SSLRequest().encode())))
        answer = client.next_event()
        assert isinstance(answer, BytesMessage) and answer.data == b"N"
        client.sock.sendall(client.ws.send(TextMessage(data="SELECT 1")))
        close = client.next_event()
        assert isinstance(close, CloseConnection) and close.code == 1003
    finally:
        client.close()
