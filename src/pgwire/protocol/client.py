"""The client (frontend) side of the PostgreSQL protocol as a sans-IO state machine.

:class:`ClientConnection` never touches a socket, a clock or a random source.  The
caller writes what :meth:`~ClientConnection.send` and :meth:`~ClientConnection.data_to_send`
return, feeds what it reads to :meth:`~ClientConnection.receive_data`, and drains
:meth:`~ClientConnection.next_event` until it returns :data:`NEED_DATA`.

All the rules live in this file, in two tables:

* ``_SEND_RULES`` says which messages the client may send in each connection state;
* ``_TRANSITIONS`` says, for the request at the head of the in-flight queue, which server
  message is legal next and what the request is waiting for after it.

Every request sent (Parse, Bind, Describe, Execute, Close, Sync, Query, FunctionCall) puts
what the server owes for it on a queue, so any number of Sync-delimited batches may be in
flight at once (pipelining).  An ErrorResponse in the extended protocol drops the queue up
to that batch's Sync, exactly as the server skips messages up to it.  Anything not in the
tables raises :class:`~pgwire.errors.ProtocolError` naming the state and the message.

Authentication follows libpq's rules: ``channel_binding`` (SCRAM-SHA-256-PLUS with
tls-server-end-point, from the server certificate the caller hands over with
:meth:`~ClientConnection.tls_established`), ``require_auth`` (see :class:`AuthRequirement`)
and ``min_protocol_version`` are checked against every authentication request the server
makes, before anything is answered.
"""

from __future__ import annotations

import enum
import hashlib
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
from pgwire.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE, ReceiveBuffer, RowParser
from pgwire.protocol.messages import (
    PROTOCOL_3_0,
    PROTOCOL_3_2,
    AuthenticationCleartextPassword,
    AuthenticationGSS,
    AuthenticationGSSContinue,
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
    BindTemplate,
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
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
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
    decode_backend,
)

if TYPE_CHECKING:
    import scramp

__all__ = [
    "NEED_DATA",
    "AuthRequirement",
    "ChannelBinding",
    "ClientConnection",
    "ConnectionClosed",
    "ConnectionState",
    "EncryptionResponse",
    "Event",
    "NeedData",
    "Phase",
    "tls_server_end_point",
]


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "NEED_DATA"


