"""The server role's first lifetime: from the first byte to the authenticated client.

:class:`ServerStartup` is the base of :class:`~pgwire.protocol.server.ServerConnection`,
kept apart from the established session as the client role keeps ``startup.py`` apart:
the SSLRequest and GSSENCRequest answers, direct TLS, the startup packet and protocol
version negotiation, and the authentication exchange (the checks themselves are in
``auth.py``), with the events that only the startup produces.

The limits are PostgreSQL's, so that a client that never authenticates costs little: a
startup packet may be :data:`MAX_STARTUP_PACKET` bytes; until the client is authenticated,
any message :data:`~pgwire.protocol.auth.MAX_PASSWORD_MESSAGE` bytes and a SASL message
:data:`~pgwire.protocol.auth.MAX_SASL_MESSAGE` (a password or SASL message declaring more
fails the authentication on its header, FATAL 28P01, as PostgreSQL 18 does).  No I/O here.
"""

from __future__ import annotations

import binascii
from abc import abstractmethod
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
    ServerScram,
    TrustAuth,
    password_matches,
    sasl_mechanisms,
)
from pgwire.protocol.conversation import (
    SERVER_RECEIVE_RULES,
    ConnectionClosed,
    EncryptionResponse,
    NeedData,
    ServerState,
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
    ErrorResponse,
    FrontendMessage,
    GSSENCRequest,
    NegotiateProtocolVersion,
    PasswordMessage,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    decode_startup,
)
from pgwire.protocol.peer import Peer

__all__ = [
    "MAX_STARTUP_PACKET",
    "Authenticated",
    "AuthenticationFailed",
    "DirectTLSHandshake",
    "ServerEvent",
    "ServerStartup",
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


class ServerStartup(Peer[ServerState, ServerEvent]):
    """The startup half of a server connection; use :class:`ServerConnection`, which adds
    the session.  The arguments are :class:`ServerConnection`'s."""

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

    @property
    def user(self) -> str:
        """The user name from the StartupMessage (empty before it)."""
        return self.startup_params.get("user", "")

    @property
    def database(self) -> str:
        """The database asked for; PostgreSQL's default is the user name."""
        return self.startup_params.get("database") or self.user

    @abstractmethod
    def _receive(self, message: FrontendMessage) -> ServerEvent | None:
        """Apply the tables to one decoded client message; ``None`` when it is discarded."""

    # ----------------------------------------------------------------------------------
    # Outgoing, before the session
    # ----------------------------------------------------------------------------------

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
    # Incoming, before the session
    # ----------------------------------------------------------------------------------

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
