"""The rules of the conversation, for both roles: every state, and every table of what is
legal when.

This is the one file to read to learn what may be sent or received at any point; the
connection classes (``client.py``, ``startup.py``, ``server.py``) apply these tables and add
no rule of their own.  Like the tables, it does no I/O.

A connection as a whole is in one state (:class:`ConnectionState` for the client,
:class:`ServerState` for the server):

* ``CLIENT_SEND_RULES`` says which messages the client may send in each state;
* ``SERVER_RECEIVE_RULES`` and ``SERVER_SEND_RULES`` say which messages the server may
  receive and send in each state, and the state each one leads to.

Once the session is up, every request (Parse, Bind, Describe, Execute, Close, Sync, Query,
FunctionCall) puts what the server owes for it on a queue of :class:`Phase` values, so any
number of Sync-delimited batches may be in flight at once (pipelining):

* ``TRANSITIONS`` says, for the request at the head of the queue, which server message may
  answer it next and what the request waits for after it.  Both roles read this one table,
  so they cannot disagree about which answer is legal when;
* ``ERROR_TRANSITIONS`` and :func:`answer_error` say what an ErrorResponse does to the queue:
  in the extended protocol it drops every request up to the batch's Sync, exactly as
  PostgreSQL skips messages up to it.

Anything not in the tables raises :class:`~pgwire.errors.ProtocolError` naming the state and
the message (or :class:`~pgwire.errors.InterfaceError` for a local mistake).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from pgwire.protocol.messages import (
    BackendKeyData,
    BackendMessage,
    Bind,
    BindComplete,
    CancelRequest,
    Close,
    CloseComplete,
    CommandComplete,
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
    Execute,
    Flush,
    FrontendMessage,
    FunctionCall,
    FunctionCallResponse,
    GSSENCRequest,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordKind,
    PasswordMessage,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
)

__all__ = [
    "ASYNC_MESSAGES",
    "CLIENT_SEND_RULES",
    "COPY_END_AFTER_CLIENT",
    "COPY_IN_PHASES",
    "COPY_MESSAGES",
    "ERROR_TRANSITIONS",
    "FATAL_SEVERITIES",
    "NEED_DATA",
    "PASSWORD_KINDS",
    "SERVER_RECEIVE_RULES",
    "SERVER_SEND_RULES",
    "TERMINAL_SERVER_STATES",
    "TRANSITIONS",
    "ConnectionClosed",
    "ConnectionState",
    "EncryptionResponse",
    "Event",
    "NeedData",
    "Phase",
    "ServerState",
    "answer_error",
    "owed_for",
]


# --------------------------------------------------------------------------------------
# What next_event() gives besides the decoded messages
# --------------------------------------------------------------------------------------


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "NEED_DATA"


#: Returned by ``next_event()`` when a whole event needs more bytes.
NEED_DATA: Final = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection (``receive_data(b"")``)."""


@dataclass(frozen=True, slots=True)
class EncryptionResponse:
    """The server's one-byte answer to SSLRequest (``S``/``N``) or GSSENCRequest (``G``/``N``).

    After an accepted SSLRequest the caller starts TLS on the stream, then sends the
    StartupMessage.
    """

    kind: Literal["ssl", "gss"]
    accepted: bool


#: What the client's ``next_event()`` returns (besides :data:`NEED_DATA`).
Event = BackendMessage | ConnectionClosed | EncryptionResponse


# --------------------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------------------


