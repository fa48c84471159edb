"""pgwire.protocol.client: the client's session, driven by canned server conversations.

Every server reply is built from the message classes (see ``scripts.py``); the tests check
the events, the state, what the core records, and the exact bytes it writes.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    AuthenticationCleartextPassword,
    AuthenticationOk,
    BackendMessage,
    Bind,
    BindComplete,
    BindTemplate,
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
    EmptyQueryResponse,
    ErrorResponse,
    Event,
    Execute,
    FieldDescription,
    Flush,
    FrontendMessage,
    FunctionCall,
    FunctionCallResponse,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordMessage,
    Phase,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    StartupMessage,
    Sync,
    Terminate,
)
from tests.protocol.scripts import (
    BACKEND_KEY,
    PASSWORD,
    TRUST_STARTUP,
    USER,
    chunks,
    drain,
    error,
    ready_connection,
    receive,
    receive_in_chunks,
    start,
    wire,
)

ConnState = ConnectionState
P = Phase
COLUMNS = RowDescription((FieldDescription("n", type_oid=23, type_size=4),))
NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})
NOTIFICATION = NotificationResponse(77, "jobs", "new")
FATAL = error("terminating connection due to administrator command", "57P01", "FATAL")


def sent(*messages: FrontendMessage) -> bytes:
    return b"".join(message.encode() for message in messages)


# ======================================================================================
# Simple query
# ======================================================================================


def test_simple_query_with_several_statements() -> None:
    conn = ready_connection()
    assert conn.send(Query("BEGIN; SELECT n FROM t; INSERT INTO t VALUES (1); ;")) == (
        Query("BEGIN; SELECT n FROM t; INSERT INTO t VALUES (1); ;").encode()
    )
    assert conn.pending_phases == (P.QUERY,)
    replies = [
        CommandComplete("BEGIN"),
        COLUMNS,
        DataRow((b"1",)),
        DataRow((None,)),
        CommandComplete("SELECT 2"),
        CommandComplete("INSERT 0 1"),
        EmptyQueryResponse(),
        ReadyForQuery("T"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0
    assert conn.transaction_status == "T"


def test_simple_query_phase_follows_row_description() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    receive(conn, COLUMNS)
    assert conn.pending_phases == (P.QUERY_ROWS,)
    receive(conn, DataRow((b"1",)), CommandComplete("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_simple_query_error_midway_then_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1/n FROM t; SELECT 2"))
    failure = error("division by zero", "22012")
    replies = [COLUMNS, DataRow((b"1",)), failure, ReadyForQuery("E")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0
    assert conn.transaction_status == "E"
    assert conn.state is ConnState.READY


def test_data_row_before_row_description_in_simple_query_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    with pytest.raises(ProtocolError, match=r"unexpected DataRow .* state ready .*: Query\)"):
        receive(conn, DataRow((b"1",)))
    assert conn.state is ConnState.FAILED


def test_pipelined_simple_queries_are_answered_in_order() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), Query("COMMIT"))
    assert conn.pending_phases == (P.QUERY, P.QUERY)
    receive(conn, COLUMNS, DataRow((b"1",)), CommandComplete("SELECT 1"), ReadyForQuery("T"))
    assert conn.pending_phases == (P.QUERY,)
    receive(conn, CommandComplete("COMMIT"), ReadyForQuery("I"))
    assert conn.in_flight == 0
    assert conn.transaction_status == "I"


# ======================================================================================
# Extended query
# ======================================================================================


def test_named_statement_parse_and_describe() -> None:
    conn = ready_connection()
    batch = (Parse("s1", "SELECT $1::int", (23,)), Describe("S", "s1"), Sync())
    assert conn.send(*batch) == sent(*batch)
    assert conn.pending_phases == (P.PARSE, P.DESCRIBE_STATEMENT, P.SYNC)
    replies = [ParseComplete(), ParameterDescription((23,)), COLUMNS, ReadyForQuery("I")]
    events = []
    for reply in replies:
        events += receive(conn, reply)
        if reply == ParameterDescription((23,)):
            assert conn.pending_phases == (P.DESCRIBE_STATEMENT_RESULT, P.SYNC)
    assert events == replies
    assert conn.in_flight == 0


def test_describe_statement_without_result_columns_gets_no_data() -> None:
    conn = ready_connection()
    conn.send(Parse("ins", "INSERT INTO t VALUES ($1)"), Describe("S", "ins"), Sync())
    replies = [ParseComplete(), ParameterDescription((23,)), NoData(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_unnamed_statement_and_portal_bind_describe_execute() -> None:
    conn = ready_connection()
    conn.send(
        Parse("", "SELECT n FROM t"),
        Bind("", "", (), (), (1,)),
        Describe("P", ""),
        Execute("", 0),
        Sync(),
    )
    assert conn.pending_phases == (P.PARSE, P.BIND, P.DESCRIBE_PORTAL, P.EXECUTE, P.SYNC)
    replies = [
        ParseComplete(),
        BindComplete(),
        COLUMNS,
        DataRow((b"\0\0\0\1",)),
        DataRow((b"\0\0\0\2",)),
        CommandComplete("SELECT 2"),
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_describe_portal_without_rows_gets_no_data() -> None:
    conn = ready_connection()
    conn.send(Bind("p", "ins", (), (), ()), Describe("P", "p"), Execute("p"), Sync())
    replies = [BindComplete(), NoData(), CommandComplete("INSERT 0 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_execute_with_a_row_limit_suspends_and_resumes_the_portal() -> None:
    conn = ready_connection()
    conn.send(Bind("cur", "s1", (), (), ()), Execute("cur", 2), Flush())
    assert conn.pending_phases == (P.BIND, P.EXECUTE), "Flush asks for no answer"
    first = [BindComplete(), DataRow((b"1",)), DataRow((b"2",)), PortalSuspended()]
    assert receive(conn, *first) == first
    assert conn.in_flight == 0
    assert conn.send(Execute("cur", 2), Sync()) == sent(Execute("cur", 2), Sync())
    rest = [DataRow((b"3",)), CommandComplete("SELECT 1"), ReadyForQuery("I")]
    assert receive(conn, *rest) == rest
    assert conn.in_flight == 0


def test_execute_of_an_empty_query_gets_empty_query_response() -> None:
    conn = ready_connection()
    conn.send(Parse("", ""), Bind("", "", (), (), ()), Execute(), Sync())
    replies = [ParseComplete(), BindComplete(), EmptyQueryResponse(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_close_statement_and_portal() -> None:
    conn = ready_connection()
    conn.send(Close("S", "s1"), Close("P", "cur"), Sync())
    assert conn.pending_phases == (P.CLOSE, P.CLOSE, P.SYNC)
    replies = [CloseComplete(), CloseComplete(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_function_call_gets_its_result_then_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(FunctionCall(1598, (), (), 1))
    replies = [FunctionCallResponse(b"\0\0\0\1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_function_call_error_still_ends_with_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(FunctionCall(1, (), ()))
    replies = [error("function 1 does not exist", "42883"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


# --------------------------------------------------------------------------------------
# Pipelining and errors in the extended protocol
# --------------------------------------------------------------------------------------


def batch(name: str) -> tuple[FrontendMessage, ...]:
    return (Parse(name, "SELECT 1"), Bind("", name, (), (), ()), Execute(), Sync())


BATCH_PHASES = (P.PARSE, P.BIND, P.EXECUTE, P.SYNC)
BATCH_OK = (ParseComplete(), BindComplete(), DataRow((b"1",)), CommandComplete("SELECT 1"))


def test_three_batches_may_be_sent_before_any_reply() -> None:
    conn = ready_connection()
    data = conn.send(*batch("a"), *batch("b"), *batch("c"))
    assert data == sent(*batch("a"), *batch("b"), *batch("c"))
    assert conn.pending_phases == BATCH_PHASES * 3


def test_error_in_batch_two_drops_exactly_batch_twos_remaining_requests() -> None:
    conn = ready_connection()
    conn.send(*batch("a"), *batch("b"), *batch("c"))
    receive(conn, *BATCH_OK, ReadyForQuery("I"))
    assert conn.pending_phases == BATCH_PHASES * 2
    failure = error('prepared statement "b" already exists', "42P05")
    assert receive(conn, failure) == [failure]
    assert conn.pending_phases == (P.SYNC, *BATCH_PHASES)
    receive(conn, ReadyForQuery("I"))
    assert conn.pending_phases == BATCH_PHASES
    assert receive(conn, *BATCH_OK, ReadyForQuery("I")) == [*BATCH_OK, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_error_in_the_middle_of_a_batch_skips_to_its_sync() -> None:
    conn = ready_connection()
    conn.send(*batch("a"))
    failure = error("division by zero", "22012")
    replies = [ParseComplete(), BindComplete(), DataRow((b"1",)), failure]
    assert receive(conn, *replies) == replies
    assert conn.pending_phases == (P.SYNC,)


def test_error_before_the_sync_was_sent_skips_until_the_client_sends_it() -> None:
    conn = ready_connection()
    conn.send(Parse("", "SELEC 1"), Bind("", "", (), (), ()), Execute(), Flush())
    receive(conn, error('syntax error at or near "SELEC"', "42601"))
    assert conn.in_flight == 0
    # The server discards everything up to the next Sync, so nothing is awaited for these.
    assert conn.send(Execute(), Describe("P", "")) == sent(Execute(), Describe("P", ""))
    assert conn.in_flight == 0
    with pytest.raises(InterfaceError, match="state ready: an extended-query batch failed"):
        conn.send(Query("SELECT 1"))
    assert conn.send(Sync()) == Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    receive(conn, ReadyForQuery("I"))
    conn.send(Query("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_function_call_is_refused_while_skipping_until_sync() -> None:
    conn = ready_connection()
    conn.send(Parse("", "SELEC 1"), Flush())
    receive(conn, error())
    with pytest.raises(InterfaceError, match="send Sync first"):
        conn.send(FunctionCall(1, (), ()))


def test_error_response_at_sync_keeps_waiting_for_ready_for_query() -> None:
    # Committing the implicit transaction can fail, e.g. on a deferred constraint.
    conn = ready_connection()
    conn.send(*batch("a"))
    deferred = error("insert or update violates foreign key constraint", "23503")
    replies = [*BATCH_OK, deferred]
    assert receive(conn, *replies) == replies
    assert conn.pending_phases == (P.SYNC,)
    assert receive(conn, ReadyForQuery("I")) == [ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_non_fatal_error_with_nothing_in_flight_is_a_protocol_error() -> None:
    conn = ready_connection()
    with pytest.raises(ProtocolError, match=r"unexpected ErrorResponse .* nothing"):
        receive(conn, error())


# ======================================================================================
# COPY
# ======================================================================================


def test_copy_from_stdin_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    assert not conn.copy_in_active
    assert receive(conn, CopyInResponse(0, (0,))) == [CopyInResponse(0, (0,))]
    assert conn.copy_in_active
    assert conn.pending_phases == (P.QUERY_COPY_IN,)
    assert conn.send(CopyData(b"1\n"), CopyData(b"2\n")) == sent(CopyData(b"1\n"), CopyData(b"2\n"))
    assert conn.send(CopyDone()) == b"c\0\0\0\4"
    assert not conn.copy_in_active
    assert conn.pending_phases == (P.QUERY_COPY_END,)
    replies = [CommandComplete("COPY 2"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_data_without_a_copy_in_progress_is_refused() -> None:
    conn = ready_connection()
    with pytest.raises(InterfaceError, match="CopyData in state ready: no COPY FROM STDIN"):
        conn.send(CopyData(b"1\n"))


def test_copy_data_before_the_server_starts_the_copy_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN is in progress"):
        conn.send(CopyDone())


def test_query_while_the_server_waits_for_copy_data_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(
        InterfaceError, match="Query in state ready: the server is waiting for COPY"
    ):
        conn.send(Query("SELECT 1"))


def test_copy_fail_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    assert conn.send(CopyFail("client gave up")) == CopyFail("client gave up").encode()
    failure = error("COPY from stdin failed: client gave up", "57014")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_copy_from_stdin_in_an_extended_query_resends_the_swallowed_sync() -> None:
    conn = ready_connection()
    conn.send(Parse("", "COPY t FROM STDIN"), Bind("", "", (), (), ()), Execute(), Sync())
    receive(conn, ParseComplete(), BindComplete(), CopyInResponse(1, (1, 1)))
    # The server ignores a Sync it reads during COPY FROM STDIN.
    assert conn.pending_phases == (P.EXECUTE_COPY_IN, P.SYNC_OWED)
    assert conn.copy_in_active
    assert conn.send(CopyData(b"PGCOPY")) == CopyData(b"PGCOPY").encode()
    assert conn.send(CopyDone()) == CopyDone().encode() + Sync().encode()
    assert conn.pending_phases == (P.EXECUTE_COPY_END, P.SYNC)
    replies = [CommandComplete("COPY 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_fail_in_an_extended_query_resends_the_swallowed_sync() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    assert conn.send(CopyFail("nope")) == CopyFail("nope").encode() + Sync().encode()
    failure = error("COPY from stdin failed: nope", "57014")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_copy_from_stdin_in_an_extended_query_without_sync_owes_none() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Flush())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    assert conn.send(CopyDone()) == CopyDone().encode()
    receive(conn, CommandComplete("COPY 0"))
    assert conn.in_flight == 0


def test_error_during_extended_copy_in_then_copy_done_sends_the_owed_sync() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    conn.send(CopyData(b"bad\n"))
    failure = error('invalid input syntax for type integer: "bad"', "22P02")
    assert receive(conn, failure) == [failure]
    assert conn.pending_phases == (P.SYNC_OWED,)
    assert not conn.copy_in_active
    # The server drops copy messages after the error; ending the COPY pays the Sync.
    assert conn.send(CopyData(b"more\n")) == CopyData(b"more\n").encode()
    assert conn.send(CopyDone()) == CopyDone().encode() + Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    receive(conn, ReadyForQuery("I"))
    assert conn.in_flight == 0


def test_error_during_extended_copy_in_then_a_new_query_sends_the_owed_sync_first() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()), error())
    assert conn.send(Query("SELECT 1")) == Sync().encode() + Query("SELECT 1").encode()
    assert conn.pending_phases == (P.SYNC, P.QUERY)


def test_error_during_simple_copy_in_ends_the_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    conn.send(CopyData(b"bad\n"))
    failure = error("invalid input syntax", "22P02")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0
    # Copy messages still in the client's hands may follow; the server drops them.
    assert conn.send(CopyData(b"x\n"), CopyDone()) == sent(CopyData(b"x\n"), CopyDone())
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN"):
        conn.send(CopyDone())


def test_copy_to_stdout_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    replies = [
        CopyOutResponse(0, (0,)),
        CopyData(b"1\n"),
        CopyData(b"2\n"),
        CopyDone(),
        CommandComplete("COPY 2"),
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_to_stdout_in_an_extended_query() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy_out", (), (), ()), Execute(), Sync())
    replies = [
        BindComplete(),
        CopyOutResponse(1, (1,)),
        CopyData(b"PGCOPY"),
        CopyDone(),
        CommandComplete("COPY 1"),
        ReadyForQuery("I"),
    ]
    events = receive(conn, *replies[:3])
    assert conn.pending_phases == (P.EXECUTE_COPY_OUT, P.SYNC)
    events += receive(conn, *replies[3:])
    assert events == replies
    assert conn.in_flight == 0


def test_client_copy_data_during_copy_to_stdout_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    receive(conn, CopyOutResponse(0, ()))
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN"):
        conn.send(CopyData(b"x"))


def test_error_during_copy_to_stdout_ends_the_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    replies = [CopyOutResponse(0, ()), CopyData(b"1\n"), error(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_copy_both_carries_data_both_ways(extended: bool) -> None:
    conn = ready_connection()
    if extended:
        conn.send(Bind("", "repl", (), (), ()), Execute(), Flush())
        receive(conn, BindComplete())
    else:
        conn.send(Query("START_REPLICATION SLOT s LOGICAL 0/0"))
    receive(conn, CopyBothResponse(0, ()))
    assert conn.copy_in_active
    assert conn.send(CopyData(b"feedback")) == CopyData(b"feedback").encode()
    receive(conn, CopyData(b"wal"), CopyData(b"wal"))
    assert conn.send(CopyDone()) == CopyDone().encode()
    receive(conn, CopyDone(), CommandComplete("START_REPLICATION"))
    if not extended:
        receive(conn, ReadyForQuery("I"))
    assert conn.in_flight == 0


# ======================================================================================
# Asynchronous messages, fatal errors, termination, cancellation
# ======================================================================================


def test_notices_notifications_and_parameter_changes_may_arrive_among_rows() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT n FROM t"))
    timezone = ParameterStatus("TimeZone", "Europe/Paris")
    replies = [
        COLUMNS,
        DataRow((b"1",)),
        NOTICE,
        NOTIFICATION,
        timezone,
        DataRow((b"2",)),
        CommandComplete("SELECT 2"),
        NOTICE,
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.parameters["TimeZone"] == "Europe/Paris"
    assert conn.in_flight == 0


def test_notifications_and_parameter_changes_arrive_while_idle() -> None:
    conn = ready_connection()
    change = ParameterStatus("in_hot_standby", "on")
    assert receive(conn, NOTIFICATION, change, NOTICE) == [NOTIFICATION, change, NOTICE]
    assert conn.parameters["in_hot_standby"] == "on"
    assert conn.state is ConnState.READY


def test_fatal_error_while_idle_fails_the_connection() -> None:
    conn = ready_connection()
    assert receive(conn, FATAL) == [FATAL]
    assert conn.state is ConnState.FAILED
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_fatal_error_mid_query_drops_everything_in_flight() -> None:
    conn = ready_connection()
    conn.send(*batch("a"), Query("SELECT 1"))
    assert receive(conn, ParseComplete(), FATAL) == [ParseComplete(), FATAL]
    assert conn.state is ConnState.FAILED
    assert conn.in_flight == 0


def test_a_failed_connection_still_reports_the_servers_last_words() -> None:
    conn = ready_connection()
    receive(conn, FATAL)
    assert receive(conn, NOTICE, error()) == [NOTICE, error()]
    with pytest.raises(ProtocolError, match=r"unexpected ReadyForQuery .* state failed"):
        receive(conn, ReadyForQuery("I"))


def test_only_terminate_may_be_sent_after_a_failure() -> None:
    conn = ready_connection()
    receive(conn, FATAL)
    with pytest.raises(InterfaceError, match="Query in state failed"):
        conn.send(Query("SELECT 1"))
    assert conn.send(Terminate()) == Terminate().encode()


def test_terminate_ends_the_session() -> None:
    conn = ready_connection()
    assert conn.send(Terminate()) == b"X\0\0\0\4"
    assert conn.state is ConnState.TERMINATING
    with pytest.raises(InterfaceError, match=r"Query in state terminating.*allowed now: nothing"):
        conn.send(Query("SELECT 1"))
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnState.CLOSED


def test_replies_still_in_flight_are_read_after_terminate() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), Terminate())
    replies = [COLUMNS, DataRow((b"1",)), CommandComplete("SELECT 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_terminate_is_allowed_while_copy_in_is_active() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    assert conn.send(Terminate()) == Terminate().encode()


def test_cancel_request_quotes_the_backend_key() -> None:
    conn = ready_connection()
    cancel = conn.cancel_request()
    assert cancel == CancelRequest(BACKEND_KEY.process_id, BACKEND_KEY.secret_key)
    assert cancel.encode() == bytes.fromhex("0000001004d2162e00001092") + BACKEND_KEY.secret_key


def test_cancel_request_without_backend_key_data_is_an_interface_error() -> None:
    conn = start()
    receive(conn, AuthenticationOk(), ReadyForQuery("I"))
    with pytest.raises(InterfaceError, match="no BackendKeyData"):
        conn.cancel_request()


def test_cancel_request_is_sent_on_a_fresh_connection_that_the_server_closes() -> None:
    conn = ClientConnection()
    cancel = CancelRequest(4242, b"\1\2\3\4")
    assert conn.send(cancel) == cancel.encode()
    assert conn.state is ConnState.CANCEL_SENT
    with pytest.raises(InterfaceError, match="state cancel-sent"):
        conn.send(Terminate())
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_a_server_message_after_a_cancel_request_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(CancelRequest(1, b"\1\2\3\4"))
    with pytest.raises(ProtocolError, match="state cancel-sent"):
        receive(conn, ReadyForQuery("I"))


# ======================================================================================
# Oversized and garbage input
# ======================================================================================


def test_oversized_message_is_a_protocol_error_before_its_body_arrives() -> None:
    conn = ready_connection(ClientConnection(max_message_size=1024))
    conn.send(Query("SELECT big"))
    conn.receive_data(DataRow((b"x" * 2000,)).encode()[:5])
    with pytest.raises(ProtocolError, match="maximum message size of 1024"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_garbage_from_the_server_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(ProtocolError):
        conn.next_event()
    assert conn.state is ConnState.FAILED


# ======================================================================================
# Illegal sends and unexpected server messages
# ======================================================================================


def test_query_before_startup_is_refused_naming_the_state() -> None:
    conn = ClientConnection()
    with pytest.raises(InterfaceError, match="cannot send Query in state startup: allowed now"):
        conn.send(Query("SELECT 1"))


def test_startup_message_twice_is_refused() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match="StartupMessage in state authenticating"):
        conn.send(StartupMessage({"user": USER}))


def test_parse_complete_with_nothing_in_flight_is_a_protocol_error() -> None:
    conn = ready_connection()
    with pytest.raises(
        ProtocolError,
        match=r"unexpected ParseComplete .* state ready \(waiting for the answer to: nothing\)",
    ):
        receive(conn, ParseComplete())
    assert conn.state is ConnState.FAILED


def test_bind_complete_when_parse_complete_is_awaited_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(*batch("a"))
    with pytest.raises(
        ProtocolError, match=r"unexpected BindComplete .* \(waiting for the answer to: Parse\)"
    ):
        receive(conn, BindComplete())


def test_data_row_for_an_execute_after_the_portal_completed_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Execute(), Sync())
    receive(conn, CommandComplete("SELECT 0"))
    with pytest.raises(ProtocolError, match="waiting for the answer to: Sync"):
        receive(conn, DataRow((b"1",)))


def test_a_failed_send_leaves_the_connection_as_it_was() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(InterfaceError):
        conn.send(Sync())
    assert conn.pending_phases == (P.QUERY_COPY_IN,)


def test_a_message_that_cannot_be_encoded_is_not_recorded_as_in_flight() -> None:
    conn = ready_connection()
    with pytest.raises(ValueError, match="NUL"):
        conn.send(Query("SELECT '\0'"))
    assert conn.in_flight == 0
    with pytest.raises(ValueError, match="NUL"):
        conn.send(Parse("", "SELECT 1"), Bind("", "", (), (), ()), Execute("\0"), Sync())
    assert conn.in_flight == 0
    conn.send(Query("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_a_startup_message_that_cannot_be_encoded_leaves_the_state_alone() -> None:
    conn = ClientConnection()
    with pytest.raises(ValueError, match="NUL"):
        conn.send(StartupMessage({"user": "al\0ice"}))
    assert conn.state is ConnState.STARTUP


def test_repr_shows_the_state_and_never_the_password() -> None:
    conn = start(ClientConnection(password=PASSWORD))
    text = repr(conn)
    assert "state=authenticating" in text
    assert PASSWORD not in text


# ======================================================================================
# Byte streams cut anywhere
# ======================================================================================

STARTUP_REPLIES = (AuthenticationCleartextPassword(), *TRUST_STARTUP)
QUERIES: tuple[FrontendMessage, ...] = (
    Query("SELECT n FROM t; COPY t TO STDOUT"),
    *batch("a"),
    Parse("", "SELEC"),
    Sync(),
)
QUERY_REPLIES: tuple[BackendMessage, ...] = (
    COLUMNS,
    DataRow((b"1",)),
    NOTIFICATION,
    DataRow((b"2" * 300,)),
    CommandComplete("SELECT 2"),
    CopyOutResponse(0, ()),
    CopyData(b"1\n"),
    CopyDone(),
    CommandComplete("COPY 1"),
    ReadyForQuery("I"),
    *BATCH_OK,
    ReadyForQuery("I"),
    error(),
    ReadyForQuery("I"),
)


def converse(sizes: list[int]) -> list[Event]:
    """Startup with a password, then queries, the server's bytes cut into ``sizes``."""
    conn = start(ClientConnection(password=PASSWORD))
    events = receive_in_chunks(conn, wire(*STARTUP_REPLIES), sizes)
    assert conn.data_to_send() == PasswordMessage(PASSWORD.encode()).encode()
    conn.send(*QUERIES)
    events += receive_in_chunks(conn, wire(*QUERY_REPLIES), sizes)
    conn.receive_data(b"")
    closed = conn.next_event()
    assert closed == ConnectionClosed()
    return [*events, closed]


