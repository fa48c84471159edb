"""The receive buffer: turns a byte stream cut anywhere into whole protocol messages.

Bytes go in with :meth:`ReceiveBuffer.feed` in chunks of any size (one byte, or many
messages at once); whole messages come out of :meth:`ReceiveBuffer.next_message` as
``(type_byte, payload)``.  A declared length beyond the limit of its message type is
refused as soon as the five header bytes are in, before the body is waited for or stored:
``max_message_size`` for the types that may be long, ``small_message_limit`` for the others
(each role says which are which: :data:`LONG_SERVER_MESSAGES`, :data:`LONG_CLIENT_MESSAGES`).

No I/O and no knowledge of what a message means: that is ``messages.py``'s job.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from pgwire.errors import ProtocolError

__all__ = [
    "CLIENT_SMALL_MESSAGE_LIMIT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "LONG_CLIENT_MESSAGES",
    "LONG_SERVER_MESSAGES",
    "SERVER_SMALL_MESSAGE_LIMIT",
    "ReceiveBuffer",
    "RowParser",
    "length_refusal",
]

#: ``parse(data, pos, size, limit) -> (rows, end)``: turns the whole DataRow messages found
#: in ``data[pos:size]`` into rows, stopping before the first message that is not a DataRow,
#: is incomplete, is longer than ``limit`` (the buffer's ``max_message_size``), or that it
#: declines (malformed, or not of the shape it was made for), and
#: returns the rows with the position after the last message it consumed.  The result
#: decoders of a statement build one (``pgwire.types.rows``); the buffer only hands it bytes.
RowParser = Callable[[bytes, int, int, int], "tuple[list[Any], int]"]

#: 1 GiB is PostgreSQL's own limit for a single field; a message may be slightly larger.
DEFAULT_MAX_MESSAGE_SIZE = (1 << 30) + (1 << 20)
#: The server messages that may be long: libpq's ``VALID_LONG_MESSAGE_TYPE`` (RowDescription,
#: DataRow, CopyData, FunctionCallResponse, ErrorResponse, NoticeResponse,
#: NotificationResponse), and ParameterDescription (4 bytes per parameter, up to 65,535).
LONG_SERVER_MESSAGES = frozenset(b"TDdVENAt")
#: libpq's limit on every other server message (fe-protocol3.c), in every state.
CLIENT_SMALL_MESSAGE_LIMIT = 30000
#: The client messages that may be long, as PostgreSQL reads them (postgres.c): Query,
#: FunctionCall, Bind, Parse, CopyData, and the password message (whose limit before
#: authentication is the server role's).
LONG_CLIENT_MESSAGES = frozenset(b"QFBPdp")
#: PostgreSQL's ``PQ_SMALL_MESSAGE_LIMIT`` on every other client message.
SERVER_SMALL_MESSAGE_LIMIT = 10000

_unpack_header = struct.Struct("!Bi").unpack_from
_unpack_length = struct.Struct("!i").unpack_from
_unpack_row_header = struct.Struct("!ih").unpack_from
_DATA_ROW = 0x44
#: Compact the buffer once this many consumed bytes sit at its front.
_COMPACT_AT = 1 << 16


def length_refusal(
    code: int,
    length: int,
    max_message_size: int,
    small_message_limit: int | None = None,
    long_types: frozenset[int] = frozenset(),
) -> str | None:
    """Why a message of type ``code`` may not declare ``length`` (its length word), or
    ``None`` when it may: the one rule of every limit on message sizes, which the receive
    buffer and the tracer's framing both apply."""
    small = small_message_limit
    if 4 <= length <= max_message_size and (small is None or length <= small or code in long_types):
        return None
    what = f"message of type {bytes([code])!r}"
    if length < 4:
        return f"{what} declares an invalid length {length} (minimum is 4)"
    if length > max_message_size:
        return (
            f"{what} declares a length of {length} bytes, over the maximum message size "
            f"of {max_message_size} bytes; raise max_message_size if this is expected"
        )
    return (
        f"{what} declares a length of {length} bytes; messages of this type are "
        f"at most {small} bytes (small_message_limit)"
    )