class ConnectionState(enum.Enum):
    """Where the connection is, as a whole."""

    # Members are singletons: identity hashing is right, and C-fast (Enum hashes the name
    # in Python, and the transition tables are looked up on every message).
    __hash__ = object.__hash__

    #: Nothing sent yet, or the server answered an SSLRequest/GSSENCRequest.
    STARTUP = "startup"
    #: SSLRequest or GSSENCRequest sent; one byte of answer awaited.
    AWAITING_ENCRYPTION_RESPONSE = "awaiting-encryption-response"
    #: StartupMessage sent; the authentication exchange runs.
    AUTHENTICATING = "authenticating"
    #: Authenticated; BackendKeyData and ParameterStatus arrive until ReadyForQuery.
    AWAITING_READY = "awaiting-ready"
    #: Ready for queries (some may be in flight).
    READY = "ready"
    #: A CancelRequest was sent on this connection; the server just closes it.
    CANCEL_SENT = "cancel-sent"
    #: Terminate was sent; remaining replies are still read.
    TERMINATING = "terminating"
    #: The server reported a fatal error or broke the protocol; only closing is left.
    FAILED = "failed"
    #: The stream is closed.
    CLOSED = "closed"


class ServerState(enum.Enum):
    """Where the connection is, as a whole, from the server's side."""

    #: Nothing received yet, or an SSLRequest/GSSENCRequest was answered.
    STARTUP = "startup"
    #: SSLRequest or GSSENCRequest received; the one-byte answer must be sent.
    ENCRYPTION_REQUESTED = "encryption-requested"
    #: StartupMessage received; the caller chooses the authentication (``authenticate()``).
    AUTHENTICATION_REQUIRED = "authentication-required"
    #: A cleartext or MD5 password was asked for.
    AWAITING_PASSWORD = "awaiting-password"
    #: SASL mechanisms were offered; the client's SASLInitialResponse is awaited.
    AWAITING_SASL_INITIAL = "awaiting-sasl-initial-response"
    #: The SCRAM server-first message was sent; the client-final message is awaited.
    AWAITING_SASL_RESPONSE = "awaiting-sasl-response"
    #: Authenticated: ParameterStatus and BackendKeyData are sent until ReadyForQuery.
    STARTING_SESSION = "starting-session"
    #: The session is up; requests arrive and are answered.
    READY = "ready"
    #: A CancelRequest arrived: the caller cancels the named session and closes this one.
    CANCEL_RECEIVED = "cancel-received"
    #: The client sent Terminate.
    TERMINATED = "terminated"
    #: A FATAL error was sent, authentication failed, or the client broke the protocol.
    FAILED = "failed"
    #: The client closed the stream.
    CLOSED = "closed"


class Phase(enum.Enum):
    """What the server owes next for one request in flight."""

    __hash__ = object.__hash__

    PARSE = "Parse"
    BIND = "Bind"
    DESCRIBE_STATEMENT = "Describe statement"
    DESCRIBE_STATEMENT_RESULT = "Describe statement (result columns)"
    DESCRIBE_PORTAL = "Describe portal"
    EXECUTE = "Execute"
    EXECUTE_COPY_IN = "Execute (COPY FROM STDIN)"
    EXECUTE_COPY_OUT = "Execute (COPY TO STDOUT)"
    EXECUTE_COPY_BOTH = "Execute (COPY BOTH)"
    EXECUTE_COPY_END = "Execute (end of COPY)"
    CLOSE = "Close"
    SYNC = "Sync"
    #: A Sync the server swallowed during COPY FROM STDIN; re-sent after CopyDone/CopyFail.
    SYNC_OWED = "Sync (re-sent after COPY)"
    QUERY = "Query"
    QUERY_ROWS = "Query (rows)"
    QUERY_COPY_IN = "Query (COPY FROM STDIN)"
    QUERY_COPY_OUT = "Query (COPY TO STDOUT)"
    QUERY_COPY_BOTH = "Query (COPY BOTH)"
    QUERY_COPY_END = "Query (end of COPY)"
    FUNCTION_CALL = "FunctionCall"
    FUNCTION_CALL_END = "FunctionCall (result sent)"


# --------------------------------------------------------------------------------------
# The requests in flight (both roles)
# --------------------------------------------------------------------------------------

_DONE: Final = None
P = Phase