WHOLE_CONVERSATION = [*STARTUP_REPLIES, *QUERY_REPLIES, ConnectionClosed()]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_a_conversation_cut_into_equal_pieces_gives_the_same_events(size: int) -> None:
    assert converse([size]) == WHOLE_CONVERSATION


@settings(max_examples=50)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=100))
def test_a_conversation_cut_anywhere_gives_the_same_events(sizes: list[int]) -> None:
    assert converse(sizes) == WHOLE_CONVERSATION


@settings(max_examples=200)
@given(junk=st.binary(min_size=1, max_size=64))
def test_junk_from_the_server_only_ever_raises_protocol_error(junk: bytes) -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), *batch("a"))
    conn.receive_data(junk)
    try:
        drain(conn)
    except ProtocolError:
        assert conn.state is ConnState.FAILED


# --------------------------------------------------------------------------------------
# The DataRow fast path
# --------------------------------------------------------------------------------------


def test_next_data_rows_gives_the_rows_of_the_request_reading_them() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    assert conn.next_data_rows() == []  # waiting for RowDescription: not reading rows yet
    conn.receive_data(
        RowDescription((FieldDescription("x", type_oid=23),)).encode()
        + DataRow((b"1",)).encode()
        + DataRow((None,)).encode()
        + CommandComplete("SELECT 2").encode()
    )
    assert isinstance(conn.next_event(), RowDescription)
    assert conn.next_data_rows() == [(b"1",), (None,)]
    assert conn.next_data_rows() == []
    assert isinstance(conn.next_event(), CommandComplete)


