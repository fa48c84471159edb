"""The asyncio-native stream (``transports/asyncio_stream.py``), on asyncio and uvloop.

Against the real PostgreSQL 18 (TCP and Unix socket), and against a peer socket the test
drives itself for what a server cannot be asked to do on cue: stay silent, send late, stop
reading, reset the connection, speak TLS with a test CA. On trio ``connect_tcp_async`` gives the
trio stream instead (``test_trio_stream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import trustme

import pgwire
from pgwire.transports.async_tcp import connect_tcp_async, connect_unix_async
from pgwire.transports.asyncio_stream import AsyncioStream
from tests.pg import TRUST_USER, PostgresServer

pytestmark = pytest.mark.anyio

#: What PostgreSQL answers a plaintext SSLRequest with: ``N`` (no TLS on the test server).
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
#: Small kernel buffers, so that a few MiB fill the connection.
SMALL_BUFFER = 1 << 16


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ],
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """asyncio and uvloop only: trio has a stream of its own (``test_trio_stream.py``)."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


def _unix_path(server: PostgresServer) -> str:
    return f"{server.unix_socket_dir}/.s.PGSQL.{server.port}"


class Pair:
    """A stream under test and the raw socket at the other end (driven with ``loop.sock_*``)."""

    def __init__(self, stream: AsyncioStream, peer: socket.socket) -> None:
        self.stream = stream
        self.peer = peer
        self.loop = asyncio.get_running_loop()

    async def peer_send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.peer, data)

    async def peer_receive_exactly(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = await self.loop.sock_recv(self.peer, min(size - len(data), 1 << 20))
            assert chunk, f"the stream closed after {len(data)} of {size} bytes"
            data += chunk
        return bytes(data)

    def peer_reset(self) -> None:
        """Close the peer with a TCP reset instead of an orderly FIN."""
        self.peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.peer.close()


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    """A connected stream and its peer socket (both with small kernel buffers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    listener.setblocking(False)
    with listener:
        stream = await connect_tcp_async("127.0.0.1", listener.getsockname()[1])
        assert isinstance(stream, AsyncioStream)
        peer, _ = await asyncio.get_running_loop().sock_accept(listener)
    peer.setblocking(False)
    stream.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER
    )
    try:
        yield Pair(stream, peer)
    finally:
        await stream.close()
        peer.close()


# --------------------------------------------------------------------------------------
# Which stream, against the real server
# --------------------------------------------------------------------------------------


async def test_tcp_connections_get_the_asyncio_stream(pg_server: PostgresServer) -> None:
    stream = await connect_tcp_async(pg_server.host, pg_server.port)
    assert isinstance(stream, AsyncioStream)
    assert stream.atomic_send is True
    sock = stream.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    await stream.send_all(SSL_REQUEST)
    assert await stream.receive_some() == b"N"
    assert repr(stream) == "<AsyncioStream open>"
    await stream.close()
    await stream.close()  # closing twice is harmless
    assert repr(stream) == "<AsyncioStream closed>"


async def test_unix_connections_get_the_asyncio_stream(pg_server: PostgresServer) -> None:
    stream = await connect_unix_async(_unix_path(pg_server), timeout=10)
    assert isinstance(stream, AsyncioStream)
    await stream.send_all(SSL_REQUEST)
    assert await stream.receive_some() == b"N"
    await stream.close()


@pytest.mark.parametrize("where", ["tcp", "unix"])
async def test_the_async_driver_runs_on_the_asyncio_stream(
    pg_server: PostgresServer, where: str
) -> None:
    extra = {"host": pg_server.unix_socket_dir} if where == "unix" else {}
    async with await pgwire.connect_async(pg_server.dsn(TRUST_USER.name, **extra)) as conn:
        assert isinstance(conn._stream, AsyncioStream)
        assert await conn.fetchval("SELECT 1 + 1") == 2
        big = await conn.fetchval("SELECT repeat('x', 3000000)")  # beyond the read pause
        assert big == "x" * 3_000_000


# --------------------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------------------


async def test_a_host_name_is_tried_on_each_address() -> None:
    # localhost is ::1 and 127.0.0.1; only 127.0.0.1 listens.
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        port = listener.getsockname()[1]
        for shuffle in (False, True):
            stream = await connect_tcp_async("localhost", port, timeout=10, shuffle=shuffle)
            assert isinstance(stream, AsyncioStream)
            await stream.close()


async def test_a_refused_connection_raises_what_anyio_raises() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(OSError, match="All connection attempts failed") as caught:
        await connect_tcp_async("127.0.0.1", port)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    with pytest.raises(OSError, match="All connection attempts failed"):
        await connect_tcp_async("127.0.0.1", port, shuffle=True)


async def test_a_missing_unix_socket_raises_os_error(tmp_path: Any) -> None:
    with pytest.raises(OSError):
        await connect_unix_async(str(tmp_path / "nothing-here"))


# --------------------------------------------------------------------------------------
# Receiving
# --------------------------------------------------------------------------------------


async def test_bytes_arriving_after_a_cancelled_receive_are_not_lost(pair: Pair) -> None:
    with anyio.move_on_after(0.05) as scope:
        await pair.stream.receive_some()
    assert scope.cancelled_caught
    await pair.peer_send(b"late")
    assert await pair.stream.receive_some() == b"late"

    # asyncio's own ways: task.cancel() and wait_for.
    task = asyncio.ensure_future(pair.stream.receive_some())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(pair.stream.receive_some(), 0.02)
    await pair.peer_send(b"later")
    assert await pair.stream.receive_some() == b"later"


async def test_bytes_that_wake_a_receive_being_cancelled_stay_buffered(pair: Pair) -> None:
    # The bytes arrive and the task is cancelled in the same turn of the loop: the task
    # never gets them, the next receive does.
    task = asyncio.ensure_future(pair.stream.receive_some())
    await asyncio.sleep(0.02)
    pair.stream.data_received(b"raced")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pair.stream.receive_some() == b"raced"


async def test_receive_returns_at_most_max_bytes_and_joins_small_chunks(pair: Pair) -> None:
    for piece in (b"abc", b"defg", b"hij"):
        pair.stream.data_received(piece)
    assert await pair.stream.receive_some(5) == b"abcde"
    assert await pair.stream.receive_some(1) == b"f"
    assert await pair.stream.receive_some() == b"ghij"
    await pair.peer_send(b"0123456789")
    got = b""
    while len(got) < 10:
        chunk = await pair.stream.receive_some(3)
        assert 1 <= len(chunk) <= 3
        got += chunk
    assert got == b"0123456789"


async def test_large_reads_come_in_whole_chunks_of_at_most_64_kib(pair: Pair) -> None:
    # The transport reads into the stream's own buffer (BufferedProtocol), which is
    # handed on in chunks that receive_some returns whole.
    payload = bytes(range(256)) * 1200  # 300 kB, more than one read of the buffer
    received = bytearray()
    async with anyio.create_task_group() as group:
        group.start_soon(pair.peer_send, payload)
        with anyio.fail_after(10):
            while len(received) < len(payload):
                chunk = await pair.stream.receive_some()
                assert type(chunk) is bytes
                assert 1 <= len(chunk) <= 1 << 16
                received += chunk
    assert received == payload


@pytest.mark.parametrize("sizes", [(1,), (65535, 65536, 65537), (262144,), (3, 200000, 7)])
async def test_buffer_updated_gives_what_data_received_would(
    pair: Pair, sizes: tuple[int, ...]
) -> None:
    # What a transport does with a BufferedProtocol: fill get_buffer()'s buffer (as much of
    # it as it has), then report how much with buffer_updated.
    stream = pair.stream
    expected = bytearray()
    for number, size in enumerate(sizes):
        piece = bytes([number + 1]) * size
        at = 0
        while at < size:
            buffer = stream.get_buffer(size - at)
            step = min(len(buffer), size - at)
            buffer[:step] = piece[at : at + step]
            stream.buffer_updated(step)
            at += step
        expected += piece
    received = bytearray()
    while len(received) < len(expected):
        chunk = await stream.receive_some()
        assert len(chunk) <= 1 << 16
        received += chunk
    assert received == expected


async def test_the_read_buffer_grows_with_full_reads_only(pair: Pair) -> None:
    stream = pair.stream
    sizes = []
    for _ in range(5):
        buffer = stream.get_buffer(-1)
        sizes.append(len(buffer))
        stream.buffer_updated(len(buffer))  # a full read
    assert sizes == [1 << 14, 1 << 16, 1 << 18, 1 << 18, 1 << 18]
    stream.buffer_updated(10)  # a read that left room: no change
    assert len(stream.get_buffer(-1)) == 1 << 18


async def test_eof_gives_the_buffered_bytes_then_empty_bytes(pair: Pair) -> None:
    await pair.peer_send(b"last words")
    pair.peer.close()
    assert await pair.stream.receive_some() == b"last words"
    assert await pair.stream.receive_some() == b""
    assert await pair.stream.receive_some() == b""
    # As on a half-closed socket, a write does not fail (the reader has seen the end).
    await pair.stream.send_all(b"anyone there?")


async def test_a_peer_reset_raises_os_error(pair: Pair) -> None:
    pair.peer_reset()
    with pytest.raises(OSError):
        await pair.stream.receive_some()
    with pytest.raises(OSError):
        await pair.stream.send_all(b"x")


async def test_a_reset_while_waiting_raises_os_error(pair: Pair) -> None:
    async def reset_soon() -> None:
        await anyio.sleep(0.05)
        pair.peer_reset()

    async with anyio.create_task_group() as group:
        group.start_soon(reset_soon)
        with pytest.raises(OSError):
            await pair.stream.receive_some()


async def test_reading_pauses_while_a_lot_waits_unread(pair: Pair) -> None:
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB
    async with anyio.create_task_group() as group:
        group.start_soon(pair.peer_send, payload)
        with anyio.fail_after(10):
            while pair.stream.transport.is_reading():
                await anyio.sleep(0.01)
        received = bytearray()
        with anyio.fail_after(10):
            while len(received) < len(payload):
                received += await pair.stream.receive_some()
    assert received == payload
    assert pair.stream.transport.is_reading()


# --------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------


async def test_send_blocks_while_the_peer_does_not_read_then_completes(pair: Pair) -> None:
    payload = b"x" * (8 << 20)
    finished = anyio.Event()

    async def send() -> None:
        await pair.stream.send_all(payload)
        finished.set()

    async with anyio.create_task_group() as group:
        group.start_soon(send)
        await anyio.sleep(0.3)
        assert not finished.is_set()
        with anyio.fail_after(20):
            assert await pair.peer_receive_exactly(len(payload)) == payload
            await finished.wait()


async def test_a_cancelled_blocked_send_has_handed_over_all_its_bytes(pair: Pair) -> None:
    payload = b"y" * (8 << 20)
    with anyio.move_on_after(0.3) as scope:
        await pair.stream.send_all(payload)
    assert scope.cancelled_caught
    assert repr(pair.stream) == "<AsyncioStream open>"
    async with anyio.create_task_group() as group:
        group.start_soon(pair.stream.send_all, b"END")
        with anyio.fail_after(20):
            assert await pair.peer_receive_exactly(len(payload) + 3) == payload + b"END"


async def test_send_and_receive_after_close_raise_os_error(pair: Pair) -> None:
    await pair.stream.close()
    with pytest.raises(OSError):
        await pair.stream.send_all(b"x")
    with pytest.raises(OSError):
        await pair.stream.receive_some()
    await pair.stream.close()
    assert await pair.loop.sock_recv(pair.peer, 10) == b""


async def test_close_wakes_a_waiting_receive_with_os_error(pair: Pair) -> None:
    async def close_soon() -> None:
        await anyio.sleep(0.05)
        await pair.stream.close()

    async with anyio.create_task_group() as group:
        group.start_soon(close_soon)
        with pytest.raises(OSError):
            await pair.stream.receive_some()


# --------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A test CA, made as the TLS tests make theirs (trustme)."""
    return trustme.CA()


def _server_context(ca: trustme.CA, alpn: str | None) -> tuple[ssl.SSLContext, bytes]:
    """A server context with a certificate for localhost, and that certificate (DER)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate = ca.issue_cert("localhost", "127.0.0.1")
    certificate.configure_cert(context)
    if alpn:
        context.set_alpn_protocols([alpn])
    der = ssl.PEM_cert_to_DER_cert(certificate.cert_chain_pems[0].bytes().decode())
    return context, der


def _client_context(ca: trustme.CA, alpn: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    if alpn:
        context.set_alpn_protocols([alpn])
    return context


def _serve_tls(peer: socket.socket, context: ssl.SSLContext, direct: bool) -> None:
    """The TLS server (blocking, in a thread): answer an SSLRequest unless ``direct``, then
    echo one message back in upper case, and wait for the client to close."""
    peer.setblocking(True)
    peer.settimeout(20)
    if not direct:
        assert peer.recv(8) == SSL_REQUEST
        peer.sendall(b"S")
    try:
        tls = context.wrap_socket(peer, server_side=True)
    except (ssl.SSLError, OSError):  # the client gave up on the handshake
        return
    with tls:
        tls.sendall(tls.recv(100).upper())
        with contextlib.suppress(OSError):  # the client need not wait for our close_notify
            assert tls.recv(100) == b""


@pytest.mark.parametrize("direct", [False, True], ids=["sslrequest", "direct"])
async def test_start_tls_returns_the_peer_certificate_and_alpn(
    pair: Pair, ca: trustme.CA, direct: bool
) -> None:
    alpn = "postgresql" if direct else None
    server_context, server_certificate = _server_context(ca, alpn)
    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, _serve_tls, pair.peer, server_context, direct)
        if not direct:
            await pair.stream.send_all(SSL_REQUEST)
            assert await pair.stream.receive_some() == b"S"
        with anyio.fail_after(20):
            info = await pair.stream.start_tls(_client_context(ca, alpn), "localhost")
            await pair.stream.send_all(b"hello over tls")
            assert await pair.stream.receive_some() == b"HELLO OVER TLS"
        assert repr(pair.stream) == "<AsyncioStream open tls>"
        await pair.stream.close()
        await pair.stream.close()
    assert repr(pair.stream) == "<AsyncioStream closed tls>"
    assert info.peer_certificate == server_certificate
    assert info.alpn_protocol == alpn
    assert info.version in ("TLSv1.2", "TLSv1.3")


async def test_an_untrusted_certificate_fails_the_handshake(pair: Pair, ca: trustme.CA) -> None:
    server_context, _ = _server_context(ca, None)
    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, _serve_tls, pair.peer, server_context, True)
        with anyio.fail_after(20), pytest.raises(ssl.SSLCertVerificationError):
            await pair.stream.start_tls(_client_context(trustme.CA(), None), "localhost")
        with pytest.raises(OSError):
            await pair.stream.send_all(b"x")
        await pair.stream.close()


async def test_a_peer_closing_during_the_handshake_raises_ssl_eof_error(pair: Pair) -> None:
    async def close_after_the_client_hello() -> None:
        assert await pair.loop.sock_recv(pair.peer, 65536)
        pair.peer.close()  # with nothing unread: an orderly end, not a reset

    context = ssl.create_default_context()
    async with anyio.create_task_group() as group:
        group.start_soon(close_after_the_client_hello)
        with anyio.fail_after(20), pytest.raises(ssl.SSLEOFError, match="during the TLS"):
            await pair.stream.start_tls(context, "localhost")


async def test_unencrypted_bytes_before_the_handshake_are_refused(pair: Pair) -> None:
    # A man in the middle may append bytes to the server's "S": they must not be taken as
    # if they came through TLS (CVE-2021-23222).
    await pair.peer_send(b"Sinjected")
    with anyio.fail_after(10):
        while len(pair.stream._chunks) == 0:
            await anyio.sleep(0.01)
    assert await pair.stream.receive_some(1) == b"S"
    with pytest.raises(ssl.SSLError, match="unencrypted"):
        await pair.stream.start_tls(ssl.create_default_context(), "localhost")
