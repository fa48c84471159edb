"""Property tests of the client state machine against a hostile or merely chatty server.

* Junk from the server (random bytes, random frames, real conversations with bytes flipped,
  inserted, deleted or cut off) only ever ends in events, ``NEED_DATA`` or a documented
  error: ``ProtocolError``, plus the errors authentication raises on purpose.
* Cutting a valid conversation anywhere yields the same events as feeding it whole.
* A stateful test pipelines simple queries, extended-protocol batches (with errors in the
  middle, row limits, transaction blocks) and COPY against a small model server, and checks
  the client stays in step with it.
* A length over ``max_message_size`` is refused from the five header bytes alone.

fuzz/fuzz_client.py runs the first kind of check under atheris for as long as one likes;
these run in the normal suite, derandomized and bounded.  Core bugs found on the way have
regression tests at the end.
"""

from __future__ import annotations

import base64
import itertools
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pytest
import scramp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
from pgwire.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    NEED_DATA,
    AuthenticationCleartextPassword,
    AuthenticationGSS,
    AuthenticationKerberosV5,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    AuthenticationSSPI,
    BackendKeyData,
    BackendMessage,
    Bind,
    BindComplete,
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
    EncryptionResponse,
    ErrorResponse,
    Event,
    Execute,
    FieldDescription,
    Flush,
    FrontendMessage,
    Message,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PortalSuspended,
    Query,
    ReadyForQuery,
    ReceiveBuffer,
    RowDescription,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    Sync,
    decode_frontend,
)

USER = "alice"
PASSWORD = "correct horse"
CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
SERVER_NONCE = "3rfcNHYJY1ZVvWVs7j"
SCRAM_SALT = b"QSXCR+Q6sek8bf92"
#: A well-formed SCRAM server-first for CLIENT_NONCE, and a server-final whose signature
#: is wrong: together they drive the client to the end of SCRAM without a real server.
SERVER_FIRST = AuthenticationSASLContinue(
    f"r={CLIENT_NONCE}{SERVER_NONCE},s={base64.b64encode(SCRAM_SALT).decode()},i=4096".encode()
)
WRONG_SERVER_FINAL = AuthenticationSASLFinal(b"v=" + base64.b64encode(bytes(32)))

#: Deterministic and bounded: the suite must not depend on a run's luck or take long.
FAST = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def wire(*messages: Message | bytes) -> bytes:
    return b"".join(m if isinstance(m, bytes) else m.encode() for m in messages)


def error(sqlstate: str = "42601", message: str = "boom", severity: str = "ERROR") -> ErrorResponse:
    return ErrorResponse({"S": severity, "V": severity, "C": sqlstate, "M": message})


SESSION_START = wire(
    ParameterStatus("server_version", "18.0"),
    ParameterStatus("client_encoding", "UTF8"),
    BackendKeyData(4242, b"\x01\x02\x03\x04"),
    ReadyForQuery("I"),
)
TRUST_STARTUP = wire(AuthenticationOk(), SESSION_START)
COLUMNS = RowDescription(
    (FieldDescription("id", 0, 0, 23, 4, -1, 1), FieldDescription("name", 0, 0, 25, -1, -1, 0))
)
ROWS = wire(
    DataRow((b"\x00\x00\x00\x01", b"one")),
    DataRow((b"\x00\x00\x00\x02", None)),
    DataRow((b"\x00\x00\x00\x03", "trois \N{SNOWMAN}".encode())),
)
BATCH: tuple[FrontendMessage, ...] = (
    Parse("", "select id, name from t where id > $1", (23,)),
    Bind("", "", (1,), (b"\x00\x00\x00\x00",), (1,)),
    Describe("P"),
    Execute(),
    Sync(),
)


# --------------------------------------------------------------------------------------
# Driving a client the way a driver does, and judging the outcome
# --------------------------------------------------------------------------------------