def test_next_data_rows_is_empty_with_nothing_in_flight() -> None:
    conn = ready_connection()
    conn.receive_data(DataRow((b"1",)).encode())
    assert conn.next_data_rows() == []
    with pytest.raises(ProtocolError):
        conn.next_event()


def test_next_rows_hands_the_rows_to_the_parser_only_while_rows_are_due() -> None:
    seen: list[tuple[bytes, int, int]] = []

    def parse(data: bytes, pos: int, size: int, limit: int) -> tuple[list[object], int]:
        # A parser taking the first whole message only, as a row of its size.
        seen.append((data, pos, size))
        (length,) = struct.unpack_from("!i", data, pos + 1)
        return [length], pos + 1 + length

    conn = ready_connection()
    conn.receive_data(DataRow((b"1",)).encode())
    assert conn.next_rows(parse) is None  # nothing in flight
    assert seen == []
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(RowDescription((FieldDescription("x", type_oid=23),)).encode())
    assert conn.next_rows(parse) is None  # waiting for RowDescription
    assert isinstance(conn.next_event(), RowDescription)
    assert conn.next_rows(parse) is None  # no bytes yet
    rows = DataRow((b"1",)).encode() + DataRow((None,)).encode()
    conn.receive_data(rows + CommandComplete("SELECT 2").encode())
    assert conn.next_rows(parse) == [11]
    assert seen[-1] == (rows + CommandComplete("SELECT 2").encode(), 0, len(seen[-1][0]))
    assert conn.next_rows(lambda data, pos, size, limit: ([], pos)) == []  # a row, declined
    assert conn.next_data_rows() == [(None,)]  # what the parser left is still there
    assert conn.next_rows(parse) is None  # CommandComplete is next: not for the parser
    assert isinstance(conn.next_event(), CommandComplete)


