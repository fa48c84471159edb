"""What both roles share: the bytes in and out, the end of the stream, and the one way a
connection fails.

:class:`~pgwire.protocol.client.ClientConnection` and
:class:`~pgwire.protocol.server.ServerConnection` differ in what they may send and receive
(``conversation.py``); the plumbing around that is the same and lives here.
``receive_data()`` only buffers, ``next_event()`` reads through the role's ``_next_event()``,
``data_to_send()`` hands over what the core wrote on its own, and a closed stream is
reported once as :class:`~pgwire.protocol.conversation.ConnectionClosed`.  Both roles also
keep the same queue of what the server owes for the requests in flight, by the same tables.

Failing is :meth:`Peer._fail` and nothing else: the state becomes FAILED and nothing is owed
any more.  ``next_event()`` fails the connection on any
:class:`~pgwire.errors.ProtocolError`; the roles call ``_fail`` for the other errors that
end a connection and on their fast paths.  No I/O here either.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar, Generic, Literal, TypeVar

from pgwire.errors import InterfaceError, ProtocolError
from pgwire.protocol.conversation import (
    COPY_IN_PHASES,
    NEED_DATA,
    ConnectionClosed,
    NeedData,
    Phase,
)
from pgwire.protocol.framing import ReceiveBuffer

__all__ = ["Peer"]

StateT = TypeVar("StateT", bound=enum.Enum)
EventT = TypeVar("EventT")
_T = TypeVar("_T")


class Peer(ABC, Generic[StateT, EventT]):
    """One end of a connection: the base of both roles' connection classes."""

    #: Who is at the other end, for error messages.
    _OTHER_END: ClassVar[Literal["client", "server"]]
    #: The role's failed state (each role has its own state enum).
    _FAILED: StateT

    def __init__(
        self,
        state: StateT,
        max_message_size: int,
        small_message_limit: int,
        long_types: frozenset[int],
    ) -> None:
        self.state = state
        self._buffer = ReceiveBuffer(
            max_message_size, small_message_limit=small_message_limit, long_types=long_types
        )
        self._out = bytearray()
        self._eof = False
        self._closed_reported = False
        #: What the server owes, oldest first (see ``conversation.TRANSITIONS``).
        self._pending: deque[Phase] = deque()
        #: The server failed a COPY FROM STDIN that the client has not ended yet.
        self._copy_in_aborted = False
        #: An extended-protocol batch failed before its Sync was sent: skip until it comes.
        self._skip_until_sync = False

    @property
    def copy_in_active(self) -> bool:
        """Whether a COPY FROM STDIN is under way: the client's COPY data is due."""
        return bool(self._pending) and self._pending[0] in COPY_IN_PHASES

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes read from the other end; ``b""`` means it closed the stream."""
        if not data:
            self._eof = True
        else:
            if self._eof:
                raise InterfaceError("received data after the end of the stream")
            self._buffer.feed(data)

    def next_event(self) -> EventT | NeedData:
        """The next event, or :data:`NEED_DATA` when more bytes are needed."""
        try:
            return self._next_event()
        except ProtocolError as exc:
            self._fail(exc)
            raise

    @abstractmethod
    def _next_event(self) -> EventT | NeedData:
        """Read the next event, by the role's rules."""

    def take_unread(self) -> bytes:
        """The bytes received but not read as messages yet, taken out of the connection: for
        a caller that reads the rest of the stream itself (the local DSQL endpoint reads
        the password it checks first; a client may have sent it with its startup packet)."""
        return self._buffer.take_all()

    def data_to_send(self) -> bytes:
        """Bytes the core produced by itself (authentication steps); write them out."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def _fail(self, cause: _T) -> _T:
        """Fail the connection: the state becomes FAILED and nothing is owed any more.

        Returns ``cause`` for the caller to raise (an exception) or to report (the FATAL
        ErrorResponse that ended the session).
        """
        self.state = self._FAILED
        self._pending.clear()
        return cause

    def _end_of_data(self) -> NeedData | ConnectionClosed:
        """What to return when no whole message is buffered."""
        if not self._eof:
            return NEED_DATA
        if len(self._buffer):
            raise self._fail(
                ProtocolError(
                    f"the {self._OTHER_END} closed the connection in the middle of a message "
                    f"({len(self._buffer)} bytes of it arrived)"
                )
            )
        if self._closed_reported:
            raise InterfaceError("the connection is closed; no more events will come")
        self._closed_reported = True
        self._stream_closed()
        return ConnectionClosed()

    @abstractmethod
    def _stream_closed(self) -> None:
        """Move to the role's closed state once the other end closed the stream."""

    def _refuse(self, message: object, why: str) -> InterfaceError:
        """The error for a message the caller may not send now."""
        return InterfaceError(
            f"cannot send {type(message).__name__} in state {self.state.value}: {why}"
        )