def authenticating(
    *, credentials: bool = True, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> ClientConnection:
    """A client that has sent its StartupMessage."""
    if credentials:
        conn = ClientConnection(
            password=PASSWORD,
            nonce_source=lambda: CLIENT_NONCE,
            max_message_size=max_message_size,
        )
    else:
        conn = ClientConnection(max_message_size=max_message_size)
    conn.send(StartupMessage({"user": USER, "database": "app"}))
    return conn


def ready(
    *requests: FrontendMessage, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> ClientConnection:
    """A client past a trust startup, with ``requests`` sent."""
    conn = authenticating(max_message_size=max_message_size)
    conn.receive_data(TRUST_STARTUP)
    while conn.next_event() is not NEED_DATA:
        pass
    assert conn.state is ConnectionState.READY
    conn.send(*requests)
    return conn


def allowed(exc: Exception, state_before: ConnectionState, *, credentials: bool) -> bool:
    """Whether ``exc`` is an error the client documents for what a server may send."""
    if isinstance(exc, ProtocolError):
        return True
    if state_before is not ConnectionState.AUTHENTICATING:
        return False
    # The server asks for Kerberos, GSSAPI, SSPI, or SASL without SCRAM-SHA-256: a refusal
    # of a method pgwire does not implement, not a broken protocol.
    if type(exc) is NotSupportedError:
        return True
    # A password was asked for and none configured, or the server's SCRAM signature is wrong
    # (it does not know the password): both refuse the server on purpose.
    if type(exc) is OperationalError:
        return True
    # SCRAM asked for but the caller gave no nonce_source: only a client built without one.
    return type(exc) is InterfaceError and not credentials and "nonce" in str(exc)


DOCUMENTED_AUTH_ERRORS = {
    "kerberos": (True, [AuthenticationKerberosV5()], NotSupportedError),
    "gssapi": (True, [AuthenticationGSS()], NotSupportedError),
    "sspi": (True, [AuthenticationSSPI()], NotSupportedError),
    "sasl-without-scram": (True, [AuthenticationSASL(("SCRAM-SHA-256-PLUS",))], NotSupportedError),
    "no-password": (False, [AuthenticationMD5Password(b"salt")], OperationalError),
    "wrong-scram-signature": (
        True,
        [
            AuthenticationSASL(("SCRAM-SHA-256",)),
            SERVER_FIRST,
            WRONG_SERVER_FINAL,
        ],
        OperationalError,
    ),
    "no-nonce-source": (False, [AuthenticationSASL(("SCRAM-SHA-256",))], InterfaceError),
}


@pytest.mark.parametrize("case", DOCUMENTED_AUTH_ERRORS.values(), ids=DOCUMENTED_AUTH_ERRORS.keys())
def test_each_allowed_authentication_error_is_one_the_client_raises(
    case: tuple[bool, list[BackendMessage], type[Exception]],
) -> None:
    credentials, messages, expected = case
    conn = authenticating(credentials=credentials)
    conn.receive_data(wire(*messages))
    with pytest.raises(expected) as caught:
        while conn.next_event() is not NEED_DATA:
            pass
    assert type(caught.value) is expected
    assert allowed(caught.value, ConnectionState.AUTHENTICATING, credentials=credentials)
    assert conn.state is ConnectionState.FAILED


@dataclass
class Outcome:
    events: list[Event]
    error: Exception | None
    sent: bytes


def feed(conn: ClientConnection, chunks: Sequence[bytes], *, credentials: bool = True) -> Outcome:
    """Feed ``chunks`` then the end of the stream, draining after each and answering as a
    driver would; fail on any outcome that is not an event, NEED_DATA or an allowed error."""
    events: list[Event] = []
    sent = bytearray()
    budget = sum(len(chunk) for chunk in chunks) + 1
    for chunk in [*chunks, b""]:
        conn.receive_data(chunk)
        while True:
            before = conn.state
            try:
                event = conn.next_event()
            except Exception as exc:
                if not allowed(exc, before, credentials=credentials):
                    raise
                return Outcome(events, exc, bytes(sent))
            if event is NEED_DATA:
                break
            events.append(event)
            sent += conn.data_to_send()
            if isinstance(event, ConnectionClosed):
                return Outcome(events, None, bytes(sent))
            if isinstance(event, EncryptionResponse):
                # TLS started or refused: either way the driver sends its StartupMessage next.
                sent += conn.send(StartupMessage({"user": USER, "database": "app"}))
            # Each event but ConnectionClosed consumes at least one byte.
            assert len(events) <= budget, f"the client loops on {event!r}"
    raise AssertionError(f"the stream ended without ConnectionClosed (state {conn.state})")


def cut(data: bytes, points: Sequence[int]) -> list[bytes]:
    """``data`` cut at ``points``; no piece is empty (an empty piece would mean EOF)."""
    edges = [0, *sorted({p for p in points if 0 < p < len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` whole, one byte at a time, or cut at random points."""
    mode = draw(st.sampled_from(["whole", "bytes", "random"]))
    if mode == "whole" or len(data) < 2:
        return [data] if data else []
    if mode == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    return cut(data, draw(st.lists(st.integers(1, len(data) - 1), max_size=12)))


# --------------------------------------------------------------------------------------
# Real conversations, built from the message classes
# --------------------------------------------------------------------------------------


class ScramServer:
    """The server half of SCRAM-SHA-256 (scramp, fixed nonce and salt)."""

    def __init__(self) -> None:
        mechanism = scramp.ScramMechanism("SCRAM-SHA-256")
        info = mechanism.make_auth_info(PASSWORD, iteration_count=4096, salt=SCRAM_SALT)
        self.server = mechanism.make_server(lambda _user: info, s_nonce=SERVER_NONCE)

    @staticmethod
    def _read(data: bytes, kind: Literal["sasl-initial", "sasl"]) -> FrontendMessage:
        buffer = ReceiveBuffer()
        buffer.feed(data)
        frame = buffer.next_message()
        assert frame is not None and not len(buffer)
        return decode_frontend(*frame, password_kind=kind)

    def challenge(self, client_bytes: bytes) -> AuthenticationSASLContinue:
        first = self._read(client_bytes, "sasl-initial")
        assert isinstance(first, SASLInitialResponse) and first.data is not None
        self.server.set_client_first(first.data.decode())
        return AuthenticationSASLContinue(self.server.get_server_first().encode())

    def outcome(self, client_bytes: bytes) -> AuthenticationSASLFinal:
        final = self._read(client_bytes, "sasl")
        assert isinstance(final, SASLResponse)
        self.server.set_client_final(final.data.decode())
        return AuthenticationSASLFinal(self.server.get_server_final().encode())


def scram_startup() -> bytes:
    """A SCRAM-SHA-256 startup, answered by a server that checks the client's proof."""
    conn = authenticating()
    server = ScramServer()
    stream = bytearray()

    def say(message: BackendMessage) -> bytes:
        stream.extend(message.encode())
        conn.receive_data(message.encode())
        while conn.next_event() is not NEED_DATA:
            pass
        return conn.data_to_send()

    first = say(AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")))
    final = say(server.challenge(first))
    say(server.outcome(final))
    stream += TRUST_STARTUP
    return bytes(stream)


@dataclass(frozen=True)
class Conversation:
    name: str
    client: Callable[[], ClientConnection]
    server: Callable[[], bytes]

    def __repr__(self) -> str:
        return self.name


CONVERSATIONS = [
    Conversation("trust-startup", authenticating, lambda: TRUST_STARTUP),
    Conversation("scram-startup", authenticating, scram_startup),
    Conversation(
        "md5-startup",
        authenticating,
        lambda: wire(AuthenticationMD5Password(b"\x01\x02\x03\x04"), TRUST_STARTUP),
    ),
    Conversation(
        "cleartext-startup",
        authenticating,
        lambda: wire(AuthenticationCleartextPassword(), TRUST_STARTUP),
    ),
    Conversation(
        "simple-query-rows",
        lambda: ready(Query("select id, name from t")),
        lambda: wire(
            NoticeResponse({"S": "NOTICE", "C": "00000", "M": "hi"}),
            COLUMNS,
            ROWS,
            NotificationResponse(4242, "jobs", "42"),
            CommandComplete("SELECT 3"),
            ParameterStatus("TimeZone", "UTC"),
            ReadyForQuery("I"),
        ),
    ),
    Conversation(
        "extended-pipeline-with-error",
        lambda: ready(*BATCH, *BATCH, *BATCH),
        lambda: wire(
            ParseComplete(),
            BindComplete(),
            COLUMNS,
            ROWS,
            CommandComplete("SELECT 3"),
            ReadyForQuery("I"),
            ParseComplete(),
            BindComplete(),
            COLUMNS,
            DataRow((b"\x00\x00\x00\x01", b"x")),
            error("22012", "division by zero"),
            ReadyForQuery("I"),
            ParseComplete(),
            BindComplete(),
            COLUMNS,
            CommandComplete("SELECT 0"),
            ReadyForQuery("I"),
        ),
    ),
    Conversation(
        "copy-out",
        lambda: ready(Query("copy t to stdout")),
        lambda: wire(
            CopyOutResponse(0, (0, 0)),
            CopyData(b"1\tone\n"),
            CopyData(b"2\t\\N\n"),
            CopyDone(),
            CommandComplete("COPY 2"),
            ReadyForQuery("I"),
        ),
    ),
]


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=repr)
def test_valid_conversation_ends_ready_and_closed(conversation: Conversation) -> None:
    outcome = feed(conversation.client(), [conversation.server()])
    assert outcome.error is None
    assert isinstance(outcome.events[-1], ConnectionClosed)
    assert isinstance(outcome.events[-2], ReadyForQuery)


# --------------------------------------------------------------------------------------
# Junk: random bytes, random frames, mutated conversations
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    name: str
    client: Callable[[], ClientConnection]
    credentials: bool = True

    def __repr__(self) -> str:
        return self.name


def _ssl_request_sent() -> ClientConnection:
    conn = ClientConnection(password=PASSWORD, nonce_source=lambda: CLIENT_NONCE)
    conn.send(SSLRequest())
    return conn


STARTS = [
    Start("authenticating", authenticating),
    Start("authenticating-without-credentials", lambda: authenticating(credentials=False), False),
    Start("ssl-request-sent", _ssl_request_sent),
    Start("ready-query", lambda: ready(Query("select 1"))),
    Start("ready-pipeline", lambda: ready(*BATCH, Query("select 1; select 2"), *BATCH)),
    Start("ready-copy", lambda: ready(Query("copy t to stdout"), Query("copy t from stdin"))),
    Start("ready-idle", ready),
]

#: Whole messages a server sends, to build random but well-framed streams from.
REAL_MESSAGES: list[BackendMessage] = [
    AuthenticationOk(),
    AuthenticationCleartextPassword(),
    AuthenticationMD5Password(b"salt"),
    AuthenticationSASL(("SCRAM-SHA-256",)),
    AuthenticationSASL(("SCRAM-SHA-256-PLUS",)),
    AuthenticationGSS(),
    AuthenticationSSPI(),
    AuthenticationKerberosV5(),
    NegotiateProtocolVersion(0, ("_pq_.x",)),
    SERVER_FIRST,
    WRONG_SERVER_FINAL,
    BackendKeyData(1, b"\x00\x00\x00\x01"),
    ParameterStatus("a", "b"),
    ReadyForQuery("I"),
    ReadyForQuery("E"),
    COLUMNS,
    DataRow((b"1", None)),
    CommandComplete("SELECT 1"),
    EmptyQueryResponse(),
    error(),
    error("57P01", "bye", "FATAL"),
    NoticeResponse({"M": "n"}),
    NotificationResponse(1, "c", "p"),
    ParseComplete(),
    BindComplete(),
    CloseComplete(),
    NoData(),
    ParameterDescription((23, 25)),
    CopyInResponse(0, (0,)),
    CopyOutResponse(0, (0,)),
    CopyData(b"x"),
    CopyDone(),
]
BACKEND_CODES = sorted(set(b"RKSZTDCIENA123nstGHWdcvV"))
#: Values that make length and count fields interesting.
INT32S = [0, 1, 2, 3, 4, 5, 8, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, -1, -2, -(2**31)]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """A well-framed message: a real one, or a backend type byte with a random body."""
    if draw(st.sampled_from([True, True, False])):
        return draw(st.sampled_from(REAL_MESSAGES)).encode()
    code = draw(st.sampled_from(BACKEND_CODES) | st.integers(0, 255))
    body = draw(
        st.binary(max_size=24)
        | st.builds(
            lambda n, rest: struct.pack("!i", n) + rest,
            st.sampled_from(INT32S),
            st.binary(max_size=16),
        )
    )
    return struct.pack("!Bi", code, len(body) + 4) + body


@pytest.mark.parametrize("start", STARTS, ids=repr)
@FAST
@given(data=st.data())
def test_random_bytes_end_in_allowed_outcomes(start: Start, data: st.DataObject) -> None:
    stream = data.draw(st.binary(max_size=200), label="stream")
    feed(start.client(), data.draw(chunkings(stream)), credentials=start.credentials)


@pytest.mark.parametrize("start", STARTS, ids=repr)
@FAST
@given(data=st.data())
def test_random_frames_end_in_allowed_outcomes(start: Start, data: st.DataObject) -> None:
    stream = b"".join(data.draw(st.lists(frames(), max_size=12), label="frames"))
    feed(start.client(), data.draw(chunkings(stream)), credentials=start.credentials)


def split_messages(stream: bytes) -> list[bytes]:
    """Cut a valid server stream into its whole messages."""
    out = []
    pos = 0
    while pos < len(stream):
        (length,) = struct.unpack_from("!i", stream, pos + 1)
        out.append(stream[pos : pos + 1 + length])
        pos += 1 + length
    return out


@st.composite
def mutated(draw: st.DrawFn, stream: bytes) -> bytes:
    """``stream`` with whole messages dropped, repeated, swapped or inserted, then bytes
    flipped, set, inserted, deleted, overwritten with an interesting int32, or cut off."""
    messages = split_messages(stream)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["drop", "repeat", "swap", "insert"]))
        i = draw(st.integers(0, len(messages) - 1))
        if op == "drop":
            del messages[i]
        elif op == "repeat":
            messages.insert(i, messages[i])
        elif op == "swap" and i + 1 < len(messages):
            messages[i], messages[i + 1] = messages[i + 1], messages[i]
        elif op == "insert":
            messages.insert(i, draw(frames()))
        if not messages:
            break
    data = bytearray(b"".join(messages))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "int32", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif not data:
            continue
        elif op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "int32":
            value = draw(st.sampled_from(INT32S) | st.integers(-(2**31), 2**31 - 1))
            data[pos : pos + 4] = struct.pack("!i", value)
        else:
            del data[pos:]
    return bytes(data)


_STREAMS: dict[str, bytes] = {}


def server_stream(conversation: Conversation) -> bytes:
    """The conversation's server bytes, built once (SCRAM's key stretching is not free)."""
    if conversation.name not in _STREAMS:
        _STREAMS[conversation.name] = conversation.server()
    return _STREAMS[conversation.name]


def same_outcome(a: Outcome, b: Outcome) -> None:
    assert a.events == b.events
    assert a.sent == b.sent
    assert type(a.error) is type(b.error)
    assert str(a.error) == str(b.error)


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=repr)
@FAST
@given(data=st.data())
def test_mutated_conversation_ends_in_allowed_outcomes(
    conversation: Conversation, data: st.DataObject
) -> None:
    stream = data.draw(mutated(server_stream(conversation)), label="stream")
    whole = feed(conversation.client(), [stream] if stream else [])
    # However the junk is cut, the client reads it the same way and fails at the same place.
    pieces = data.draw(chunkings(stream), label="pieces")
    same_outcome(feed(conversation.client(), pieces), whole)


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=repr)
@FAST
@given(data=st.data())
def test_cutting_a_conversation_anywhere_changes_nothing(
    conversation: Conversation, data: st.DataObject
) -> None:
    stream = server_stream(conversation)
    whole = feed(conversation.client(), [stream])
    pieces = data.draw(chunkings(stream), label="pieces")
    same_outcome(feed(conversation.client(), pieces), whole)
    assert whole.error is None


# --------------------------------------------------------------------------------------
# Oversized lengths
# --------------------------------------------------------------------------------------


#: Small enough that the trust startup (its longest message is 28 bytes) still fits.
SMALL_MAX = 64
SMALL_CLIENTS = {
    "authenticating": lambda: authenticating(max_message_size=SMALL_MAX),
    "ready-query": lambda: ready(Query("select 1"), max_message_size=SMALL_MAX),
}


@pytest.mark.parametrize("client", SMALL_CLIENTS.values(), ids=SMALL_CLIENTS.keys())
@pytest.mark.parametrize("code", [b"R", b"D", b"d", b"E", b"Z"])
def test_length_over_max_message_size_fails_on_the_five_header_bytes(
    client: Callable[[], ClientConnection], code: bytes
) -> None:
    conn = client()
    conn.receive_data(code + struct.pack("!i", SMALL_MAX + 1))
    with pytest.raises(ProtocolError, match=f"length of {SMALL_MAX + 1} bytes"):
        conn.next_event()
    assert conn.state is ConnectionState.FAILED


@pytest.mark.parametrize("client", SMALL_CLIENTS.values(), ids=SMALL_CLIENTS.keys())
def test_huge_length_fails_on_the_five_header_bytes(
    client: Callable[[], ClientConnection],
) -> None:
    conn = client()
    conn.receive_data(b"D\x7f\xff\xff\xff")
    with pytest.raises(ProtocolError, match="over the maximum message size"):
        conn.next_event()


@pytest.mark.parametrize("client", SMALL_CLIENTS.values(), ids=SMALL_CLIENTS.keys())
def test_length_at_max_message_size_waits_for_the_body(
    client: Callable[[], ClientConnection],
) -> None:
    conn = client()
    conn.receive_data(b"d" + struct.pack("!i", SMALL_MAX))
    assert conn.next_event() is NEED_DATA


# --------------------------------------------------------------------------------------
# Pipelining against a model server
# --------------------------------------------------------------------------------------

#: What a statement does, in the model server's tiny SQL: ``rows N`` returns N rows,
#: ``fail`` fails when executed, ``parse fail`` fails when parsed, ``commit fail`` succeeds
#: but makes the batch's Sync fail (a deferred constraint), ``copy out`` and ``copy in``
#: run a COPY, ``begin`` and ``commit`` open and close a transaction block, ``set`` returns
#: no rows, and the empty string is an empty query.
STATEMENTS = ["rows 0", "rows 1", "rows 3", "set", "", "fail", "copy out", "begin", "commit"]
EXTENDED_STATEMENTS = [*STATEMENTS, "parse fail", "commit fail"]


class ModelServer:
    """A tiny backend: reads what the client wrote and answers as PostgreSQL would.

    It follows the protocol's rules for errors (skip to Sync in the extended protocol, the
    rest of the string in a simple query), for COPY FROM STDIN (Sync and Flush ignored
    during it, copy messages dropped after it failed), for portals run with a row limit,
    and for the transaction status that ReadyForQuery reports.
    """

    def __init__(self) -> None:
        self.buffer = ReceiveBuffer()
        self.status: Literal["I", "T", "E"] = "I"
        self.skipping = False
        self.copy: str | None = None  # "simple" or "extended" during COPY FROM STDIN
        self.copy_rows = 0
        self.sync_fails = False
        self.statements: dict[str, str] = {}
        self.portals: dict[str, tuple[str, int]] = {}  # portal -> (sql, rows already sent)

    def receive(self, data: bytes) -> list[BackendMessage]:
        self.buffer.feed(data)
        out: list[BackendMessage] = []
        while (frame := self.buffer.next_message()) is not None:
            out += self.handle(decode_frontend(*frame))
        return out

    def ready(self) -> ReadyForQuery:
        return ReadyForQuery(self.status)

    def error(self, sqlstate: str, text: str) -> ErrorResponse:
        if self.status == "T":
            self.status = "E"
        return error(sqlstate, text)

    def run(
        self, sql: str, extended: bool, limit: int = 0, offset: int = 0
    ) -> list[BackendMessage]:
        """What executing ``sql`` sends; an ErrorResponse comes last if it fails."""
        if self.status == "E" and sql != "commit":
            return [self.error("25P02", "current transaction is aborted")]
        if sql == "":
            return [EmptyQueryResponse()]
        if sql == "fail":
            return [self.error("22012", "division by zero")]
        if sql == "set":
            return [CommandComplete("SET")]
        if sql == "begin":
            self.status = "T"
            return [CommandComplete("BEGIN")]
        if sql == "commit":
            tag = "ROLLBACK" if self.status == "E" else "COMMIT"
            self.status = "I"
            return [CommandComplete(tag)]
        if sql == "commit fail":
            self.sync_fails = self.status == "I"
            return [CommandComplete("INSERT 0 1")]
        if sql == "copy out":
            return [
                CopyOutResponse(0, (0,)),
                CopyData(b"1\n"),
                CopyData(b"2\n"),
                CopyDone(),
                CommandComplete("COPY 2"),
            ]
        if sql == "copy in":
            self.copy = "extended" if extended else "simple"
            self.copy_rows = 0
            return [CopyInResponse(0, (0,))]
        total = int(sql.split()[1])
        count = total - offset if not limit else min(limit, total - offset)
        head: list[BackendMessage] = [] if extended else [COLUMNS]
        rows = [DataRow((str(offset + i).encode(), b"x")) for i in range(count)]
        if limit and offset + count < total:
            return [*head, *rows, PortalSuspended()]
        return [*head, *rows, CommandComplete(f"SELECT {count}")]

    def fail(self, extended: bool, message: ErrorResponse) -> list[BackendMessage]:
        self.skipping = extended
        return [message] if extended else [message, self.ready()]

    def handle(self, message: FrontendMessage) -> list[BackendMessage]:
        if self.copy is not None:
            return self.handle_copy(message)
        if isinstance(message, CopyData | CopyDone | CopyFail):
            return []  # after a failed COPY the client's remaining copy messages are dropped
        if self.skipping:
            if isinstance(message, Sync):
                self.skipping = False
                self.sync_fails = False
                return [self.ready()]
            return []
        if isinstance(message, Query):
            out: list[BackendMessage] = []
            for sql in message.sql.split(";"):
                out += self.run(sql.strip(), extended=False)
                if isinstance(out[-1], ErrorResponse) or self.copy is not None:
                    break
            return out if self.copy is not None else [*out, self.ready()]
        if isinstance(message, Parse):
            if message.sql == "parse fail":
                return self.fail(True, self.error("42601", "syntax error"))
            self.statements[message.name] = message.sql
            return [ParseComplete()]
        if isinstance(message, Bind):
            self.portals[message.portal] = (self.statements[message.statement], 0)
            return [BindComplete()]
        if isinstance(message, Describe):
            if message.kind == "S":
                sql = self.statements[message.name]
            else:
                sql = self.portals[message.name][0]
            shape: BackendMessage = COLUMNS if sql.startswith("rows") else NoData()
            return [ParameterDescription(()), shape] if message.kind == "S" else [shape]
        if isinstance(message, Execute):
            sql, offset = self.portals[message.portal]
            out = self.run(sql, extended=True, limit=message.max_rows, offset=offset)
            if isinstance(out[-1], ErrorResponse):
                self.skipping = True
            self.portals[message.portal] = (sql, offset + sum(isinstance(m, DataRow) for m in out))
            return out
        if isinstance(message, Close):
            return [CloseComplete()]
        if isinstance(message, Sync):
            if self.sync_fails:
                self.sync_fails = False
                return [error("23503", "deferred constraint violated"), self.ready()]
            return [self.ready()]
        assert isinstance(message, Flush), message
        return []

    def handle_copy(self, message: FrontendMessage) -> list[BackendMessage]:
        extended = self.copy == "extended"
        if isinstance(message, Sync | Flush) and extended:
            return []  # ignored during COPY FROM STDIN
        if isinstance(message, CopyData):
            if message.data == b"bad\n":
                self.copy = None
                return self.fail(extended, self.error("22P02", "invalid input syntax"))
            self.copy_rows += 1
            return []
        if isinstance(message, CopyFail):
            self.copy = None
            text = f"COPY from stdin failed: {message.message}"
            return self.fail(extended, self.error("57014", text))
        assert isinstance(message, CopyDone), f"{message!r} during COPY FROM STDIN"
        self.copy = None
        done = CommandComplete(f"COPY {self.copy_rows}")
        return [done] if extended else [done, self.ready()]


class PipelineMachine(RuleBasedStateMachine):
    """Client sends and server answers interleave at random; the client must stay in step."""

    def __init__(self) -> None:
        super().__init__()
        self.client = ready()
        self.server = ModelServer()
        self.wire = bytearray()  # what the server wrote and the client has not read yet
        self.emitted: list[BackendMessage] = []  # every message the server wrote
        self.events: list[Event] = []
        self.round_trips = 0  # Sync and Query messages sent: each owes one ReadyForQuery
        self.batch_open = False  # extended messages sent since the last Sync
        self.copy_open = False  # a COPY FROM STDIN was started and the client has not ended it
        self.copy_mark = 0  # len(self.events) when it started

    def send(self, *messages: FrontendMessage) -> None:
        data = self.client.send(*messages)
        self.round_trips += sum(isinstance(m, Sync | Query) for m in messages)
        answer = self.server.receive(data)
        self.emitted += answer
        self.wire += wire(*answer)

    def drain(self) -> None:
        while (event := self.client.next_event()) is not NEED_DATA:
            self.events.append(event)

    @property
    def can_start(self) -> bool:
        return not self.copy_open

    @precondition(lambda self: self.can_start and not self.batch_open)
    @rule(statements=st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=3))
    def simple_query(self, statements: list[str]) -> None:
        self.send(Query("; ".join(statements)))

    @precondition(lambda self: self.can_start)
    @rule(
        steps=st.lists(
            st.tuples(
                st.sampled_from(EXTENDED_STATEMENTS),
                st.sampled_from(["", "S", "P"]),
                st.sampled_from([0, 0, 1, 2]),
            ),
            min_size=1,
            max_size=3,
        ),
        named=st.booleans(),
        flush=st.booleans(),
        sync=st.booleans(),
    )
    def extended_batch(
        self, steps: list[tuple[str, str, int]], named: bool, flush: bool, sync: bool
    ) -> None:
        messages: list[FrontendMessage] = []
        for index, (sql, describe, limit) in enumerate(steps):
            name = f"s{index}" if named else ""
            messages += [Parse(name, sql), Bind("", name, (), (), ())]
            if describe == "S":
                messages.append(Describe("S", name))
            elif describe == "P":
                messages.append(Describe("P"))
            # With a row limit, run the portal twice: PortalSuspended, then the rest.
            messages += [Execute("", limit)] * (2 if limit else 1)
            if named:
                messages.append(Close("S", name))
        if flush:
            messages.append(Flush())
        if sync:
            messages.append(Sync())
        self.send(*messages)
        self.batch_open = not sync

    @precondition(lambda self: self.batch_open)
    @rule()
    def sync(self) -> None:
        self.send(Sync())
        self.batch_open = False

    @precondition(lambda self: self.can_start and not self.batch_open)
    @rule(extended=st.booleans())
    def start_copy_in(self, extended: bool) -> None:
        if extended:
            self.send(Parse("", "copy in"), Bind("", "", (), (), ()), Execute(), Sync())
        else:
            self.send(Query("copy in"))
        # In a failed transaction block the server refuses the COPY outright.
        self.copy_open = self.server.copy is not None
        self.copy_mark = len(self.events)

    def copy_in_seen(self) -> bool:
        """Whether the client has read the CopyInResponse, so it may send copy data."""
        return any(isinstance(e, CopyInResponse) for e in self.events[self.copy_mark :])

    @precondition(lambda self: self.copy_open and self.copy_in_seen())
    @rule(bad=st.booleans())
    def copy_data(self, bad: bool) -> None:
        self.send(CopyData(b"bad\n" if bad else b"1\n"))

    @precondition(lambda self: self.copy_open and self.copy_in_seen())
    @rule(fail=st.booleans())
    def end_copy(self, fail: bool) -> None:
        self.send(CopyFail("stopped") if fail else CopyDone())
        self.copy_open = False

    @rule(
        message=st.sampled_from(
            [
                NoticeResponse({"S": "NOTICE", "M": "hello"}),
                NotificationResponse(7, "jobs", "ping"),
                ParameterStatus("TimeZone", "UTC"),
            ]
        )
    )
    def server_says(self, message: BackendMessage) -> None:
        self.emitted.append(message)
        self.wire += message.encode()

    @rule(size=st.integers(1, 120))
    def deliver(self, size: int) -> None:
        chunk = bytes(self.wire[:size])
        del self.wire[:size]
        if chunk:
            self.client.receive_data(chunk)
        self.drain()

    @rule()
    def deliver_everything(self) -> None:
        self.deliver(len(self.wire))

    @invariant()
    def events_are_what_the_server_sent(self) -> None:
        assert self.events == self.emitted[: len(self.events)]
        assert self.client.state is ConnectionState.READY
        answers = [e for e in self.events if isinstance(e, ReadyForQuery)]
        assert len(answers) <= self.round_trips
        assert self.client.transaction_status == (answers[-1].status if answers else "I")

    def teardown(self) -> None:
        if self.copy_open:
            self.deliver_everything()
            assert self.copy_in_seen()
            self.end_copy(fail=False)
        if self.batch_open:
            self.sync()
        self.deliver_everything()
        self.events_are_what_the_server_sent()
        assert len(self.events) == len(self.emitted)
        assert sum(isinstance(e, ReadyForQuery) for e in self.events) == self.round_trips
        assert self.client.in_flight == 0
        assert self.client.state is ConnectionState.READY


PipelineMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_pipelined_requests_stay_in_step_with_the_server = PipelineMachine.TestCase


# --------------------------------------------------------------------------------------
# Regressions: core bugs found while writing these tests
# --------------------------------------------------------------------------------------


def test_copy_both_client_ends_its_side_after_the_servers_copy_done() -> None:
    conn = ready(Query("START_REPLICATION SLOT s LOGICAL 0/0"))
    conn.receive_data(wire(CopyBothResponse(0, ()), CopyData(b"w"), CopyDone()))
    while conn.next_event() is not NEED_DATA:
        pass
    assert conn.send(CopyData(b"r"), CopyDone()) == wire(CopyData(b"r"), CopyDone())
    conn.receive_data(wire(CommandComplete("START_REPLICATION"), ReadyForQuery("I")))
    while conn.next_event() is not NEED_DATA:
        pass
    assert conn.in_flight == 0


def test_copy_both_client_sends_no_data_after_its_copy_done() -> None:
    conn = ready(Query("START_REPLICATION SLOT s LOGICAL 0/0"))
    conn.receive_data(CopyBothResponse(0, ()).encode())
    assert isinstance(conn.next_event(), CopyBothResponse)
    conn.send(CopyDone())
    with pytest.raises(InterfaceError):
        conn.send(CopyData(b"late"))


def test_no_rows_come_after_a_protocol_error() -> None:
    conn = ready(Query("select 1"))
    bad_command_complete = b"C\x00\x00\x00\x05\xff"  # no NUL terminator
    conn.receive_data(wire(COLUMNS, bad_command_complete, DataRow((b"1",))))
    assert isinstance(conn.next_event(), RowDescription)
    with pytest.raises(ProtocolError):
        conn.next_event()
    assert conn.state is ConnectionState.FAILED
    with pytest.raises(ProtocolError):
        conn.next_event()


def test_a_password_request_in_the_middle_of_scram_is_refused() -> None:
    conn = authenticating()
    conn.receive_data(
        wire(AuthenticationSASL(("SCRAM-SHA-256",)), AuthenticationCleartextPassword())
    )
    assert isinstance(conn.next_event(), AuthenticationSASL)
    conn.data_to_send()
    with pytest.raises(ProtocolError):
        conn.next_event()
    assert PASSWORD.encode() not in conn.data_to_send()


def test_negotiate_protocol_version_with_a_negative_minor_is_refused() -> None:
    conn = authenticating()
    conn.receive_data(NegotiateProtocolVersion(-5, ()).encode())
    with pytest.raises(ProtocolError):
        conn.next_event()