def test_a_row_parser_stopping_outside_the_buffer_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(
        RowDescription((FieldDescription("x", type_oid=23),)).encode() + DataRow((b"1",)).encode()
    )
    assert isinstance(conn.next_event(), RowDescription)
    with pytest.raises(ProtocolError, match="outside the buffer"):
        conn.next_rows(lambda data, pos, size, limit: ([], size + 1))


def test_a_malformed_row_on_the_fast_path_fails_the_connection() -> None:
    conn = ready_connection()
    conn.send(Bind("", "s", (), (), ()), Execute(), Sync())
    conn.receive_data(BindComplete().encode() + b"D\x00\x00\x00\x06\xff\xff")
    assert isinstance(conn.next_event(), BindComplete)
    with pytest.raises(ProtocolError, match="negative column count"):
        conn.next_data_rows()
    assert conn.state is ConnectionState.FAILED
    assert conn.in_flight == 0


# --------------------------------------------------------------------------------------
# send_binds: the hot path of prepared statements, against the general send()
# --------------------------------------------------------------------------------------

_param_value = (
    st.none()
    | st.binary(max_size=30)
    | st.integers(250, 300).map(lambda n: b"v" * n)  # around the length words made once
)
_param_values = st.lists(_param_value, max_size=6).map(tuple)
#: Rows of one length (the common case: encode_many's generated path), with Nones in some.
_same_length_rows = st.integers(0, 8).flatmap(
    lambda n: st.lists(st.lists(_param_value, min_size=n, max_size=n).map(tuple), max_size=6)
)


