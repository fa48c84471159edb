"""The trio-native stream (``transports/trio_stream.py``), and writes cut by cancellations.

Against the real PostgreSQL 18 (TCP, Unix socket, TLS), and against a peer socket the test
drives itself to stop reading on cue. The last tests cancel writes of large messages at many
points, on every event loop, and check that the connection is then either usable (every
later query gets its own answer) or closed, never out of step with the server.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import trio
import trustme

import pgwire
from pgwire.transports.async_tcp import connect_tcp_async, connect_unix_async
from pgwire.transports.asyncio_stream import AsyncioStream
from pgwire.transports.trio_stream import TrioStream
from tests.backends import anyio_backend  # noqa: F401  (every loop, for the last tests)
from tests.pg import TRUST_USER, PostgresServer

pytestmark = pytest.mark.anyio

#: What PostgreSQL answers a plaintext SSLRequest with: ``N`` (no TLS on the test server).
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
#: Small kernel buffers, so that a few MiB fill the connection.
SMALL_BUFFER = 1 << 16


def _unix_path(server: PostgresServer) -> str:
    return f"{server.unix_socket_dir}/.s.PGSQL.{server.port}"


def _socket_of(stream: Any) -> socket.socket:
    if isinstance(stream, AsyncioStream):
        sock: socket.socket = stream.transport.get_extra_info("socket")
        return sock
    assert isinstance(stream, TrioStream)
    return stream._sock


# --------------------------------------------------------------------------------------
# Which stream, against the real server
# --------------------------------------------------------------------------------------


def test_on_trio_connections_get_the_trio_stream(pg_server: PostgresServer) -> None:
    async def main() -> None:
        for stream in (
            await connect_tcp_async(pg_server.host, pg_server.port),
            await connect_tcp_async(pg_server.host, pg_server.port, shuffle=True),
            await connect_unix_async(_unix_path(pg_server)),
        ):
            assert isinstance(stream, TrioStream)
            assert stream.atomic_send is True
            await stream.send_all(SSL_REQUEST)
            assert await stream.receive_some() == b"N"
            assert repr(stream) == "<TrioStream open>"
            await stream.close()
            await stream.close()  # closing twice is harmless
            assert repr(stream) == "<TrioStream closed>"
            with pytest.raises(ConnectionResetError, match="closed"):
                await stream.send_all(b"x")
            with pytest.raises(ConnectionResetError, match="closed"):
                await stream.receive_some()

    trio.run(main)


def test_a_refused_connection_raises_what_anyio_raises_on_trio() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()

    async def main() -> None:
        with pytest.raises(OSError, match="All connection attempts failed"):
            await connect_tcp_async("127.0.0.1", port)

    trio.run(main)


@pytest.mark.parametrize("where", ["tcp", "unix"])
def test_the_async_driver_runs_on_the_trio_stream(pg_server: PostgresServer, where: str) -> None:
    extra = {"host": pg_server.unix_socket_dir} if where == "unix" else {}

    async def main() -> None:
        async with await pgwire.connect_async(pg_server.dsn(TRUST_USER.name, **extra)) as conn:
            assert isinstance(conn._stream, TrioStream)
            assert await conn.fetchval("SELECT 1 + 1") == 2
            big = "y" * 3_000_000
            assert await conn.fetchval("SELECT $1::text", big) == big

    trio.run(main)


# --------------------------------------------------------------------------------------
# A peer the test drives
# --------------------------------------------------------------------------------------


async def _pair() -> tuple[TrioStream, socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    with listener:
        stream = await connect_tcp_async("127.0.0.1", listener.getsockname()[1])
        peer, _ = listener.accept()
    assert isinstance(stream, TrioStream)
    stream._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    peer.setblocking(False)
    return stream, peer


async def _read_exactly(peer: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        await trio.lowlevel.wait_readable(peer)
        chunk = peer.recv(min(size - len(data), 1 << 20))
        assert chunk, f"the stream closed after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


def _message(number: int, size: int) -> bytes:
    """A frame that names its own length and number, filled with a pattern of its own."""
    body = bytes([number % 251]) * size
    return struct.pack("!ii", number, size) + body


def test_a_cancelled_send_is_never_cut_short() -> None:
    async def main() -> None:
        stream, peer = await _pair()
        sent = bytearray()
        received = bytearray()
        cut = 0
        with peer:
            for number in range(40):
                message = _message(number, 1_000_000 + number * 997)
                sent += message
                # The peer reads a different amount each time before the writer is
                # cancelled: the cancellation lands at a different point of the write.
                scope = trio.CancelScope()

                async def cancel_after(count: int, scope: trio.CancelScope = scope) -> None:
                    received.extend(await _read_exactly(peer, count))
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cancel_after, (number * 7919) % 200_000 + 1)
                    with scope:
                        await stream.send_all(message)
                        await trio.sleep_forever()
                assert scope.cancelled_caught
                if stream.pending:
                    cut += 1
            # Every byte committed so far reaches the peer, in order, ahead of new ones.
            final = _message(99, 10)
            sent += final

            async def send_final_and_end() -> None:
                await stream.send_all(final)
                assert stream.pending == 0
                stream._sock.shutdown(socket.SHUT_WR)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_final_and_end)
                while True:
                    await trio.lowlevel.wait_readable(peer)
                    chunk = peer.recv(1 << 20)
                    if not chunk:
                        break
                    received += chunk
        await stream.close()
        assert len(received) == len(sent)
        assert received == sent
        assert cut > 0, "no write was cancelled halfway: the test proves nothing"

    trio.run(main)


def test_a_receive_first_finishes_a_cancelled_send() -> None:
    async def main() -> None:
        stream, peer = await _pair()
        message = _message(1, 2_000_000)
        with peer:
            with trio.move_on_after(0.01) as scope:
                await stream.send_all(message)
            assert scope.cancelled_caught
            assert 0 < stream.pending < len(message)

            async def answer() -> None:
                # A server answers once it has the whole message.
                await _read_exactly(peer, len(message))
                peer.sendall(b"answer")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(answer)
                assert await stream.receive_some() == b"answer"
        assert stream.pending == 0
        await stream.close()

    trio.run(main)


def test_the_peer_closing_is_an_empty_read_then_writes_fail() -> None:
    async def main() -> None:
        stream, peer = await _pair()
        peer.close()
        assert await stream.receive_some() == b""
        with pytest.raises(ConnectionResetError):
            for _ in range(100):  # the first writes may still land in the kernel's buffer
                await stream.send_all(b"x" * 100_000)
                await trio.sleep(0.001)
        await stream.close()

    trio.run(main)


def test_tls_runs_on_the_trio_stream() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("db.example")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        async def serve() -> None:
            raw, _ = await listener.accept()
            tls = trio.SSLStream(trio.SocketStream(raw), server_context, server_side=True)
            data = await tls.receive_some()
            await tls.send_all(data.upper() * 100_000)
            await tls.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve)
            stream = await connect_tcp_async("127.0.0.1", port)
            assert isinstance(stream, TrioStream)
            info = await stream.start_tls(client_context, "db.example")
            assert info.version is not None and info.peer_certificate
            assert repr(stream) == "<TrioStream open tls>"
            await stream.send_all(b"ping")
            received = bytearray()
            while chunk := await stream.receive_some():
                received += chunk
            assert received == b"PING" * 100_000
            await stream.close()
        listener.close()

    trio.run(main)


# --------------------------------------------------------------------------------------
# The driver, with writes of large messages cancelled at many points (every event loop)
# --------------------------------------------------------------------------------------


async def _cancelled_after(steps: int, call: Any, *args: Any) -> bool:
    """Run ``call(*args)``, cancelled after ``steps`` turns of the event loop; True if it
    was."""
    scope = anyio.CancelScope()

    async def cancel() -> None:
        for _ in range(steps):
            await anyio.lowlevel.checkpoint()
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(cancel)
        with scope:
            await call(*args)
    return scope.cancelled_caught


@pytest.fixture
async def small_buffer_conn(pg_server: PostgresServer) -> AsyncIterator[Any]:
    conn = await pgwire.connect_async(pg_server.dsn(TRUST_USER.name))
    _socket_of(conn._stream).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    try:
        yield conn
    finally:
        await conn.close()


async def test_cancelled_writes_of_large_messages_never_desynchronise(
    pg_server: PostgresServer, small_buffer_conn: Any
) -> None:
    conn = small_buffer_conn
    big = "z" * 4_000_000
    cancelled = usable = closed = 0
    for steps in range(0, 60, 2):
        if await _cancelled_after(steps, conn.fetchval, "SELECT length($1::text)", big):
            cancelled += 1
        # Usable, with every answer its own; or closed: never an answer to another query.
        try:
            assert await conn.fetchval("SELECT $1::int + 1", steps) == steps + 1
            assert await conn.fetchval("SELECT length($1::text)", big[steps:]) == len(big) - steps
            usable += 1
        except (pgwire.InterfaceError, pgwire.OperationalError):
            assert conn.closed
            closed += 1
            conn = await pgwire.connect_async(pg_server.dsn(TRUST_USER.name))
            _socket_of(conn._stream).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    if conn is not small_buffer_conn:
        await conn.close()
    assert cancelled > 0, "no query was cancelled: the test proves nothing"
    assert usable + closed == 30