#: (request phase, server message) -> the request's next phase, or None when it is answered.
TRANSITIONS: Final[dict[tuple[Phase, type[BackendMessage]], Phase | None]] = {
    (P.PARSE, ParseComplete): _DONE,
    (P.BIND, BindComplete): _DONE,
    (P.DESCRIBE_STATEMENT, ParameterDescription): P.DESCRIBE_STATEMENT_RESULT,
    (P.DESCRIBE_STATEMENT_RESULT, RowDescription): _DONE,
    (P.DESCRIBE_STATEMENT_RESULT, NoData): _DONE,
    (P.DESCRIBE_PORTAL, RowDescription): _DONE,
    (P.DESCRIBE_PORTAL, NoData): _DONE,
    (P.EXECUTE, DataRow): P.EXECUTE,
    (P.EXECUTE, CommandComplete): _DONE,
    (P.EXECUTE, EmptyQueryResponse): _DONE,
    (P.EXECUTE, PortalSuspended): _DONE,
    (P.EXECUTE, CopyInResponse): P.EXECUTE_COPY_IN,
    (P.EXECUTE, CopyOutResponse): P.EXECUTE_COPY_OUT,
    (P.EXECUTE, CopyBothResponse): P.EXECUTE_COPY_BOTH,
    (P.EXECUTE_COPY_OUT, CopyData): P.EXECUTE_COPY_OUT,
    (P.EXECUTE_COPY_OUT, CopyDone): P.EXECUTE_COPY_END,
    (P.EXECUTE_COPY_BOTH, CopyData): P.EXECUTE_COPY_BOTH,
    # In COPY BOTH each side ends its own direction: the server's CopyDone leaves the
    # client's direction open (copy-in), and the client's CopyDone the server's (copy-out).
    (P.EXECUTE_COPY_BOTH, CopyDone): P.EXECUTE_COPY_IN,
    (P.EXECUTE_COPY_END, CommandComplete): _DONE,
    (P.CLOSE, CloseComplete): _DONE,
    (P.SYNC, ReadyForQuery): _DONE,
    (P.QUERY, RowDescription): P.QUERY_ROWS,
    (P.QUERY, CommandComplete): P.QUERY,
    (P.QUERY, EmptyQueryResponse): P.QUERY,
    (P.QUERY, CopyInResponse): P.QUERY_COPY_IN,
    (P.QUERY, CopyOutResponse): P.QUERY_COPY_OUT,
    (P.QUERY, CopyBothResponse): P.QUERY_COPY_BOTH,
    (P.QUERY, ReadyForQuery): _DONE,
    (P.QUERY_ROWS, DataRow): P.QUERY_ROWS,
    (P.QUERY_ROWS, CommandComplete): P.QUERY,
    (P.QUERY_COPY_OUT, CopyData): P.QUERY_COPY_OUT,
    (P.QUERY_COPY_OUT, CopyDone): P.QUERY_COPY_END,
    (P.QUERY_COPY_BOTH, CopyData): P.QUERY_COPY_BOTH,
    (P.QUERY_COPY_BOTH, CopyDone): P.QUERY_COPY_IN,
    (P.QUERY_COPY_END, CommandComplete): P.QUERY,
    (P.FUNCTION_CALL, FunctionCallResponse): P.FUNCTION_CALL_END,
    (P.FUNCTION_CALL_END, ReadyForQuery): _DONE,
}

#: Where an ErrorResponse leaves a request of each simple-protocol phase.  Extended-protocol
#: phases not listed here drop every request up to their batch's Sync instead.
ERROR_TRANSITIONS: Final[dict[Phase, Phase]] = {
    P.QUERY: P.QUERY,
    P.QUERY_ROWS: P.QUERY,
    P.QUERY_COPY_IN: P.QUERY,
    P.QUERY_COPY_OUT: P.QUERY,
    P.QUERY_COPY_BOTH: P.QUERY,
    P.QUERY_COPY_END: P.QUERY,
    P.FUNCTION_CALL: P.FUNCTION_CALL_END,
    # A Sync may fail, e.g. when committing the implicit transaction hits a deferred
    # constraint; ReadyForQuery still follows.
    P.SYNC: P.SYNC,
}