@settings(max_examples=200, deadline=None)
@given(
    statement=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
        max_size=12,
    ),
    param_formats=st.lists(st.sampled_from([0, 1]), max_size=4).map(tuple),
    result_formats=st.lists(st.sampled_from([0, 1]), max_size=4).map(tuple),
    rows=st.lists(_param_values, max_size=4) | _same_length_rows,
    max_rows=st.integers(0, 5),
    sync=st.booleans(),
)
def test_send_binds_is_send_of_the_same_messages(
    statement: str,
    param_formats: tuple[int, ...],
    result_formats: tuple[int, ...],
    rows: list[tuple[bytes | None, ...]],
    max_rows: int,
    sync: bool,
) -> None:
    template = BindTemplate(statement, param_formats, result_formats)
    messages: list[FrontendMessage] = []
    for params in rows:
        bind = Bind("", statement, param_formats, params, result_formats)
        assert template.message(params) == bind
        assert template.encode(params) == bind.encode()
        messages += [bind, Execute("", max_rows)]
    if sync:
        messages.append(Sync())
    fast, general = ready_connection(), ready_connection()
    assert fast.send_binds(template, rows, max_rows, sync) == general.send(*messages)
    assert fast.pending_phases == general.pending_phases
    assert "BindTemplate" in repr(template)
    execute = Execute("", max_rows).encode()
    expected = b"".join(template.encode(params) + execute for params in rows)
    assert template.encode_many(rows, execute, b"end") == expected + b"end"


