"""Real sessions through the in-test bridge (tests/websocket/bridge.py), which re-cuts the
byte stream at random points down to one byte per frame, packs many PostgreSQL messages into
one frame, pings, drops the connection mid-query, closes with an error code, sends a text
frame, refuses the upgrade, and terminates TLS for ``wss://``. On the blocking driver and on
asyncio, uvloop and trio (one source, ``test_bridge_async.py``, for both drivers)."""

from __future__ import annotations

import ssl
import struct
from collections.abc import Iterator

import pytest
import trustme

from pgwire.errors import OperationalError
from pgwire.transports.websocket import WebSocketHandshakeError, connect_websocket_async
from tests.pg import TRUST_USER, PostgresServer
from tests.websocket.bridge import Behaviour, Bridge
from tests.websocket.sessions_async import open_connection

# The bridge's threads must not die of an exception: a failure here, not a warning.
THREAD_ERRORS_FAIL = pytest.mark.filterwarnings(
    "error::pytest.PytestUnhandledThreadExceptionWarning"
)
if True:  # ASYNC
    pytestmark = [THREAD_ERRORS_FAIL, pytest.mark.anyio]
else:
    pytestmark = [THREAD_ERRORS_FAIL]

ROWS_SQL = "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, $1::int) AS g"


def dsn(server: PostgresServer) -> str:
    return server.dsn(TRUST_USER.name, sslmode="disable")


@pytest.fixture
def target(pg_server: PostgresServer) -> tuple[str, int]:
    return (pg_server.host, pg_server.port)


def message_starts(frames: list[bytes]) -> set[int]:
    """Offsets in the concatenated server stream where a PostgreSQL message starts (the
    stream starts with the first answer to the StartupMessage: no SSLRequest was sent)."""
    stream = b"".join(frames)
    starts, offset = set(), 0
    while offset + 5 <= len(stream):
        starts.add(offset)
        (length,) = struct.unpack_from("!i", stream, offset + 1)
        offset += 1 + length
    return starts


def frame_spans(frames: list[bytes]) -> Iterator[tuple[int, int]]:
    offset = 0
    for frame in frames:
        yield offset, offset + len(frame)
        offset += len(frame)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_stream_recut_at_random_points_carries_whole_sessions(
    target: tuple[str, int], pg_server: PostgresServer, seed: int
) -> None:
    with Bridge(target, Behaviour(cut="random", seed=seed)) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        async with await open_connection(stream, dsn(pg_server)) as conn:
            rows = await conn.fetch(ROWS_SQL, 300)
            assert [row["n"] for row in rows] == list(range(1, 301))
            assert await conn.fetchval("SELECT $1::text", "é" * 50) == "é" * 50
        frames = bridge.record.frames_to_client
        starts = message_starts(frames)
        assert any(len(frame) == 1 for frame in frames), "no one-byte frame was sent"
        assert any(lo not in starts for lo, _ in frame_spans(frames)), "no frame began mid-message"