#: Returned by ``next_event()`` when a whole event needs more bytes.
NEED_DATA: Final = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The server closed the connection (``receive_data(b"")``)."""


@dataclass(frozen=True, slots=True)
class EncryptionResponse:
    """The server's one-byte answer to SSLRequest (``S``/``N``) or GSSENCRequest (``G``/``N``).

    After an accepted SSLRequest the caller starts TLS on the stream, then sends the
    StartupMessage.
    """

    kind: Literal["ssl", "gss"]
    accepted: bool


Event = BackendMessage | ConnectionClosed | EncryptionResponse


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


_DONE: Final = None
P = Phase
_BIND_EXECUTE: Final = (P.BIND, P.EXECUTE)
_BIND_COMPLETE_CODE: Final = BindComplete.code[0]
_COMMAND_COMPLETE_CODE: Final = CommandComplete.code[0]
_EXECUTE_BYTES: Final = {rows: Execute("", rows).encode() for rows in (0, 1)}
_SYNC_BYTES: Final = Sync().encode()

#: (request phase, server message) -> the request's next phase, or _DONE when it is answered.
_TRANSITIONS: Final[dict[tuple[Phase, type[BackendMessage]], Phase | None]] = {
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
_ERROR_TRANSITIONS: Final[dict[Phase, Phase]] = {
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
_COPY_IN_PHASES: Final = frozenset(
    {P.EXECUTE_COPY_IN, P.QUERY_COPY_IN, P.EXECUTE_COPY_BOTH, P.QUERY_COPY_BOTH}
)
_COPY_END_AFTER_CLIENT: Final = {
    P.EXECUTE_COPY_IN: P.EXECUTE_COPY_END,
    P.QUERY_COPY_IN: P.QUERY_COPY_END,
    P.EXECUTE_COPY_BOTH: P.EXECUTE_COPY_OUT,
    P.QUERY_COPY_BOTH: P.QUERY_COPY_OUT,
}

#: What each request message puts on the in-flight queue.
_REQUEST_PHASES: Final[dict[type[FrontendMessage], Phase]] = {
    Parse: P.PARSE,
    Bind: P.BIND,
    Execute: P.EXECUTE,
    Close: P.CLOSE,
    Sync: P.SYNC,
    Query: P.QUERY,
    FunctionCall: P.FUNCTION_CALL,
}

_QUERY_MESSAGES: Final = frozenset(
    {Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, FunctionCall, Terminate}
)
_COPY_MESSAGES: Final = frozenset({CopyData, CopyDone, CopyFail})

#: Connection state -> the messages the client may send in it.
_SEND_RULES: Final[dict[ConnectionState, frozenset[type[FrontendMessage]]]] = {
    ConnectionState.STARTUP: frozenset({SSLRequest, GSSENCRequest, StartupMessage, CancelRequest}),
    ConnectionState.AWAITING_ENCRYPTION_RESPONSE: frozenset(),
    ConnectionState.AUTHENTICATING: frozenset({Terminate}),
    ConnectionState.AWAITING_READY: frozenset({Terminate}),
    ConnectionState.READY: _QUERY_MESSAGES | _COPY_MESSAGES,
    ConnectionState.CANCEL_SENT: frozenset(),
    ConnectionState.TERMINATING: frozenset(),
    ConnectionState.FAILED: frozenset({Terminate}),
    ConnectionState.CLOSED: frozenset(),
}

#: Messages the server may send whenever the session is up, whatever is in flight.
_ASYNC_MESSAGES: Final = frozenset({NoticeResponse, NotificationResponse, ParameterStatus})
_UNSUPPORTED_AUTH: Final = {
    AuthenticationKerberosV5: "Kerberos V5",
    AuthenticationGSS: "GSSAPI",
    AuthenticationGSSContinue: "GSSAPI",
    AuthenticationSSPI: "SSPI",
}
_AUTH_REQUESTS: Final = {
    AuthenticationCleartextPassword: "password",
    AuthenticationMD5Password: "md5",
    AuthenticationSASL: "SASL",
}
_FATAL_SEVERITIES: Final = frozenset({"FATAL", "PANIC"})
_DATA_ROW_CODE: Final = ord("D")
_SCRAM: Final = "SCRAM-SHA-256"
_SCRAM_PLUS: Final = "SCRAM-SHA-256-PLUS"

#: libpq's ``channel_binding`` settings.
ChannelBinding = Literal["disable", "prefer", "require"]
_CHANNEL_BINDINGS: Final = get_args(ChannelBinding)

#: Authentication request -> the ``require_auth`` method that allows it, and libpq's words
#: for it when it is refused.
_REQUIRE_AUTH_METHODS: Final[dict[type[BackendMessage], tuple[str, str]]] = {
    AuthenticationCleartextPassword: ("password", "server requested a cleartext password"),
    AuthenticationMD5Password: ("md5", "server requested a hashed password"),
    AuthenticationSASL: ("scram-sha-256", "server requested SASL authentication"),
    AuthenticationGSS: ("gss", "server requested GSSAPI authentication"),
    AuthenticationGSSContinue: ("gss", "server requested GSSAPI authentication"),
    AuthenticationSSPI: ("sspi", "server requested SSPI authentication"),
    AuthenticationKerberosV5: ("kerberos", "server requested Kerberos V5 authentication"),
}
#: The method names ``require_auth`` accepts (libpq 18's list; ``none`` is handled apart).
_REQUIRE_AUTH_NAMES: Final = ("password", "md5", "gss", "sspi", "scram-sha-256", "oauth")


@dataclass(frozen=True, slots=True)
class AuthRequirement:
    """libpq's ``require_auth``: which authentication requests the server may make.

    ``allowed`` holds the method names the server may ask for; ``required`` says whether it
    must ask for one at all (``none`` allows sessions without an authentication exchange,
    such as ``trust`` and ``cert``). Build it with :meth:`parse`.
    """

    text: str
    allowed: frozenset[str]
    required: bool

    @classmethod
    def parse(cls, text: str) -> AuthRequirement:
        """Parse libpq's list form: ``scram-sha-256,none`` allows only those, and
        ``!password,!md5`` allows everything else; the two forms cannot be mixed."""
        allowed: set[str] = set()
        required = True
        negated = False
        for position, item in enumerate(part.strip() for part in text.split(",")):
            method = item
            if item.startswith("!"):
                if position == 0:
                    negated, required, allowed = True, False, set(_REQUIRE_AUTH_NAMES)
                elif not negated:
                    raise InterfaceError(
                        f'negative require_auth method "{item}" cannot be mixed with '
                        "non-negative methods"
                    )
                method = item[1:]
            elif negated:
                raise InterfaceError(
                    f'require_auth method "{item}" cannot be mixed with negative methods'
                )
            if method == "none":
                # "none" allows an exchange-free session; "!none" demands an exchange.
                if required is negated:
                    raise _duplicate_method(method)
                required = negated
                continue
            if method not in _REQUIRE_AUTH_NAMES:
                raise InterfaceError(
                    f'invalid require_auth value: "{method}"; expected a comma-separated list '
                    f"of {', '.join(_REQUIRE_AUTH_NAMES)} and none, optionally each negated by !"
                )
            if (method in allowed) is not negated:
                raise _duplicate_method(method)
            if negated:
                allowed.discard(method)
            else:
                allowed.add(method)
        return cls(text, frozenset(allowed), required)

    def refusal(self, request: type[BackendMessage]) -> str | None:
        """Why ``request`` is not allowed, or ``None`` when it is."""
        method, reason = _REQUIRE_AUTH_METHODS[request]
        if method in self.allowed:
            return None
        return f'authentication method requirement "{self.text}" failed: {reason}'


def _duplicate_method(method: str) -> InterfaceError:
    return InterfaceError(f'require_auth method "{method}" is specified more than once')


def tls_server_end_point(certificate: bytes) -> bytes:
    """The tls-server-end-point channel binding data (RFC 5929) for a DER certificate:
    its hash with the certificate's signature hash, SHA-256 in place of MD5 and SHA-1."""
    # asn1crypto comes with scramp, which reads certificates with it too.
    from asn1crypto.x509 import Certificate  # type: ignore[import-untyped]

    try:
        algorithm = Certificate.load(certificate).hash_algo
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"cannot read the server's TLS certificate: {exc}") from None
    if algorithm in ("md5", "sha1"):
        algorithm = "sha256"
    if algorithm not in hashlib.algorithms_available:
        raise NotSupportedError(
            f"the server certificate's signature algorithm ({algorithm}) has no hash for "
            "tls-server-end-point channel binding; use channel_binding=disable"
        )
    return hashlib.new(algorithm, certificate).digest()


