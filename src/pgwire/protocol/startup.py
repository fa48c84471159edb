"""The client's startup: from the first byte to the first ReadyForQuery.

:class:`ClientStartup` is the first lifetime of a
:class:`~pgwire.protocol.client.ClientConnection` (which derives from it), kept apart from
the established session as wsproto keeps its handshake apart: the answer to SSLRequest or
GSSENCRequest, the StartupMessage, the authentication exchange (answered by
:class:`~pgwire.protocol.auth.ClientAuthenticator`), protocol version negotiation, and the
BackendKeyData and ParameterStatus messages that come before the session is ready.

Authentication follows libpq's rules: ``channel_binding`` (SCRAM-SHA-256-PLUS with
tls-server-end-point, from the server certificate the caller hands over with
:meth:`~ClientStartup.tls_established`), ``require_auth`` (see
:class:`~pgwire.protocol.auth.AuthRequirement`) and ``min_protocol_version`` are checked
against every authentication request the server makes, before anything is answered.  Any
error while answering fails the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pgwire.errors import Error, InterfaceError, OperationalError, ProtocolError
from pgwire.protocol.auth import AuthRequirement, ChannelBinding, ClientAuthenticator
from pgwire.protocol.conversation import (
    ConnectionState,
    EncryptionResponse,
    Event,
    NeedData,
)
from pgwire.protocol.framing import (
    CLIENT_SMALL_MESSAGE_LIMIT,
    DEFAULT_MAX_MESSAGE_SIZE,
    LONG_SERVER_MESSAGES,
)
from pgwire.protocol.messages import (
    PROTOCOL_3_0,
    PROTOCOL_3_2,
    AuthenticationOk,
    BackendKeyData,
    BackendMessage,
    CancelRequest,
    ErrorResponse,
    FrontendMessage,
    NegotiateProtocolVersion,
    NoticeResponse,
    ParameterStatus,
    ReadyForQuery,
    SSLRequest,
    StartupMessage,
)
from pgwire.protocol.peer import Peer

__all__ = ["ClientStartup"]


class ClientStartup(Peer[ConnectionState, Event]):
    """The startup half of a client connection; use :class:`ClientConnection`, which adds the
    session.  The arguments are :class:`ClientConnection`'s."""

    _OTHER_END = "server"
    _FAILED = ConnectionState.FAILED

    def __init__(
        self,
        *,
        password: str | bytes | None = None,
        nonce_source: Callable[[], str] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        small_message_limit: int = CLIENT_SMALL_MESSAGE_LIMIT,
        channel_binding: ChannelBinding = "prefer",
        require_auth: AuthRequirement | None = None,
        min_protocol_version: tuple[int, int] = PROTOCOL_3_0,
    ) -> None:
        self._auth = ClientAuthenticator(
            password=password,
            nonce_source=nonce_source,
            channel_binding=channel_binding,
            require_auth=require_auth,
        )
        if not PROTOCOL_3_0 <= min_protocol_version <= PROTOCOL_3_2:
            raise InterfaceError(
                f"invalid min_protocol_version {min_protocol_version}; expected 3.0 to 3.2"
            )
        super().__init__(
            ConnectionState.STARTUP, max_message_size, small_message_limit, LONG_SERVER_MESSAGES
        )
        self._min_protocol_version = min_protocol_version
        self._requested_options: frozenset[str] = frozenset()
        self._negotiated = False
        self._encryption_kind: Literal["ssl", "gss"] = "ssl"
        #: The protocol version asked for in the StartupMessage, lowered by the server's
        #: NegotiateProtocolVersion.
        self.protocol_version = PROTOCOL_3_0
        #: Run-time parameters the server reported (server_version, client_encoding, ...).
        self.parameters: dict[str, str] = {}
        #: What a CancelRequest for this session must quote, once the server sent it.
        self.backend_key: BackendKeyData | None = None
        #: ``I`` idle, ``T`` in a transaction block, ``E`` in a failed one.
        self.transaction_status: Literal["I", "T", "E"] = "I"

    @property
    def tls(self) -> bool:
        """Whether the caller reported TLS on the stream (:meth:`tls_established`)."""
        return self._auth.tls

    @property
    def auth_methods(self) -> list[str]:
        """Authentication method names used, in order (``password``, ``md5``,
        ``SCRAM-SHA-256``, ``SCRAM-SHA-256-PLUS``)."""
        return self._auth.methods

    @property
    def channel_bound(self) -> bool:
        """Whether SCRAM-SHA-256-PLUS bound the session to the TLS channel, proven by the
        server."""
        return self._auth.channel_bound

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
        self._auth.tls = True
        self._auth.server_certificate = server_certificate

    # ----------------------------------------------------------------------------------
    # Outgoing: the messages of the STARTUP state
    # ----------------------------------------------------------------------------------

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
            self._auth.user = user.encode()
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

    # ----------------------------------------------------------------------------------
    # Incoming: everything before the session is ready
    # ----------------------------------------------------------------------------------

    def _stream_closed(self) -> None:
        self.state = ConnectionState.CLOSED

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
            self._buffer.unread(b"E")
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
            return self._fail(message)
        if kind is NoticeResponse:
            return message
        if isinstance(message, NegotiateProtocolVersion):
            return self._negotiate(message)
        try:
            if kind is AuthenticationOk:
                self._auth.finish()
                self.state = ConnectionState.AWAITING_READY
                return message
            reply = self._auth.answer(message)
        except Error as exc:
            self._fail(exc)
            raise
        if reply is None:
            raise self._unexpected(message)
        self._out += reply
        return message

    def _negotiate(self, message: NegotiateProtocolVersion) -> Event:
        major, minor = self.protocol_version
        offered = message.newest_minor_version
        # The documentation calls the field a minor version, but PostgreSQL sends (and libpq
        # reads) the whole version code, major << 16 | minor: accept both spellings.
        offered_major, newest = divmod(offered, 0x10000) if offered > 0xFFFF else (major, offered)
        if self._negotiated or self._auth.methods:
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
            self._fail(message)
        elif not isinstance(message, NoticeResponse):
            raise self._unexpected(message)
        return message


def _version(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
