"""The server (backend) side of the PostgreSQL protocol as a sans-IO state machine.

:class:`ServerConnection` is the mirror of :class:`~pgwire.protocol.client.ClientConnection`:
the caller feeds what it reads from a client to :meth:`~ServerConnection.receive_data`, drains
:meth:`~ServerConnection.next_event` until it returns :data:`NEED_DATA`, and writes what
:meth:`~ServerConnection.send` returns.  It never touches a socket, a clock or a random
source: MD5 salts, SCRAM salts and nonces, and TLS channel-binding data are handed in.

The rules are in ``conversation.py``: which client messages are legal in each state and the
state each leads to (``SERVER_RECEIVE_RULES``), which server messages the caller may send
(``SERVER_SEND_RULES``), and, once the session is up, the answers each request is owed
(``TRANSITIONS``, the table the client role reads too, so the two roles cannot disagree).
The password and SCRAM checks are in ``auth.py``.

After an ErrorResponse in the extended protocol the server role drops what it owes up to the
batch's Sync and discards the client's messages until that Sync arrives, as PostgreSQL does.
Illegal or malformed client input raises :class:`~pgwire.errors.ProtocolError` naming the
state and the message; illegal sends by the caller raise :class:`~pgwire.errors.InterfaceError`.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol.auth import (
    MAX_PASSWORD_MESSAGE,
    MAX_SASL_MESSAGE,
    SCRAM,
    AuthMethod,
    MD5Auth,
    PasswordAuth,
    ScramAuth,
    ScramSecret,
    ServerScram,
    TrustAuth,
    password_matches,
    sasl_mechanisms,
)
from pgwire.protocol.conversation import (
    ASYNC_MESSAGES,
    COPY_END_AFTER_CLIENT,
    COPY_IN_PHASES,
    COPY_MESSAGES,
    FATAL_SEVERITIES,
    PASSWORD_KINDS,
    SERVER_RECEIVE_RULES,
    SERVER_SEND_RULES,
    TERMINAL_SERVER_STATES,
    TRANSITIONS,
    ConnectionClosed,
    EncryptionResponse,
    NeedData,
    Phase,
    ServerState,
    answer_error,
    owed_for,
)
from pgwire.protocol.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    LONG_CLIENT_MESSAGES,
    SERVER_SMALL_MESSAGE_LIMIT,
)
from pgwire.protocol.messages import (
    PROTOCOL_3_0,
    PROTOCOL_3_2,
    AuthenticationCleartextPassword,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    BackendMessage,
    CopyDone,
    CopyFail,
    ErrorResponse,
    Flush,
    FrontendMessage,
    GSSENCRequest,
    NegotiateProtocolVersion,
    ParameterStatus,
    PasswordMessage,
    ReadyForQuery,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
    decode_frontend,
    decode_startup,
)
from pgwire.protocol.peer import Peer

# The authentication methods moved to auth.py and the states to conversation.py; they stay
# importable from here.
__all__ = [
    "MAX_STARTUP_PACKET",
    "AuthMethod",
    "Authenticated",
    "AuthenticationFailed",
    "DirectTLSHandshake",
    "MD5Auth",
    "PasswordAuth",
    "ScramAuth",
    "ScramSecret",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
    "TrustAuth",
]

#: PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH).
MAX_STARTUP_PACKET = 10000
#: The first byte of a TLS record carrying a handshake: a client that starts with TLS.
_TLS_HANDSHAKE = 0x16
S = ServerState


# --------------------------------------------------------------------------------------
# Events (besides the decoded client messages themselves)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectTLSHandshake:
    """The client opened with a TLS ClientHello (``sslnegotiation=direct``, PostgreSQL 17+).

    Start TLS as the server (ALPN ``postgresql``), feeding the TLS layer ``data`` first:
    those are the bytes already received.  Then feed the decrypted bytes to this connection,
    which now expects a StartupMessage.
    """

    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The client proved who it is; AuthenticationOk is queued in ``data_to_send()``.

    Send ParameterStatus messages, BackendKeyData and ReadyForQuery next.
    """

    user: str
    method: str


@dataclass(frozen=True, slots=True)
class AuthenticationFailed:
    """The client's password or proof was wrong; a FATAL ErrorResponse (28P01) is queued.

    Write ``data_to_send()`` and close the connection.
    """

    user: str
    method: str
    reason: str