def test_encode_many_of_many_parameters_and_of_lists_is_encode_of_each() -> None:
    # Past the generated encoders' limit of parameters, and rows that are not tuples (the
    # generated path takes tuples only): each row's encode() all the same.
    execute = Execute().encode()
    for count in (65, 70):
        template = BindTemplate("s", (1,), ())
        rows = [tuple(bytes([n]) * n for n in range(count)), (None,) * count]
        expected = b"".join(template.encode(params) + execute for params in rows)
        assert template.encode_many(rows, execute) == expected
    template = BindTemplate("s", (), (1,))
    rows = [(b"a", None), [b"b", b"c"], (b"d",)]  # type: ignore[list-item]
    expected = b"".join(template.encode(tuple(params)) + execute for params in rows)
    assert template.encode_many(rows, execute, b"Z") == expected + b"Z"
    assert template.encode_many([], execute, b"Z") == b"Z"


def test_send_binds_takes_the_general_path_when_the_state_is_special() -> None:
    template = BindTemplate("s", (), ())
    # After an error, up to the Sync: the Bind is dropped by the server and not counted.
    conn = ready_connection()
    conn.send(Bind("", "s", (), (), ()), Execute())
    receive(conn, error())
    data = conn.send_binds(template, [()], sync=True)
    assert data == Bind("", "s", (), (), ()).encode() + Execute().encode() + Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    # During COPY FROM STDIN the general path refuses, with its message.
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(InterfaceError, match="waiting for COPY data"):
        conn.send_binds(template, [()])
    assert conn.pending_phases == (P.QUERY_COPY_IN,)
    # Before startup: refused, with the general path's message.
    with pytest.raises(InterfaceError, match="cannot send Bind in state startup"):
        ClientConnection().send_binds(template, [()])