def md5_password(password: bytes, user: bytes, salt: bytes) -> bytes:
    """The PasswordMessage body PostgreSQL's MD5 method expects: ``md5`` + hex digest."""
    inner = hashlib.md5(password + user).hexdigest().encode()
    return b"md5" + hashlib.md5(inner + salt).hexdigest().encode()


class ClientConnection:
    """One client connection's protocol state.

    ``password`` answers the server's password and SCRAM requests; ``nonce_source``
    returns the SCRAM client nonce (printable ASCII, no comma) and is required only when
    the server asks for SCRAM: the core takes no randomness of its own.
    """

    def __init__(
        self,
        *,
        password: str | bytes | None = None,
        nonce_source: Callable[[], str] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        channel_binding: ChannelBinding = "prefer",
        require_auth: AuthRequirement | None = None,
        min_protocol_version: tuple[int, int] = PROTOCOL_3_0,
    ) -> None:
        if channel_binding not in _CHANNEL_BINDINGS:
            raise InterfaceError(
                f"invalid channel_binding {channel_binding!r}; expected one of "
                f"{', '.join(_CHANNEL_BINDINGS)}"
            )
        if not PROTOCOL_3_0 <= min_protocol_version <= PROTOCOL_3_2:
            raise InterfaceError(
                f"invalid min_protocol_version {min_protocol_version}; expected 3.0 to 3.2"
            )
        self._password = password
        self._nonce_source = nonce_source
        self._channel_binding: ChannelBinding = channel_binding
        self._require_auth = require_auth
        self._min_protocol_version = min_protocol_version
        self._tls = False
        self._server_certificate: bytes | None = None
        self._requested_options: frozenset[str] = frozenset()
        self._negotiated = False
        self._auth_finished = False
        self._buffer = ReceiveBuffer(max_message_size)
        self._out = bytearray()
        self._eof = False
        self._closed_reported = False
        self._pending: deque[Phase] = deque()
        self._skip_until_sync = False
        self._copy_in_aborted = False
        self._encryption_kind: Literal["ssl", "gss"] = "ssl"
        self._user = b""
        self._scram: scramp.ScramClient | None = None
        self._scram_done = False
        self.state = ConnectionState.STARTUP
        #: The protocol version asked for in the StartupMessage, lowered by the server's
        #: NegotiateProtocolVersion.
        self.protocol_version = PROTOCOL_3_0
        #: Run-time parameters the server reported (server_version, client_encoding, ...).
        self.parameters: dict[str, str] = {}
        #: What a CancelRequest for this session must quote, once the server sent it.
        self.backend_key: BackendKeyData | None = None
        #: ``I`` idle, ``T`` in a transaction block, ``E`` in a failed one.
        self.transaction_status: Literal["I", "T", "E"] = "I"
        #: Authentication method names used, in order (``password``, ``md5``, ``SCRAM-SHA-256``,
        #: ``SCRAM-SHA-256-PLUS``).
        self.auth_methods: list[str] = []
        #: Whether SCRAM-SHA-256-PLUS bound the session to the TLS channel, proven by the server.
        self.channel_bound = False

    def __repr__(self) -> str:
        return (
            f"<ClientConnection state={self.state.value} in_flight={len(self._pending)} "
            f"transaction_status={self.transaction_status}>"
        )

    @property
    def tls(self) -> bool:
        """Whether the caller reported TLS on the stream (:meth:`tls_established`)."""
        return self._tls

    def tls_established(self, server_certificate: bytes | None) -> None:
        """Record that TLS now protects the stream, before the StartupMessage is sent.

        ``server_certificate`` is the server's certificate in DER form (what
        ``SSLSocket.getpeercert(binary_form=True)`` returns); SCRAM-SHA-256-PLUS binds the
        session to it (tls-server-end-point).
        """
        if self.state is not ConnectionState.STARTUP:
            raise InterfaceError(
                f"TLS can only start before the StartupMessage (state is {self.state.value})"
            )
        self._tls = True
        self._server_certificate = server_certificate

    # ----------------------------------------------------------------------------------
    # Outgoing
    # ----------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """How many requests still await their answers."""
        return len(self._pending)

    @property
    def pending_phases(self) -> tuple[Phase, ...]:
        """What the server still owes, oldest first."""
        return tuple(self._pending)

    @property
    def copy_in_active(self) -> bool:
        """Whether the server waits for COPY data from the client."""
        return bool(self._pending) and self._pending[0] in _COPY_IN_PHASES

    def send(self, *messages: FrontendMessage) -> bytes:
        """Check that each message is legal now, record what it asks of the server, and
        return the bytes to write (all messages coalesced)."""
        # Encode everything first: a message that cannot be encoded (a NUL inside a string)
        # must not leave on the queue a request that the server will never answer.
        encoded = [message.encode() for message in messages]
        pairs = zip(messages, encoded, strict=True)
        return b"".join([self._send_one(message, data) for message, data in pairs])

    def send_binds(
        self,
        template: BindTemplate,
        param_rows: Sequence[tuple[bytes | None, ...]],
        max_rows: int = 0,
        sync: bool = True,
    ) -> bytes:
        """Bind ``template``'s statement to each row of parameters in turn, each followed by
        ``Execute("", max_rows)``, then ``Sync`` if ``sync``: exactly
        ``send(Bind, Execute, ..., Sync)`` with those messages, and the same checks, on a
        shorter path (the driver's per-query hot path)."""
        pending = self._pending
        if (
            self.state is not ConnectionState.READY
            or self._skip_until_sync
            or self._copy_in_aborted
            or (pending and pending[0] in _COPY_IN_PHASES)
        ):
            # Whatever is special now, the general path handles (or refuses) it.
            execute = Execute("", max_rows)
            messages: list[FrontendMessage] = []
            for params in param_rows:
                messages += (template.message(params), execute)
            if sync:
                messages.append(Sync())
            return self.send(*messages)
        execute_bytes = _EXECUTE_BYTES.get(max_rows) or Execute("", max_rows).encode()
        encode = template.encode
        parts = []
        for params in param_rows:
            parts.append(encode(params))
            parts.append(execute_bytes)
        pending.extend(_BIND_EXECUTE * len(param_rows))
        if sync:
            parts.append(_SYNC_BYTES)
            pending.append(P.SYNC)
        return b"".join(parts)

    def _refuse(self, message: FrontendMessage, why: str) -> InterfaceError:
        return InterfaceError(
            f"cannot send {type(message).__name__} in state {self.state.value}: {why}"
        )

    def _send_one(self, message: FrontendMessage, data: bytes) -> bytes:
        kind = type(message)
        state = self.state
        if kind not in _SEND_RULES[state]:
            allowed = ", ".join(sorted(c.__name__ for c in _SEND_RULES[state])) or "nothing"
            raise self._refuse(message, f"allowed now: {allowed}")
        if state is ConnectionState.STARTUP:
            return self._send_startup(message, data)
        if kind is Terminate:
            self.state = ConnectionState.TERMINATING
            return data
        if kind in _COPY_MESSAGES:
            return self._send_copy(message, data)
        if self.copy_in_active:
            raise self._refuse(
                message, "the server is waiting for COPY data; send CopyDone or CopyFail first"
            )
        prefix = b""
        if self._copy_in_aborted:
            # The client moved on without ending the failed COPY: end it for the server.
            self._copy_in_aborted = False
            prefix = self._pay_owed_sync()
        if self._skip_until_sync:
            # The server discards everything up to the Sync after an error.
            if kind is Sync:
                self._skip_until_sync = False
                self._pending.append(P.SYNC)
            elif kind is Query or kind is FunctionCall:
                raise self._refuse(message, "an extended-query batch failed; send Sync first")
            return prefix + data
        if isinstance(message, Describe):
            self._pending.append(P.DESCRIBE_STATEMENT if message.kind == "S" else P.DESCRIBE_PORTAL)
        elif kind is not Flush:
            self._pending.append(_REQUEST_PHASES[kind])
        return prefix + data

    def _send_startup(self, message: FrontendMessage, data: bytes) -> bytes:
        if isinstance(message, StartupMessage):
            user = message.params.get("user")
            if not user:
                raise self._refuse(message, "the startup parameters must include 'user'")
            if message.protocol_version < self._min_protocol_version:
                raise self._refuse(
                    message,
                    f"it asks for protocol {_version(message.protocol_version)}, below "
                    f"min_protocol_version {_version(self._min_protocol_version)}",
                )
            self._user = user.encode()
            self.protocol_version = message.protocol_version
            self._requested_options = frozenset(
                name for name in message.params if name.startswith("_pq_.")
            )
            self.state = ConnectionState.AUTHENTICATING
        elif isinstance(message, CancelRequest):
            self.state = ConnectionState.CANCEL_SENT
        else:
            self._encryption_kind = "ssl" if isinstance(message, SSLRequest) else "gss"
            self.state = ConnectionState.AWAITING_ENCRYPTION_RESPONSE
        return data

    def _send_copy(self, message: FrontendMessage, data: bytes) -> bytes:
        pending = self._pending
        if self._copy_in_aborted:
            # The server already failed the COPY and drops further copy messages; a Sync
            # it swallowed is still owed once the client ends its side.
            if not isinstance(message, CopyData):
                self._copy_in_aborted = False
                return data + self._pay_owed_sync()
            return data
        if not pending or pending[0] not in _COPY_IN_PHASES:
            raise self._refuse(message, "no COPY FROM STDIN is in progress")
        if isinstance(message, CopyData):
            return data
        phase = pending[0]
        if phase in _COPY_END_AFTER_CLIENT:
            pending[0] = _COPY_END_AFTER_CLIENT[phase]
        return data + self._pay_owed_sync()

    def _pay_owed_sync(self) -> bytes:
        for index, phase in enumerate(self._pending):
            if phase is P.SYNC_OWED:
                self._pending[index] = P.SYNC
                return Sync().encode()
        return b""

    def data_to_send(self) -> bytes:
        """Bytes the core produced by itself (authentication replies); write them out."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def cancel_request(self) -> CancelRequest:
        """The CancelRequest to send on a new connection to cancel this session's query."""
        if self.backend_key is None:
            raise InterfaceError(
                "the server sent no BackendKeyData; this session cannot be cancelled"
            )
        return CancelRequest(self.backend_key.process_id, self.backend_key.secret_key)

    # ----------------------------------------------------------------------------------
    # Incoming
    # ----------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the server; ``b""`` means the server closed the stream."""
        if not data:
            self._eof = True
        else:
            if self._eof:
                raise InterfaceError("received data after the end of the stream")
            self._buffer.feed(data)

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA` when more bytes are needed."""
        try:
            return self._next_event()
        except ProtocolError:
            self.state = ConnectionState.FAILED
            self._pending.clear()
            raise

    def _next_event(self) -> Event | NeedData:
        if self.state is ConnectionState.AWAITING_ENCRYPTION_RESPONSE:
            return self._encryption_response()
        frame = self._buffer.next_message()
        if frame is None:
            return self._end_of_data()
        code, payload = frame
        pending = self._pending
        if code == _DATA_ROW_CODE and pending:
            head = pending[0]
            # Identity tests: hashing an enum member runs Python code.
            if head is P.EXECUTE or head is P.QUERY_ROWS:
                return DataRow.decode(payload)
        message = decode_backend(code, payload)
        kind = type(message)
        state = self.state
        if state is ConnectionState.READY or state is ConnectionState.TERMINATING:
            return self._ready_event(message, kind)
        if state is ConnectionState.AUTHENTICATING:
            return self._auth_event(message)
        if state is ConnectionState.AWAITING_READY:
            return self._awaiting_ready_event(message)
        if kind is ErrorResponse or kind is NoticeResponse:
            # A FAILED connection may still carry the server's last words.
            return message
        raise self._unexpected(message)

    def next_data_rows(self) -> list[tuple[bytes | None, ...]]:
        """The values of every whole DataRow now at the front of the input, when the
        request in flight is reading rows; an empty list otherwise (``next_event()`` then
        gives what comes next).

        The same rows ``next_event()`` would return as DataRow events, without building an
        event per row: the fast path of drivers reading large results.
        """
        pending = self._pending
        if not pending:
            return []
        head = pending[0]
        if head is not P.EXECUTE and head is not P.QUERY_ROWS:
            return []
        try:
            return self._buffer.take_data_rows()
        except ProtocolError:
            self.state = ConnectionState.FAILED
            self._pending.clear()
            raise

    def next_rows(self, parse: RowParser) -> list[Any] | None:
        """Like :meth:`next_data_rows`, but the rows are made by ``parse`` (see
        :data:`pgwire.protocol.framing.RowParser`) straight from the buffered bytes: the
        DataRows it declines are left for :meth:`next_data_rows` and :meth:`next_event`.

        ``None`` when no DataRow is next, or none is due (then :meth:`next_data_rows`
        would give nothing either); ``[]`` when one is, but ``parse`` took none.
        """
        pending = self._pending
        if not pending:
            return None
        head = pending[0]
        if head is not P.EXECUTE and head is not P.QUERY_ROWS:
            return None
        try:
            return self._buffer.take_rows(parse)
        except ProtocolError:
            self.state = ConnectionState.FAILED
            pending.clear()
            raise

    def next_completions(self) -> list[str]:
        """Consume the BindComplete and CommandComplete messages at the front of the input
        that answer the Bind and Execute requests in flight, and return the command tags,
        in order: the events ``next_event()`` would give, without an event each (the fast
        path of ``executemany`` and of single queries).  Stops at anything else, which
        ``next_event()`` then gives."""
        pending = self._pending
        tags: list[str] = []
        if self.state is not ConnectionState.READY:
            return tags
        buffer = self._buffer
        try:
            while pending:
                head = pending[0]
                if head is P.BIND:
                    payload = buffer.next_message_of(_BIND_COMPLETE_CODE)
                    if payload is None:
                        break
                    BindComplete.decode(payload)
                elif head is P.EXECUTE:
                    payload = buffer.next_message_of(_COMMAND_COMPLETE_CODE)
                    if payload is None:
                        break
                    tags.append(CommandComplete.decode(payload).tag)
                else:
                    break
                pending.popleft()
        except ProtocolError:
            self.state = ConnectionState.FAILED
            pending.clear()
            raise
        return tags

    def _end_of_data(self) -> NeedData | ConnectionClosed:
        if not self._eof:
            return NEED_DATA
        if len(self._buffer):
            self.state = ConnectionState.FAILED
            raise ProtocolError(
                f"the server closed the connection in the middle of a message "
                f"({len(self._buffer)} bytes of it arrived)"
            )
        if self._closed_reported:
            raise InterfaceError("the connection is closed; no more events will come")
        self._closed_reported = True
        self.state = ConnectionState.CLOSED
        return ConnectionClosed()

    def _unexpected(self, message: BackendMessage) -> ProtocolError:
        waiting = self._pending[0].value if self._pending else "nothing"
        return ProtocolError(
            f"unexpected {type(message).__name__} from the server in state {self.state.value} "
            f"(waiting for the answer to: {waiting})"
        )

    def _encryption_response(self) -> Event | NeedData:
        byte = self._buffer.next_byte()
        if byte is None:
            return self._end_of_data()
        kind = self._encryption_kind
        if byte == 0x45:  # 'E': a server too old for the request answers with an error.
            self._buffer = _prepend(self._buffer, b"E")
            self.state = ConnectionState.AUTHENTICATING
            return self._next_event()
        accepted = byte == (0x53 if kind == "ssl" else 0x47)
        if not accepted and byte != 0x4E:
            raise ProtocolError(
                f"invalid answer {bytes([byte])!r} to the {kind.upper()} request "
                "(expected 'S', 'G' or 'N')"
            )
        if accepted and len(self._buffer):
            # CVE-2021-23222: bytes after 'S' would be trusted as if they came over TLS.
            raise ProtocolError(
                f"the server sent {len(self._buffer)} unencrypted bytes after accepting "
                "encryption; refusing them (possible man-in-the-middle)"
            )
        self.state = ConnectionState.STARTUP
        return EncryptionResponse(kind, accepted)

    def _auth_event(self, message: BackendMessage) -> Event:
        kind = type(message)
        if kind is ErrorResponse:
            self.state = ConnectionState.FAILED
            return message
        if kind is NoticeResponse:
            return message
        if isinstance(message, NegotiateProtocolVersion):
            return self._negotiate(message)
        if kind is AuthenticationOk:
            if self._scram is not None and not self._scram_done:
                self.state = ConnectionState.FAILED
                raise ProtocolError(
                    "the server ended SCRAM authentication without proving it knows the "
                    "password (AuthenticationOk before AuthenticationSASLFinal); refusing"
                )
            self._check_authentication_ok()
            self.state = ConnectionState.AWAITING_READY
            return message
        if kind in _AUTH_REQUESTS and self.auth_methods:
            # PostgreSQL runs one method per connection; a second request is a downgrade
            # attempt (e.g. asking for the cleartext password in the middle of SCRAM).
            self.state = ConnectionState.FAILED
            raise ProtocolError(
                f"the server asked for {_AUTH_REQUESTS[kind]} authentication after "
                f"{self.auth_methods[-1]} had started; refusing (possible man-in-the-middle)"
            )
        if kind in _REQUIRE_AUTH_METHODS:
            self._check_auth_request(kind)
        if kind is AuthenticationCleartextPassword:
            self._out += PasswordMessage(self._require_password("password")).encode()
            self.auth_methods.append("password")
            self._auth_finished = True
            return message
        if isinstance(message, AuthenticationMD5Password):
            digest = md5_password(self._require_password("md5"), self._user, message.salt)
            self._out += PasswordMessage(digest).encode()
            self.auth_methods.append("md5")
            self._auth_finished = True
            return message
        if isinstance(message, AuthenticationSASL):
            return self._sasl_start(message)
        if isinstance(message, AuthenticationSASLContinue):
            return self._sasl_continue(message)
        if isinstance(message, AuthenticationSASLFinal):
            return self._sasl_final(message)
        if kind in _UNSUPPORTED_AUTH:
            self.state = ConnectionState.FAILED
            raise NotSupportedError(
                f"the server asks for {_UNSUPPORTED_AUTH[kind]} authentication, which pgwire "
                "does not support; use scram-sha-256, md5, password or cert authentication "
                "for this user in pg_hba.conf"
            )
        raise self._unexpected(message)

    def _fail(self, error: Exception) -> Exception:
        self.state = ConnectionState.FAILED
        return error

    def _check_auth_request(self, kind: type[BackendMessage]) -> None:
        """libpq's check_expected_areq: refuse a request before answering it."""
        if self._require_auth is not None:
            refusal = self._require_auth.refusal(kind)
            if refusal is not None:
                raise self._fail(OperationalError(refusal))
        if self._channel_binding == "require" and kind is not AuthenticationSASL:
            # Answering would hand the password (or its hash) to a server not yet proven.
            raise self._fail(
                OperationalError(
                    "channel binding required, but the server asked for "
                    f"{_REQUIRE_AUTH_METHODS[kind][0]} authentication, which cannot bind; "
                    "refusing"
                )
            )

    def _check_authentication_ok(self) -> None:
        requirement = self._require_auth
        if requirement is not None and requirement.required and not self._auth_finished:
            raise self._fail(
                OperationalError(
                    f'authentication method requirement "{requirement.text}" failed: '
                    "server did not complete authentication"
                )
            )
        if self._channel_binding == "require" and not self.channel_bound:
            raise self._fail(
                OperationalError(
                    "channel binding required, but the server authenticated the client "
                    "without channel binding"
                )
            )

    def _negotiate(self, message: NegotiateProtocolVersion) -> Event:
        major, minor = self.protocol_version
        offered = message.newest_minor_version
        # The documentation calls the field a minor version, but PostgreSQL sends (and libpq
        # reads) the whole version code, major << 16 | minor: accept both spellings.
        offered_major, newest = divmod(offered, 0x10000) if offered > 0xFFFF else (major, offered)
        if self._negotiated or self.auth_methods:
            raise ProtocolError("NegotiateProtocolVersion arrived after the negotiation ended")
        if offered_major != major or not 0 <= newest <= minor:
            raise ProtocolError(
                f"NegotiateProtocolVersion offers {offered_major}.{newest} in answer to "
                f"a request for {major}.{minor}"
            )
        if newest == minor and not message.unrecognized_options:
            raise ProtocolError("NegotiateProtocolVersion negotiated but asks for no change")
        for option in message.unrecognized_options:
            if option not in self._requested_options:
                raise ProtocolError(
                    f"NegotiateProtocolVersion reports the option {option!r}, which the "
                    "client did not send"
                )
        self._negotiated = True
        if (major, newest) < self._min_protocol_version:
            raise self._fail(
                OperationalError(
                    f"the server supports protocol version {major}.{newest} at most, but "
                    f"min_protocol_version is {_version(self._min_protocol_version)}"
                )
            )
        self.protocol_version = (major, newest)
        return message

    def _require_password(self, method: str) -> bytes:
        password = self._password
        if password is None:
            self.state = ConnectionState.FAILED
            raise OperationalError(
                f"the server requested {method} authentication but no password was supplied"
            )
        return password.encode() if isinstance(password, str) else password

    def _choose_mechanism(self, offered: tuple[str, ...]) -> tuple[str, bytes | None]:
        """libpq's choice: SCRAM-SHA-256-PLUS when TLS is up and binding is not disabled,
        else SCRAM-SHA-256; with the channel binding data to send (``None``: flag ``n``)."""
        can_bind = self._tls and self._server_certificate is not None
        binding = self._channel_binding
        if can_bind and binding != "disable":
            assert self._server_certificate is not None
            data = tls_server_end_point(self._server_certificate)
            if _SCRAM_PLUS in offered:
                return _SCRAM_PLUS, data
        else:
            data = None
        if binding == "require":
            if not self._tls:
                raise self._fail(
                    OperationalError(
                        "channel binding is required, but TLS is not in use; connect with "
                        "sslmode=require or stronger"
                    )
                )
            raise self._fail(
                OperationalError(
                    "channel binding is required, but the server did not offer "
                    f"{_SCRAM_PLUS} (it offers {', '.join(offered) or 'nothing'})"
                )
            )
        if _SCRAM not in offered:
            offered_text = ", ".join(offered) or "none"
            raise self._fail(
                NotSupportedError(
                    f"the server offers SASL mechanisms {offered_text}; pgwire supports "
                    f"{_SCRAM} and, over TLS, {_SCRAM_PLUS}"
                )
            )
        # With binding data but plain SCRAM the client sends flag "y" (it could bind, the
        # server did not offer to): a server that does support binding then sees a downgrade.
        return _SCRAM, data

    def _sasl_start(self, message: AuthenticationSASL) -> Event:
        import scramp  # only sessions that use SCRAM pay for the import

        mechanism, binding_data = self._choose_mechanism(message.mechanisms)
        if self._nonce_source is None:
            self.state = ConnectionState.FAILED
            raise InterfaceError(
                "SCRAM authentication needs a nonce: pass nonce_source= to ClientConnection"
            )
        password = self._require_password(_SCRAM)
        # PostgreSQL ignores the SCRAM username (the startup packet's user counts) and libpq
        # sends an empty one, which scramp refuses: any fixed name will do.
        binding = None if binding_data is None else ("tls-server-end-point", binding_data)
        try:
            text = password.decode("utf-8")
            client = scramp.ScramClient(
                [mechanism],
                "*",
                text,
                channel_binding=binding,
                c_nonce=self._nonce_source(),
            )
            if sys.version_info < (3, 11):
                # scramp 1.4 (all that Python 3.10 can install) applies SASLprep only on the
                # server-first message, and the error would blame the server; 1.5 did it above.
                scramp.core.saslprep(text)
        except UnicodeDecodeError:
            # The exception's text would quote bytes of the password.
            self.state = ConnectionState.FAILED
            raise InterfaceError("a password given as bytes must be UTF-8 for SCRAM") from None
        except scramp.ScramException as exc:
            # e.g. a nonce with a comma, or a password that SASLprep forbids.
            self.state = ConnectionState.FAILED
            raise InterfaceError(f"cannot start SCRAM authentication: {exc}") from None
        self._scram = client
        first = client.get_client_first()
        self._out += SASLInitialResponse(mechanism, first.encode()).encode()
        self.auth_methods.append(mechanism)
        return message

    def _scram_client(self, message: BackendMessage) -> scramp.ScramClient:
        if self._scram is None or self._scram_done:
            raise self._unexpected(message)
        return self._scram

    def _sasl_continue(self, message: AuthenticationSASLContinue) -> Event:
        import scramp

        client = self._scram_client(message)
        try:
            client.set_server_first(message.data.decode("utf-8"))
            final = client.get_client_final()
        except (scramp.ScramException, UnicodeDecodeError) as exc:
            self.state = ConnectionState.FAILED
            raise ProtocolError(f"invalid SCRAM server-first message: {exc}") from None
        self._out += SASLResponse(final.encode()).encode()
        return message

    def _sasl_final(self, message: AuthenticationSASLFinal) -> Event:
        import scramp

        client = self._scram_client(message)
        try:
            client.set_server_final(message.data.decode("utf-8"))
        except (scramp.ScramException, UnicodeDecodeError):
            self.state = ConnectionState.FAILED
            raise OperationalError(
                "the server's SCRAM signature is wrong: it does not know the password; "
                "refusing the connection (possible man-in-the-middle)"
            ) from None
        self._scram_done = True
        self._auth_finished = True
        self.channel_bound = self.auth_methods[-1] == _SCRAM_PLUS
        return message

    def _awaiting_ready_event(self, message: BackendMessage) -> Event:
        if isinstance(message, ReadyForQuery):
            self.state = ConnectionState.READY
            self.transaction_status = message.status
        elif isinstance(message, BackendKeyData):
            if self.protocol_version == PROTOCOL_3_0 and len(message.secret_key) != 4:
                raise ProtocolError(
                    f"BackendKeyData with a {len(message.secret_key)}-byte secret key, which "
                    "protocol 3.0 does not allow (4 bytes)"
                )
            self.backend_key = message
        elif isinstance(message, ParameterStatus):
            self.parameters[message.name] = message.value
        elif isinstance(message, ErrorResponse):
            self.state = ConnectionState.FAILED
        elif not isinstance(message, NoticeResponse):
            raise self._unexpected(message)
        return message

    def _ready_event(self, message: BackendMessage, kind: type[BackendMessage]) -> Event:
        if kind in _ASYNC_MESSAGES:
            if isinstance(message, ParameterStatus):
                self.parameters[message.name] = message.value
            return message
        pending = self._pending
        if isinstance(message, ErrorResponse):
            return self._error_event(message)
        if not pending:
            raise self._unexpected(message)
        phase = pending[0]
        try:
            after = _TRANSITIONS[phase, kind]
        except KeyError:
            raise self._unexpected(message) from None
        if after is None:
            pending.popleft()
            if isinstance(message, ReadyForQuery):
                self.transaction_status = message.status
        else:
            pending[0] = after
            if kind is CopyInResponse and len(pending) > 1 and pending[1] is P.SYNC:
                # The server ignores a Sync that it reads during COPY FROM STDIN; it is
                # sent again when the client ends the COPY.
                pending[1] = P.SYNC_OWED
        return message

    def _error_event(self, message: ErrorResponse) -> Event:
        if message.severity in _FATAL_SEVERITIES:
            self.state = ConnectionState.FAILED
            self._pending.clear()
            return message
        pending = self._pending
        if not pending:
            raise self._unexpected(message)
        phase = pending[0]
        if phase in _COPY_IN_PHASES:
            self._copy_in_aborted = True
        after = _ERROR_TRANSITIONS.get(phase)
        if after is not None:
            pending[0] = after
            return message
        # Extended protocol: the server skips every message up to the batch's Sync.
        while pending and pending[0] is not P.SYNC and pending[0] is not P.SYNC_OWED:
            pending.popleft()
        if not pending:
            self._skip_until_sync = True
        return message


def _version(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _prepend(buffer: ReceiveBuffer, data: bytes) -> ReceiveBuffer:
    fresh = ReceiveBuffer(buffer.max_message_size)
    fresh.feed(data + buffer.take_all())
    return fresh
