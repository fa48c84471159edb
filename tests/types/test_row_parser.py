"""Row parsers (``pgwire.types.rows``) against the general path they shortcut.

The general path cuts DataRows with ``ReceiveBuffer.take_data_rows`` and decodes them with
the registry's row decoder.  A row parser must give the very same Records for every row it
takes, take every well-formed row, and stop *before* any row it cannot handle (malformed,
undecodable, or of another shape), leaving it for the general path to report.
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import DataError, Error, InterfaceError, ProtocolError
from pgwire.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE, ReceiveBuffer
from pgwire.protocol.messages import DataRow
from pgwire.record import Record, RecordShape
from pgwire.types import default_registry, oids
from pgwire.types import rows as rows_module
from pgwire.types.base import StructDecoder
from pgwire.types.rows import make_row_parser

REGISTRY = default_registry()
BINARY, TEXT = 1, 0

# (oid, format) -> a strategy of wire values for it (never NULL)
_int = {2: "!h", 4: "!i", 8: "!q"}
COLUMN_VALUES: dict[tuple[int, int], st.SearchStrategy[bytes]] = {
    (oids.INT2, BINARY): st.integers(-(2**15), 2**15 - 1).map(lambda v: struct.pack("!h", v)),
    (oids.INT4, BINARY): st.integers(-(2**31), 2**31 - 1).map(lambda v: struct.pack("!i", v)),
    (oids.INT8, BINARY): st.integers(-(2**63), 2**63 - 1).map(lambda v: struct.pack("!q", v)),
    (oids.OID, BINARY): st.integers(0, 2**32 - 1).map(lambda v: struct.pack("!I", v)),
    (oids.FLOAT8, BINARY): st.floats().map(lambda v: struct.pack("!d", v)),
    (oids.FLOAT4, BINARY): st.floats(width=32).map(lambda v: struct.pack("!f", v)),
    (oids.BOOL, BINARY): st.sampled_from([b"\x00", b"\x01"]),
    (oids.CHAR, BINARY): st.binary(min_size=1, max_size=1),
    (oids.TEXT, BINARY): st.text(max_size=20).map(str.encode),
    (oids.NAME, TEXT): st.text(max_size=20).map(str.encode),
    (oids.BYTEA, BINARY): st.binary(max_size=40),
    (oids.INT4, TEXT): st.integers(-(2**31), 2**31 - 1).map(lambda v: str(v).encode()),
    (oids.NUMERIC, TEXT): st.decimals(allow_nan=False, allow_infinity=False, places=3).map(
        lambda v: str(v).encode()
    ),
    (oids.DATE, BINARY): st.integers(-700_000, 2_000_000).map(lambda v: struct.pack("!i", v)),
}
COLUMN_TYPES = list(COLUMN_VALUES)


def data_row(values: list[bytes | None]) -> bytes:
    body = struct.pack("!h", len(values)) + b"".join(
        struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v for v in values
    )
    return b"D" + struct.pack("!i", len(body) + 4) + body


def general_path(
    data: bytes,
    columns: list[tuple[int, int]],
    shape: RecordShape,
    limit: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> list[Any]:
    """What the general path makes of ``data``, message by message: Records, then the
    error of the first row it cannot take (a ProtocolError, or the decoder's error), if any
    (as reprs when ``limit`` is given)."""
    found = _general_path(data, columns, shape, limit)
    return found if limit == DEFAULT_MAX_MESSAGE_SIZE else [repr(x) for x in found]


def _general_path(
    data: bytes, columns: list[tuple[int, int]], shape: RecordShape, limit: int
) -> list[Any]:
    buffer = ReceiveBuffer(max_message_size=limit)
    buffer.feed(data)
    decode = REGISTRY.row_decoder(columns)
    out: list[Any] = []
    while True:
        try:
            frame = buffer.next_message()
            if frame is None or frame[0] != ord("D"):
                return out
            values = DataRow.decode(frame[1]).values
        except ProtocolError as exc:
            return [*out, exc]
        try:
            out.append(Record(shape, decode(values)))
        except Error as exc:
            return [*out, exc]


def parse(data: bytes, columns: list[tuple[int, int]], shape: RecordShape) -> tuple[list, int]:
    parser = REGISTRY.row_parser(columns, shape)
    assert parser is not None
    return parser(data, 0, len(data), DEFAULT_MAX_MESSAGE_SIZE)


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[list[bytes | None]]]:
    columns = draw(st.lists(st.sampled_from(COLUMN_TYPES), min_size=1, max_size=8))
    value = st.one_of(*(st.none() | COLUMN_VALUES[c] for c in columns))
    rows = draw(
        st.lists(
            st.tuples(*(st.none() | COLUMN_VALUES[c] for c in columns)).map(list),
            max_size=12,
        )
    )
    del value
    return columns, rows


@settings(max_examples=200, deadline=None)
@given(batches())
def test_well_formed_rows_parse_as_the_general_path_does(
    batch: tuple[list[tuple[int, int]], list[list[bytes | None]]],
) -> None:
    columns, rows = batch
    shape = RecordShape(tuple(f"c{i}" for i in range(len(columns))))
    data = b"".join(data_row(r) for r in rows)
    records, end = parse(data, columns, shape)
    assert end == len(data)
    assert [repr(x) for x in records] == [repr(x) for x in general_path(data, columns, shape)]
    assert all(isinstance(r, Record) and r._shape == shape for r in records)


@settings(max_examples=200, deadline=None)
@given(batches(), st.data())
def test_damaged_input_stops_the_parser_before_the_damage(
    batch: tuple[list[tuple[int, int]], list[list[bytes | None]]], data: st.DataObject
) -> None:
    columns, rows = batch
    shape = RecordShape(tuple(f"c{i}" for i in range(len(columns))))
    wire = bytearray(b"".join(data_row(r) for r in rows) + data_row([None] * len(columns)))
    # Damage some bytes, or cut the input short.
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(wire) - 1))
        wire[at] = data.draw(st.integers(0, 255))
    damaged = bytes(wire[: data.draw(st.integers(0, len(wire)))])
    records, end = parse(damaged, columns, shape)
    expected = general_path(damaged, columns, shape)
    # Every row the parser took is one the general path makes alike, and it stopped on a
    # message boundary: the general path, started there, continues with the rest.
    assert [repr(x) for x in records] == [repr(x) for x in expected[: len(records)]]
    assert 0 <= end <= len(damaged)
    rest = general_path(damaged[end:], columns, shape)
    assert [repr(x) for x in records + rest] == [repr(x) for x in expected]


def test_wrong_column_count_and_undecodable_values_are_left_to_the_general_path() -> None:
    columns = [(oids.INT4, BINARY), (oids.TEXT, BINARY)]
    shape = RecordShape(("a", "b"))
    good = data_row([struct.pack("!i", 1), b"x"])
    for bad, followed in (
        (data_row([struct.pack("!i", 1)]), True),  # one column short
        (data_row([struct.pack("!q", 1), b"x"]), True),  # an int4 of 8 bytes
        (data_row([struct.pack("!i", 1), b"\xff"]), True),  # not UTF-8
        (data_row([struct.pack("!i", 1), b"x"])[:-1], False),  # incomplete: the last bytes
    ):
        for data in (good + bad, good + bad + good) if followed else (good + bad,):
            records, end = parse(data, columns, shape)
            assert records == [Record(shape, (1, "x"))]
            assert end == len(good)
    errors = general_path(good + data_row([struct.pack("!q", 1), b"x"]), columns, shape)
    assert isinstance(errors[-1], DataError)
    errors = general_path(good + data_row([struct.pack("!i", 1)]), columns, shape)
    assert isinstance(errors[-1], InterfaceError)


def test_fixed_width_rows_with_nulls_and_the_one_byte_types() -> None:
    columns = [(oids.INT4, BINARY), (oids.BOOL, BINARY), (oids.CHAR, BINARY), (oids.INT8, BINARY)]
    shape = RecordShape(("a", "b", "c", "d"))
    rows = [
        [struct.pack("!i", 7), b"\x01", b"a", struct.pack("!q", -1)],
        [None, b"\x00", b"\x00", None],
        [struct.pack("!i", -7), None, b"\xe9", struct.pack("!q", 2**62)],
    ]
    data = b"".join(data_row(r) for r in rows)
    records, end = parse(data, columns, shape)
    assert end == len(data)
    assert [tuple(r) for r in records] == [
        (7, True, "a", -1),
        (None, False, "", None),
        (-7, None, "\xe9", 2**62),
    ]


def test_no_parser_for_rows_without_columns() -> None:
    assert make_row_parser([], RecordShape(())) is None


@pytest.mark.parametrize("value", [Decimal("1.5"), Decimal("-0.001")])
def test_text_columns_use_their_decoder(value: Decimal) -> None:
    columns = [(oids.NUMERIC, TEXT)]
    shape = RecordShape(("n",))
    data = data_row([str(value).encode()])
    records, end = parse(data, columns, shape)
    assert records == [Record(shape, (value,))] and end == len(data)


@settings(max_examples=100, deadline=None)
@given(batches(), st.data())
def test_rows_cut_anywhere_and_the_size_limit_agree_with_the_general_path(
    batch: tuple[list[tuple[int, int]], list[list[bytes | None]]], data: st.DataObject
) -> None:
    """Through a buffer fed in chunks, with a max_message_size that some rows exceed: the
    parser path (then the general one for what it declines) gives what the general path
    alone gives."""
    columns, rows = batch
    shape = RecordShape(tuple(f"c{i}" for i in range(len(columns))))
    wire = b"".join(data_row(r) for r in rows)
    limit = data.draw(st.integers(4, 200))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=5)))
    parser = REGISTRY.row_parser(columns, shape)
    decode = REGISTRY.row_decoder(columns)
    assert parser is not None

    def run(use_parser: bool) -> list[str]:
        buffer = ReceiveBuffer(max_message_size=limit)
        out: list[str] = []
        for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            buffer.feed(wire[start:end])
            try:
                while True:
                    records = buffer.take_rows(parser) if use_parser else None
                    if records:
                        out += map(repr, records)
                        continue
                    raw = buffer.take_data_rows()
                    if not raw:
                        break
                    out += [repr(Record(shape, decode(values))) for values in raw]
            except (ProtocolError, Error) as exc:
                return [*out, repr(exc)]
        return out

    # A fatal error may drop the rows of the batch it ends; otherwise the same rows, and
    # the same error, as message by message.
    expected = general_path(wire, columns, shape, limit)
    for got in (run(True), run(False)):
        if expected and not expected[-1].startswith("<Record"):
            assert got[-1] == expected[-1]
            assert got[:-1] == expected[: len(got) - 1]
        else:
            assert got == expected


def test_an_incomplete_row_at_the_front_is_not_copied_or_parsed() -> None:
    calls: list[int] = []

    def parse(data: bytes, pos: int, size: int, limit: int) -> tuple[list[object], int]:
        calls.append(size)
        return [], pos

    buffer = ReceiveBuffer()
    big = data_row([b"x" * 100_000])
    for start in range(0, len(big) - 1000, 1000):
        buffer.feed(big[start : start + 1000])
        assert buffer.take_rows(parse) == []
        assert buffer.take_data_rows() == []
    assert calls == []


def test_unhashable_and_native_byte_order_decoders_are_called_as_they_are() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, data: bytes) -> str:
            return data.decode() + "!"

    native = StructDecoder("i")  # native byte order: the row parser must not inline it
    shape = RecordShape(("a", "b"))
    parser = make_row_parser([Unhashable(), native], shape)
    assert parser is not None
    value = struct.pack("i", 1)
    wire = data_row([b"x", value])
    records, end = parser(wire, 0, len(wire), DEFAULT_MAX_MESSAGE_SIZE)
    assert records == [("x!", 1)] and end == len(wire)


# ---------------------------------------------------------------------------------------
# Rows whose columns are all fixed-width: runs of them are taken in batches (_FixedRows)
# ---------------------------------------------------------------------------------------

FIXED_VALUES: dict[tuple[int, int], st.SearchStrategy[bytes]] = {
    **{c: COLUMN_VALUES[c] for c in COLUMN_VALUES if c[0] not in (oids.BOOL, oids.CHAR)},
    # Every byte, not only 0 and 1: the batch's lookup must give what the decoder gives.
    (oids.BOOL, BINARY): st.binary(min_size=1, max_size=1),
    (oids.CHAR, BINARY): st.binary(min_size=1, max_size=1),
}
FIXED_TYPES = [
    (oid, BINARY)
    for oid in (
        oids.INT2,
        oids.INT4,
        oids.INT8,
        oids.OID,
        oids.FLOAT4,
        oids.FLOAT8,
        oids.BOOL,
        oids.CHAR,
        oids.DATE,
    )
]

Batch = tuple[list[tuple[int, int]], list[list[bytes | None]]]


@st.composite
def fixed_batches(draw: st.DrawFn, max_rows: int = 80) -> Batch:
    """Many rows of fixed-width columns, with a few NULLs at drawn places (or none)."""
    columns = draw(st.lists(st.sampled_from(FIXED_TYPES), min_size=1, max_size=6))
    rows = draw(
        st.lists(st.tuples(*(FIXED_VALUES[c] for c in columns)).map(list), max_size=max_rows)
    )
    if rows:
        for _ in range(draw(st.integers(0, 3))):
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, len(columns) - 1))] = None
    return columns, rows


def shape_of(columns: list[tuple[int, int]]) -> RecordShape:
    return RecordShape(tuple(f"c{i}" for i in range(len(columns))))


def buffered_path(wire: bytes, cuts: list[int], columns: list[tuple[int, int]], limit: int) -> Any:
    """What the parser path, then the general path for what it declines, makes of ``wire``
    fed to a receive buffer in pieces cut at ``cuts``: reprs of the Records, then of the
    error, if any."""
    shape = shape_of(columns)
    parser = REGISTRY.row_parser(columns, shape)
    decode = REGISTRY.row_decoder(columns)
    assert parser is not None
    buffer = ReceiveBuffer(max_message_size=limit)
    out: list[str] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        buffer.feed(wire[start:end])
        try:
            while True:
                records = buffer.take_rows(parser)
                if records:
                    out += map(repr, records)
                    continue
                raw = buffer.take_data_rows()
                if not raw:
                    break
                out += [repr(Record(shape, decode(values))) for values in raw]
        except (ProtocolError, Error) as exc:
            return [*out, repr(exc)]
    return out


@settings(max_examples=300, deadline=None)
@given(fixed_batches())
def test_runs_of_fixed_width_rows_parse_as_the_general_path_does(batch: Batch) -> None:
    columns, rows = batch
    shape = shape_of(columns)
    data = b"".join(data_row(r) for r in rows)
    records, end = parse(data, columns, shape)
    assert end == len(data)
    assert [repr(x) for x in records] == [repr(x) for x in general_path(data, columns, shape)]
    assert all(type(r) is shape.record_class for r in records)


@settings(max_examples=300, deadline=None)
@given(fixed_batches(), st.data())
def test_damage_in_a_run_of_fixed_width_rows_stops_the_parser_before_it(
    batch: Batch, data: st.DataObject
) -> None:
    columns, rows = batch
    shape = shape_of(columns)
    wire = bytearray(b"".join(data_row(r) for r in rows) + data_row([None] * len(columns)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(wire) - 1))
        wire[at] = data.draw(st.integers(0, 255))
    damaged = bytes(wire[: data.draw(st.integers(0, len(wire)))])
    records, end = parse(damaged, columns, shape)
    expected = general_path(damaged, columns, shape)
    assert [repr(x) for x in records] == [repr(x) for x in expected[: len(records)]]
    assert 0 <= end <= len(damaged)
    rest = general_path(damaged[end:], columns, shape)
    assert [repr(x) for x in records + rest] == [repr(x) for x in expected]


@settings(max_examples=200, deadline=None)
@given(fixed_batches(), st.data())
def test_fixed_width_rows_cut_anywhere_and_the_size_limit_agree_with_the_general_path(
    batch: Batch, data: st.DataObject
) -> None:
    columns, rows = batch
    wire = b"".join(data_row(r) for r in rows)
    # Around the rows' own length, so that the limit falls on either side of it.
    limit = data.draw(st.integers(4, 120))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=5)))
    expected = general_path(wire, columns, shape_of(columns), limit)
    got = buffered_path(wire, cuts, columns, limit)
    if expected and not expected[-1].startswith("<Record"):
        assert got[-1] == expected[-1]
        assert got[:-1] == expected[: len(got) - 1]
    else:
        assert got == expected


def int4_rows(count: int, null_at: tuple[int, ...] = ()) -> bytes:
    return b"".join(
        data_row([None if i in null_at else struct.pack("!i", i - count // 2)])
        for i in range(count)
    )


def test_a_run_cut_at_every_point_gives_the_rows_of_the_general_path() -> None:
    columns = [(oids.INT4, BINARY), (oids.BOOL, BINARY)]
    wire = b"".join(
        data_row([struct.pack("!i", -(2**31) + i), bytes([i % 3])]) for i in range(40)
    ) + data_row([None, b"\x01"])
    expected = general_path(wire, columns, shape_of(columns))
    assert len(expected) == 41
    for cut in range(len(wire) + 1):
        got = buffered_path(wire, [cut], columns, DEFAULT_MAX_MESSAGE_SIZE)
        assert got == [repr(x) for x in expected], cut


class _CountingBatches:
    """Counts the rows that runs of fixed-width rows gave, through _FixedRows.take."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = rows_module._FixedRows.take

        def take(self_: Any, *args: Any) -> Any:
            records, end, retry = original(self_, *args)
            self.rows += len(records)
            return records, end, retry

        monkeypatch.setattr(rows_module._FixedRows, "take", take)
        rows_module._fixed_rows.cache_clear()


def test_long_runs_are_taken_in_batches_around_nulls(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = _CountingBatches(monkeypatch)
    columns = [(oids.INT4, BINARY)]
    shape = shape_of(columns)
    data = int4_rows(5000, null_at=(0, 2500, 2501, 4999))
    records, end = parse(data, columns, shape)
    assert end == len(data)
    assert records == general_path(data, columns, shape)
    # All but the NULL rows and the few read on their own after each of them.
    assert counting.rows >= 5000 - 4 - 3 * 2 * rows_module._BATCH_MIN_ROWS


def test_a_row_over_the_size_limit_is_left_to_the_general_path() -> None:
    columns = [(oids.INT4, BINARY)]
    wire = int4_rows(50)
    # A DataRow of one int4 declares 14 bytes: a limit of 13 refuses every one of them.
    got = buffered_path(wire, [], columns, 13)
    assert len(got) == 1 and "over the maximum message size of 13 bytes" in got[0]
    assert len(buffered_path(wire, [], columns, 14)) == 50


def test_rows_after_the_run_are_left_buffered() -> None:
    columns = [(oids.INT8, BINARY)]
    shape = shape_of(columns)
    rows = b"".join(data_row([struct.pack("!q", i)]) for i in range(30))
    complete = b"C" + struct.pack("!i", 13) + b"SELECT 30\x00"
    records, end = parse(rows + complete, columns, shape)
    assert [r[0] for r in records] == list(range(30))
    assert end == len(rows)


@pytest.mark.parametrize(
    "columns",
    [
        [(oids.INT4, BINARY)],
        [(oids.TEXT, BINARY), (oids.INT4, BINARY)],
        [(oids.TEXT, BINARY), (oids.INT4, BINARY), (oids.BOOL, BINARY)],
        [(oids.INT4, BINARY), (oids.TEXT, BINARY), (oids.INT8, BINARY)],
    ],
)
@pytest.mark.parametrize("extra", [1, 4, 9])
def test_a_row_longer_than_its_columns_is_left_to_the_general_path(
    columns: list[tuple[int, int]], extra: int
) -> None:
    shape = shape_of(columns)
    values = {oids.INT4: b"\x00\x00\x00\x07", oids.TEXT: b"abc", oids.BOOL: b"\x01"}
    values[oids.INT8] = bytes(8)
    good = data_row([values[oid] for oid, _ in columns])
    # The same row, declaring ``extra`` more bytes than its columns fill, which follow it.
    long = b"D" + struct.pack("!i", len(good) - 1 + extra) + good[5:] + b"\x00" * extra
    wire = good * 20 + long + good
    records, end = parse(wire, columns, shape)
    assert len(records) == 20 and end == 20 * len(good)
    expected = general_path(wire, columns, shape)
    assert isinstance(expected[20], ProtocolError)
    assert "trailing bytes" in str(expected[20])


@pytest.mark.parametrize("count", [60, 3000])
def test_a_null_anywhere_in_a_run_is_read_as_the_general_path_reads_it(count: int) -> None:
    """Every place a batch check may start or end: each row of a short result, and the
    rows around the edges of the batches of a result longer than one batch."""
    columns = [(oids.INT4, BINARY)]
    shape = shape_of(columns)
    # A run starts after the rows read one by one; one batch takes at most a chunk.
    first, chunk = rows_module._BATCH_MIN_ROWS, rows_module._BATCH_BYTES // 15
    edges = [
        place for k in (1, 2) for place in range(first + k * chunk - 20, first + k * chunk + 20)
    ]
    places = range(count) if count <= 60 else [*range(40), *edges, count - 1]
    for place in places:
        data = int4_rows(count, null_at=(place,))
        records, end = parse(data, columns, shape)
        assert end == len(data), place
        assert records == general_path(data, columns, shape), place


@pytest.mark.parametrize("place", range(40))
def test_a_damaged_column_length_anywhere_in_a_run_stops_the_parser_there(place: int) -> None:
    columns = [(oids.INT8, BINARY)]
    shape = shape_of(columns)
    rows = [data_row([struct.pack("!q", i)]) for i in range(40)]
    # The column claims 7 bytes and the row is one byte shorter: a frame of another shape.
    rows[place] = data_row([struct.pack("!q", place)[:7]])
    data = b"".join(rows)
    records, end = parse(data, columns, shape)
    expected = general_path(data, columns, shape)
    assert len(records) == place and end == sum(map(len, rows[:place]))
    assert records == expected[:place]
    assert isinstance(expected[place], DataError)
