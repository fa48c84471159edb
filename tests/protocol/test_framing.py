"""pgwire.protocol.framing: a byte stream cut anywhere comes out as the same whole messages."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwire.errors import ProtocolError
from pgwire.protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    CommandComplete,
    CopyData,
    DataRow,
    ParseComplete,
    ReadyForQuery,
    ReceiveBuffer,
    RowDescription,
    SSLRequest,
    StartupMessage,
    Sync,
)
from pgwire.protocol.messages import FieldDescription
from tests.protocol.scripts import chunks, wire

MESSAGES = (
    RowDescription((FieldDescription("n", type_oid=23, type_size=4),)),
    DataRow((b"1",)),
    DataRow((None,)),
    DataRow((b"x" * 300,)),
    ParseComplete(),
    CommandComplete("SELECT 3"),
    ReadyForQuery("I"),
)
STREAM = wire(*MESSAGES)
EXPECTED = [(message.code[0], message.encode()[5:]) for message in MESSAGES]


def drain(buffer: ReceiveBuffer) -> list[tuple[int, bytes]]:
    out = []
    while (frame := buffer.next_message()) is not None:
        out.append(frame)
    return out


def feed_in_pieces(
    pieces: Sequence[bytes | bytearray | memoryview], buffer: ReceiveBuffer | None = None
) -> list[tuple[int, bytes]]:
    buffer = buffer if buffer is not None else ReceiveBuffer()
    out = []
    for piece in pieces:
        buffer.feed(piece)
        out.extend(drain(buffer))
    assert len(buffer) == 0
    return out


def header(code: bytes, length: int) -> bytes:
    return code + struct.pack("!i", length)


# --------------------------------------------------------------------------------------
# Cutting the stream
# --------------------------------------------------------------------------------------


def test_many_messages_in_one_chunk_come_out_in_order() -> None:
    assert feed_in_pieces([STREAM]) == EXPECTED


def test_one_byte_at_a_time_gives_the_same_messages() -> None:
    assert feed_in_pieces(chunks(STREAM, [1])) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_cut_at_any_point_gives_the_same_messages(cut: int) -> None:
    assert feed_in_pieces([STREAM[:cut], STREAM[cut:]]) == EXPECTED


@given(sizes=st.lists(st.integers(1, 64), min_size=1))
def test_any_chunking_gives_the_same_messages(sizes: list[int]) -> None:
    assert feed_in_pieces(chunks(STREAM, sizes)) == EXPECTED


def test_an_incomplete_message_waits_for_the_rest() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(STREAM[:3])
    assert buffer.next_message() is None
    buffer.feed(STREAM[3:8])
    assert buffer.next_message() is None
    assert len(buffer) == 8


def test_bytes_like_chunks_are_accepted() -> None:
    half = len(STREAM) // 2
    assert feed_in_pieces([bytearray(STREAM[:half]), memoryview(STREAM)[half:]]) == EXPECTED


def test_payloads_are_independent_bytes_copies() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(DataRow((b"abc",)).encode())
    frame = buffer.next_message()
    assert frame is not None
    assert type(frame[1]) is bytes


def test_compaction_keeps_data_intact_across_many_feeds() -> None:
    # Over 64 KiB of consumed bytes pile up at the front before the buffer compacts;
    # 997-byte chunks keep a partial message in the buffer at almost every compaction.
    rows = [DataRow((bytes([i % 251]) * (i % 700), None)) for i in range(1000)]
    stream = wire(*rows)
    assert len(stream) > 3 * (1 << 16)
    buffer = ReceiveBuffer()
    frames = feed_in_pieces(chunks(stream, [997]), buffer)
    assert frames == [(ord("D"), row.encode()[5:]) for row in rows]


def test_consumed_bytes_are_released() -> None:
    buffer = ReceiveBuffer()
    row = DataRow((b"x" * 1000,)).encode()
    for _ in range(1000):
        buffer.feed(row[:500])
        assert buffer.next_message() is None
        buffer.feed(row[500:])
        assert buffer.next_message() is not None
    # Whitebox: about a megabyte went through; the storage stays one message large.
    assert len(buffer._buf) < 2 * len(row)


# --------------------------------------------------------------------------------------
# Lengths
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [3, 0, -1, -(2**31)])
def test_length_below_four_is_refused_as_soon_as_the_header_is_in(length: int) -> None:
    buffer = ReceiveBuffer()
    buffer.feed(header(b"D", length))
    with pytest.raises(ProtocolError, match=rf"b'D' declares an invalid length {length}"):
        buffer.next_message()


def test_length_over_the_maximum_is_refused_before_the_body_arrives() -> None:
    buffer = ReceiveBuffer(max_message_size=1000)
    buffer.feed(header(b"D", 1001))
    with pytest.raises(ProtocolError, match=r"1001 bytes.*maximum message size of 1000"):
        buffer.next_message()


def test_huge_declared_length_fails_with_the_default_maximum() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(header(b"d", 2**31 - 1))
    with pytest.raises(ProtocolError, match="maximum message size"):
        buffer.next_message()
    assert DEFAULT_MAX_MESSAGE_SIZE < 2**31 - 1


def test_a_message_exactly_at_the_maximum_is_accepted() -> None:
    message = CopyData(b"z" * 96)
    buffer = ReceiveBuffer(max_message_size=100)
    buffer.feed(message.encode())
    assert buffer.next_message() == (ord("d"), b"z" * 96)


def test_a_four_byte_length_is_an_empty_payload() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"1\0\0\0\4")
    assert buffer.next_message() == (ord("1"), b"")


# --------------------------------------------------------------------------------------
# Startup-phase packets, single bytes and handing the stream to TLS
# --------------------------------------------------------------------------------------


def test_next_untyped_returns_a_startup_packet_body() -> None:
    packet = StartupMessage({"user": "alice"}).encode()
    buffer = ReceiveBuffer()
    buffer.feed(packet + SSLRequest().encode())
    assert buffer.next_untyped() == packet[4:]
    assert buffer.next_untyped() == SSLRequest().encode()[4:]
    assert buffer.next_untyped() is None


def test_next_untyped_waits_for_a_whole_packet() -> None:
    packet = StartupMessage({"user": "alice"}).encode()
    buffer = ReceiveBuffer()
    for byte in packet[:-1]:
        buffer.feed(bytes([byte]))
        assert buffer.next_untyped() is None
    buffer.feed(packet[-1:])
    assert buffer.next_untyped() == packet[4:]


def test_next_untyped_refuses_a_length_below_four() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(struct.pack("!i", 2))
    with pytest.raises(ProtocolError, match="startup packet declares an invalid length 2"):
        buffer.next_untyped()


def test_next_untyped_refuses_a_length_over_the_maximum_before_the_body() -> None:
    buffer = ReceiveBuffer(max_message_size=64)
    buffer.feed(struct.pack("!i", 65))
    with pytest.raises(ProtocolError, match=r"startup packet.*65 bytes"):
        buffer.next_untyped()


def test_next_byte_reads_one_raw_byte() -> None:
    buffer = ReceiveBuffer()
    assert buffer.next_byte() is None
    buffer.feed(b"SN")
    assert buffer.next_byte() == ord("S")
    assert buffer.next_byte() == ord("N")
    assert buffer.next_byte() is None


def test_take_all_empties_the_buffer() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"S\x16\x03\x01")
    assert buffer.next_byte() == ord("S")
    assert buffer.take_all() == b"\x16\x03\x01"
    assert len(buffer) == 0
    assert buffer.take_all() == b""
    buffer.feed(ParseComplete().encode())
    assert buffer.next_message() == (ord("1"), b"")


# --------------------------------------------------------------------------------------
# The DataRow fast path
# --------------------------------------------------------------------------------------


def _row_message(body: bytes) -> bytes:
    return b"D" + (len(body) + 4).to_bytes(4, "big") + body


def test_take_data_rows_returns_every_whole_row_and_leaves_the_rest() -> None:
    rows = [(b"1", None, b"abc"), (b"", b"\x00\xff")]
    data = b"".join(DataRow(r).encode() for r in rows) + CommandComplete("SELECT 2").encode()
    buffer = ReceiveBuffer()
    buffer.feed(data[:-3])
    assert buffer.take_data_rows() == rows
    assert buffer.take_data_rows() == []
    buffer.feed(data[-3:])
    assert buffer.next_message() == (ord("C"), CommandComplete("SELECT 2").body())


def test_take_data_rows_waits_for_a_row_cut_anywhere() -> None:
    data = DataRow((b"hello", None)).encode()
    for cut in range(len(data)):
        buffer = ReceiveBuffer()
        buffer.feed(data[:cut])
        assert buffer.take_data_rows() == []
        buffer.feed(data[cut:])
        assert buffer.take_data_rows() == [(b"hello", None)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xff", "negative column count"),
        (b"\x00\x01\xff\xff\xff\xfe", "invalid column length -2"),
        (b"\x00\x01\x00\x00\x00\x09abc", "do not fill"),
        (b"\x00\x02\x00\x00\x00\x01a", "do not fill|truncated"),
        (b"\x00\x00\x00", "do not fill"),
    ],
)
def test_take_data_rows_refuses_a_malformed_row(body: bytes, message: str) -> None:
    buffer = ReceiveBuffer()
    buffer.feed(_row_message(body) + Sync().encode())
    with pytest.raises(ProtocolError, match=message):
        buffer.take_data_rows()


def test_take_data_rows_refuses_an_oversized_row_from_its_header() -> None:
    buffer = ReceiveBuffer(max_message_size=64)
    buffer.feed(b"D" + (65).to_bytes(4, "big") + b"\x00\x01")
    with pytest.raises(ProtocolError, match="maximum message size"):
        buffer.take_data_rows()


def test_take_data_rows_refuses_a_row_too_short_for_its_column_count() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(b"D\x00\x00\x00\x05\x00" + b"\x00")
    with pytest.raises(ProtocolError, match="1-byte body"):
        buffer.take_data_rows()


def test_take_data_rows_refuses_columns_running_past_the_last_message() -> None:
    buffer = ReceiveBuffer()
    buffer.feed(_row_message(b"\x00\x02\x00\x00\x00\x01a"))
    with pytest.raises(ProtocolError, match="truncated"):
        buffer.take_data_rows()


@pytest.mark.parametrize("size", [0, 100, 4095, 4096, 70_000])
def test_large_and_small_messages_come_out_whole_after_a_consumed_prefix(size: int) -> None:
    # Small payloads are sliced, large ones copied through a memoryview: the same bytes.
    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    buffer = ReceiveBuffer()
    buffer.feed(ParseComplete().encode() + CopyData(value).encode() + DataRow((value,)).encode())
    buffer.feed(DataRow((value, None)).encode() + CommandComplete("X").encode())
    assert buffer.next_message() == (ord("1"), b"")
    assert buffer.next_message() == (ord("d"), value)
    assert buffer.take_data_rows() == [(value,), (value, None)]
    assert buffer.next_message_of(ord("C")) == b"X\x00"
    assert len(buffer) == 0
    buffer.feed(ParseComplete().encode() + DataRow((value,)).encode())
    assert buffer.next_message() == (ord("1"), b"")

    def parse(data: bytes, pos: int, size: int, limit: int) -> tuple[list[object], int]:
        (length,) = struct.unpack_from("!i", data, pos + 1)
        return [data[pos + 11 : pos + 1 + length]], pos + 1 + length

    assert buffer.take_rows(parse) == [value]
    assert buffer.take_rows(parse) is None
    startup = StartupMessage({"user": "u" * size}).encode()
    buffer.feed(b"x" + startup)
    assert buffer.next_byte() == ord("x")
    assert buffer.next_untyped() == startup[4:]


def test_next_message_of_leaves_other_incomplete_and_invalid_messages() -> None:
    buffer = ReceiveBuffer(max_message_size=100)
    assert buffer.next_message_of(ord("C")) is None  # empty
    buffer.feed(Sync().encode())
    assert buffer.next_message_of(ord("C")) is None  # another type
    buffer = ReceiveBuffer(max_message_size=100)
    buffer.feed(CommandComplete("SELECT 1").encode()[:-1])
    assert buffer.next_message_of(ord("C")) is None  # incomplete
    assert len(buffer) == len(CommandComplete("SELECT 1").encode()) - 1
    for bad_length in (3, 101):
        buffer = ReceiveBuffer(max_message_size=100)
        buffer.feed(b"C" + struct.pack("!i", bad_length) + b"x" * 8)
        assert buffer.next_message_of(ord("C")) is None  # next_message() reports it
        with pytest.raises(ProtocolError):
            buffer.next_message()


def test_rows_are_taken_up_to_an_incomplete_one_which_is_then_left_uncopied() -> None:
    row = DataRow((b"1",)).encode()
    buffer = ReceiveBuffer()
    buffer.feed(row + row[:-1])
    assert buffer.take_data_rows() == [(b"1",)]  # the whole one; the partial one stays
    assert buffer.take_data_rows() == []  # only the incomplete one: nothing to copy

    def parse(data: bytes, pos: int, size: int, limit: int) -> tuple[list[object], int]:
        raise AssertionError("not called for an incomplete row")

    assert buffer.take_rows(parse) == []  # a DataRow is there, but not whole yet
    buffer.feed(row[-1:])
    assert buffer.take_data_rows() == [(b"1",)]
