"""pgwire.protocol.peer: what both roles share, seen from each: the end of the stream.

A closed stream is reported once as ConnectionClosed, after every event before it; a close
in the middle of a message fails the connection; nothing may be received after the end.
"""

from __future__ import annotations

import pytest

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    ConnectionClosed,
    ConnectionState,
    FieldDescription,
    NoticeResponse,
    Query,
    RowDescription,
    ServerConnection,
    ServerState,
    StartupMessage,
)
from tests.protocol.scripts import USER, ready_connection, ready_server

COLUMNS = RowDescription((FieldDescription("n", type_oid=23, type_size=4),))
NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})


# --------------------------------------------------------------------------------------
# The client role
# --------------------------------------------------------------------------------------


def test_peer_closing_is_connection_closed_once() -> None:
    conn = ready_connection()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnectionState.CLOSED
    with pytest.raises(InterfaceError, match="connection is closed"):
        conn.next_event()


def test_events_before_the_close_come_first() -> None:
    conn = ready_connection()
    conn.receive_data(NOTICE.encode())
    conn.receive_data(b"")
    assert conn.next_event() == NOTICE
    assert conn.next_event() == ConnectionClosed()


def test_peer_closing_in_the_middle_of_a_message_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(COLUMNS.encode()[:7])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(ProtocolError, match=r"in the middle of a message \(7 bytes"):
        conn.next_event()
    assert conn.state is ConnectionState.FAILED


def test_data_after_the_end_of_the_stream_is_an_interface_error() -> None:
    conn = ready_connection()
    conn.receive_data(b"")
    with pytest.raises(InterfaceError, match="after the end of the stream"):
        conn.receive_data(b"Z")


# --------------------------------------------------------------------------------------
# The server role
# --------------------------------------------------------------------------------------


def test_a_client_closing_before_anything_is_a_clean_close() -> None:
    server = ServerConnection()
    server.receive_data(b"")
    assert server.next_event() == ConnectionClosed()
    assert server.state is ServerState.CLOSED
    with pytest.raises(InterfaceError, match="no more events"):
        server.next_event()
    with pytest.raises(InterfaceError, match="after the end"):
        server.receive_data(b"x")


def test_a_client_closing_in_the_middle_of_a_message_is_a_protocol_error() -> None:
    server = ServerConnection()
    server.receive_data(StartupMessage({"user": USER}).encode()[:6])
    server.receive_data(b"")
    with pytest.raises(ProtocolError, match="middle of a message"):
        server.next_event()


def test_a_client_closing_the_session_is_reported_once() -> None:
    server = ready_server()
    server.receive_data(b"")
    assert server.next_event() == ConnectionClosed()
    assert server.state is ServerState.CLOSED
