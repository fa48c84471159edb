"""The driver against a server that tries to exhaust it: a raw socket server in a thread
sends what a hostile server would, and the driver answers with its own exceptions, at once,
holding bounded memory.

* Notices during the startup are kept up to ``MAX_STARTUP_NOTICES`` (the rest are dropped,
  with one warning), never without limit; during a query they are delivered as they come;
* a message of a type that is never long, declaring a gigabyte, fails the connection on
  its five header bytes (libpq's rule).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import pgwire
from pgwire.errors import ProtocolError
from pgwire.flows import MAX_STARTUP_NOTICES
from pgwire.protocol import (
    AuthenticationOk,
    BackendKeyData,
    CommandComplete,
    NoticeResponse,
    ReadyForQuery,
)

Script = Callable[[socket.socket], None]


@contextmanager
def raw_server(script: Script) -> Iterator[str]:
    """A server on a free port that runs ``script`` on its first client; yields its DSN."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            client, _ = listener.accept()
            with client:
                startup = client.recv(65536)
                assert startup, "the client sent no startup packet"
                script(client)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"postgresql://alice@127.0.0.1:{port}/app?sslmode=disable&connect_timeout=30"
    finally:
        thread.join(30)
        listener.close()
    if failures:
        raise failures[0]


def read_until_closed(client: socket.socket) -> None:
    while client.recv(65536):
        pass


def test_notices_during_the_startup_are_kept_up_to_a_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent = MAX_STARTUP_NOTICES * 50
    notice = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hi"}).encode()

    def script(client: socket.socket) -> None:
        client.sendall(AuthenticationOk().encode() + notice * sent)
        client.sendall(BackendKeyData(1, b"abcd").encode() + ReadyForQuery("I").encode())
        read_until_closed(client)

    caplog.set_level(logging.INFO, logger="pgwire")
    with raw_server(script) as dsn, pgwire.connect(dsn):
        pass
    delivered = [r for r in caplog.records if r.getMessage() == "server NOTICE: hi"]
    assert len(delivered) == MAX_STARTUP_NOTICES
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{sent - MAX_STARTUP_NOTICES} more notices" in warning.getMessage()


@pytest.mark.parametrize("code", [b"R", b"S", b"K"])
def test_a_startup_message_declaring_a_gigabyte_fails_on_its_header(code: bytes) -> None:
    def script(client: socket.socket) -> None:
        if code != b"R":
            client.sendall(AuthenticationOk().encode())
        # The header and a little of the body; the rest never comes.
        client.sendall(code + struct.pack("!i", 1 << 30) + bytes(1000))
        read_until_closed(client)

    with raw_server(script) as dsn, pytest.raises(ProtocolError, match="at most 30000 bytes"):
        pgwire.connect(dsn)


def test_notices_during_a_query_are_delivered_as_they_come() -> None:
    """The server holds back the query's end until the client has seen its notices: a
    driver that kept them until the end would never answer (the wait would time out)."""
    count = 1000
    notice = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hi"}).encode()
    seen: list[str] = []
    all_seen = threading.Event()

    def handler(received: object) -> None:
        seen.append(str(received))
        if len(seen) == count:
            all_seen.set()

    def script(client: socket.socket) -> None:
        client.sendall(
            AuthenticationOk().encode()
            + BackendKeyData(1, b"abcd").encode()
            + ReadyForQuery("I").encode()
        )
        assert client.recv(65536).startswith(b"Q")
        client.sendall(notice * count)
        assert all_seen.wait(30), "the client did not deliver the notices as they came"
        client.sendall(CommandComplete("SELECT 0").encode() + ReadyForQuery("I").encode())
        read_until_closed(client)

    with raw_server(script) as dsn, pgwire.connect(dsn) as conn:
        conn.add_notice_handler(handler)
        assert conn.execute("SELECT") == "SELECT 0"
    assert len(seen) == count
