"""The server (backend) side of the PostgreSQL protocol as a sans-IO state machine.

:class:`ServerConnection` is the mirror of :class:`~pgwire.protocol.client.ClientConnection`:
the caller feeds what it reads from a client to :meth:`~ServerConnection.receive_data`, drains
:meth:`~ServerConnection.next_event` until it returns :data:`NEED_DATA`, and writes what
:meth:`~ServerConnection.send` returns.  It never touches a socket, a clock or a random
source: MD5 salts, SCRAM salts and nonces, and TLS channel-binding data are handed in.

This file holds the established session; the startup (encryption, the startup packet,
authentication, and the limits until the client is authenticated) is in
``server_startup.py``.  The rules are in ``conversation.py``: which client messages are
legal in each state and the state each leads to (``SERVER_RECEIVE_RULES``), which server
messages the caller may send (``SERVER_SEND_RULES``), and, once the session is up, the
answers each request is owed (``TRANSITIONS``, the table the client role reads too, so the
two roles cannot disagree).  The password and SCRAM checks are in ``auth.py``.

After an ErrorResponse in the extended protocol the server role drops what it owes up to the
batch's Sync and discards the client's messages until that Sync arrives, as PostgreSQL does.
Illegal or malformed client input raises :class:`~pgwire.errors.ProtocolError` naming the
state and the message; illegal sends by the caller raise :class:`~pgwire.errors.InterfaceError`.
"""

from __future__ import annotations

from pgwire.errors import ProtocolError
from pgwire.protocol.auth import (
    AuthMethod,
    MD5Auth,
    PasswordAuth,
    ScramAuth,
    ScramSecret,
    TrustAuth,
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
    EncryptionResponse,
    NeedData,
    Phase,
    ServerState,
    answer_error,
    owed_for,
)
from pgwire.protocol.messages import (
    BackendKeyData,
    BackendMessage,
    CopyDone,
    CopyFail,
    ErrorResponse,
    Flush,
    FrontendMessage,
    ParameterStatus,
    ReadyForQuery,
    Sync,
    Terminate,
    decode_frontend,
)
from pgwire.protocol.server_startup import (
    MAX_STARTUP_PACKET,
    Authenticated,
    AuthenticationFailed,
    DirectTLSHandshake,
    ServerEvent,
    ServerStartup,
)

# The authentication methods moved to auth.py, the states to conversation.py and the
# startup's events to server_startup.py; they stay importable from here.
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

S = ServerState


class ServerConnection(ServerStartup):
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

    def __repr__(self) -> str:
        return (
            f"<ServerConnection state={self.state.value} owed={len(self._pending)} "
            f"transaction_status={self.transaction_status}>"
        )

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