#: Phases in which the client is the one sending COPY data.
COPY_IN_PHASES: Final = frozenset(
    {P.EXECUTE_COPY_IN, P.QUERY_COPY_IN, P.EXECUTE_COPY_BOTH, P.QUERY_COPY_BOTH}
)
#: Where the client's CopyDone or CopyFail leaves a request that was sending COPY data.
COPY_END_AFTER_CLIENT: Final = {
    P.EXECUTE_COPY_IN: P.EXECUTE_COPY_END,
    P.QUERY_COPY_IN: P.QUERY_COPY_END,
    P.EXECUTE_COPY_BOTH: P.EXECUTE_COPY_OUT,
    P.QUERY_COPY_BOTH: P.QUERY_COPY_OUT,
}

#: What each request message (but Describe and Flush, see :func:`owed_for`) puts on the queue.
_REQUEST_PHASES: Final[dict[type[FrontendMessage], Phase]] = {
    Parse: P.PARSE,
    Bind: P.BIND,
    Execute: P.EXECUTE,
    Close: P.CLOSE,
    Sync: P.SYNC,
    Query: P.QUERY,
    FunctionCall: P.FUNCTION_CALL,
}


def owed_for(message: FrontendMessage) -> Phase | None:
    """What the server owes for a request once the session is up: the phase it starts in,
    or ``None`` for Flush, which asks for no answer."""
    kind = type(message)
    if isinstance(message, Describe):
        return P.DESCRIBE_STATEMENT if message.kind == "S" else P.DESCRIBE_PORTAL
    if kind is Flush:
        return None
    return _REQUEST_PHASES[kind]


def answer_error(pending: deque[Phase]) -> bool:
    """Apply a (not FATAL) ErrorResponse to the requests in flight, as PostgreSQL does.

    A simple-protocol request moves on as ``ERROR_TRANSITIONS`` says; in the extended
    protocol every request up to the batch's Sync is dropped.  ``True`` when that Sync is
    not on the queue yet: the messages sent up to it are skipped until it comes.
    """
    after = ERROR_TRANSITIONS.get(pending[0])
    if after is not None:
        pending[0] = after
        return False
    while pending and pending[0] is not P.SYNC and pending[0] is not P.SYNC_OWED:
        pending.popleft()
    return not pending


# --------------------------------------------------------------------------------------
# The client's rules
# --------------------------------------------------------------------------------------

#: The requests of a session; their answers are in TRANSITIONS.
REQUEST_MESSAGES: Final = frozenset(
    {Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, FunctionCall}
)
COPY_MESSAGES: Final = frozenset({CopyData, CopyDone, CopyFail})

#: Connection state -> the messages the client may send in it.
CLIENT_SEND_RULES: Final[dict[ConnectionState, frozenset[type[FrontendMessage]]]] = {
    ConnectionState.STARTUP: frozenset({SSLRequest, GSSENCRequest, StartupMessage, CancelRequest}),
    ConnectionState.AWAITING_ENCRYPTION_RESPONSE: frozenset(),
    ConnectionState.AUTHENTICATING: frozenset({Terminate}),
    ConnectionState.AWAITING_READY: frozenset({Terminate}),
    ConnectionState.READY: REQUEST_MESSAGES | COPY_MESSAGES | {Terminate},
    ConnectionState.CANCEL_SENT: frozenset(),
    ConnectionState.TERMINATING: frozenset(),
    ConnectionState.FAILED: frozenset({Terminate}),
    ConnectionState.CLOSED: frozenset(),
}

#: Messages the server may send whenever the session is up, whatever is in flight.
ASYNC_MESSAGES: Final = frozenset({NoticeResponse, NotificationResponse, ParameterStatus})
#: ErrorResponse severities that end the session.
FATAL_SEVERITIES: Final = frozenset({"FATAL", "PANIC"})


# --------------------------------------------------------------------------------------
# The server's rules
# --------------------------------------------------------------------------------------

S = ServerState
_SAME: Final = None

