"""ClientConnection.next_query_answers, the fast path of a simple Query whose rows are not
kept, against the general path (``next_event()`` and ``next_data_rows()``).

Both paths read the same server messages, cut at the same points; they must give the
same tags, the same other events in the same order, the same errors, and leave the core
in the same state.  The operation above the core (``SimpleQuery(keep_rows=False)``) is
compared the same way, through a pump that does what the driver's does, without I/O.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import ProtocolError
from pgwire.operations import SimpleQuery
from pgwire.protocol import (
    NEED_DATA,
    BackendMessage,
    ClientConnection,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    CopyData,
    CopyDone,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
    FieldDescription,
    NoticeResponse,
    NotificationResponse,
    ParameterStatus,
    Phase,
    Query,
    ReadyForQuery,
    RowDescription,
)
from pgwire.types import TypeRegistry
from tests.protocol.scripts import chunks, error, ready_connection

P = Phase
COLUMNS = RowDescription((FieldDescription("n", type_oid=25),))
NOTICE = NoticeResponse({"S": "NOTICE", "M": "hi"})

#: Messages a server may send (or must not send) in answer to a simple Query: the
#: sequences below are drawn from these, so both orders that make sense and orders that
#: break the protocol are covered.
_MESSAGES = st.sampled_from(
    [
        COLUMNS,
        RowDescription(()),
        DataRow((b"1",)),
        DataRow((None, b"")),
        DataRow(()),
        CommandComplete("SELECT 1"),
        CommandComplete("RESET"),
        CommandComplete(""),
        EmptyQueryResponse(),
        ReadyForQuery("I"),
        ReadyForQuery("T"),
        ReadyForQuery("E"),
        NOTICE,
        NotificationResponse(7, "chan", "payload"),
        ParameterStatus("application_name", "x"),
        error(),
        error("bye", "57P01", "FATAL"),
        CopyInResponse(0, ()),
        CopyOutResponse(0, ()),
        CopyData(b"row\n"),
        CopyDone(),
    ]
)

#: Raw messages neither path can read: malformed bodies, a bad length, an unknown type.
_MALFORMED = st.sampled_from(
    [
        b"T\x00\x00\x00\x06\xff\xff",  # RowDescription with a negative count
        b"T\x00\x00\x00\x08\x00\x01ab",  # RowDescription truncated
        b"D\x00\x00\x00\x0a\x00\x01\x00\x00\x00\x09",  # DataRow column past its end
        b"D\x00\x00\x00\x06\xff\xff",  # DataRow with a negative count
        b"C\x00\x00\x00\x06ab",  # CommandComplete without its NUL
        b"C\x00\x00\x00\x07a\x00b",  # CommandComplete with trailing bytes
        b"C\x00\x00\x00\x07\xff\xfe\x00",  # CommandComplete not in UTF-8
        b"C\x00\x00\x00\x08\xc3\xa9t\x00",  # CommandComplete in UTF-8, not ASCII
        b"I\x00\x00\x00\x05x",  # EmptyQueryResponse with a body
        b"Z\x00\x00\x00\x05X",  # ReadyForQuery with an unknown status
        b"Z\x00\x00\x00\x03",  # a length under 4
        b"C\x00\x01\x00\x00",  # a CommandComplete longer than small messages may be
        b"q\x00\x00\x00\x04",  # an unknown message type
    ]
)

_PIECE = _MESSAGES.map(lambda message: message.encode()) | _MALFORMED


def _answer(*messages: BackendMessage) -> bytes:
    return b"".join(message.encode() for message in messages)


def _reply() -> st.SearchStrategy[bytes]:
    """A well-formed answer to a simple Query, with other messages mixed in."""
    async_message = st.sampled_from(
        [NOTICE, NotificationResponse(1, "c", "p"), ParameterStatus("TimeZone", "UTC")]
    )
    statement = st.one_of(
        st.just([CommandComplete("SET")]),
        st.just([EmptyQueryResponse()]),
        st.lists(st.sampled_from([DataRow((b"x",)), DataRow((None,))]), max_size=4).map(
            lambda rows: [COLUMNS, *rows, CommandComplete(f"SELECT {len(rows)}")]
        ),
        st.just([COLUMNS, DataRow((b"1",)), error()]),
        st.just([error()]),
    )

    @st.composite
    def build(draw: Any) -> bytes:
        messages: list[BackendMessage] = []
        for part in draw(st.lists(statement, min_size=1, max_size=5)):
            for message in part:
                if draw(st.integers(0, 5)) == 0:
                    messages.append(draw(async_message))
                messages.append(message)
            if isinstance(part[-1], ErrorResponse):
                break
        messages.append(ReadyForQuery(draw(st.sampled_from(["I", "T", "E"]))))
        return _answer(*messages)

    return build()


def _general(conn: ClientConnection, data: bytes, sizes: list[int]) -> list[Any]:
    """What the general path gives: rows by batches, everything else as events."""
    seen: list[Any] = []
    try:
        for chunk in [*chunks(data, sizes), b""]:
            conn.receive_data(chunk)
            while True:
                if conn.next_data_rows():
                    continue
                event = conn.next_event()
                if event is NEED_DATA or isinstance(event, ConnectionClosed):
                    break
                if isinstance(event, CommandComplete):
                    seen.append(("tag", event.tag))
                elif isinstance(event, EmptyQueryResponse):
                    seen.append(("tag", None))
                elif isinstance(event, ReadyForQuery):
                    seen.append(("ready", event.status))
                elif not isinstance(event, RowDescription | DataRow):
                    seen.append(event)
    except ProtocolError as exc:
        seen.append(("error", str(exc)))
    return seen


def _fast(conn: ClientConnection, data: bytes, sizes: list[int]) -> list[Any]:
    """What the fast path gives, the general path taking what it leaves."""
    seen: list[Any] = []
    try:
        for chunk in [*chunks(data, sizes), b""]:
            conn.receive_data(chunk)
            while True:
                answers = conn.next_query_answers()
                if answers is not None:
                    tags, status = answers
                    seen += [("tag", tag) for tag in tags]
                    if status:
                        seen.append(("ready", status))
                    continue
                if conn.next_data_rows():
                    continue
                event = conn.next_event()
                if event is NEED_DATA or isinstance(event, ConnectionClosed):
                    break
                if isinstance(event, CommandComplete):
                    seen.append(("tag", event.tag))
                elif isinstance(event, EmptyQueryResponse):
                    seen.append(("tag", None))
                elif isinstance(event, ReadyForQuery):
                    seen.append(("ready", event.status))
                elif not isinstance(event, RowDescription | DataRow):
                    seen.append(event)
    except ProtocolError as exc:
        seen.append(("error", str(exc)))
    return seen


def _state(conn: ClientConnection) -> tuple[Any, ...]:
    return (
        conn.state,
        conn.pending_phases,
        conn.transaction_status,
        dict(conn.parameters),
        conn.copy_in_active,
    )


def _both(data: bytes, sizes: list[int], queries: int = 1) -> tuple[list[Any], list[Any]]:
    general, fast = ready_connection(), ready_connection()
    for conn in (general, fast):
        conn.send(*[Query("q") for _ in range(queries)])
    seen_general = _general(general, data, sizes)
    seen_fast = _fast(fast, data, sizes)
    assert _state(fast) == _state(general)
    return seen_general, seen_fast


_SIZES = st.lists(st.integers(1, 30), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(data=_reply(), sizes=_SIZES)
def test_a_reply_cut_anywhere_reads_the_same_on_both_paths(data: bytes, sizes: list[int]) -> None:
    general, fast = _both(data, sizes)
    assert fast == general
    assert general[-1][0] == "ready"


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_PIECE, max_size=12), sizes=_SIZES, queries=st.integers(1, 3))
def test_any_message_sequence_reads_the_same_on_both_paths(
    pieces: list[bytes], sizes: list[int], queries: int
) -> None:
    general, fast = _both(b"".join(pieces), sizes, queries)
    _assert_same(fast, general)


def _assert_same(fast: list[Any], general: list[Any]) -> None:
    """The same, but for a malformed message: it fails the connection, with the same
    error, and the tags of the batch it ended are lost with it (as in next_completions)."""
    if general and isinstance(general[-1], tuple) and general[-1][0] == "error":
        assert fast[-1] == general[-1]
        assert general[: len(fast) - 1] == fast[:-1]
    else:
        assert fast == general


def test_the_fast_path_takes_tags_and_ready_for_query_in_one_batch() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT f(); CLOSE ALL; RESET ALL"))
    assert conn.next_query_answers() is None  # nothing received yet
    conn.receive_data(
        _answer(
            COLUMNS,
            DataRow((b"",)),
            CommandComplete("SELECT 1"),
            CommandComplete("CLOSE CURSOR ALL"),
            EmptyQueryResponse(),
            CommandComplete("RESET"),
            ReadyForQuery("T"),
        )
    )
    assert conn.next_query_answers() == (["SELECT 1", "CLOSE CURSOR ALL", None, "RESET"], "T")
    assert conn.in_flight == 0
    assert conn.transaction_status == "T"
    assert conn.next_query_answers() is None


def test_the_fast_path_stops_at_what_is_not_its_own() -> None:
    conn = ready_connection()
    conn.send(Query("q"), Query("r"))
    conn.receive_data(
        _answer(CommandComplete("SET"), NOTICE, error(), ReadyForQuery("I"))
        + _answer(CommandComplete("SET"), ReadyForQuery("I"))
    )
    assert conn.next_query_answers() == (["SET"], "")
    assert conn.next_query_answers() is None  # the notice is for next_event()
    assert conn.next_event() == NOTICE
    assert conn.next_query_answers() is None
    assert isinstance(conn.next_event(), ErrorResponse)
    assert conn.next_query_answers() == ([], "I")  # stops after its own ReadyForQuery
    assert conn.pending_phases == (P.QUERY,)
    assert conn.next_query_answers() == (["SET"], "I")


def test_the_fast_path_leaves_a_copy_to_the_general_path() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    conn.receive_data(_answer(CopyOutResponse(0, ()), CopyData(b"x"), CopyDone()))
    assert conn.next_query_answers() is None
    assert isinstance(conn.next_event(), CopyOutResponse)
    assert conn.next_query_answers() is None  # not for a Query reading COPY data


def test_a_malformed_message_on_the_fast_path_fails_the_connection() -> None:
    conn = ready_connection()
    conn.send(Query("q"))
    conn.receive_data(b"C\x00\x00\x00\x06ab")
    with pytest.raises(ProtocolError, match="CommandComplete"):
        conn.next_query_answers()
    assert conn.state is ConnectionState.FAILED
    assert conn.next_query_answers() is None


# --------------------------------------------------------------------------------------
# The operation: SimpleQuery(keep_rows=False), pumped as the driver pumps it
# --------------------------------------------------------------------------------------


def _pump(conn: ClientConnection, op: SimpleQuery, data: bytes, sizes: list[int]) -> list[Any]:
    """Feed ``op`` as ``_pump_async.AsyncPump._drain`` does (without I/O); return the
    messages handled on the way (async ones, replies sent) and how it ended."""
    seen: list[Any] = []
    try:
        for chunk in [*chunks(data, sizes), b""]:
            conn.receive_data(chunk)
            while not op.done:
                if op.takes_answers:
                    answers = conn.next_query_answers()
                    if answers is not None:
                        op.take_answers(*answers)
                        continue
                if op.takes_rows:
                    rows = conn.next_data_rows()
                    if rows:
                        op.feed_rows(rows)
                        continue
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, ConnectionClosed):
                    seen.append("closed")
                    return seen
                if isinstance(event, NoticeResponse | NotificationResponse | ParameterStatus):
                    seen.append(event)
                    continue
                if isinstance(event, ErrorResponse) and conn.state is ConnectionState.FAILED:
                    seen.append(("fatal", event))
                    return seen
                assert isinstance(event, BackendMessage)
                op.feed(event)
                if op.reply:
                    seen.append(("reply", op.reply))
                    conn.send(*op.reply)
                    op.reply = []
    except ProtocolError as exc:
        seen.append(("protocol error", str(exc)))
    return seen


def _outcome(op: SimpleQuery) -> tuple[Any, ...]:
    def described(exc: BaseException | None) -> Any:
        return None if exc is None else (type(exc), str(exc))

    return (
        op.tags,
        op.done,
        op.transaction_status,
        described(op.error),
        described(op.misuse),
    )


@settings(max_examples=300, deadline=None)
@given(
    data=_reply() | st.lists(_PIECE, max_size=12).map(b"".join),
    sizes=_SIZES,
)
def test_simple_query_without_rows_is_the_same_on_both_paths(data: bytes, sizes: list[int]) -> None:
    registry = TypeRegistry()
    general_conn, fast_conn = ready_connection(), ready_connection()
    general = SimpleQuery("q", registry, keep_rows=False)
    # What the pump did before the fast path: rows by batches, every other message as an event.
    general.takes_answers, general.takes_rows = False, True
    fast = SimpleQuery("q", registry, keep_rows=False)
    assert fast.takes_answers and not fast.takes_rows
    general_conn.send(*general.messages)
    fast_conn.send(*fast.messages)
    seen_fast = _pump(fast_conn, fast, data, sizes)
    seen_general = _pump(general_conn, general, data, sizes)
    last = seen_general[-1] if seen_general else None
    if isinstance(last, tuple) and last[0] == "protocol error":
        # The connection failed: the query's tags are of no use, the error is the same.
        assert seen_fast[-1] == seen_general[-1]
        assert _outcome(fast)[1:] == _outcome(general)[1:]
    else:
        assert seen_fast == seen_general
        assert _outcome(fast) == _outcome(general)
    assert _state(fast_conn) == _state(general_conn)


def test_copy_in_a_simple_query_without_rows_is_refused_as_before() -> None:
    conn = ready_connection()
    op = SimpleQuery("COPY t FROM STDIN", TypeRegistry(), keep_rows=False)
    conn.send(*op.messages)
    data = _answer(CopyInResponse(0, ()), error("COPY failed"), ReadyForQuery("I"))
    seen = _pump(conn, op, data, [len(data)])
    assert [type(m).__name__ for m in seen[0][1]] == ["CopyFail"]
    assert op.done and op.tags == []
    assert op.misuse is not None and "copy_in()" in str(op.misuse)
