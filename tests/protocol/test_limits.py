"""How large a message each role accepts, by message type and by state: a peer that declares
more is refused from the five header bytes alone, before any of the body is stored.

* The client (libpq's rule): a server message of a type that is never long (anything but
  RowDescription, DataRow, CopyData, FunctionCallResponse, ErrorResponse, NoticeResponse,
  NotificationResponse and ParameterDescription) may be at most ``small_message_limit``
  bytes (30,000), in every state; the long ones up to ``max_message_size``.
* The server (PostgreSQL's rules): until the client is authenticated, a password message
  may be at most 65,535 bytes and a SASL message 1,024; crossing that fails the
  authentication at once (FATAL 28P01), as PostgreSQL 18 does.  After it, the requests that
  are never long (Sync, Execute, Describe, Close, Flush, CopyDone, CopyFail, Terminate) may
  be at most 10,000 bytes, the others up to ``max_message_size``.
"""

from __future__ import annotations

import struct

import pytest

from pgwire.errors import ProtocolError
from pgwire.protocol import (
    CLIENT_SMALL_MESSAGE_LIMIT,
    MAX_PASSWORD_MESSAGE,
    MAX_SASL_MESSAGE,
    SERVER_SMALL_MESSAGE_LIMIT,
    AuthenticationFailed,
    ClientConnection,
    ConnectionState,
    ErrorResponse,
    MD5Auth,
    PasswordAuth,
    Query,
    ReceiveBuffer,
    SASLInitialResponse,
    ScramAuth,
    ScramSecret,
    ServerConnection,
    ServerState,
    decode_backend,
)
from tests.protocol.scripts import (
    PASSWORD,
    SCRAM_SALT,
    SERVER_NONCE,
    drain,
    ready_connection,
    ready_server,
    receive,
    start,
    started_server,
)

HUGE = 1 << 30


def header(code: bytes, length: int) -> bytes:
    return code + struct.pack("!i", length)


def frame(code: bytes, body: bytes) -> bytes:
    return header(code, 4 + len(body)) + body


# --------------------------------------------------------------------------------------
# The receive buffer
# --------------------------------------------------------------------------------------


def test_a_small_type_over_its_limit_is_refused_from_the_header() -> None:
    buffer = ReceiveBuffer(1000, small_message_limit=100, long_types=b"D")
    buffer.feed(header(b"S", 101))
    with pytest.raises(ProtocolError, match=r"type b'S' declares a length of 101 bytes"):
        buffer.next_message()


def test_a_small_type_at_its_limit_is_accepted() -> None:
    buffer = ReceiveBuffer(1000, small_message_limit=100, long_types=b"D")
    buffer.feed(frame(b"S", b"x" * 96))
    assert buffer.next_message() == (ord("S"), b"x" * 96)


def test_a_long_type_may_reach_the_maximum_message_size() -> None:
    buffer = ReceiveBuffer(1000, small_message_limit=100, long_types=b"D")
    buffer.feed(frame(b"D", b"\0\0" + b"x" * 994))
    assert buffer.next_message() is not None
    buffer.feed(header(b"D", 1001))
    with pytest.raises(ProtocolError, match="maximum message size of 1000"):
        buffer.next_message()


def test_without_a_small_limit_every_type_may_reach_the_maximum() -> None:
    buffer = ReceiveBuffer(1000)
    buffer.feed(frame(b"S", b"x" * 996))
    assert buffer.next_message() is not None


def test_the_limits_can_change_between_messages() -> None:
    buffer = ReceiveBuffer(1000, small_message_limit=100, long_types=b"D")
    buffer.max_message_size = 50
    buffer.feed(header(b"D", 60))
    with pytest.raises(ProtocolError, match="maximum message size of 50"):
        buffer.next_message()


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------


def test_an_authentication_request_declaring_a_gigabyte_fails_on_its_header() -> None:
    client = start(ClientConnection(password=PASSWORD))
    client.receive_data(header(b"R", HUGE))
    with pytest.raises(ProtocolError, match=r"type b'R' declares a length of 1073741824"):
        client.next_event()
    assert client.state is ConnectionState.FAILED


@pytest.mark.parametrize("code", [b"S", b"K", b"Z", b"C", b"1", b"2", b"3", b"n", b"s", b"G"])
def test_a_message_type_that_is_never_long_is_refused_over_30000_bytes(code: bytes) -> None:
    client = ready_connection()
    client.receive_data(header(code, CLIENT_SMALL_MESSAGE_LIMIT + 1))
    with pytest.raises(ProtocolError, match=f"at most {CLIENT_SMALL_MESSAGE_LIMIT} bytes"):
        client.next_event()


def test_the_small_limit_holds_before_authentication_too() -> None:
    client = start()
    client.receive_data(header(b"S", CLIENT_SMALL_MESSAGE_LIMIT + 1))
    with pytest.raises(ProtocolError, match="at most"):
        client.next_event()


