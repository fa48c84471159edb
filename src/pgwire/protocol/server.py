"""The server (backend) side of the PostgreSQL protocol as a sans-IO state machine.

:class:`ServerConnection` is the mirror of :class:`~pgwire.protocol.client.ClientConnection`:
the caller feeds what it reads from a client to :meth:`~ServerConnection.receive_data`, drains
:meth:`~ServerConnection.next_event` until it returns :data:`NEED_DATA`, and writes what
:meth:`~ServerConnection.send` returns.  It never touches a socket, a clock or a random
source: MD5 salts, SCRAM salts and nonces, and TLS channel-binding data are handed in.

The rules live in this file in two tables, plus the conversation table it shares with the
client role:

* ``_RECEIVE_RULES`` says which client messages are legal in each connection state, and the
  state each one leads to;
* ``_SEND_RULES`` says which server messages the caller may send in each state, and the
  state each one leads to;
* once the session is up, every client request (Parse, Bind, Describe, Execute, Close, Sync,
  Query, FunctionCall) puts what the server owes for it on a queue, and ``send`` checks each
  answer against the client role's ``_TRANSITIONS`` table: the two roles read one table, so
  they cannot disagree about which answer is legal when.

After an ErrorResponse in the extended protocol the server role drops what it owes up to the
batch's Sync and discards the client's messages until that Sync arrives, as PostgreSQL does.
Illegal or malformed client input raises :class:`~pgwire.errors.ProtocolError` naming the
state and the message; illegal sends by the caller raise :class:`~pgwire.errors.InterfaceError`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol.client import (
    _COPY_END_AFTER_CLIENT,
    _COPY_IN_PHASES,
    _ERROR_TRANSITIONS,
    _REQUEST_PHASES,
    _TRANSITIONS,
    NEED_DATA,
    ConnectionClosed,
    EncryptionResponse,
    NeedData,
    Phase,
    md5_password,
)
from pgwire.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE, ReceiveBuffer
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
    Bind,
    CancelRequest,
    Close,
    CopyData,
    CopyDone,
    CopyFail,
    Describe,
    ErrorResponse,
    Execute,
    Flush,
    FrontendMessage,
    FunctionCall,
    GSSENCRequest,
    NegotiateProtocolVersion,
    NoticeResponse,
    NotificationResponse,
    ParameterStatus,
    Parse,
    PasswordKind,
    PasswordMessage,
    Query,
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

__all__ = [
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
_SCRAM = "SCRAM-SHA-256"
_SCRAM_PLUS = "SCRAM-SHA-256-PLUS"
_FATAL_SEVERITIES: Final = frozenset({"FATAL", "PANIC"})


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


# --------------------------------------------------------------------------------------
# Authentication requests (what the caller asks of the client after its StartupMessage)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScramSecret:
    """What a server stores for SCRAM-SHA-256: PostgreSQL's ``pg_authid.rolpassword`` parts."""

    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int = 4096

    @classmethod
    def from_password(cls, password: str, salt: bytes, iterations: int = 4096) -> ScramSecret:
        """Derive the secret from a password (SASLprep applied) with a caller-chosen salt.

        ``salt`` must be at least 12 bytes (PostgreSQL uses 16); it is injected so that the
        core draws no randomness of its own.
        """
        import scramp

        if len(salt) < 12:  # scramp 1.5 checks this too; 1.4 (on Python 3.10) does not
            raise InterfaceError(
                f"cannot derive a SCRAM secret: the salt is {len(salt)} bytes long, "
                "but it must be at least 12 bytes long"
            )
        try:
            salt, stored, server, count = scramp.ScramMechanism(_SCRAM).make_auth_info(
                password, iteration_count=iterations, salt=salt
            )
        except scramp.ScramException as exc:
            raise InterfaceError(f"cannot derive a SCRAM secret: {exc}") from None
        return cls(salt, stored, server, count)

    @classmethod
    def parse(cls, text: str) -> ScramSecret:
        """Read PostgreSQL's ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``."""
        try:
            method, params, keys = text.split("$")
            iterations, salt = params.split(":")
            stored, server = keys.split(":")
            if method != _SCRAM:
                raise ValueError(method)
            return cls(
                base64.b64decode(salt, validate=True),
                base64.b64decode(stored, validate=True),
                base64.b64decode(server, validate=True),
                int(iterations),
            )
        except (ValueError, binascii.Error):
            raise InterfaceError(
                "not a SCRAM secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>"
                ":<ServerKey> as stored in pg_authid.rolpassword"
            ) from None

    def __str__(self) -> str:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return (
            f"{_SCRAM}${self.iterations}:{b64(self.salt)}"
            f"${b64(self.stored_key)}:{b64(self.server_key)}"
        )


