"""pgwire.protocol.startup: the client from its first byte to the first ReadyForQuery.

SSLRequest and GSSENCRequest answers, the StartupMessage, protocol version negotiation, and
what may arrive before the session is ready, driven by canned server conversations.
"""

from __future__ import annotations

import pytest

from pgwire.errors import InterfaceError, OperationalError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    PROTOCOL_3_0,
    PROTOCOL_3_2,
    AuthenticationCleartextPassword,
    AuthenticationOk,
    BackendKeyData,
    CancelRequest,
    ClientConnection,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    EncryptionResponse,
    GSSENCRequest,
    NegotiateProtocolVersion,
    NoticeResponse,
    Parse,
    ReadyForQuery,
    SSLRequest,
    StartupMessage,
    Terminate,
)
from tests.protocol.scripts import (
    BACKEND_KEY,
    PASSWORD,
    TRUST_STARTUP,
    USER,
    error,
    receive,
    receive_in_chunks,
    start,
)

ConnState = ConnectionState
NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})


# --------------------------------------------------------------------------------------
# The StartupMessage
# --------------------------------------------------------------------------------------


def test_a_new_connection_is_in_startup_with_nothing_in_flight() -> None:
    conn = ClientConnection()
    assert conn.state is ConnState.STARTUP
    assert conn.in_flight == 0
    assert conn.next_event() is NEED_DATA


def test_startup_message_bytes_are_returned_and_authentication_starts() -> None:
    conn = ClientConnection()
    message = StartupMessage({"user": USER, "database": "db"})
    assert conn.send(message) == message.encode()
    assert conn.state is ConnState.AUTHENTICATING
    assert conn.protocol_version == PROTOCOL_3_0


def test_startup_message_without_a_user_is_refused() -> None:
    conn = ClientConnection()
    with pytest.raises(InterfaceError, match="must include 'user'"):
        conn.send(StartupMessage({"database": "db"}))
    assert conn.state is ConnState.STARTUP


def test_trust_startup_reaches_ready_and_records_the_session() -> None:
    conn = start()
    assert receive(conn, *TRUST_STARTUP) == list(TRUST_STARTUP)
    assert conn.state is ConnState.READY
    assert conn.parameters == {
        "server_version": "18.0",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
    }
    assert conn.backend_key == BACKEND_KEY
    assert conn.transaction_status == "I"
    assert conn.auth_methods == []
    assert conn.data_to_send() == b""


def test_authentication_ok_leads_to_awaiting_ready() -> None:
    conn = start()
    assert receive(conn, AuthenticationOk()) == [AuthenticationOk()]
    assert conn.state is ConnState.AWAITING_READY


def test_notices_during_startup_are_events() -> None:
    conn = start()
    assert receive(conn, NOTICE, AuthenticationOk(), NOTICE) == [
        NOTICE,
        AuthenticationOk(),
        NOTICE,
    ]
    assert conn.state is ConnState.AWAITING_READY


# --------------------------------------------------------------------------------------
# Errors and unexpected messages before the session is ready
# --------------------------------------------------------------------------------------


def test_error_response_during_authentication_is_an_event_and_fails_the_connection() -> None:
    conn = start(ClientConnection(password="wrong"))
    refusal = error('password authentication failed for user "alice"', "28P01", "FATAL")
    assert receive(conn, AuthenticationCleartextPassword(), refusal) == [
        AuthenticationCleartextPassword(),
        refusal,
    ]
    assert conn.state is ConnState.FAILED
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnState.CLOSED


def test_error_response_while_awaiting_ready_fails_the_connection() -> None:
    conn = start()
    too_many = error("sorry, too many clients already", "53300", "FATAL")
    assert receive(conn, AuthenticationOk(), too_many) == [AuthenticationOk(), too_many]
    assert conn.state is ConnState.FAILED


def test_unexpected_message_during_authentication_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"unexpected ReadyForQuery .* state authenticating"):
        receive(conn, ReadyForQuery("I"))
    assert conn.state is ConnState.FAILED


def test_unexpected_message_while_awaiting_ready_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"unexpected CommandComplete .* awaiting-ready"):
        receive(conn, AuthenticationOk(), CommandComplete("SELECT 1"))


def test_only_terminate_may_be_sent_while_authenticating() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match=r"Parse in state authenticating.*Terminate"):
        conn.send(Parse("", "SELECT 1"))
    assert conn.send(Terminate()) == b"X\0\0\0\4"
    assert conn.state is ConnState.TERMINATING


# --------------------------------------------------------------------------------------
# Protocol version negotiation
# --------------------------------------------------------------------------------------


def test_negotiate_protocol_version_lowers_a_3_2_request_to_3_0() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER, "_pq_.unknown": "1"}, PROTOCOL_3_2))
    assert conn.protocol_version == PROTOCOL_3_2
    downgrade = NegotiateProtocolVersion(0, ("_pq_.unknown",))
    assert receive(conn, downgrade, *TRUST_STARTUP) == [downgrade, *TRUST_STARTUP]
    assert conn.protocol_version == PROTOCOL_3_0
    assert conn.state is ConnState.READY


def test_negotiate_protocol_version_as_postgresql_sends_it_with_the_major_version() -> None:
    # PostgreSQL 15 answers a 3.2 request with the code of 3.0, 196608 (3 << 16).
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, NegotiateProtocolVersion(3 << 16), *TRUST_STARTUP)
    assert conn.protocol_version == PROTOCOL_3_0


def test_negotiate_protocol_version_with_another_major_version_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match=r"offers 2\.0 in answer to a request for 3\.2"):
        receive(conn, NegotiateProtocolVersion(2 << 16))