def _copy(buf: bytearray, start: int, end: int) -> bytes:
    """``bytes(buf[start:end])``: through a memoryview when large, as slicing a bytearray
    first copies into a new bytearray, which costs ~20x more for 100 kB."""
    if end - start < 4096:
        return bytes(buf[start:end])
    with memoryview(buf) as view:
        return bytes(view[start:end])


class ReceiveBuffer:
    """Accumulates received bytes and cuts them into messages.

    ``max_message_size`` bounds what any message may declare; with ``small_message_limit``
    the types not in ``long_types`` are bounded by it instead (when it is lower).  The
    limits may change between messages (the server role lowers them until the client is
    authenticated).
    """

    __slots__ = ("_buf", "_fast_limit", "_long_types", "_max", "_pos", "_small")

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        *,
        small_message_limit: int | None = None,
        long_types: Iterable[int] = (),
    ) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._max = max_message_size
        self._small = small_message_limit
        self._long_types = frozenset(long_types)
        self._fast_limit = self._lowest_limit()

    def _lowest_limit(self) -> int:
        """A length up to which any type is accepted: the one comparison the hot paths make
        (a longer one is checked against its type's limit, rarely)."""
        if self._small is None:
            return self._max
        return min(self._max, self._small)

    @property
    def max_message_size(self) -> int:
        """The most a message may declare (its length word)."""
        return self._max

    @max_message_size.setter
    def max_message_size(self, value: int) -> None:
        self._max = value
        self._fast_limit = self._lowest_limit()

    @property
    def small_message_limit(self) -> int | None:
        """The most a message of a type not in ``long_types`` may declare (``None``: no
        limit of its own)."""
        return self._small

    def __len__(self) -> int:
        """The number of buffered bytes not yet returned."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if self._pos and (self._pos >= _COMPACT_AT or self._pos == len(self._buf)):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the buffered bytes."""
        self._buf[: self._pos] = data
        self._pos = 0

    def _check_length(self, length: int, what: str) -> None:
        if length < 4:
            raise ProtocolError(f"{what} declares an invalid length {length} (minimum is 4)")
        if length > self._max:
            raise ProtocolError(
                f"{what} declares a length of {length} bytes, over the maximum message size "
                f"of {self._max} bytes; raise max_message_size if this is expected"
            )

    def _check_typed(self, code: int, length: int) -> None:
        """The full check of a typed message's length, for one over the fast limit: a long
        one of a type that may be long passes on two comparisons."""
        if 4 <= length <= self._max and code in self._long_types:
            return
        refusal = length_refusal(code, length, self._max, self._small, self._long_types)
        if refusal is not None:
            raise ProtocolError(refusal)

    def peek_header(self) -> tuple[int, int] | None:
        """The type byte and declared length of the next typed message, once its five header
        bytes are in; nothing is consumed or checked."""
        if len(self._buf) - self._pos < 5:
            return None
        code, length = _unpack_header(self._buf, self._pos)
        return code, length

    def next_message(self) -> tuple[int, bytes] | None:
        """The next whole typed message as ``(type_byte, payload)``, or ``None`` if incomplete."""
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < 5:
            return None
        code, length = _unpack_header(buf, pos)
        if length < 4 or length > self._fast_limit:
            self._check_typed(code, length)
        end = pos + 1 + length
        if end > len(buf):
            return None
        payload = _copy(buf, pos + 5, end)
        self._pos = end
        return code, payload

    def take_data_rows(self) -> list[tuple[bytes | None, ...]]:
        """Every whole DataRow message at the front of the buffer, parsed in place.

        The hot path of every result set: the buffered bytes are copied once, and each
        column is one slice of that copy, with no per-message payload or object.  Stops at
        the first message that is not a DataRow or not whole.  A malformed row raises
        ProtocolError.
        """
        data = self._front_data_rows()
        if not data:
            return []
        size = len(data)
        limit = self._max  # DataRow is a long type everywhere
        rows: list[tuple[bytes | None, ...]] = []
        add_row = rows.append
        pos = 0
        try:
            while size - pos >= 7 and data[pos] == _DATA_ROW:
                length, count = _unpack_row_header(data, pos + 1)
                if length < 6 or length > limit:
                    self._check_length(length, "message of type b'D'")
                    raise ProtocolError(f"malformed DataRow message: {length - 4}-byte body")
                end = pos + 1 + length
                if end > size:
                    break
                if count < 0:
                    raise ProtocolError(f"malformed DataRow message: negative column count {count}")
                at = pos + 7
                values: list[bytes | None] = []
                append = values.append
                for _ in range(count):
                    (width,) = _unpack_length(data, at)
                    at += 4
                    if width >= 0:
                        append(data[at : at + width])
                        at += width
                    elif width == -1:
                        append(None)
                    else:
                        raise ProtocolError(
                            f"malformed DataRow message: invalid column length {width}"
                        )
                # A column that ran past its message shows here, before the row is kept.
                if at != end:
                    raise ProtocolError(
                        "malformed DataRow message: its columns do not fill its length "
                        f"({at - end:+d} bytes)"
                    )
                add_row(tuple(values))
                pos = end
        except struct.error:
            raise ProtocolError("malformed DataRow message: truncated") from None
        self._pos += pos
        return rows

    def next_message_of(self, code: int) -> bytes | None:
        """The payload of the next message if it is whole and of type ``code``; else
        ``None``, and the buffer is unchanged."""
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 5 or buf[pos] != code:
            return None
        (length,) = _unpack_length(buf, pos + 1)
        if length < 4 or length > self._fast_limit:
            return None  # next_message() reads it, or reports it
        end = pos + 1 + length
        if end > len(buf):
            return None
        self._pos = end
        return _copy(buf, pos + 5, end)

    def skip_repeated(self, unit: bytes, count: int) -> bool:
        """Consume ``count`` back-to-back copies of ``unit`` if the buffer starts with them
        (one comparison); else return False and leave the buffer unchanged. For runs of
        identical small messages whose first copy :meth:`next_message_of` has already read
        (and checked): the answers of a pipelined ``executemany``."""
        if count <= 0 or not self._buf.startswith(unit * count, self._pos):
            return False
        self._pos += len(unit) * count
        return True

    def _front_data_rows(self) -> bytes | None:
        """A copy of the buffered bytes when a DataRow header is at the front: ``None``
        if none is, ``b""`` while that DataRow (of a valid length) is still incomplete.
        Not copying then matters: a value larger than one read would otherwise be copied
        again with every read, in quadratic time."""
        buf = self._buf
        start = self._pos
        if len(buf) - start < 7 or buf[start] != _DATA_ROW:
            return None
        length: int = _unpack_length(buf, start + 1)[0]
        if 4 <= length <= self._max and start + 1 + length > len(buf):
            return b""
        return _copy(buf, start, len(buf)) if start else bytes(buf)

    def take_rows(self, parse: RowParser) -> list[Any] | None:
        """The rows ``parse`` makes of the DataRow messages at the front of the buffer;
        ``None`` if no (whole header of a) DataRow is there.

        The fastest path of result sets: framing and decoding fused in one function made
        for the statement.  Whatever ``parse`` declines stays buffered, for
        :meth:`take_data_rows` and :meth:`next_message` to report precisely.
        """
        data = self._front_data_rows()
        if data is None:
            return None
        if not data:
            return []
        rows, end = parse(data, 0, len(data), self._max)
        if not 0 <= end <= len(data):
            raise ProtocolError(f"the row parser stopped at {end}, outside the buffer")
        self._pos += end
        return rows

    def next_untyped(self) -> bytes | None:
        """The next whole startup-phase message (no type byte): its body after the length."""
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 4:
            return None
        (length,) = _unpack_length(buf, pos)
        self._check_length(length, "startup packet")
        end = pos + length
        if end > len(buf):
            return None
        payload = _copy(buf, pos + 4, end)
        self._pos = end
        return payload

    def next_byte(self) -> int | None:
        """One raw byte (the server's answer to SSLRequest or GSSENCRequest), if any."""
        if self._pos >= len(self._buf):
            return None
        value = self._buf[self._pos]
        self._pos += 1
        return value

    def take_all(self) -> bytes:
        """Every buffered byte, leaving the buffer empty (used when the stream turns to TLS)."""
        data = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return data