def test_next_completions_takes_bind_and_command_complete_for_the_requests_in_flight() -> None:
    conn = ready_connection()
    template = BindTemplate("s", (), ())
    conn.send_binds(template, [(), (), ()])
    assert conn.next_completions() == []  # nothing received yet
    conn.receive_data(
        BindComplete().encode()
        + CommandComplete("INSERT 0 1").encode()
        + BindComplete().encode()
        + CommandComplete("INSERT 0 2").encode()
        + BindComplete().encode()
        + NoticeResponse({"S": "NOTICE", "M": "hi"}).encode()
        + CommandComplete("INSERT 0 3").encode()
        + ReadyForQuery("I").encode()
    )
    assert conn.next_completions() == ["INSERT 0 1", "INSERT 0 2"]
    assert conn.pending_phases == (P.EXECUTE, P.SYNC)  # the third BindComplete is taken
    assert conn.next_completions() == []  # a notice is next: next_event() gives it
    assert isinstance(conn.next_event(), NoticeResponse)
    assert conn.next_completions() == ["INSERT 0 3"]
    assert conn.next_completions() == []  # ReadyForQuery is not for it
    assert isinstance(conn.next_event(), ReadyForQuery)
    assert conn.in_flight == 0


def test_next_completions_leaves_other_messages_and_partial_ones() -> None:
    conn = ready_connection()
    conn.send_binds(BindTemplate("s", (), ()), [()])
    data = BindComplete().encode() + CommandComplete("SELECT 1").encode()
    conn.receive_data(data[:-1])
    assert conn.next_completions() == []  # BindComplete taken, CommandComplete incomplete
    assert conn.pending_phases == (P.EXECUTE, P.SYNC)
    conn.receive_data(data[-1:] + error().encode())
    assert conn.next_completions() == ["SELECT 1"]
    assert conn.next_completions() == []  # an error is for next_event()
    assert isinstance(conn.next_event(), ErrorResponse)


