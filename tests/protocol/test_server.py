"""pgwire.protocol.server: the server state machine, driven by the client role and by raw bytes.

Most conversations pair a `ServerConnection` with a `ClientConnection`, so each test checks
both roles agree; illegal client input is written as raw bytes, since the client role refuses
to send it.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    PROTOCOL_3_0,
    PROTOCOL_3_2,
    Authenticated,
    AuthenticationOk,
    BackendKeyData,
    Bind,
    BindComplete,
    CancelRequest,
    ClientConnection,
    Close,
    CloseComplete,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    CopyBothResponse,
    CopyData,
    CopyDone,
    CopyFail,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    Describe,
    DirectTLSHandshake,
    EmptyQueryResponse,
    EncryptionResponse,
    ErrorResponse,
    Execute,
    FieldDescription,
    Flush,
    FunctionCall,
    FunctionCallResponse,
    GSSENCRequest,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordAuth,
    PasswordMessage,
    Phase,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    SASLInitialResponse,
    ServerConnection,
    ServerEvent,
    ServerState,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
    TrustAuth,
)
from tests.protocol.scripts import (
    PASSWORD,
    USER,
    authenticate,
    drain,
    ready_server,
    receive,
    scram_first,
    scram_server,
    started_server,
)

S = ServerState
COLUMNS = RowDescription((FieldDescription("n", type_oid=23, type_size=4),))
ERROR = ErrorResponse({"S": "ERROR", "V": "ERROR", "C": "42601", "M": "syntax error"})
FATAL = ErrorResponse({"S": "FATAL", "V": "FATAL", "C": "57P01", "M": "shutting down"})
NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hi"})
BIND = Bind("", "", (), (), ())


# ======================================================================================
# Startup
# ======================================================================================


def test_a_new_server_connection_waits_for_the_startup_packet() -> None:
    server = ServerConnection()
    assert server.state is S.STARTUP
    assert server.next_event() is NEED_DATA
    assert "startup" in repr(server)


def test_the_startup_message_is_an_event_with_the_user_and_database() -> None:
    server = started_server(database="shop", application_name="app")
    assert server.state is S.AUTHENTICATION_REQUIRED
    assert (server.user, server.database) == (USER, "shop")
    assert server.startup_params["application_name"] == "app"


def test_the_database_defaults_to_the_user_name() -> None:
    assert started_server().database == USER


def test_a_startup_packet_cut_into_single_bytes_is_read_whole() -> None:
    server = ServerConnection()
    data = StartupMessage({"user": USER}).encode()
    events: list[ServerEvent] = []
    for byte in data:
        server.receive_data(bytes([byte]))
        events += drain(server)
    assert events == [StartupMessage({"user": USER})]


def test_an_ssl_request_is_answered_with_one_byte_and_startup_follows() -> None:
    server = ServerConnection()
    assert receive(server, SSLRequest()) == [SSLRequest()]
    assert server.state is S.ENCRYPTION_REQUESTED
    assert server.send(EncryptionResponse("ssl", True)) == b"S"
    assert server.state is S.STARTUP
    # The caller now runs TLS and feeds the decrypted bytes: a second SSLRequest is refused.
    with pytest.raises(ProtocolError, match="already encrypted"):
        receive(server, SSLRequest())


def test_a_refused_ssl_request_lets_the_client_go_on_in_plaintext() -> None:
    server = ServerConnection()
    receive(server, SSLRequest())
    assert server.send(EncryptionResponse("ssl", False)) == b"N"
    assert receive(server, StartupMessage({"user": USER})) == [StartupMessage({"user": USER})]


def test_a_gssenc_request_is_answered_with_g_or_n() -> None:
    server = ServerConnection()
    assert receive(server, GSSENCRequest()) == [GSSENCRequest()]
    with pytest.raises(InterfaceError, match="asked for GSS"):
        server.send(EncryptionResponse("ssl", False))
    assert server.send(EncryptionResponse("gss", True)) == b"G"


def test_bytes_sent_before_the_ssl_answer_are_refused() -> None:
    # CVE-2021-23214: plaintext queued behind SSLRequest would be read as if encrypted.
    server = ServerConnection()
    server.receive_data(SSLRequest().encode() + StartupMessage({"user": USER}).encode())
    with pytest.raises(ProtocolError, match="without waiting for the answer"):
        drain(server)
    assert server.state is S.FAILED


def test_bytes_while_the_encryption_answer_is_owed_are_refused() -> None:
    server = ServerConnection()
    receive(server, SSLRequest())
    server.receive_data(b"x")
    with pytest.raises(ProtocolError, match="encryption-requested"):
        server.next_event()


def test_a_tls_client_hello_first_is_direct_tls() -> None:
    server = ServerConnection()
    hello = b"\x16\x03\x01\x02\x00" + b"\x01" * 40
    server.receive_data(hello)
    assert drain(server) == [DirectTLSHandshake(hello)]
    assert "data" not in repr(DirectTLSHandshake(hello))
    # Inside TLS: the startup packet, and no SSLRequest.
    assert receive(server, StartupMessage({"user": USER})) == [StartupMessage({"user": USER})]


def test_a_cancel_request_is_an_event_with_the_process_id_and_key() -> None:
    server = ServerConnection()
    key = bytes(range(32))
    assert receive(server, CancelRequest(42, key)) == [CancelRequest(42, key)]
    assert server.state is S.CANCEL_RECEIVED
    server.receive_data(b"more")
    with pytest.raises(ProtocolError, match="cancel-received"):
        server.next_event()


def test_a_startup_packet_over_10000_bytes_is_refused_before_it_is_buffered() -> None:
    server = ServerConnection()
    server.receive_data((20000).to_bytes(4, "big") + b"\0\3\0\0")
    with pytest.raises(ProtocolError, match="maximum message size of 10000"):
        server.next_event()


def test_a_startup_message_without_user_is_a_protocol_error() -> None:
    server = ServerConnection()
    with pytest.raises(ProtocolError, match="names no user"):
        receive(server, StartupMessage({"database": "x"}))


def test_protocol_2_is_refused() -> None:
    server = ServerConnection()
    with pytest.raises(ProtocolError, match=r"unsupported frontend protocol 2\.0"):
        receive(server, StartupMessage({"user": USER}, (2, 0)))


@pytest.mark.parametrize(
    ("requested", "options", "negotiated", "expected"),
    [
        ((3, 0), {}, PROTOCOL_3_0, None),
        ((3, 2), {}, PROTOCOL_3_2, None),
        ((3, 9), {}, PROTOCOL_3_2, NegotiateProtocolVersion(2)),
        ((3, 2), {"_pq_.x": "1"}, PROTOCOL_3_2, NegotiateProtocolVersion(2, ("_pq_.x",))),
    ],
)
def test_a_newer_minor_version_or_pq_options_are_negotiated_down(
    requested: tuple[int, int],
    options: dict[str, str],
    negotiated: tuple[int, int],
    expected: NegotiateProtocolVersion | None,
) -> None:
    server = ServerConnection()
    receive(server, StartupMessage({"user": USER, **options}, requested))
    assert server.protocol_version == negotiated
    data = server.authenticate(TrustAuth())
    prefix = expected.encode() if expected else b""
    assert data == prefix + AuthenticationOk().encode()


def test_a_3_0_only_server_negotiates_3_2_down_to_3_0() -> None:
    server = ServerConnection(max_protocol_minor=0)
    receive(server, StartupMessage({"user": USER}, PROTOCOL_3_2))
    assert server.protocol_version == PROTOCOL_3_0
    assert server.data_to_send() == NegotiateProtocolVersion(0).encode()


def test_the_client_role_accepts_the_server_roles_negotiation() -> None:
    client = ClientConnection()
    server = ServerConnection(max_protocol_minor=0)
    server.receive_data(client.send(StartupMessage({"user": USER}, PROTOCOL_3_2)))
    drain(server)
    client.receive_data(server.authenticate(TrustAuth()))
    while client.next_event() is not NEED_DATA:
        pass
    assert client.protocol_version == PROTOCOL_3_0


# ======================================================================================
# Authentication
# ======================================================================================


def test_trust_authenticates_at_once() -> None:
    server = started_server()
    assert server.authenticate(TrustAuth()) == AuthenticationOk().encode()
    assert drain(server) == [Authenticated(USER, "trust")]
    assert server.state is S.STARTING_SESSION


def test_authentication_can_start_only_after_the_startup_message_and_only_once() -> None:
    with pytest.raises(InterfaceError, match="StartupMessage must have arrived"):
        ServerConnection().authenticate(TrustAuth())
    server = started_server()
    server.authenticate(TrustAuth())
    with pytest.raises(InterfaceError, match="only once"):
        server.authenticate(TrustAuth())


def test_a_failed_connection_stays_failed_when_the_client_closes() -> None:
    _client, server, _events = authenticate(PasswordAuth(PASSWORD), password="bad")
    server.receive_data(b"")
    assert server.next_event() == ConnectionClosed()
    assert server.state is S.FAILED


def test_an_unoffered_sasl_mechanism_is_a_protocol_error() -> None:
    server = scram_server()
    with pytest.raises(ProtocolError, match="offered SCRAM-SHA-256"):
        scram_first(server, "SCRAM-SHA-1", "n,,n=,r=abc")


def test_a_sasl_initial_response_without_data_is_a_protocol_error() -> None:
    server = scram_server()
    with pytest.raises(ProtocolError, match="no SCRAM client-first"):
        receive(server, SASLInitialResponse("SCRAM-SHA-256", None))


def test_the_client_may_give_up_during_authentication() -> None:
    server = started_server()
    server.authenticate(PasswordAuth(PASSWORD))
    assert receive(server, Terminate()) == [Terminate()]
    assert server.state is S.TERMINATED


def test_a_query_during_authentication_is_a_protocol_error_naming_the_state() -> None:
    server = started_server()
    server.authenticate(PasswordAuth(PASSWORD))
    with pytest.raises(ProtocolError, match="unexpected Query from the client in state awaiting"):
        receive(server, Query("SELECT 1"))


def test_a_fatal_error_may_end_authentication() -> None:
    server = started_server()
    server.send(NOTICE)
    server.send(FATAL)
    assert server.state is S.FAILED


def test_a_non_fatal_error_before_the_session_is_refused() -> None:
    server = started_server()
    with pytest.raises(InterfaceError, match="must be FATAL"):
        server.send(ERROR)


# ======================================================================================
# Session start
# ======================================================================================


def test_the_session_starts_with_parameters_key_and_ready_for_query() -> None:
    server = started_server()
    assert server.authenticate(TrustAuth()) == AuthenticationOk().encode()
    drain(server)
    data = server.send(ParameterStatus("server_version", "18.0"), BackendKeyData(1, b"1234"))
    assert data.startswith(ParameterStatus("server_version", "18.0").encode())
    assert server.parameters == {"server_version": "18.0"}
    server.send(ReadyForQuery("I"))
    assert server.state is S.READY


def test_protocol_3_0_cancel_keys_are_4_bytes() -> None:
    server = started_server()
    server.authenticate(TrustAuth())
    with pytest.raises(InterfaceError, match="4 bytes, not 32"):
        server.send(BackendKeyData(1, bytes(32)))


def test_protocol_3_2_allows_long_cancel_keys_up_to_256_bytes() -> None:
    server = ServerConnection()
    receive(server, StartupMessage({"user": USER}, PROTOCOL_3_2))
    server.authenticate(TrustAuth())
    server.send(BackendKeyData(1, bytes(32)))
    with pytest.raises(InterfaceError, match="4 to 256 bytes"):
        server.send(BackendKeyData(1, bytes(300)))


def test_a_query_before_the_session_is_up_cannot_be_answered() -> None:
    server = started_server()
    with pytest.raises(InterfaceError, match="allowed now"):
        server.send(ReadyForQuery("I"))


# ======================================================================================
# Simple query
# ======================================================================================


def test_a_simple_query_with_rows() -> None:
    server = ready_server()
    assert receive(server, Query("SELECT 1")) == [Query("SELECT 1")]
    assert server.owed == (Phase.QUERY,)
    server.send(COLUMNS, DataRow((b"1",)), CommandComplete("SELECT 1"), ReadyForQuery("I"))
    assert server.owed == ()


def test_a_simple_query_may_hold_several_statements_and_errors() -> None:
    server = ready_server()
    receive(server, Query("BEGIN; SELECT 1; x"))
    server.send(CommandComplete("BEGIN"), COLUMNS, CommandComplete("SELECT 0"), ERROR)
    server.send(EmptyQueryResponse(), ReadyForQuery("E"))
    assert server.transaction_status == "E"


def test_an_answer_nobody_asked_for_is_refused() -> None:
    server = ready_server()
    with pytest.raises(InterfaceError, match="no request waiting"):
        server.send(CommandComplete("SELECT 1"))
    with pytest.raises(InterfaceError, match="no request waiting"):
        server.send(ERROR)


def test_an_answer_out_of_order_is_refused_naming_what_is_owed() -> None:
    server = ready_server()
    receive(server, Query("SELECT 1"))
    with pytest.raises(InterfaceError, match="answer to: Query"):
        server.send(ParseComplete())


def test_notices_notifications_and_parameters_may_be_sent_any_time() -> None:
    server = ready_server()
    server.send(NOTICE, NotificationResponse(1, "ch", "x"), ParameterStatus("TimeZone", "UTC"))
    assert server.parameters["TimeZone"] == "UTC"


def test_a_fatal_error_ends_the_session() -> None:
    server = ready_server()
    receive(server, Query("SELECT 1"))
    server.send(FATAL)
    assert server.state is S.FAILED
    assert server.owed == ()
    with pytest.raises(InterfaceError, match="allowed now: nothing"):
        server.send(NOTICE)


def test_terminate_ends_the_session_and_later_bytes_are_refused() -> None:
    server = ready_server()
    assert receive(server, Terminate()) == [Terminate()]
    assert server.state is S.TERMINATED
    server.receive_data(Query("x").encode())
    with pytest.raises(ProtocolError, match="must wait"):
        server.next_event()


# ======================================================================================
# Extended query, pipelining and error recovery
# ======================================================================================


def test_an_extended_batch_owes_one_answer_per_message() -> None:
    server = ready_server()
    receive(server, Parse("", "SELECT $1", (23,)), Describe("S"), BIND, Describe("P"))
    receive(server, Execute("", 1), Close("P"), Flush(), Sync())
    assert server.owed == (
        Phase.PARSE,
        Phase.DESCRIBE_STATEMENT,
        Phase.BIND,
        Phase.DESCRIBE_PORTAL,
        Phase.EXECUTE,
        Phase.CLOSE,
        Phase.SYNC,
    )
    server.send(ParseComplete(), ParameterDescription((23,)), NoData(), BindComplete(), COLUMNS)
    server.send(DataRow((b"1",)), PortalSuspended(), CloseComplete(), ReadyForQuery("I"))
    assert server.owed == ()


def test_an_error_skips_what_is_owed_up_to_sync_and_discards_messages_until_it() -> None:
    server = ready_server()
    server.receive_data(
        b"".join(m.encode() for m in (Parse("", "bad"), BIND, Execute(), Sync(), Query("ok")))
    )
    assert server.next_event() == Parse("", "bad")
    server.send(ERROR)
    # Bind and Execute are dropped; the Sync is the next event.
    assert server.next_event() == Sync()
    assert server.discarded == 2
    server.send(ReadyForQuery("I"))
    assert server.next_event() == Query("ok")


def test_an_error_after_the_batch_was_read_drops_answers_up_to_its_sync() -> None:
    server = ready_server()
    receive(server, Parse("", "bad"), BIND, Execute(), Sync(), Parse("", "next"))
    server.send(ERROR)
    assert server.owed == (Phase.SYNC, Phase.PARSE)
    with pytest.raises(InterfaceError, match="answer to: Sync"):
        server.send(BindComplete())
    server.send(ReadyForQuery("I"), ParseComplete())


def test_terminate_is_honoured_while_discarding() -> None:
    server = ready_server()
    receive(server, Parse("", "bad"))
    server.send(ERROR)
    assert receive(server, Execute(), Terminate()) == [Terminate()]


def test_pipelined_batches_are_answered_in_order() -> None:
    server = ready_server()
    batch = (Parse("", "SELECT 1"), BIND, Execute(), Sync())
    receive(server, *batch, *batch)
    for _ in range(2):
        server.send(ParseComplete(), BindComplete(), CommandComplete("SELECT 1"))
        server.send(ReadyForQuery("I"))
    assert server.owed == ()


def test_a_failing_sync_still_owes_ready_for_query() -> None:
    server = ready_server()
    receive(server, Sync())
    server.send(ErrorResponse({"S": "ERROR", "C": "23505", "M": "deferred"}))
    server.send(ReadyForQuery("I"))


def test_the_client_role_and_the_server_role_agree_on_a_pipeline() -> None:
    client = ClientConnection()
    server = ServerConnection()
    server.receive_data(client.send(StartupMessage({"user": USER})))
    drain(server)
    client.receive_data(server.authenticate(TrustAuth()))
    drain(server)
    client.receive_data(server.send(BackendKeyData(1, b"1234"), ReadyForQuery("I")))
    while client.next_event() is not NEED_DATA:
        pass
    server.receive_data(client.send(Parse("", "x"), BIND, Execute(), Sync(), Query("SELECT 1")))
    assert server.next_event() == Parse("", "x")
    answers = server.send(ERROR)
    assert server.next_event() == Sync()
    answers += server.send(ReadyForQuery("I"))
    assert server.next_event() == Query("SELECT 1")
    answers += server.send(CommandComplete("SELECT 0"), ReadyForQuery("I"))
    client.receive_data(answers)
    while client.next_event() is not NEED_DATA:
        pass
    assert client.in_flight == 0
    assert client.state is ConnectionState.READY


def test_function_calls_get_a_result_then_ready_for_query() -> None:
    server = ready_server()
    call = FunctionCall(1, (), ())
    assert receive(server, call) == [call]
    assert server.owed == (Phase.FUNCTION_CALL,)
    result = FunctionCallResponse(b"x")
    assert server.send(result) == result.encode()
    assert server.owed == (Phase.FUNCTION_CALL_END,)
    with pytest.raises(InterfaceError, match=r"waits for the answer to: FunctionCall \(result"):
        server.send(result)
    server.send(ReadyForQuery("I"))
    assert server.owed == ()
    # A failed call gets the error in place of its result, then ReadyForQuery all the same.
    receive(server, call)
    server.send(ERROR)
    assert server.owed == (Phase.FUNCTION_CALL_END,)
    with pytest.raises(InterfaceError, match="waits for the answer to"):
        server.send(CommandComplete("SELECT 1"))
    server.send(ReadyForQuery("E"))
    assert (server.owed, server.transaction_status, server.state) == ((), "E", S.READY)


# ======================================================================================
# COPY
# ======================================================================================


def test_copy_in_through_the_simple_protocol() -> None:
    server = ready_server()
    receive(server, Query("COPY t FROM STDIN"))
    server.send(CopyInResponse(0, (0,)))
    assert server.copy_in_active
    events = receive(server, CopyData(b"1\n"), CopyData(b"2\n"), CopyDone())
    assert events == [CopyData(b"1\n"), CopyData(b"2\n"), CopyDone()]
    server.send(CommandComplete("COPY 2"), ReadyForQuery("I"))


def test_copy_in_through_the_extended_protocol_ignores_sync_and_flush() -> None:
    server = ready_server()
    receive(server, Parse("", "COPY t FROM STDIN"), BIND, Execute())
    server.send(ParseComplete(), BindComplete(), CopyInResponse(0, ()))
    events = receive(server, Sync(), Flush(), CopyData(b"1\n"), CopyDone(), Sync())
    assert events == [CopyData(b"1\n"), CopyDone(), Sync()]
    assert server.discarded == 2
    server.send(CommandComplete("COPY 1"), ReadyForQuery("I"))


def test_copy_fail_is_answered_with_an_error_and_later_copy_messages_are_dropped() -> None:
    server = ready_server()
    receive(server, Query("COPY t FROM STDIN"))
    server.send(CopyInResponse(0, ()))
    assert receive(server, CopyFail("oops"), CopyData(b"late")) == [CopyFail("oops")]
    with pytest.raises(InterfaceError):
        server.send(CommandComplete("COPY 0"))
    server.send(ErrorResponse({"S": "ERROR", "C": "57014", "M": "COPY from stdin failed: oops"}))
    server.send(ReadyForQuery("I"))
    assert receive(server, CopyDone(), Query("SELECT 1")) == [Query("SELECT 1")]


def test_a_server_side_copy_error_drops_the_rest_of_the_clients_copy_data() -> None:
    server = ready_server()
    receive(server, Parse("", "COPY t FROM STDIN"), BIND, Execute())
    server.send(ParseComplete(), BindComplete(), CopyInResponse(0, ()))
    server.send(ERROR)
    assert receive(server, CopyData(b"x"), CopyDone(), Sync()) == [Sync()]
    server.send(ReadyForQuery("I"))


def test_another_message_during_copy_in_is_a_protocol_error() -> None:
    server = ready_server()
    receive(server, Query("COPY t FROM STDIN"))
    server.send(CopyInResponse(0, ()))
    with pytest.raises(ProtocolError, match="COPY FROM STDIN is in progress"):
        receive(server, Query("SELECT 1"))


def test_copy_data_without_a_copy_is_a_protocol_error() -> None:
    server = ready_server()
    with pytest.raises(ProtocolError, match="no COPY FROM STDIN"):
        receive(server, CopyData(b"x"))


def test_copy_out_sends_data_then_done_then_the_tag() -> None:
    server = ready_server()
    receive(server, Query("COPY t TO STDOUT"))
    server.send(CopyOutResponse(0, ()), CopyData(b"1\n"), CopyDone(), CommandComplete("COPY 1"))
    server.send(ReadyForQuery("I"))
    assert server.owed == ()


def test_copy_both_lets_each_side_end_its_direction() -> None:
    server = ready_server()
    receive(server, Query("START_REPLICATION"))
    server.send(CopyBothResponse(0, ()), CopyData(b"wal"))
    assert receive(server, CopyData(b"ack"), CopyDone()) == [CopyData(b"ack"), CopyDone()]
    server.send(CopyData(b"more"), CopyDone(), CommandComplete("COPY 0"), ReadyForQuery("I"))


# ======================================================================================
# Junk
# ======================================================================================


def test_an_unknown_message_type_is_a_protocol_error() -> None:
    server = ready_server()
    server.receive_data(b"?\0\0\0\4")
    with pytest.raises(ProtocolError, match="unknown frontend message type"):
        server.next_event()
    assert server.state is S.FAILED


def test_an_oversized_message_is_refused_from_its_header() -> None:
    server = ServerConnection(max_message_size=100)
    receive(server, StartupMessage({"user": USER}))
    server.authenticate(TrustAuth())
    drain(server)
    server.send(ReadyForQuery("I"))
    server.receive_data(b"Q\0\1\0\0")
    with pytest.raises(ProtocolError, match="over the maximum message size"):
        server.next_event()


def test_a_password_message_in_the_session_is_a_protocol_error() -> None:
    server = ready_server()
    with pytest.raises(ProtocolError, match="unexpected PasswordMessage"):
        receive(server, PasswordMessage(b"x"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["startup", "auth", "ready"]))
def test_random_bytes_yield_only_events_need_data_or_protocol_errors(
    data: bytes, where: str
) -> None:
    if where == "startup":
        server = ServerConnection()
    elif where == "auth":
        server = scram_server()
    else:
        server = ready_server()
    server.receive_data(data or b"\0")
    try:
        for _ in range(100):
            if server.next_event() is NEED_DATA:
                break
    except ProtocolError:
        assert server.state is S.FAILED


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
def test_random_messages_in_a_session_yield_only_events_or_protocol_errors(
    bodies: list[bytes],
) -> None:
    server = ready_server()
    for body in bodies:
        server.receive_data(body[:1] + (len(body) + 3).to_bytes(4, "big") + body[1:])
    with contextlib.suppress(ProtocolError):
        drain(server)