def test_negotiate_protocol_version_naming_an_option_never_sent_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match=r"'_pq_\.unknown', which the client did not send"):
        receive(conn, NegotiateProtocolVersion(0, ("_pq_.unknown",)))


def test_negotiate_protocol_version_that_changes_nothing_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match="asks for no change"):
        receive(conn, NegotiateProtocolVersion(2))


def test_a_second_negotiate_protocol_version_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, NegotiateProtocolVersion(1))
    with pytest.raises(ProtocolError, match="after the negotiation ended"):
        receive(conn, NegotiateProtocolVersion(0))


def test_negotiate_protocol_version_offering_a_newer_version_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"offers 3.2 in answer to a request for 3.0"):
        receive(conn, NegotiateProtocolVersion(2))


def test_negotiate_protocol_version_after_an_auth_request_is_a_protocol_error() -> None:
    conn = ClientConnection(password=PASSWORD)
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, AuthenticationCleartextPassword())
    with pytest.raises(ProtocolError, match="NegotiateProtocolVersion"):
        receive(conn, NegotiateProtocolVersion(0))


def test_downgrade_below_min_protocol_version_fails_the_connection() -> None:
    conn = ClientConnection(min_protocol_version=PROTOCOL_3_2)
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(OperationalError, match=r"3\.0 at most, but min_protocol_version is 3\.2"):
        receive(conn, NegotiateProtocolVersion(0))
    assert conn.state is ConnState.FAILED


def test_startup_below_min_protocol_version_is_refused() -> None:
    conn = ClientConnection(min_protocol_version=PROTOCOL_3_2)
    with pytest.raises(InterfaceError, match=r"below min_protocol_version 3\.2"):
        conn.send(StartupMessage({"user": USER}))


def test_min_protocol_version_out_of_range_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid min_protocol_version"):
        ClientConnection(min_protocol_version=(3, 3))


def test_protocol_3_2_keeps_a_long_cancel_key() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    long_key = BackendKeyData(4242, bytes(range(32)))
    receive(conn, AuthenticationOk(), long_key, ReadyForQuery("I"))
    assert conn.cancel_request() == CancelRequest(4242, bytes(range(32)))
    assert conn.cancel_request().encode()[:4] == (16 + 28).to_bytes(4, "big")


def test_protocol_3_0_refuses_a_cancel_key_that_is_not_4_bytes() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match="32-byte secret key"):
        receive(conn, AuthenticationOk(), BackendKeyData(1, bytes(32)))


# --------------------------------------------------------------------------------------
# SSLRequest, GSSENCRequest and TLS
# --------------------------------------------------------------------------------------


def ssl_requested() -> ClientConnection:
    conn = ClientConnection()
    assert conn.send(SSLRequest()) == bytes.fromhex("0000000804d2162f")
    assert conn.state is ConnState.AWAITING_ENCRYPTION_RESPONSE
    return conn


def test_ssl_request_answered_s_means_start_tls() -> None:
    conn = ssl_requested()
    conn.receive_data(b"S")
    assert conn.next_event() == EncryptionResponse("ssl", accepted=True)
    assert conn.state is ConnState.STARTUP
    assert conn.next_event() is NEED_DATA


def test_ssl_request_answered_n_continues_in_plain_text() -> None:
    conn = ssl_requested()
    conn.receive_data(b"N")
    assert conn.next_event() == EncryptionResponse("ssl", accepted=False)
    start(conn)
    assert receive(conn, *TRUST_STARTUP) == list(TRUST_STARTUP)


def test_ssl_request_answered_with_an_error_response_fails_the_connection() -> None:
    conn = ssl_requested()
    refusal = error("unsupported frontend protocol", "08P01", "FATAL")
    assert receive(conn, refusal) == [refusal]
    assert conn.state is ConnState.FAILED


def test_ssl_request_error_response_may_arrive_in_pieces() -> None:
    conn = ssl_requested()
    refusal = error("unsupported frontend protocol", "08P01", "FATAL")
    assert receive_in_chunks(conn, refusal.encode(), [1, 3]) == [refusal]
    assert conn.state is ConnState.FAILED


def test_ssl_request_answered_with_garbage_is_a_protocol_error() -> None:
    conn = ssl_requested()
    conn.receive_data(b"H")
    with pytest.raises(ProtocolError, match=r"invalid answer b'H' to the SSL request"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_bytes_after_s_are_refused() -> None:
    # CVE-2021-23222: they would be read as if they had come over TLS.
    conn = ssl_requested()
    conn.receive_data(b"S" + AuthenticationOk().encode())
    with pytest.raises(ProtocolError, match="9 unencrypted bytes after accepting encryption"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_nothing_may_be_sent_while_the_encryption_answer_is_awaited() -> None:
    conn = ssl_requested()
    with pytest.raises(InterfaceError, match=r"awaiting-encryption-response.*allowed now: nothing"):
        conn.send(StartupMessage({"user": USER}))


def test_server_closing_instead_of_answering_ssl_request_is_connection_closed() -> None:
    conn = ssl_requested()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


@pytest.mark.parametrize(("answer", "accepted"), [(b"G", True), (b"N", False)])
def test_gssenc_request_answers(answer: bytes, accepted: bool) -> None:
    conn = ClientConnection()
    assert conn.send(GSSENCRequest()) == bytes.fromhex("0000000804d21630")
    conn.receive_data(answer)
    assert conn.next_event() == EncryptionResponse("gss", accepted=accepted)


def test_gssenc_request_answered_s_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(GSSENCRequest())
    conn.receive_data(b"S")
    with pytest.raises(ProtocolError, match="GSS request"):
        conn.next_event()


def test_tls_can_only_be_reported_before_the_startup_message() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match="before the StartupMessage"):
        conn.tls_established(b"")