_ANSWER = st.sampled_from(["INSERT 0 1", "INSERT 0 1", "INSERT 0 1", "UPDATE 2", "notice"])


@settings(max_examples=300, deadline=None)
@given(
    batches=st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=3),
    answers=st.lists(_ANSWER, min_size=1, max_size=130),
    failing=st.none() | st.integers(0, 130),
    cuts=st.lists(st.integers(1, 200), min_size=1, max_size=8),
)
def test_next_completions_gives_what_next_event_gives(
    batches: list[tuple[int, bool]],
    answers: list[str],
    failing: int | None,
    cuts: list[int],
) -> None:
    # Pipelined Bind/Execute batches (with or without Sync), answered by runs of identical
    # (and differing) completions, notices in between, maybe an error, cut anywhere: the
    # fast path (runs of completions taken in a few comparisons) gives the tags and events
    # that next_event() alone gives, and leaves the same requests in flight.
    template = BindTemplate("s", (), ())
    fast, general = ready_connection(), ready_connection()
    pairs = 0
    for rows, sync in batches:
        fast.send_binds(template, [()] * rows, sync=sync)
        general.send_binds(template, [()] * rows, sync=sync)
        pairs += rows
    messages: list[BackendMessage] = []
    tags = iter(answers * (pairs // len(answers) + 1))
    number = 0
    skipping = False  # after an error, the server skips everything up to the next Sync
    for rows, sync in batches:
        for _ in range(rows):
            tag = next(tags)
            if skipping:
                continue
            if tag == "notice":
                messages.append(NoticeResponse({"S": "NOTICE", "M": "hi"}))
                tag = "INSERT 0 1"
            if number == failing:
                messages.append(error())
                skipping = True
                continue
            messages += [BindComplete(), CommandComplete(tag)]
            number += 1
        if sync:
            messages.append(ReadyForQuery("I"))
            skipping = False
    data = wire(*messages)
    pieces = chunks(data, cuts)

    def run(conn: ClientConnection, use_fast_path: bool) -> list[object]:
        seen: list[object] = []
        for piece in pieces:
            conn.receive_data(piece)
            while True:
                if use_fast_path:
                    seen += conn.next_completions()
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, CommandComplete):
                    seen.append(event.tag)
                elif not isinstance(event, BindComplete):
                    seen.append(event)
        return seen

    assert run(fast, True) == run(general, False)
    assert fast.pending_phases == general.pending_phases
    assert fast.state is general.state


def test_a_malformed_completion_fails_the_connection() -> None:
    conn = ready_connection()
    conn.send_binds(BindTemplate("s", (), ()), [()])
    conn.receive_data(b"2\x00\x00\x00\x05\x00")  # BindComplete with a body
    with pytest.raises(ProtocolError, match="BindComplete"):
        conn.next_completions()
    assert conn.state is ConnectionState.FAILED
    assert conn.in_flight == 0
    # Not READY: nothing is taken.
    assert conn.next_completions() == []


def test_send_binds_without_sync_and_completions_up_to_the_last_request() -> None:
    conn = ready_connection()
    template = BindTemplate("s", (), ())
    # In a failed batch (the general path), and in a healthy one, without Sync.
    conn.send(Bind("", "s", (), (), ()), Execute())
    receive(conn, error())
    assert conn.send_binds(template, [()], sync=False) == (
        Bind("", "s", (), (), ()).encode() + Execute().encode()
    )
    conn.send(Sync())
    receive(conn, ReadyForQuery("I"))
    conn.send_binds(template, [()], max_rows=7, sync=False)
    assert conn.pending_phases == (P.BIND, P.EXECUTE)
    conn.receive_data(BindComplete().encode() + CommandComplete("SELECT 7").encode())
    assert conn.next_completions() == ["SELECT 7"]
    assert conn.in_flight == 0
