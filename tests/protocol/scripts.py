"""Canned server conversations and small drivers for the protocol-core tests.

Server bytes are always built from the message classes' own ``encode()``, so these scripts
read like the conversations in the PostgreSQL protocol documentation. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import scramp

from pgwire.protocol import (
    NEED_DATA,
    Authenticated,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    AuthMethod,
    BackendKeyData,
    BackendMessage,
    ClientConnection,
    ConnectionState,
    ErrorResponse,
    Event,
    Message,
    ParameterStatus,
    ReadyForQuery,
    SASLInitialResponse,
    SASLResponse,
    ScramAuth,
    ScramSecret,
    ServerConnection,
    ServerEvent,
    ServerState,
    StartupMessage,
    TrustAuth,
    decode_frontend,
)
from pgwire.protocol.peer import Peer

EventT = TypeVar("EventT")

USER = "alice"
PASSWORD = "s3cr3t-p4ss"
SECRET_KEY = b"\x8a\x01\xfe\x42"
BACKEND_KEY = BackendKeyData(4242, SECRET_KEY)
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SCRAM_SALT = b"pgwire-test-salt"
SCRAM_ITERATIONS = 4096

#: What a server with ``trust`` authentication answers to a StartupMessage.
TRUST_STARTUP: tuple[BackendMessage, ...] = (
    AuthenticationOk(),
    ParameterStatus("server_version", "18.0"),
    ParameterStatus("client_encoding", "UTF8"),
    ParameterStatus("DateStyle", "ISO, MDY"),
    BACKEND_KEY,
    ReadyForQuery("I"),
)


def wire(*messages: Message) -> bytes:
    """The bytes of ``messages`` as they travel, one after the other."""
    return b"".join(message.encode() for message in messages)


def error(message: str = "boom", sqlstate: str = "42601", severity: str = "ERROR") -> ErrorResponse:
    """An ErrorResponse with the fields PostgreSQL always sends."""
    return ErrorResponse({"S": severity, "V": severity, "C": sqlstate, "M": message})


def drain(conn: Peer[Any, EventT]) -> list[EventT]:
    """Every event the connection (of either role) can produce from what it has received."""
    events: list[EventT] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)


def receive(conn: Peer[Any, EventT], *messages: Message) -> list[EventT]:
    """Feed the peer's ``messages`` in one chunk and return the events they produce."""
    conn.receive_data(wire(*messages))
    return drain(conn)