@dataclass(frozen=True, slots=True)
class TrustAuth:
    """No password: the client is authenticated at once."""


@dataclass(frozen=True, slots=True)
class PasswordAuth:
    """Ask for the password in clear text and compare it with ``password``."""

    password: str | bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MD5Auth:
    """Ask for an MD5-hashed password, salted with the 4-byte ``salt``.

    ``password`` is the password itself, or the stored hash ``md5`` + md5(password + user).
    """

    password: str | bytes = field(repr=False)
    salt: bytes

    def __post_init__(self) -> None:
        if len(self.salt) != 4:
            raise InterfaceError(f"an MD5 salt is 4 bytes, got {len(self.salt)}")


@dataclass(frozen=True, slots=True)
class ScramAuth:
    """Run SCRAM-SHA-256 against ``secret``, with the server nonce ``nonce``.

    With ``channel_binding`` (the ``tls-server-end-point`` hash of the server certificate,
    on a TLS connection) SCRAM-SHA-256-PLUS is offered too, and a client that could bind but
    claims the server cannot (``y``) is refused as a downgrade.
    """

    secret: ScramSecret
    nonce: str
    channel_binding: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.nonce or "," in self.nonce or not self.nonce.isprintable():
            raise InterfaceError("a SCRAM nonce is printable ASCII without commas")


AuthMethod = TrustAuth | PasswordAuth | MD5Auth | ScramAuth


# --------------------------------------------------------------------------------------
# States and the tables
# --------------------------------------------------------------------------------------


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


S = ServerState
_SAME: Final = None

_QUERY_MESSAGES: Final = (Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, FunctionCall)
_COPY_MESSAGES: Final = frozenset({CopyData, CopyDone, CopyFail})
_SESSION_RECEIVE: Final[dict[type[FrontendMessage], ServerState | None]] = {
    **dict.fromkeys(_QUERY_MESSAGES, _SAME),
    **dict.fromkeys(_COPY_MESSAGES, _SAME),
    Terminate: S.TERMINATED,
}

#: State -> the client messages legal in it, and the state each leads to.  Password and SASL
#: messages lead to STARTING_SESSION or FAILED, as the check of the password decides.
_RECEIVE_RULES: Final[dict[ServerState, dict[type[FrontendMessage], ServerState | None]]] = {
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
_PASSWORD_KINDS: Final[dict[ServerState, PasswordKind]] = {
    S.AWAITING_PASSWORD: "password",
    S.AWAITING_SASL_INITIAL: "sasl-initial",
    S.AWAITING_SASL_RESPONSE: "sasl",
}

_ASYNC_MESSAGES: Final = frozenset({NoticeResponse, NotificationResponse, ParameterStatus})
_ANSWERS: Final = frozenset(kind for _, kind in _TRANSITIONS)
_AUTH_FAILURE: Final[dict[type[object], ServerState | None]] = {
    ErrorResponse: S.FAILED,
    NoticeResponse: _SAME,
}

#: State -> the server messages the caller may send in it, and the state each leads to.
#: An ErrorResponse before READY must be FATAL; a FATAL one always leads to FAILED.
#: In READY, answers are further checked against what the client's requests are owed.
_SEND_RULES: Final[dict[ServerState, dict[type[object], ServerState | None]]] = {
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
        **dict.fromkeys(_ASYNC_MESSAGES, _SAME),
        ErrorResponse: _SAME,
    },
    S.CANCEL_RECEIVED: {},
    S.TERMINATED: {},
    S.FAILED: {},
    S.CLOSED: {},
}

_TERMINAL_STATES: Final = frozenset({S.CANCEL_RECEIVED, S.TERMINATED, S.FAILED, S.CLOSED})