_SESSION_RECEIVE: Final[dict[type[FrontendMessage], ServerState | None]] = {
    **dict.fromkeys(REQUEST_MESSAGES, _SAME),
    **dict.fromkeys(COPY_MESSAGES, _SAME),
    Terminate: S.TERMINATED,
}

#: State -> the client messages legal in it, and the state each leads to (None: the same).
#: Password and SASL messages lead to STARTING_SESSION or FAILED, as the check of the
#: password decides.
SERVER_RECEIVE_RULES: Final[dict[ServerState, dict[type[FrontendMessage], ServerState | None]]] = {
    S.STARTUP: {
        SSLRequest: S.ENCRYPTION_REQUESTED,
        GSSENCRequest: S.ENCRYPTION_REQUESTED,
        StartupMessage: S.AUTHENTICATION_REQUIRED,
        CancelRequest: S.CANCEL_RECEIVED,
    },
    S.ENCRYPTION_REQUESTED: {},
    S.AUTHENTICATION_REQUIRED: {Terminate: S.TERMINATED},
    S.AWAITING_PASSWORD: {PasswordMessage: _SAME, Terminate: S.TERMINATED},
    S.AWAITING_SASL_INITIAL: {SASLInitialResponse: _SAME, Terminate: S.TERMINATED},
    S.AWAITING_SASL_RESPONSE: {SASLResponse: _SAME, Terminate: S.TERMINATED},
    # A client may pipeline requests behind its startup; they are answered after ReadyForQuery.
    S.STARTING_SESSION: _SESSION_RECEIVE,
    S.READY: _SESSION_RECEIVE,
    S.CANCEL_RECEIVED: {},
    S.TERMINATED: {},
    S.FAILED: {},
    S.CLOSED: {},
}

#: How a ``p`` message is read in each state that accepts one.
PASSWORD_KINDS: Final[dict[ServerState, PasswordKind]] = {
    S.AWAITING_PASSWORD: "password",
    S.AWAITING_SASL_INITIAL: "sasl-initial",
    S.AWAITING_SASL_RESPONSE: "sasl",
}

_ANSWERS: Final = frozenset(kind for _, kind in TRANSITIONS)
_AUTH_FAILURE: Final[dict[type[object], ServerState | None]] = {
    ErrorResponse: S.FAILED,
    NoticeResponse: _SAME,
}

#: State -> the server messages the caller may send in it, and the state each leads to.
#: An ErrorResponse before READY must be FATAL; a FATAL one always leads to FAILED.
#: In READY, answers are further checked against TRANSITIONS for the requests in flight.
SERVER_SEND_RULES: Final[dict[ServerState, dict[type[object], ServerState | None]]] = {
    S.STARTUP: {ErrorResponse: S.FAILED},
    S.ENCRYPTION_REQUESTED: {EncryptionResponse: S.STARTUP, ErrorResponse: S.FAILED},
    S.AUTHENTICATION_REQUIRED: _AUTH_FAILURE,
    S.AWAITING_PASSWORD: _AUTH_FAILURE,
    S.AWAITING_SASL_INITIAL: _AUTH_FAILURE,
    S.AWAITING_SASL_RESPONSE: _AUTH_FAILURE,
    S.STARTING_SESSION: {
        ParameterStatus: _SAME,
        BackendKeyData: _SAME,
        NoticeResponse: _SAME,
        ReadyForQuery: S.READY,
        ErrorResponse: S.FAILED,
    },
    S.READY: {
        **dict.fromkeys(_ANSWERS, _SAME),
        **dict.fromkeys(ASYNC_MESSAGES, _SAME),
        ErrorResponse: _SAME,
    },
    S.CANCEL_RECEIVED: {},
    S.TERMINATED: {},
    S.FAILED: {},
    S.CLOSED: {},
}

#: Server states in which the client must not send anything more.
TERMINAL_SERVER_STATES: Final = frozenset({S.CANCEL_RECEIVED, S.TERMINATED, S.FAILED, S.CLOSED})