@pytest.mark.parametrize("code", [b"T", b"D", b"d", b"V", b"E", b"N", b"A", b"t"])
def test_message_types_that_may_be_long_pass_the_small_limit(code: bytes) -> None:
    client = ready_connection()
    client.receive_data(header(code, CLIENT_SMALL_MESSAGE_LIMIT + 1))
    # Waits for the body: no error from the header.
    assert client.next_event().__class__.__name__ == "NeedData"


def test_a_long_error_response_is_read_whole() -> None:
    client = ready_connection()
    client.send(Query("select"))
    message = "x" * (CLIENT_SMALL_MESSAGE_LIMIT * 2)
    [event] = receive(client, ErrorResponse({"S": "ERROR", "C": "XX000", "M": message}))
    assert isinstance(event, ErrorResponse) and event.fields["M"] == message


def test_the_small_limit_can_be_raised() -> None:
    client = ready_connection(ClientConnection(small_message_limit=100_000))
    client.receive_data(frame(b"S", b"a\0" + b"x" * 50_000 + b"\0"))
    assert client.next_event().__class__.__name__ == "ParameterStatus"


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


def awaiting_password(method: PasswordAuth | MD5Auth) -> ServerConnection:
    server = started_server()
    server.authenticate(method)
    assert server.state is ServerState.AWAITING_PASSWORD
    return server


def fatal_sent(server: ServerConnection) -> ErrorResponse:
    data = server.data_to_send()
    message = decode_backend(data[0], data[5:])
    assert isinstance(message, ErrorResponse)
    return message


@pytest.mark.parametrize(
    "method", [PasswordAuth(PASSWORD), MD5Auth(PASSWORD, b"salt")], ids=["password", "md5"]
)
def test_a_password_message_declaring_200_mib_fails_authentication_on_its_header(
    method: PasswordAuth | MD5Auth,
) -> None:
    server = awaiting_password(method)
    server.receive_data(header(b"p", 200 << 20) + b"x" * 1000)
    [event] = drain(server)
    assert isinstance(event, AuthenticationFailed)
    assert f"over the limit of {MAX_PASSWORD_MESSAGE} bytes" in event.reason
    assert fatal_sent(server).fields["C"] == "28P01"
    assert server.state is ServerState.FAILED


def test_a_password_message_of_65535_bytes_is_read_and_checked() -> None:
    server = awaiting_password(PasswordAuth(PASSWORD))
    server.receive_data(frame(b"p", b"x" * (MAX_PASSWORD_MESSAGE - 5) + b"\0"))
    events = drain(server)
    assert isinstance(events[-1], AuthenticationFailed)
    assert events[-1].reason == "wrong password"


def scram_server() -> ServerConnection:
    server = started_server()
    server.authenticate(ScramAuth(ScramSecret.from_password(PASSWORD, SCRAM_SALT), SERVER_NONCE))
    return server


def test_a_sasl_message_over_1024_bytes_fails_authentication_at_once() -> None:
    server = scram_server()
    server.receive_data(header(b"p", 100_000))
    [event] = drain(server)
    assert isinstance(event, AuthenticationFailed)
    assert f"over the limit of {MAX_SASL_MESSAGE} bytes" in event.reason
    assert fatal_sent(server).fields["C"] == "28P01"


def test_a_sasl_message_of_1024_bytes_is_read() -> None:
    server = scram_server()
    # The length word counts itself, the mechanism's name and NUL, and the data's length.
    first = b"n,,n=,r=" + b"a" * (MAX_SASL_MESSAGE - 4 - 14 - 4 - 8)
    data = SASLInitialResponse("SCRAM-SHA-256", first).encode()
    assert struct.unpack_from("!i", data, 1)[0] == MAX_SASL_MESSAGE
    server.receive_data(data)
    [event] = drain(server)
    assert isinstance(event, SASLInitialResponse)
    assert server.state is ServerState.AWAITING_SASL_RESPONSE


def test_a_large_message_before_authenticate_is_called_is_refused() -> None:
    server = started_server()
    server.receive_data(header(b"p", 200 << 20))
    with pytest.raises(ProtocolError, match="maximum message size"):
        server.next_event()


def test_after_authentication_the_configured_maximum_applies() -> None:
    server = ready_server()
    events = receive(server, Query("select '" + "x" * 200_000 + "'"))
    assert isinstance(events[0], Query)


@pytest.mark.parametrize("code", [b"S", b"E", b"D", b"C", b"H", b"c", b"f", b"X"])
def test_a_request_that_is_never_long_is_refused_over_10000_bytes(code: bytes) -> None:
    server = ready_server()
    server.receive_data(header(code, SERVER_SMALL_MESSAGE_LIMIT + 1))
    with pytest.raises(ProtocolError, match=f"at most {SERVER_SMALL_MESSAGE_LIMIT} bytes"):
        server.next_event()


@pytest.mark.parametrize("code", [b"Q", b"P", b"B", b"F", b"d"])
def test_requests_that_may_be_long_pass_the_small_limit(code: bytes) -> None:
    server = ready_server()
    server.receive_data(header(code, SERVER_SMALL_MESSAGE_LIMIT + 1))
    assert server.next_event().__class__.__name__ == "NeedData"
