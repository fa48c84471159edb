"""The client (frontend) side of the PostgreSQL protocol as a sans-IO state machine.

:class:`ClientConnection` never touches a socket, a clock or a random source.  The
caller writes what :meth:`~ClientConnection.send` and :meth:`~ClientConnection.data_to_send`
return, feeds what it reads to :meth:`~ClientConnection.receive_data`, and drains
:meth:`~ClientConnection.next_event` until it returns :data:`NEED_DATA`.

This file holds the established session: sending requests, reading their answers, COPY,
and the fast paths drivers use (``send_binds``, ``next_completions``, ``next_data_rows``,
``next_rows``, ``next_query_answers``).  The startup (encryption, authentication, version
negotiation) is in ``startup.py``, the rules both follow in ``conversation.py``, and the
byte plumbing shared with the server role in ``peer.py``.

Every request sent puts what the server owes for it on a queue, so any number of
Sync-delimited batches may be in flight at once (pipelining).  An ErrorResponse in the
extended protocol drops the queue up to that batch's Sync, exactly as the server skips
messages up to it.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Sequence
from itertools import islice, repeat, starmap
from typing import Any, Final

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol.auth import AuthRequirement, ChannelBinding, tls_server_end_point
from pgwire.protocol.conversation import (
    ASYNC_MESSAGES,
    CLIENT_SEND_RULES,
    COPY_END_AFTER_CLIENT,
    COPY_IN_PHASES,
    COPY_MESSAGES,
    FATAL_SEVERITIES,
    NEED_DATA,
    TRANSITIONS,
    ConnectionClosed,
    ConnectionState,
    EncryptionResponse,
    Event,
    NeedData,
    Phase,
    answer_error,
    owed_for,
)
from pgwire.protocol.framing import RowParser
from pgwire.protocol.messages import (
    BackendMessage,
    BindComplete,
    BindTemplate,
    CancelRequest,
    CommandComplete,
    CopyData,
    CopyInResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
    Execute,
    FrontendMessage,
    FunctionCall,
    NoticeResponse,
    ParameterStatus,
    Query,
    ReadyForQuery,
    RowDescription,
    Sync,
    Terminate,
    decode_backend,
)
from pgwire.protocol.startup import ClientStartup

# The names this module gave before the startup, the rules and authentication moved to
# their own modules stay importable from here.
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

P = Phase
_BIND_EXECUTE: Final = (P.BIND, P.EXECUTE)
_DATA_ROW_CODE: Final = DataRow.code[0]
_BIND_COMPLETE_CODE: Final = BindComplete.code[0]
_COMMAND_COMPLETE_CODE: Final = CommandComplete.code[0]
_BIND_EXECUTE_LIST: Final = list(_BIND_EXECUTE)
_BIND_COMPLETE_BYTES: Final = BindComplete().encode()
_pack_header: Final = struct.Struct("!ci").pack
_ROW_DESCRIPTION_CODE: Final = RowDescription.code[0]
_EMPTY_QUERY_CODE: Final = EmptyQueryResponse.code[0]
_READY_CODE: Final = ReadyForQuery.code[0]
_EXECUTE_BYTES: Final = {rows: Execute("", rows).encode() for rows in (0, 1)}
_SYNC_BYTES: Final = Sync().encode()


class ClientConnection(ClientStartup):
    """One client connection's protocol state.

    ``password`` answers the server's password and SCRAM requests; ``nonce_source``
    returns the SCRAM client nonce (printable ASCII, no comma) and is required only when
    the server asks for SCRAM: the core takes no randomness of its own.
    ``channel_binding``, ``require_auth`` and ``min_protocol_version`` have libpq's
    meanings; ``max_message_size`` bounds what one server message may declare, and
    ``small_message_limit`` what one of a type that is never long may (libpq's 30,000 bytes:
    everything but RowDescription, DataRow, CopyData, FunctionCallResponse, ErrorResponse,
    NoticeResponse, NotificationResponse and ParameterDescription).
    """

    def __repr__(self) -> str:
        return (
            f"<ClientConnection state={self.state.value} in_flight={len(self._pending)} "
            f"transaction_status={self.transaction_status}>"
        )

    @property
    def in_flight(self) -> int:
        """How many requests still await their answers."""
        return len(self._pending)

    @property
    def pending_phases(self) -> tuple[Phase, ...]:
        """What the server still owes, oldest first."""
        return tuple(self._pending)

    def cancel_request(self) -> CancelRequest:
        """The CancelRequest to send on a new connection to cancel this session's query."""
        if self.backend_key is None:
            raise InterfaceError(
                "the server sent no BackendKeyData; this session cannot be cancelled"
            )
        return CancelRequest(self.backend_key.process_id, self.backend_key.secret_key)

    # ----------------------------------------------------------------------------------
    # Outgoing
    # ----------------------------------------------------------------------------------

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
            or (pending and pending[0] in COPY_IN_PHASES)
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
        data = template.encode_many(param_rows, execute_bytes, _SYNC_BYTES if sync else b"")
        pending.extend(_BIND_EXECUTE * len(param_rows))
        if sync:
            pending.append(P.SYNC)
        return data

    def _send_one(self, message: FrontendMessage, data: bytes) -> bytes:
        kind = type(message)
        state = self.state
        if kind not in CLIENT_SEND_RULES[state]:
            allowed = ", ".join(sorted(c.__name__ for c in CLIENT_SEND_RULES[state])) or "nothing"
            raise self._refuse(message, f"allowed now: {allowed}")
        if state is ConnectionState.STARTUP:
            return self._send_startup(message, data)
        if kind is Terminate:
            self.state = ConnectionState.TERMINATING
            return data
        if kind in COPY_MESSAGES:
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
        phase = owed_for(message)
        if phase is not None:
            self._pending.append(phase)
        return prefix + data

    def _send_copy(self, message: FrontendMessage, data: bytes) -> bytes:
        pending = self._pending
        if self._copy_in_aborted:
            # The server already failed the COPY and drops further copy messages; a Sync
            # it swallowed is still owed once the client ends its side.
            if not isinstance(message, CopyData):
                self._copy_in_aborted = False
                return data + self._pay_owed_sync()
            return data
        if not pending or pending[0] not in COPY_IN_PHASES:
            raise self._refuse(message, "no COPY FROM STDIN is in progress")
        if isinstance(message, CopyData):
            return data
        phase = pending[0]
        if phase in COPY_END_AFTER_CLIENT:
            pending[0] = COPY_END_AFTER_CLIENT[phase]
        return data + self._pay_owed_sync()

    def _pay_owed_sync(self) -> bytes:
        for index, phase in enumerate(self._pending):
            if phase is P.SYNC_OWED:
                self._pending[index] = P.SYNC
                return _SYNC_BYTES
        return b""

    # ----------------------------------------------------------------------------------
    # Incoming
    # ----------------------------------------------------------------------------------

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
            # TRANSITIONS' DataRow entries, without the lookup: a row keeps its request's
            # phase.  Identity tests: hashing an enum member runs Python code.
            if head is P.EXECUTE or head is P.QUERY_ROWS:
                return DataRow.decode(payload)
        message = decode_backend(code, payload)
        kind = type(message)
        state = self.state
        if state is ConnectionState.READY or state is ConnectionState.TERMINATING:
            return self._session_event(message, kind)
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
        except ProtocolError as exc:
            self._fail(exc)
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
        except ProtocolError as exc:
            self._fail(exc)
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
                    tag = _command_tag(payload)
                    tags.append(tag)
                    pending.popleft()
                    if len(pending) > 1 and pending[0] is P.BIND and pending[1] is P.EXECUTE:
                        self._skip_same_completions(payload, tag, tags)
                    continue
                else:
                    break
                pending.popleft()
        except ProtocolError as exc:
            self._fail(exc)
            raise
        return tags

    def _skip_same_completions(self, payload: bytes, tag: str, tags: list[str]) -> None:
        """After a Bind and Execute answered by BindComplete and a CommandComplete of
        ``payload``: consume the longest run of the same two messages, byte for byte, that
        answers the next Bind and Execute pairs in flight, adding ``tag`` for each, in a few
        comparisons (the answers of an ``executemany`` that affected one row each, say)."""
        pending = self._pending
        buffer = self._buffer
        unit = _BIND_COMPLETE_BYTES + _pack_header(b"C", len(payload) + 4) + payload
        # Runs of doubling length while they match, then of halving length: a few
        # comparisons for a long run, one for none (tags that differ, an error next).
        step = 1
        while step:
            if (
                len(pending) >= 2 * step
                and list(islice(pending, 2 * step)) == _BIND_EXECUTE_LIST * step
                and buffer.skip_repeated(unit, step)
            ):
                tags.extend(repeat(tag, step))
                deque(starmap(pending.popleft, repeat((), 2 * step)), maxlen=0)  # in C
                step *= 2
            else:
                step //= 2

    def next_query_answers(self) -> tuple[list[str | None], str] | None:
        """Consume what answers the simple Query at the head of the requests in flight, for
        a caller that keeps only its command tags: RowDescription and DataRow messages are
        checked as ``next_event()`` and ``next_data_rows()`` check them and dropped, each
        CommandComplete gives its tag and each EmptyQueryResponse ``None``, in order, up to
        and including the Query's ReadyForQuery.

        Returns the tags and the ReadyForQuery's transaction status (``""`` when it has not
        arrived yet), or ``None`` when nothing was consumed.  Stops at anything else (a
        notice, an error, a COPY response, an incomplete or long message), which
        ``next_event()`` then gives: the state afterwards is what the same messages read
        through ``next_event()`` leave.  A malformed message fails the connection with the
        error ``next_event()`` raises for it (the tags read before it are lost with it).
        """
        pending = self._pending
        if not pending or self.state is not ConnectionState.READY:
            return None
        head = pending[0]
        if head is not P.QUERY and head is not P.QUERY_ROWS:
            return None
        buffer = self._buffer
        tags: list[str | None] = []
        status = ""
        consumed = False
        try:
            while True:
                # CommandComplete first: most of what a command without rows answers.
                payload = buffer.next_message_of(_COMMAND_COMPLETE_CODE)
                if payload is not None:
                    tags.append(_command_tag(payload))
                    head = pending[0] = P.QUERY
                    consumed = True
                    continue
                header = buffer.peek_header()
                if header is None:
                    break
                code = header[0]
                if head is P.QUERY_ROWS:
                    if code != _DATA_ROW_CODE or not buffer.take_data_rows():
                        break
                elif code == _ROW_DESCRIPTION_CODE:
                    payload = buffer.next_message_of(code)
                    if payload is None:
                        break
                    RowDescription.decode(payload)
                    head = pending[0] = P.QUERY_ROWS
                elif code == _EMPTY_QUERY_CODE:
                    payload = buffer.next_message_of(code)
                    if payload is None:
                        break
                    EmptyQueryResponse.decode(payload)
                    tags.append(None)
                elif code == _READY_CODE:
                    payload = buffer.next_message_of(code)
                    if payload is None:
                        break
                    status = ReadyForQuery.decode(payload).status
                    pending.popleft()
                    self.transaction_status = status
                    consumed = True
                    break
                else:
                    break
                consumed = True
        except ProtocolError as exc:
            self._fail(exc)
            raise
        return (tags, status) if consumed else None

    def _session_event(self, message: BackendMessage, kind: type[BackendMessage]) -> Event:
        if kind in ASYNC_MESSAGES:
            if isinstance(message, ParameterStatus):
                self.parameters[message.name] = message.value
            return message
        pending = self._pending
        if isinstance(message, ErrorResponse):
            return self._error_event(message)
        if not pending:
            raise self._unexpected(message)
        try:
            after = TRANSITIONS[pending[0], kind]
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
        if message.severity in FATAL_SEVERITIES:
            return self._fail(message)
        pending = self._pending
        if not pending:
            raise self._unexpected(message)
        if pending[0] in COPY_IN_PHASES:
            self._copy_in_aborted = True
        if answer_error(pending):
            self._skip_until_sync = True
        return message


def _command_tag(payload: bytes) -> str:
    """The tag of a CommandComplete message's ``payload``: ``CommandComplete.decode``'s,
    without building the message (which raises its error for a malformed one)."""
    if payload.find(b"\0") == len(payload) - 1:
        try:
            return payload[:-1].decode()
        except UnicodeDecodeError:
            pass
    return CommandComplete.decode(payload).tag