def chunks(data: bytes, sizes: Iterable[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes (repeating the last); none is empty."""
    pieces = []
    size = 1
    pos = 0
    sizes = iter(sizes)
    while pos < len(data):
        size = next(sizes, size)
        pieces.append(data[pos : pos + size])
        pos += size
    return pieces


def receive_in_chunks(conn: ClientConnection, data: bytes, sizes: Iterable[int]) -> list[Event]:
    """Feed ``data`` cut as ``chunks`` says, draining events after every piece."""
    events: list[Event] = []
    for piece in chunks(data, sizes):
        conn.receive_data(piece)
        events.extend(drain(conn))
    return events


def start(conn: ClientConnection | None = None, **params: str) -> ClientConnection:
    """A connection that has sent its StartupMessage (user ``alice`` unless given)."""
    conn = conn if conn is not None else ClientConnection()
    conn.send(StartupMessage({"user": USER, **params}))
    return conn


def ready_connection(conn: ClientConnection | None = None) -> ClientConnection:
    """A connection past a ``trust`` startup, idle and READY."""
    conn = start(conn)
    receive(conn, *TRUST_STARTUP)
    assert conn.state is ConnectionState.READY
    return conn


def started_server(**params: str) -> ServerConnection:
    """A server that has read a StartupMessage for ``alice``."""
    server = ServerConnection()
    [event] = receive(server, StartupMessage({"user": USER, **params}))
    assert isinstance(event, StartupMessage)
    return server


def ready_server() -> ServerConnection:
    """A server past a ``trust`` startup, READY."""
    server = started_server()
    server.authenticate(TrustAuth())
    assert drain(server) == [Authenticated(USER, "trust")]
    server.send(BackendKeyData(7, b"abcd"), ReadyForQuery("I"))
    assert server.state is ServerState.READY
    return server


def exchange(client: ClientConnection, server: ServerConnection) -> list[ServerEvent]:
    """Run both roles until neither has anything more to say; return the server's events."""
    events: list[ServerEvent] = []
    for _ in range(10):
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(to_server)
        new = drain(server)
        events += new
        to_client = server.data_to_send()
        if to_client:
            client.receive_data(to_client)
            drain(client)
        if not to_server and not to_client and not new:
            return events
    raise AssertionError("the conversation did not settle")


def authenticate(
    method: AuthMethod, password: str = PASSWORD, **startup: str
) -> tuple[ClientConnection, ServerConnection, list[ServerEvent]]:
    """A client with ``password`` and a server asking for ``method``, run to the end of the
    authentication; with the server's events after its request."""
    client = ClientConnection(password=password, nonce_source=lambda: CLIENT_NONCE)
    server = ServerConnection()
    server.receive_data(client.send(StartupMessage({"user": USER, **startup})))
    drain(server)
    client.receive_data(server.authenticate(method))
    drain(client)
    return client, server, exchange(client, server)


#: The server nonce of ``scram_server``.
FIXED_NONCE = "n1" * 9


def scram_server(binding: bytes | None = None) -> ServerConnection:
    """A server that offered SCRAM-SHA-256 (and -PLUS with ``binding``), nonce
    ``FIXED_NONCE``."""
    server = started_server()
    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
    server.authenticate(ScramAuth(secret, FIXED_NONCE, binding))
    return server


def scram_first(server: ServerConnection, mechanism: str, first: str) -> list[ServerEvent]:
    """Feed the server a SASLInitialResponse choosing ``mechanism`` with client-first ``first``."""
    return receive(server, SASLInitialResponse(mechanism, first.encode()))


def split_frontend(data: bytes) -> list[tuple[int, bytes]]:
    """Cut bytes a client wrote into ``(type byte, payload)`` pairs."""
    messages = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        messages.append((data[pos], data[pos + 5 : pos + 1 + length]))
        pos += 1 + length
    return messages


class ScramServer:
    """The server half of SCRAM-SHA-256 for ``PASSWORD``, driven by scramp with fixed nonces.

    ``challenge()`` reads the client's SASLInitialResponse and returns the server-first
    message; ``outcome()`` reads the client's SASLResponse and returns the server-final one.
    """

    def __init__(self, password: str = PASSWORD) -> None:
        mechanism = scramp.ScramMechanism("SCRAM-SHA-256")
        auth_info = mechanism.make_auth_info(
            password, iteration_count=SCRAM_ITERATIONS, salt=SCRAM_SALT
        )
        self._server = mechanism.make_server(lambda _username: auth_info, s_nonce=SERVER_NONCE)

    def challenge(self, client_bytes: bytes) -> AuthenticationSASLContinue:
        [(code, payload)] = split_frontend(client_bytes)
        first = decode_frontend(code, payload, password_kind="sasl-initial")
        assert isinstance(first, SASLInitialResponse)
        assert first.mechanism == "SCRAM-SHA-256"
        assert first.data is not None
        self._server.set_client_first(first.data.decode())
        return AuthenticationSASLContinue(self._server.get_server_first().encode())

    def outcome(self, client_bytes: bytes) -> AuthenticationSASLFinal:
        [(code, payload)] = split_frontend(client_bytes)
        final = decode_frontend(code, payload, password_kind="sasl")
        assert isinstance(final, SASLResponse)
        self._server.set_client_final(final.data.decode())
        return AuthenticationSASLFinal(self._server.get_server_final().encode())


SASL_OFFER = AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"))