async def test_many_messages_packed_in_one_frame_are_all_read(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    with Bridge(target, Behaviour(cut="whole")) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        async with await open_connection(stream, dsn(pg_server)) as conn:
            assert len(await conn.fetch(ROWS_SQL, 100)) == 100
        starts = message_starts(bridge.record.frames_to_client)
        most = max(
            sum(lo <= start < hi for start in starts)
            for lo, hi in frame_spans(bridge.record.frames_to_client)
        )
        assert most >= 10, f"at most {most} messages shared a frame"


async def test_pings_between_frames_are_answered(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    with Bridge(target, Behaviour(cut="random", ping_every=5)) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        async with await open_connection(stream, dsn(pg_server)) as conn:
            assert len(await conn.fetch(ROWS_SQL, 50)) == 50
            assert await conn.fetchval("SELECT 1") == 1
        assert bridge.record.pings > 0
        assert bridge.record.pongs > 0


async def test_the_bridge_form_with_address_and_extra_headers(
    pg_server: PostgresServer,
) -> None:
    # The bridge's default target is a closed port: only ?address= reaches the database.
    with Bridge(("127.0.0.1", 1)) as bridge:
        url = f"{bridge.url}?address=127.0.0.1:{pg_server.port}"
        headers = [("Authorization", "Bearer short-lived")]
        stream = await connect_websocket_async(url, headers=headers, timeout=10)
        async with await open_connection(stream, dsn(pg_server)) as conn:
            assert await conn.fetchval("SELECT 7") == 7
        assert bridge.record.requests == [f"/?address=127.0.0.1:{pg_server.port}"]
        assert bridge.record.headers[0]["authorization"] == "Bearer short-lived"
        assert bridge.record.targets == [("127.0.0.1", pg_server.port)]


async def test_a_bridge_that_drops_mid_query_fails_the_query_clearly(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    with Bridge(target, Behaviour(drop_on=b"drop-me")) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        conn = await open_connection(stream, dsn(pg_server))
        with pytest.raises(OperationalError, match="lost without a close frame"):
            await conn.fetch("SELECT pg_sleep(0.2), 'drop-me'")
        assert conn.closed


async def test_a_close_with_an_error_code_fails_the_query_with_code_and_reason(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    with Bridge(target, Behaviour(close_on=b"close-me")) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        conn = await open_connection(stream, dsn(pg_server))
        with pytest.raises(
            OperationalError, match=r"code 1011 \(internal error\): the bridge lost its database"
        ):
            await conn.fetch("SELECT pg_sleep(0.2), 'close-me'")


async def test_a_text_frame_fails_the_session(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    with Bridge(target, Behaviour(text_on=b"chat")) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        conn = await open_connection(stream, dsn(pg_server))
        with pytest.raises(OperationalError, match="text frame"):
            await conn.fetch("SELECT 'chat'")


async def test_a_refused_upgrade_is_a_clear_connection_error(target: tuple[str, int]) -> None:
    with Bridge(target, Behaviour(reject=(401, b"token expired"))) as bridge:
        with pytest.raises(WebSocketHandshakeError, match="HTTP status 401: token expired") as info:
            await connect_websocket_async(bridge.url, timeout=5)
        assert info.value.status_code == 401


async def test_tls_inside_a_tunnel_to_a_server_without_tls_is_refused_clearly(
    target: tuple[str, int], pg_server: PostgresServer
) -> None:
    # sslmode=require through a plain tunnel to a server without TLS: the SSLRequest is
    # declined inside the WebSocket, and the flow reports it as libpq does.
    with Bridge(target) as bridge:
        stream = await connect_websocket_async(bridge.url, timeout=10)
        with pytest.raises(OperationalError, match="does not support SSL"):
            await open_connection(stream, pg_server.dsn(TRUST_USER.name, sslmode="require"))


@pytest.fixture(scope="module")
def bridge_ca() -> trustme.CA:
    return trustme.CA()


async def test_wss_verifies_the_bridge_certificate_with_sni(
    target: tuple[str, int], pg_server: PostgresServer, bridge_ca: trustme.CA
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    bridge_ca.issue_cert("localhost").configure_cert(server_context)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    client_context = ssl.create_default_context()
    bridge_ca.configure_trust(client_context)
    with Bridge(target, ssl_context=server_context) as bridge:
        stream = await connect_websocket_async(bridge.url, ssl_context=client_context, timeout=10)
        async with await open_connection(stream, dsn(pg_server)) as conn:
            assert await conn.fetchval("SELECT 'over wss'") == "over wss"
    assert names == ["localhost"]


async def test_wss_refuses_an_unknown_certificate_by_default(
    target: tuple[str, int], bridge_ca: trustme.CA
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    bridge_ca.issue_cert("localhost").configure_cert(server_context)
    with (
        Bridge(target, ssl_context=server_context) as bridge,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        await connect_websocket_async(bridge.url, timeout=10)
