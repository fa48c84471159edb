"""Bad input to the local DSQL endpoint, from a raw TLS client: oversized, malformed and
truncated messages during the handshake, junk and dead peers during the relay.  Each is
refused or ends that one connection, at once, and the endpoint goes on serving."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pgwire import dsql
from pgwire.dsql_local import MAX_AUTH_MESSAGE, TEST_CREDENTIALS
from pgwire.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    PROTOCOL_3_0,
    SERVER_SMALL_MESSAGE_LIMIT,
    AuthenticationCleartextPassword,
    BackendMessage,
    DataRow,
    ErrorResponse,
    PasswordMessage,
    Query,
    ReadyForQuery,
    ReceiveBuffer,
    RowDescription,
    StartupMessage,
    decode_backend,
)
from tests.dsql.conftest import RunningEndpoint


class RawClient:
    """A direct-TLS connection to the endpoint that sends whatever bytes it is given."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock
        self.buffer = ReceiveBuffer()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_message(self) -> BackendMessage | None:
        """The next message from the endpoint; ``None`` once it closed the connection."""
        while (frame := self.buffer.next_message()) is None:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer.feed(data)
        return decode_backend(*frame)

    def closed(self) -> bool:
        """Whether the endpoint closed the connection (after any messages it sent)."""
        while self.next_message() is not None:
            pass
        return True


@contextmanager
def raw_client(endpoint: RunningEndpoint) -> Iterator[RawClient]:
    context = ssl.create_default_context(cafile=endpoint.endpoint.ca_file)
    context.set_alpn_protocols(["postgresql"])
    # The timeout only keeps a broken endpoint from hanging the test: every step here
    # is answered at once.
    raw = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
    with context.wrap_socket(raw, server_hostname=endpoint.endpoint.endpoint) as sock:
        yield RawClient(sock)


@contextmanager
def asked_for_a_password(endpoint: RunningEndpoint) -> Iterator[RawClient]:
    """A raw client past TLS and startup, asked for its password."""
    with raw_client(endpoint) as client:
        client.send(
            StartupMessage({"user": "admin", "database": "postgres"}, PROTOCOL_3_0).encode()
        )
        assert isinstance(client.next_message(), AuthenticationCleartextPassword)
        yield client


def fatal(client: RawClient) -> ErrorResponse:
    """The FATAL error the endpoint answers with, before it closes the connection."""
    message = client.next_message()
    assert isinstance(message, ErrorResponse), message
    assert message.fields["S"] == "FATAL"
    assert client.closed()
    return message