def _scram_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isalpha():
            raise ValueError(f"malformed SCRAM attribute {part[:20]!r}")
        attributes.setdefault(part[0], part[2:])
    return attributes


class _ScramExchange:
    """The server half of one SCRAM-SHA-256(-PLUS) exchange (RFC 5802, RFC 7677).

    PostgreSQL ignores the SCRAM user name (the startup packet's user counts) and libpq sends
    an empty one, which scramp's server refuses; so the few checks are done here, on the
    same formulas scramp's client uses.  Every failure is a ``ValueError`` with the reason.
    """

    def __init__(self, auth: ScramAuth, mechanism: str, client_first: bytes) -> None:
        self.secret = auth.secret
        text = client_first.decode("utf-8")
        flag, _, rest = text.partition(",")
        authzid, _, self.bare = rest.partition(",")
        if authzid or not self.bare:
            raise ValueError("malformed SCRAM client-first message")
        self.gs2_header = f"{flag},,"
        plus_offered = auth.channel_binding is not None
        if mechanism == _SCRAM_PLUS:
            if flag != "p=tls-server-end-point":
                raise ValueError(f"SCRAM-SHA-256-PLUS with channel binding flag {flag!r}")
            assert auth.channel_binding is not None
            self.binding = self.gs2_header.encode() + auth.channel_binding
        elif flag == "y" and plus_offered:
            raise ValueError(
                "the client says the server cannot bind the channel, but it offered "
                "SCRAM-SHA-256-PLUS (possible downgrade attack)"
            )
        elif flag not in ("n", "y"):
            raise ValueError(f"SCRAM-SHA-256 with channel binding flag {flag!r}")
        else:
            self.binding = self.gs2_header.encode()
        attributes = _scram_attributes(self.bare)
        client_nonce = attributes.get("r", "")
        if "m" in attributes or not client_nonce or "n" not in attributes:
            raise ValueError("malformed SCRAM client-first message")
        self.nonce = client_nonce + auth.nonce
        salt = base64.b64encode(self.secret.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.secret.iterations}"

    def verify(self, client_final: bytes) -> str:
        """Check the client's proof; return the server-final message."""
        text = client_final.decode("utf-8")
        without_proof, _, proof_text = text.rpartition(",p=")
        attributes = _scram_attributes(without_proof)
        if base64.b64decode(attributes.get("c", ""), validate=True) != self.binding:
            raise ValueError("the SCRAM channel binding does not match")
        if attributes.get("r") != self.nonce:
            raise ValueError("the SCRAM nonce does not match")
        proof = base64.b64decode(proof_text, validate=True)
        auth_message = f"{self.bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(self.secret.stored_key, auth_message, "sha256")
        if len(proof) != len(signature):
            raise ValueError("the SCRAM proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.secret.stored_key):
            raise ValueError("wrong password (the SCRAM proof does not match)")
        server_signature = hmac.digest(self.secret.server_key, auth_message, "sha256")
        return "v=" + base64.b64encode(server_signature).decode()


class ServerConnection:
    """One server-side connection's protocol state.

    ``max_protocol_minor`` is the newest minor version of protocol 3 this server speaks
    (2 for 3.2, as PostgreSQL 18; 0 for 3.0 only).  A client asking for more, or for
    ``_pq_.`` options (none are known), gets a NegotiateProtocolVersion before the
    authentication request.
    """

    def __init__(
        self,
        *,
        max_protocol_minor: int = PROTOCOL_3_2[1],
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._buffer = ReceiveBuffer(max_message_size)
        self._max_minor = max_protocol_minor
        self._out = bytearray()
        self._eof = False
        self._closed_reported = False
        self._events: deque[ServerEvent] = deque()
        self._pending: deque[Phase] = deque()
        self._discard_until_sync = False
        self._copy_in_aborted = False
        self._encryption_kind: Literal["ssl", "gss"] = "ssl"
        self._encrypted = False
        self._auth: AuthMethod | None = None
        self._scram: _ScramExchange | None = None
        self._scram_mechanisms: tuple[str, ...] = ()
        self.state = ServerState.STARTUP
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

    @property
    def copy_in_active(self) -> bool:
        """Whether the client is sending COPY data now."""
        return bool(self._pending) and self._pending[0] in _COPY_IN_PHASES

    # ----------------------------------------------------------------------------------
    # Outgoing
    # ----------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Bytes the core produced by itself (authentication steps); write them out."""
        data = bytes(self._out)
        self._out.clear()
        return data

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

    def _refuse(self, message: object, why: str) -> InterfaceError:
        return InterfaceError(
            f"cannot send {type(message).__name__} in state {self.state.value}: {why}"
        )

    def _send_one(self, message: BackendMessage | EncryptionResponse, data: bytes) -> bytes:
        kind = type(message)
        rules = _SEND_RULES[self.state]
        if kind not in rules:
            allowed = ", ".join(sorted(c.__name__ for c in rules)) or "nothing"
            raise self._refuse(message, f"allowed now: {allowed}")
        after = rules[kind]
        if isinstance(message, ErrorResponse):
            if message.severity in _FATAL_SEVERITIES:
                self.state = S.FAILED
                self._pending.clear()
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
        if self.state is S.READY and kind not in _ASYNC_MESSAGES:
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
            after = _TRANSITIONS[phase, kind]
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
        phase = pending[0]
        if phase in _COPY_IN_PHASES:
            # The client's CopyData, CopyDone and CopyFail that are still coming are dropped.
            self._copy_in_aborted = True
        after = _ERROR_TRANSITIONS.get(phase)
        if after is not None:
            pending[0] = after
            return data
        # Extended protocol: nothing more is owed up to the batch's Sync, and the client's
        # messages up to that Sync are discarded.
        while pending and pending[0] is not Phase.SYNC:
            pending.popleft()
        if not pending:
            self._discard_until_sync = True
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
            plus = (_SCRAM_PLUS,) if method.channel_binding is not None else ()
            self._scram_mechanisms = (*plus, _SCRAM)
            request = AuthenticationSASL(self._scram_mechanisms)
            self.state = S.AWAITING_SASL_INITIAL
        return self.data_to_send() + request.encode()

    def _succeed(self, method: str) -> None:
        self._out += AuthenticationOk().encode()
        self.state = S.STARTING_SESSION
        self._events.append(Authenticated(self.user, method))

    def _fail(self, method: str, reason: str) -> None:
        error = ErrorResponse(
            {
                "S": "FATAL",
                "V": "FATAL",
                "C": "28P01",
                "M": f'password authentication failed for user "{self.user}"',
            }
        )
        self._out += error.encode()
        self.state = S.FAILED
        self._events.append(AuthenticationFailed(self.user, method, reason))

    def _check_password(self, message: PasswordMessage) -> None:
        auth = self._auth
        if isinstance(auth, PasswordAuth):
            expected = auth.password.encode() if isinstance(auth.password, str) else auth.password
            if hmac.compare_digest(message.password, expected):
                self._succeed("password")
            else:
                self._fail("password", "wrong password")
            return
        assert isinstance(auth, MD5Auth)
        password = auth.password.encode() if isinstance(auth.password, str) else auth.password
        user = self.user.encode()
        if len(password) == 35 and password.startswith(b"md5"):
            expected = b"md5" + hashlib.md5(password[3:] + auth.salt).hexdigest().encode()
        else:
            expected = md5_password(password, user, auth.salt)
        if hmac.compare_digest(message.password, expected):
            self._succeed("md5")
        else:
            self._fail("md5", "wrong password")

    def _sasl_initial(self, message: SASLInitialResponse) -> None:
        auth = self._auth
        assert isinstance(auth, ScramAuth)
        if message.mechanism not in self._scram_mechanisms:
            raise ProtocolError(
                f"the client chose SASL mechanism {message.mechanism!r}; the server offered "
                f"{', '.join(self._scram_mechanisms)}"
            )
        if message.data is None:
            raise ProtocolError("the SASLInitialResponse carries no SCRAM client-first message")
        try:
            self._scram = _ScramExchange(auth, message.mechanism, message.data)
        except ValueError as exc:
            self._fail(message.mechanism, str(exc))
            return
        self._out += AuthenticationSASLContinue(self._scram.server_first.encode()).encode()
        self.state = S.AWAITING_SASL_RESPONSE

    def _sasl_response(self, message: SASLResponse) -> None:
        exchange = self._scram
        assert exchange is not None
        mechanism = _SCRAM_PLUS if exchange.gs2_header.startswith("p") else _SCRAM
        try:
            final = exchange.verify(message.data)
        except (ValueError, binascii.Error) as exc:
            self._fail(mechanism, str(exc))
            return
        self._out += AuthenticationSASLFinal(final.encode()).encode()
        self._succeed(mechanism)

    # ----------------------------------------------------------------------------------
    # Incoming
    # ----------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the client; ``b""`` means the client closed the stream."""
        if not data:
            self._eof = True
        else:
            if self._eof:
                raise InterfaceError("received data after the end of the stream")
            self._buffer.feed(data)

    def next_event(self) -> ServerEvent | NeedData:
        """The next event, or :data:`NEED_DATA` when more bytes are needed."""
        if self._events:
            return self._events.popleft()
        try:
            return self._next_event()
        except ProtocolError:
            self.state = S.FAILED
            self._pending.clear()
            raise

    def _next_event(self) -> ServerEvent | NeedData:
        while True:
            state = self.state
            if state is S.STARTUP:
                return self._startup_event()
            if not len(self._buffer):
                return self._end_of_data()
            if state in _TERMINAL_STATES or state is S.ENCRYPTION_REQUESTED:
                raise ProtocolError(
                    f"the client sent {len(self._buffer)} bytes in state {state.value}, "
                    "where it must wait"
                )
            frame = self._buffer.next_message()
            if frame is None:
                return self._end_of_data()
            code, payload = frame
            kind = _PASSWORD_KINDS.get(state, "password")
            message = decode_frontend(code, payload, password_kind=kind)
            event = self._receive(message)
            if event is not None:
                return event

    def _end_of_data(self) -> NeedData | ConnectionClosed:
        if not self._eof:
            return NEED_DATA
        if len(self._buffer):
            raise ProtocolError(
                f"the client closed the connection in the middle of a message "
                f"({len(self._buffer)} bytes of it arrived)"
            )
        if self._closed_reported:
            raise InterfaceError("the connection is closed; no more events will come")
        self._closed_reported = True
        if self.state is not S.FAILED:
            self.state = S.CLOSED
        return ConnectionClosed()

    def _unexpected(self, message: FrontendMessage, why: str = "") -> ProtocolError:
        if not why:
            rules = _RECEIVE_RULES[self.state]
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
        rules = _RECEIVE_RULES[self.state]
        if kind not in rules:
            raise self._unexpected(message)
        after = rules[kind]
        if self.state is S.STARTUP:
            self._receive_startup(message)
        elif self.state in _PASSWORD_KINDS:
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
        if self._discard_until_sync:
            if kind is not Sync:
                return False
            self._discard_until_sync = False
        if kind in _COPY_MESSAGES:
            if head not in _COPY_IN_PHASES or self._copy_in_aborted:
                if self._copy_in_aborted:
                    return False
                raise self._unexpected(message, "no COPY FROM STDIN is in progress")
            if kind is CopyFail:
                self._copy_in_aborted = True
            elif kind is CopyDone:
                assert head is not None
                pending[0] = _COPY_END_AFTER_CLIENT[head]
            return True
        if head in _COPY_IN_PHASES and not self._copy_in_aborted:
            if kind is Sync or kind is Flush:
                # PostgreSQL ignores both during COPY FROM STDIN.
                return False
            raise self._unexpected(message, "COPY FROM STDIN is in progress")
        self._copy_in_aborted = False
        if isinstance(message, Describe):
            pending.append(
                Phase.DESCRIBE_STATEMENT if message.kind == "S" else Phase.DESCRIBE_PORTAL
            )
        elif kind is not Flush:
            pending.append(_REQUEST_PHASES[kind])
        return True


def _encode(message: BackendMessage | EncryptionResponse) -> bytes:
    if isinstance(message, EncryptionResponse):
        if not message.accepted:
            return b"N"
        return b"S" if message.kind == "ssl" else b"G"
    return message.encode()