ServerEvent = (
    FrontendMessage | ConnectionClosed | DirectTLSHandshake | Authenticated | AuthenticationFailed
)


class ServerConnection(Peer[ServerState, ServerEvent]):
    """One server-side connection's protocol state.

    ``max_protocol_minor`` is the newest minor version of protocol 3 this server speaks
    (2 for 3.2, as PostgreSQL 18; 0 for 3.0 only).  A client asking for more, or for
    ``_pq_.`` options (none are known), gets a NegotiateProtocolVersion before the
    authentication request.

    The limits are PostgreSQL's: a startup packet may be :data:`MAX_STARTUP_PACKET` bytes;
    until the client is authenticated any message :data:`~.auth.MAX_PASSWORD_MESSAGE`, and
    a SASL message :data:`~.auth.MAX_SASL_MESSAGE` (a password or SASL message over it fails
    the authentication at once, FATAL 28P01); once it is, ``max_message_size`` for Query,
    FunctionCall, Bind, Parse and CopyData, and ``small_message_limit`` for the rest.
    """

    _OTHER_END = "client"
    _FAILED = ServerState.FAILED

    def __init__(
        self,
        *,
        max_protocol_minor: int = PROTOCOL_3_2[1],
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        small_message_limit: int = SERVER_SMALL_MESSAGE_LIMIT,
    ) -> None:
        # Until the client is authenticated, nothing it sends may be long.
        super().__init__(
            ServerState.STARTUP,
            min(max_message_size, MAX_PASSWORD_MESSAGE),
            small_message_limit,
            LONG_CLIENT_MESSAGES,
        )
        #: The most a message may declare once the client is authenticated.
        self.max_message_size = max_message_size
        self._max_minor = max_protocol_minor
        self._events: deque[ServerEvent] = deque()
        self._encryption_kind: Literal["ssl", "gss"] = "ssl"
        self._encrypted = False
        self._auth: AuthMethod | None = None
        self._scram: ServerScram | None = None
        self._scram_mechanisms: tuple[str, ...] = ()
        #: The protocol version in use: the client's, lowered to what this server speaks.
        self.protocol_version = PROTOCOL_3_0
        #: The client's startup parameters (user, database, application_name, ...).
        self.startup_params: Mapping[str, str] = {}
        #: Run-time parameters reported to the client with ParameterStatus.
        self.parameters: dict[str, str] = {}
        #: ``I`` idle, ``T`` in a transaction block, ``E`` in a failed one (as last sent).
        self.transaction_status: Literal["I", "T", "E"] = "I"
        #: Client messages dropped: after an error until Sync, or Sync/Flush during COPY.
        self.discarded = 0

    def __repr__(self) -> str:
        return (
            f"<ServerConnection state={self.state.value} owed={len(self._pending)} "
            f"transaction_status={self.transaction_status}>"
        )

    @property
    def user(self) -> str:
        """The user name from the StartupMessage (empty before it)."""
        return self.startup_params.get("user", "")

    @property
    def database(self) -> str:
        """The database asked for; PostgreSQL's default is the user name."""
        return self.startup_params.get("database") or self.user

    @property
    def owed(self) -> tuple[Phase, ...]:
        """What the server still owes the client, oldest first."""
        return tuple(self._pending)

    # ----------------------------------------------------------------------------------
    # Outgoing
    # ----------------------------------------------------------------------------------

    def send(self, *messages: BackendMessage | EncryptionResponse) -> bytes:
        """Check that each message is legal now and return the bytes to write.

        Bytes the core queued by itself (see :meth:`data_to_send`) come first, so the
        result is always in the right order.  An :class:`EncryptionResponse` is the one-byte
        answer to SSLRequest (``S``/``N``) or GSSENCRequest (``G``/``N``).
        """
        encoded = [_encode(message) for message in messages]
        parts = [self.data_to_send()]
        parts += [self._send_one(m, data) for m, data in zip(messages, encoded, strict=True)]
        return b"".join(parts)

    def _send_one(self, message: BackendMessage | EncryptionResponse, data: bytes) -> bytes:
        kind = type(message)
        rules = SERVER_SEND_RULES[self.state]
        if kind not in rules:
            allowed = ", ".join(sorted(c.__name__ for c in rules)) or "nothing"
            raise self._refuse(message, f"allowed now: {allowed}")
        after = rules[kind]
        if isinstance(message, ErrorResponse):
            if message.severity in FATAL_SEVERITIES:
                self._fail(message)
                return data
            if self.state is not S.READY:
                raise self._refuse(message, "an error before the session is up must be FATAL")
            return self._send_error(message, data)
        if isinstance(message, EncryptionResponse):
            return self._send_encryption_response(message, data)
        if isinstance(message, BackendKeyData):
            self._check_cancel_key(message)
        if isinstance(message, ParameterStatus):
            self.parameters[message.name] = message.value
        if self.state is S.READY and kind not in ASYNC_MESSAGES:
            assert isinstance(message, BackendMessage)
            self._answer(message, type(message))
        elif isinstance(message, ReadyForQuery):
            self.transaction_status = message.status
        if after is not None:
            self.state = after
        return data

    def _send_encryption_response(self, message: EncryptionResponse, data: bytes) -> bytes:
        if message.kind != self._encryption_kind:
            raise self._refuse(
                message, f"the client asked for {self._encryption_kind.upper()} encryption"
            )
        if message.accepted:
            self._encrypted = True
        self.state = S.STARTUP
        return data

    def _check_cancel_key(self, message: BackendKeyData) -> None:
        size = len(message.secret_key)
        if self.protocol_version == PROTOCOL_3_0 and size != 4:
            raise self._refuse(message, f"protocol 3.0 cancel keys are 4 bytes, not {size}")
        if not 4 <= size <= 256:
            raise self._refuse(message, f"cancel keys are 4 to 256 bytes, not {size}")

    def _answer(self, message: BackendMessage, kind: type[BackendMessage]) -> None:
        pending = self._pending
        if not pending:
            raise self._refuse(message, "the client has no request waiting for an answer")
        phase = pending[0]
        try:
            after = TRANSITIONS[phase, kind]
        except KeyError:
            raise self._refuse(
                message, f"the client waits for the answer to: {phase.value}"
            ) from None
        if after is None:
            pending.popleft()
            if isinstance(message, ReadyForQuery):
                self.transaction_status = message.status
        else:
            pending[0] = after

    def _send_error(self, message: ErrorResponse, data: bytes) -> bytes:
        pending = self._pending
        if not pending:
            raise self._refuse(message, "the client has no request waiting for an answer")
        if pending[0] in COPY_IN_PHASES:
            # The client's CopyData, CopyDone and CopyFail that are still coming are dropped.
            self._copy_in_aborted = True
        # Extended protocol: nothing more is owed up to the batch's Sync, and the client's
        # messages up to that Sync are discarded.
        if answer_error(pending):
            self._skip_until_sync = True
        return data

    # ----------------------------------------------------------------------------------
    # Authentication
    # ----------------------------------------------------------------------------------

    def authenticate(self, method: AuthMethod) -> bytes:
        """Start authenticating the client that sent its StartupMessage; return the bytes.

        With :class:`TrustAuth` the :class:`Authenticated` event comes at once.  Otherwise
        the core reads the client's answers, checks them, and queues the next step in
        ``data_to_send()``; it reports :class:`Authenticated` or
        :class:`AuthenticationFailed` as an event.
        """
        if self.state is not S.AUTHENTICATION_REQUIRED:
            raise InterfaceError(
                f"cannot authenticate in state {self.state.value}: the client's StartupMessage "
                "must have arrived, and authentication can start only once"
            )
        self._auth = method
        if isinstance(method, TrustAuth):
            self._succeed("trust")
            return self.data_to_send()
        request: BackendMessage
        if isinstance(method, PasswordAuth):
            request = AuthenticationCleartextPassword()
            self.state = S.AWAITING_PASSWORD
        elif isinstance(method, MD5Auth):
            request = AuthenticationMD5Password(method.salt)
            self.state = S.AWAITING_PASSWORD
        else:
            self._scram_mechanisms = sasl_mechanisms(method)
            request = AuthenticationSASL(self._scram_mechanisms)
            self.state = S.AWAITING_SASL_INITIAL
            self._buffer.max_message_size = min(self.max_message_size, MAX_SASL_MESSAGE)
        return self.data_to_send() + request.encode()

    def _succeed(self, method: str) -> None:
        self._out += AuthenticationOk().encode()
        self.state = S.STARTING_SESSION
        self._buffer.max_message_size = self.max_message_size
        self._events.append(Authenticated(self.user, method))

    def _method_name(self) -> str:
        """The name of the authentication method under way, for AuthenticationFailed."""
        if self._scram is not None:
            return self._scram.mechanism
        if self._scram_mechanisms:
            return SCRAM
        return "md5" if isinstance(self._auth, MD5Auth) else "password"

    def _oversized(self, length: int) -> ServerEvent:
        """Fail the authentication for a message declaring ``length`` bytes, over the limit,
        as PostgreSQL does (FATAL 28P01), before its body is read."""
        limit = self._buffer.max_message_size
        # The body is never read: the connection ends with the FATAL error.
        self._buffer.take_all()
        self._reject(
            self._method_name(),
            f"the client's authentication message declares {length} bytes, over the limit "
            f"of {limit} bytes",
        )
        return self._events.popleft()

    def _reject(self, method: str, reason: str) -> None:
        error = ErrorResponse(
            {
                "S": "FATAL",
                "V": "FATAL",
                "C": "28P01",
                "M": f'password authentication failed for user "{self.user}"',
            }
        )
        self._out += error.encode()
        self._events.append(self._fail(AuthenticationFailed(self.user, method, reason)))

    def _check_password(self, message: PasswordMessage) -> None:
        auth = self._auth
        assert isinstance(auth, (PasswordAuth, MD5Auth))
        method = "password" if isinstance(auth, PasswordAuth) else "md5"
        if password_matches(auth, self.user, message.password):
            self._succeed(method)
        else:
            self._reject(method, "wrong password")

    def _sasl_initial(self, message: SASLInitialResponse) -> None:
        auth = self._auth
        assert isinstance(auth, ScramAuth)
        if message.mechanism not in self._scram_mechanisms:
            # Not quoted: a client that sends its password here would see it in a log.
            raise ProtocolError(
                "the client chose a SASL mechanism the server did not offer; it offered "
                f"{', '.join(self._scram_mechanisms)}"
            )
        if message.data is None:
            raise ProtocolError("the SASLInitialResponse carries no SCRAM client-first message")
        try:
            self._scram = ServerScram(auth, message.mechanism, message.data)
        except ValueError as exc:
            self._reject(message.mechanism, str(exc))
            return
        self._out += AuthenticationSASLContinue(self._scram.server_first.encode()).encode()
        self.state = S.AWAITING_SASL_RESPONSE

    def _sasl_response(self, message: SASLResponse) -> None:
        exchange = self._scram
        assert exchange is not None
        try:
            final = exchange.verify(message.data)
        except (ValueError, binascii.Error) as exc:
            self._reject(exchange.mechanism, str(exc))
            return
        self._out += AuthenticationSASLFinal(final.encode()).encode()
        self._succeed(exchange.mechanism)

    # ----------------------------------------------------------------------------------
    # Incoming
    # ----------------------------------------------------------------------------------

    def _next_event(self) -> ServerEvent | NeedData:
        if self._events:
            return self._events.popleft()
        while True:
            state = self.state
            if state is S.STARTUP:
                return self._startup_event()
            if not len(self._buffer):
                return self._end_of_data()
            if state in TERMINAL_SERVER_STATES or state is S.ENCRYPTION_REQUESTED:
                raise ProtocolError(
                    f"the client sent {len(self._buffer)} bytes in state {state.value}, "
                    "where it must wait"
                )
            if state in PASSWORD_KINDS:
                header = self._buffer.peek_header()
                if header is not None and header[1] > self._buffer.max_message_size:
                    return self._oversized(header[1])
            frame = self._buffer.next_message()
            if frame is None:
                return self._end_of_data()
            code, payload = frame
            kind = PASSWORD_KINDS.get(state, "password")
            message = decode_frontend(code, payload, password_kind=kind)
            event = self._receive(message)
            if event is not None:
                return event

    def _stream_closed(self) -> None:
        # FAILED says more about how the connection ended than CLOSED would.
        if self.state is not S.FAILED:
            self.state = S.CLOSED

    def _unexpected(self, message: FrontendMessage, why: str = "") -> ProtocolError:
        if not why:
            rules = SERVER_RECEIVE_RULES[self.state]
            why = "expected " + (" or ".join(sorted(c.__name__ for c in rules)) or "nothing")
        return ProtocolError(
            f"unexpected {type(message).__name__} from the client in state "
            f"{self.state.value} ({why})"
        )

    def _startup_event(self) -> ServerEvent | NeedData:
        buffer = self._buffer
        if not len(buffer):
            return self._end_of_data()
        if not self._encrypted:
            first = buffer.take_all()
            if first[0] == _TLS_HANDSHAKE:
                # A startup packet this long would be refused anyway: this is TLS.
                self._encrypted = True
                return DirectTLSHandshake(first)
            buffer.feed(first)
        limit = buffer.max_message_size
        buffer.max_message_size = MAX_STARTUP_PACKET
        try:
            payload = buffer.next_untyped()
        finally:
            buffer.max_message_size = limit
        if payload is None:
            return self._end_of_data()
        message = decode_startup(payload)
        event = self._receive(message)
        assert event is not None
        return event

    def _receive(self, message: FrontendMessage) -> ServerEvent | None:
        """Apply the tables to one decoded client message; ``None`` when it is discarded."""
        kind = type(message)
        rules = SERVER_RECEIVE_RULES[self.state]
        if kind not in rules:
            raise self._unexpected(message)
        after = rules[kind]
        if self.state is S.STARTUP:
            self._receive_startup(message)
        elif self.state in PASSWORD_KINDS:
            self._receive_authentication(message)
        elif kind is not Terminate and not self._receive_request(message, kind):
            self.discarded += 1
            return None
        if after is not None:
            self.state = after
        return message

    def _receive_startup(self, message: FrontendMessage) -> None:
        if isinstance(message, (SSLRequest, GSSENCRequest)):
            if self._encrypted:
                raise self._unexpected(message, "the connection is already encrypted")
            if len(self._buffer):
                # CVE-2021-23214: bytes sent before the answer would be read as if they had
                # come over TLS.
                raise ProtocolError(
                    f"the client sent {len(self._buffer)} bytes after {type(message).__name__} "
                    "without waiting for the answer; refusing them (possible man-in-the-middle)"
                )
            self._encryption_kind = "ssl" if isinstance(message, SSLRequest) else "gss"
        elif isinstance(message, StartupMessage):
            self._receive_startup_message(message)

    def _receive_startup_message(self, message: StartupMessage) -> None:
        major, minor = message.protocol_version
        if major != 3:
            raise ProtocolError(
                f"unsupported frontend protocol {major}.{minor}: this server speaks 3.0 "
                f"to 3.{self._max_minor}"
            )
        if not message.params.get("user"):
            raise ProtocolError("the StartupMessage names no user (parameter 'user')")
        self.startup_params = dict(message.params)
        options = tuple(name for name in message.params if name.startswith("_pq_."))
        if minor > self._max_minor or options:
            self._out += NegotiateProtocolVersion(min(minor, self._max_minor), options).encode()
        self.protocol_version = (3, min(minor, self._max_minor))

    def _receive_authentication(self, message: FrontendMessage) -> None:
        if isinstance(message, PasswordMessage):
            self._check_password(message)
        elif isinstance(message, SASLInitialResponse):
            self._sasl_initial(message)
        elif isinstance(message, SASLResponse):
            self._sasl_response(message)

    def _receive_request(self, message: FrontendMessage, kind: type[FrontendMessage]) -> bool:
        """Record what a request in the session asks for; ``False`` when it is discarded."""
        pending = self._pending
        head = pending[0] if pending else None
        if self._skip_until_sync:
            if kind is not Sync:
                return False
            self._skip_until_sync = False
        if kind in COPY_MESSAGES:
            if head not in COPY_IN_PHASES or self._copy_in_aborted:
                if self._copy_in_aborted:
                    return False
                raise self._unexpected(message, "no COPY FROM STDIN is in progress")
            if kind is CopyFail:
                self._copy_in_aborted = True
            elif kind is CopyDone:
                assert head is not None
                pending[0] = COPY_END_AFTER_CLIENT[head]
            return True
        if head in COPY_IN_PHASES and not self._copy_in_aborted:
            if kind is Sync or kind is Flush:
                # PostgreSQL ignores both during COPY FROM STDIN.
                return False
            raise self._unexpected(message, "COPY FROM STDIN is in progress")
        self._copy_in_aborted = False
        phase = owed_for(message)
        if phase is not None:
            pending.append(phase)
        return True


def _encode(message: BackendMessage | EncryptionResponse) -> bytes:
    if isinstance(message, EncryptionResponse):
        if not message.accepted:
            return b"N"
        return b"S" if message.kind == "ssl" else b"G"
    return message.encode()