def assert_still_serving(endpoint: RunningEndpoint) -> None:
    with dsql.connect(**endpoint.params()) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_a_password_message_declaring_a_huge_length_is_refused_at_once(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with asked_for_a_password(dsql_endpoint) as client:
        # Only the header: an endpoint that waited for the two gigabytes would never answer.
        client.send(b"p" + (2**31 - 1).to_bytes(4, "big"))
        error = fatal(client)
    assert error.fields["C"] == "08P01"
    assert f"maximum message size of {MAX_AUTH_MESSAGE} bytes" in error.fields["M"]
    assert_still_serving(dsql_endpoint)


def test_a_password_message_of_the_largest_length_is_read_and_checked(
    dsql_endpoint: RunningEndpoint,
) -> None:
    password = b"x" * (MAX_AUTH_MESSAGE - 5)  # the length word counts itself and the NUL
    with asked_for_a_password(dsql_endpoint) as client:
        client.send(b"p" + MAX_AUTH_MESSAGE.to_bytes(4, "big") + password + b"\0")
        error = fatal(client)
    assert error.fields["C"] == "28P01"
    assert "not an IAM token" in error.fields["M"]


def test_another_message_instead_of_the_password_is_refused(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with asked_for_a_password(dsql_endpoint) as client:
        client.send(Query("SELECT 1").encode())
        error = fatal(client)
    assert (error.fields["C"], error.fields["M"]) == ("08P01", "expected a password message")


def test_a_malformed_password_message_is_refused(dsql_endpoint: RunningEndpoint) -> None:
    with asked_for_a_password(dsql_endpoint) as client:
        client.send(b"p" + (4 + 5).to_bytes(4, "big") + b"token")  # no NUL terminator
        error = fatal(client)
    assert error.fields["C"] == "08P01"
    assert error.fields["M"].startswith("invalid password message")


def test_a_client_dying_inside_its_password_message_ends_only_its_connection(
    dsql_endpoint: RunningEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgwire.dsql_local")
    with asked_for_a_password(dsql_endpoint) as client:
        client.send(b"p" + (100).to_bytes(4, "big") + b"AKID")
    assert_still_serving(dsql_endpoint)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_malformed_startup_packet_is_refused(dsql_endpoint: RunningEndpoint) -> None:
    with raw_client(dsql_endpoint) as client:
        # Protocol 2.0, which no server speaks any more.
        client.send((8).to_bytes(4, "big") + (2 << 16).to_bytes(4, "big"))
        error = fatal(client)
    assert error.fields["C"] == "08P01"
    assert "invalid message from the client" in error.fields["M"]


def test_a_truncated_startup_packet_then_silence_ends_at_the_close(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with raw_client(dsql_endpoint) as client:
        client.send((40).to_bytes(4, "big") + b"\x00\x03")
        client.sock.shutdown(socket.SHUT_WR)
        assert client.closed()
    assert_still_serving(dsql_endpoint)


@contextmanager
def logged_in(endpoint: RunningEndpoint, application_name: str) -> Iterator[RawClient]:
    """A raw client with a session through the endpoint, ready for queries."""
    startup = {"user": "admin", "database": "postgres", "application_name": application_name}
    token = dsql.generate_token(
        endpoint.endpoint.endpoint, region="us-east-1", admin=True, credentials=TEST_CREDENTIALS
    )
    with raw_client(endpoint) as client:
        client.send(StartupMessage(startup, PROTOCOL_3_0).encode())
        assert isinstance(client.next_message(), AuthenticationCleartextPassword)
        client.send(PasswordMessage(token.encode()).encode())
        while not isinstance(message := client.next_message(), ReadyForQuery):
            assert message is not None and not isinstance(message, ErrorResponse), message
        yield client


def sessions_named(endpoint: RunningEndpoint, application_name: str) -> int:
    """How many sessions of that name the real server still has (after a moment's grace
    for a closing one to end: the wait is bounded in count, not timed)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    with dsql.connect(**endpoint.params()) as conn:
        count: int = conn.fetchval(query, application_name)
        for _ in range(100):
            if count == 0:
                break
            conn.execute("SELECT pg_sleep(0.05)")
            count = conn.fetchval(query, application_name)
    return count


def test_junk_in_a_session_is_refused_and_ends_both_sessions(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with logged_in(dsql_endpoint, "junk-sender") as client:
        client.send(Query("SELECT 1").encode())
        assert isinstance(client.next_message(), RowDescription)
        while not isinstance(client.next_message(), ReadyForQuery):
            pass
        client.send(b"Q" + (2).to_bytes(4, "big"))  # a length below the minimum of 4
        error = fatal(client)
    assert error.fields["C"] == "08P01"
    assert "invalid message from the client" in error.fields["M"]
    assert sessions_named(dsql_endpoint, "junk-sender") == 0
    assert_still_serving(dsql_endpoint)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"S" + (SERVER_SMALL_MESSAGE_LIMIT + 1).to_bytes(4, "big"), id="sync"),
        pytest.param(b"Q" + (DEFAULT_MAX_MESSAGE_SIZE + 1).to_bytes(4, "big"), id="query"),
    ],
)
def test_a_relayed_message_over_its_limit_is_refused_on_its_header(
    dsql_endpoint: RunningEndpoint, header: bytes
) -> None:
    with logged_in(dsql_endpoint, "oversized") as client:
        # Only the header: an endpoint that waited for the body would never answer.
        client.send(header)
        error = fatal(client)
    assert error.fields["C"] == "08P01"
    assert "declares a length" in error.fields["M"]
    assert sessions_named(dsql_endpoint, "oversized") == 0


def test_a_password_pipelined_with_the_startup_message_is_read(
    dsql_endpoint: RunningEndpoint,
) -> None:
    token = dsql.generate_token(
        dsql_endpoint.endpoint.endpoint,
        region="us-east-1",
        admin=True,
        credentials=TEST_CREDENTIALS,
    )
    startup = StartupMessage({"user": "admin"}, PROTOCOL_3_0).encode()
    with raw_client(dsql_endpoint) as client:
        client.send(startup + PasswordMessage(token.encode()).encode() + Query("SELECT 7").encode())
        assert isinstance(client.next_message(), AuthenticationCleartextPassword)
        while not isinstance(client.next_message(), ReadyForQuery):
            pass
        assert isinstance(client.next_message(), RowDescription)
        row = client.next_message()
        assert isinstance(row, DataRow) and row.values == (b"7",)


def test_how_each_session_ended_is_logged(
    dsql_endpoint: RunningEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pgwire.dsql_local")
    with logged_in(dsql_endpoint, "logged") as client:
        client.send(Query("SELECT 1").encode())
        while not isinstance(client.next_message(), ReadyForQuery):
            pass
    assert sessions_named(dsql_endpoint, "logged") == 0
    ended = [r.getMessage() for r in caplog.records if " ended: " in r.getMessage()]
    assert ended and ended[-1].endswith("ended: the client closed the connection")


def test_a_client_vanishing_mid_session_ends_its_upstream_session_too(
    dsql_endpoint: RunningEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pgwire.dsql_local")
    with logged_in(dsql_endpoint, "vanishing") as client:
        client.send(b"Q" + (100).to_bytes(4, "big") + b"SELECT")  # cut short, then gone
    assert sessions_named(dsql_endpoint, "vanishing") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_query_pipelined_behind_the_password_is_answered_after_the_login(
    dsql_endpoint: RunningEndpoint,
) -> None:
    token = dsql.generate_token(
        dsql_endpoint.endpoint.endpoint,
        region="us-east-1",
        admin=True,
        credentials=TEST_CREDENTIALS,
    )
    with raw_client(dsql_endpoint) as client:
        client.send(StartupMessage({"user": "admin"}, PROTOCOL_3_0).encode())
        assert isinstance(client.next_message(), AuthenticationCleartextPassword)
        client.send(PasswordMessage(token.encode()).encode() + Query("SELECT 42").encode())
        while not isinstance(client.next_message(), ReadyForQuery):
            pass
        assert isinstance(client.next_message(), RowDescription)
        row = client.next_message()
        assert isinstance(row, DataRow) and row.values == (b"42",)


def test_a_token_with_a_non_ascii_signature_gets_a_clean_refusal(
    dsql_endpoint: RunningEndpoint,
) -> None:
    token = dsql.generate_token(
        dsql_endpoint.endpoint.endpoint,
        region="us-east-1",
        admin=True,
        credentials=TEST_CREDENTIALS,
    )
    forged = token.rpartition("X-Amz-Signature=")[0] + "X-Amz-Signature=%C3%A9"
    refused = len(dsql_endpoint.endpoint.refusals)
    with asked_for_a_password(dsql_endpoint) as client:
        client.send(PasswordMessage(forged.encode()).encode())
        error = fatal(client)
    assert error.fields["C"] == "28P01"
    assert "64 lowercase hexadecimal" in error.fields["M"]
    assert len(dsql_endpoint.endpoint.refusals) == refused + 1
    assert_still_serving(dsql_endpoint)
