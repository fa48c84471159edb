"""Row parsers: DataRow messages straight from the receive buffer to Records.

A result set's rows normally cost three steps each: the framing cuts the message into one
bytes object per column, the row decoder turns those into Python values, and a Record wraps
them.  A *row parser* (:data:`pgwire.protocol.framing.RowParser`) fuses the three for one
statement: compiled once per shape of row (which columns are fixed-width ``struct`` fields,
which are kept as raw bytes, which need a decoder), it reads each column's length and value
at their offsets in the buffered bytes, so a 4-byte integer column costs one ``unpack_from``
and no intermediate bytes object.

When every column is fixed-width, a run of rows without NULLs is a run of identical
frames: :class:`_FixedRows` checks a whole run at once (every byte that is not a value
must be the one such a row has) and decodes it with one ``struct.iter_unpack``, so the
rows cost C loops, not Python ones.  The first row that differs ends the run, and the
parser reads it on its own.

It decides nothing on its own: a row it cannot handle (a malformed message, a value its
decoder refuses, a column count other than the statement's) stops it *before* that row, and
the driver's general path (``take_data_rows`` and the statement's row decoder) then reads
that row and reports the precise error.  So the parser and the general path always agree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Sequence
from functools import lru_cache
from itertools import repeat
from typing import Any

from pgwire.protocol.framing import RowParser
from pgwire.record import RecordShape
from pgwire.types.base import Decoder, StructDecoder, compile_maker
from pgwire.types.scalars import decode_bool_binary, decode_char_binary

__all__ = ["make_row_parser"]

_DATA_ROW = 0x44
_unpack_length = struct.Struct("!i").unpack_from

#: Decoders of one-byte values that row parsers read as a ``struct`` byte and look up in a
#: table of what the decoder returns for each of the 256 bytes (made by calling it).
_BYTE_DECODERS: frozenset[Decoder] = frozenset((decode_bool_binary, decode_char_binary))

#: Rows below which a run of fixed-width rows is not worth a batch check, and the rows
#: between two attempts after one that stopped early (a NULL, another message).
_BATCH_MIN_ROWS = 8
#: The most bytes one batch check reads: its masks are two integers of this size (kept
#: for up to _KEPT_MASKS row counts, for each of the last 32 shapes used).
_BATCH_BYTES = 1 << 14
#: The row counts whose masks a shape keeps (the cache is emptied when it is full).
_KEPT_MASKS = 4

#: How a parser reads one column: ("s", struct code, "t" when the byte is looked up in the
#: decoder's table, else "") for a fixed-width field, ("r",) to keep the raw bytes, ("d",)
#: to call the column's decoder.
_Kind = tuple[str, ...]


def make_row_parser(
    decoders: Sequence[Decoder], shape: RecordShape, raw: frozenset[Decoder] = frozenset()
) -> RowParser | None:
    """A row parser for rows of ``decoders`` (one per column, never called with NULL) made
    into Records of ``shape``; ``raw`` lists decoders that return their input unchanged
    (bytea in binary), for which the column's bytes are kept as they are.  ``None`` for rows
    of no columns (the general path serves those)."""
    if not decoders:
        return None
    kinds: list[_Kind] = []
    targets: list[Any] = []
    tables: list[Any] = []
    for decoder in decoders:
        code = None
        if isinstance(decoder, StructDecoder):
            if decoder.format[:1] in ("!", ">"):  # big-endian, as the row parser reads
                code, table = decoder.format[1:], None
        elif _is_in(decoder, _BYTE_DECODERS):
            code, table = "B", _byte_table(decoder)
        if code is not None and len(code) == 1:
            kinds.append(("s", code, "" if table is None else "t"))
            targets.append(struct.Struct("!" + code).unpack_from)
            tables.append(table)
        elif _is_in(decoder, raw):
            kinds.append(("r",))
            targets.append(None)
            tables.append(None)
        else:
            kinds.append(("d",))
            targets.append(decoder)
            tables.append(None)
    key = tuple(kinds)
    fused = _parser_factory(key)
    batch = _fixed_rows(key, tuple(tables)).take if fused.batched else None
    record_class = shape.record_class
    return fused.make(
        tuple.__new__, record_class, _unpack_length, batch, *fused.structs, *targets, *tables
    )


@lru_cache(maxsize=8)
def _byte_table(decoder: Decoder) -> tuple[Any, ...]:
    """What ``decoder`` returns for each one-byte value, by the byte."""
    return tuple(decoder(bytes((x,))) for x in range(256))


def _is_in(decoder: Decoder, decoders: Collection[Decoder]) -> bool:
    """``decoder in decoders``, False for a decoder that cannot be hashed (a user's)."""
    try:
        return decoder in decoders
    except TypeError:
        return False


class _Maker:
    __slots__ = ("batched", "make", "structs")

    def __init__(self, make: Callable[..., RowParser], structs: list[Any], batched: bool) -> None:
        self.make = make
        self.structs = structs
        self.batched = batched


class _FixedRows:
    """Runs of rows whose columns are all fixed-width and not NULL, for one shape of row.

    Such rows are identical frames: the same type byte, message length, column count and
    column lengths, at the same offsets; only the values differ.  A run is checked as one
    big integer (the frames' bytes, with the value bytes masked out, must equal the frames
    of a template row), which also finds the first row that differs, and decoded with one
    ``struct.iter_unpack``.  Every row taken is exactly one the per-row code would take.
    """

    __slots__ = ("_chunk", "_masks", "_pattern", "_stride", "_tables", "_unpack")

    def __init__(self, kinds: tuple[_Kind, ...], tables: tuple[Any, ...]) -> None:
        sizes = [struct.calcsize("!" + kind[1]) for kind in kinds]
        stride = 7 + sum(sizes) + 4 * len(sizes)
        template = [struct.pack("!Bih", _DATA_ROW, stride - 1, len(kinds))]
        mask = [b"\xff" * 7]
        for size in sizes:
            template.append(struct.pack("!i", size) + bytes(size))
            mask.append(b"\xff" * 4 + bytes(size))
        self._stride = stride
        self._pattern = (b"".join(mask), b"".join(template))
        self._chunk = max(_BATCH_MIN_ROWS, _BATCH_BYTES // stride)
        self._masks: dict[int, tuple[int, int]] = {}
        codes = "".join(f"4x{kind[1]}" for kind in kinds)
        self._unpack = struct.Struct("!7x" + codes).iter_unpack
        self._tables = [(i, t.__getitem__) for i, t in enumerate(tables) if t is not None]

    def _mask(self, rows: int) -> tuple[int, int]:
        """The mask and template integers of ``rows`` rows: made once for a full chunk, cut
        from it for fewer, and kept for the few counts a statement's results repeat."""
        found = self._masks.get(rows)
        if found is None:
            if rows == self._chunk:
                mask, template = self._pattern
                found = (int.from_bytes(mask * rows, "big"), int.from_bytes(template * rows, "big"))
            else:
                full_mask, full_template = self._mask(self._chunk)
                shift = (self._chunk - rows) * self._stride * 8
                found = (full_mask >> shift, full_template >> shift)
            if len(self._masks) >= _KEPT_MASKS:
                self._masks.clear()
            self._masks[rows] = found
        return found

    def _good(self, view: memoryview, rows: int) -> int:
        """How many of the ``rows`` rows in ``view`` (exactly that many frames long) have
        the template's frame."""
        mask, template = self._mask(rows)
        diff = (int.from_bytes(view, "big") & mask) ^ template
        if not diff:
            return rows
        # The first differing byte is the highest set bit: its row is the first bad one.
        return (len(view) - 1 - (diff.bit_length() - 1) // 8) // self._stride

    def take(self, data: bytes, pos: int, size: int, record: type) -> tuple[list[Any], int, int]:
        """The Records of the run of template rows at ``pos`` (at most a chunk, none when
        fewer than a batch's minimum are there), the position after them, and where the
        parser may try again."""
        stride = self._stride
        rows = min((size - pos) // stride, self._chunk)
        if rows < _BATCH_MIN_ROWS:
            return [], pos, size
        view = memoryview(data)[pos : pos + rows * stride]
        first = _BATCH_MIN_ROWS * stride
        good = self._good(view[:first], _BATCH_MIN_ROWS)
        if good == _BATCH_MIN_ROWS and rows > good:
            good += self._good(view[first:], rows - good)
        end = pos + good * stride
        retry = end + 2 * _BATCH_MIN_ROWS * stride
        if not good:
            return [], pos, retry
        values: Any = self._unpack(view[: good * stride])
        if self._tables:
            columns: list[Any] = list(zip(*values, strict=True))
            for index, lookup in self._tables:
                columns[index] = map(lookup, columns[index])
            values = zip(*columns, strict=True)
        records: list[Any] = list(map(tuple.__new__, repeat(record, good), values))
        # After a full chunk, the next may follow at once; after a row that differs, the
        # per-row code reads a few rows before the next attempt.
        return records, end, end if good == self._chunk else retry


@lru_cache(maxsize=32)
def _fixed_rows(kinds: tuple[_Kind, ...], tables: tuple[Any, ...]) -> _FixedRows:
    return _FixedRows(kinds, tables)


def _value(index: int, kind: _Kind, x: str) -> str:
    """The expression of column ``index``'s value from its struct field ``x``."""
    return f"t{index}[{x}]" if kind[2] else x


def _column(index: int, kind: _Kind, length_read: bool = False) -> list[str]:
    """Lines reading column ``index`` (NULL allowed) whose length is at ``at``, or already
    in ``w`` with ``at`` past it when ``length_read``."""
    lines = [] if length_read else ["w = L(data, at)[0]", "at += 4"]
    value = f"v{index}"
    if kind[0] == "s":
        size = struct.calcsize("!" + kind[1])
        lines += [
            f"if w == {size}:",
            f"    {value} = {_value(index, kind, f'c{index}(data, at)[0]')}",
            f"    at += {size}",
        ]
    else:
        fetch = "data[at : at + w]" if kind[0] == "r" else f"c{index}(data[at : at + w])"
        lines += ["if w >= 0:", f"    {value} = {fetch}", "    at += w"]
    return [*lines, "elif w == -1:", f"    {value} = None", "else:", "    break"]


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def _runs(kinds: tuple[_Kind, ...]) -> list[tuple[int, int]]:
    """(start, stop) of each column group: a run of fixed-width columns, or one column."""
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(kinds):
        stop = index + 1
        if kinds[index][0] == "s":
            while stop < len(kinds) and kinds[stop][0] == "s":
                stop += 1
        runs.append((index, stop))
        index = stop
    return runs


@lru_cache(maxsize=256)
def _parser_factory(kinds: tuple[_Kind, ...]) -> _Maker:
    """Compile a maker of row parsers for this shape of row (once per shape).

    A run of fixed-width columns is read with one ``unpack_from`` of their lengths and
    values together, when the message is long enough, and kept if every length is the
    expected one (no NULL); otherwise the run is read again column by column.  The first
    group is read together with the message header; when every column is fixed-width,
    a row without NULLs is one ``unpack_from`` and a check of the lengths, and runs of
    such rows go to ``B`` (:meth:`_FixedRows.take`) once the first few rows were read.  A
    last run of fixed-width columns after a variable one ends the row when its lengths
    are the expected ones.  Only struct codes and column numbers go into the source, never
    names or data.  For one int4 column the parser's loop is::

        retry = pos + 120
        while size - pos >= 11 and data[pos] == 68:
            if pos >= retry and size - pos >= 120 and limit >= 14:
                got, pos, retry = B(data, pos, size, R)
                if got:
                    rows += got
                    continue
            if size - pos > 14:
                length, count, w0, x0, = s0(data, pos + 1)
                if length == 14 and count == 1 and w0 == 4 and limit >= 14:
                    append(new(R, (x0, )))
                    pos += 15
                    continue
            length, count = s1(data, pos + 1)
            end = pos + 1 + length
            if end > size or count != 1 or length > limit:
                break
            at = pos + 7
            <column 0 read alone, NULL allowed>
            if at != end:
                break
            append(new(R, (v0, )))
            pos = end
    """
    count = len(kinds)
    structs: list[Any] = []
    body: list[str] = []

    def reader(fmt: str) -> str:
        structs.append(struct.Struct(fmt).unpack_from)
        return f"s{len(structs) - 1}"

    def fixed_run(columns: range) -> tuple[str, str, str, int]:
        """The struct codes, the names it unpacks to, the test of their lengths, and the
        bytes of a run of fixed-width columns."""
        sizes = [struct.calcsize("!" + kinds[i][1]) for i in columns]
        codes = "".join("i" + kinds[i][1] for i in columns)
        names = "".join(f"w{i}, x{i}, " for i in columns)
        checks = " and ".join(f"w{i} == {size}" for i, size in zip(columns, sizes, strict=True))
        return codes, names, checks, sum(sizes) + 4 * len(sizes)

    header_checks = [
        "end = pos + 1 + length",
        f"if end > size or count != {count} or length > limit:",
        "    break",
    ]
    runs = _runs(kinds)
    batched = len(runs) == 1 and kinds[0][0] == "s"
    retry_at = "pos"
    if batched:
        # Every column is fixed-width: a row without NULLs has one known length, and a
        # run of such rows is taken in one batch (_FixedRows) when long enough.  The first
        # rows are read one by one: a result of one row (a pipeline's) costs no batch.
        codes, names, checks, run = fixed_run(range(count))
        total = 6 + run
        retry_at = f"pos + {(total + 1) * _BATCH_MIN_ROWS}"
        values = "".join(f"{_value(i, kind, f'x{i}')}, " for i, kind in enumerate(kinds))
        body += [
            f"if pos >= retry and size - pos >= {(total + 1) * _BATCH_MIN_ROWS}"
            f" and limit >= {total}:",
            "    got, pos, retry = B(data, pos, size, R)",
            "    if got:",
            "        rows += got",
            "        continue",
            f"if size - pos > {total}:",
            f"    length, count, {names}= {reader('!ih' + codes)}(data, pos + 1)",
            f"    if length == {total} and count == {count} and {checks} and limit >= {total}:",
            f"        append(new(R, ({values})))",
            f"        pos += {total + 1}",
            "        continue",
            f"length, count = {reader('!ih')}(data, pos + 1)",
            *header_checks,
            "at = pos + 7",
        ]
        for i in range(count):
            body += _column(i, kinds[i])
        runs = []
    for number, (start, stop) in enumerate(runs):
        first = number == 0
        if kinds[start][0] != "s":
            if first:  # the header and the first column's length: the loop ensures 11 bytes
                body += [
                    f"length, count, w = {reader('!ihi')}(data, pos + 1)",
                    *header_checks,
                    "at = pos + 11",
                ]
            body += _column(start, kinds[start], length_read=first)
            continue
        columns = range(start, stop)
        codes, names, checks, run = fixed_run(columns)
        slow: list[str] = []
        for i in columns:
            slow += _column(i, kinds[i])
        fast = [f"    v{i} = {_value(i, kinds[i], f'x{i}')}" for i in columns]
        fast += [f"    at += {run}"]
        if first:
            body += [
                f"if size - pos >= {7 + run}:",
                f"    length, count, {names}= {reader('!ih' + codes)}(data, pos + 1)",
                *_indent(header_checks),
                "    at = pos + 7",
                f"    if {checks}:",
                *_indent(fast),
                "    else:",
                *_indent(_indent(slow)),
                "else:",
                f"    length, count = {reader('!ih')}(data, pos + 1)",
                *_indent(header_checks),
                "    at = pos + 7",
                *_indent(slow),
            ]
        else:
            # The lengths alone, compared as one tuple, then the values alone: fewer steps
            # than a check per column.
            lengths = reader(
                "!" + "".join(f"i{struct.calcsize('!' + kinds[i][1])}x" for i in columns)
            )
            expected = tuple(struct.calcsize("!" + kinds[i][1]) for i in columns)
            unpack = reader("!" + "".join(f"4x{kinds[i][1]}" for i in columns))
            targets = "".join(f"{'x' if kinds[i][2] else 'v'}{i}, " for i in columns)
            if stop == count:
                # The last group: a row whose run has its expected lengths is complete.
                values = "".join(
                    f"{_value(i, kinds[i], f'x{i}') if i >= start else f'v{i}'}, "
                    for i in range(count)
                )
                body += [
                    f"if end - at == {run} and {lengths}(data, at) == {expected!r}:",
                    f"    {''.join(f'x{i}, ' for i in columns)}= {unpack}(data, at)",
                    f"    append(new(R, ({values})))",
                    "    pos = end",
                    "    continue",
                    *slow,
                ]
                continue
            body += [
                f"if end - at >= {run} and {lengths}(data, at) == {expected!r}:",
                f"    {targets}= {unpack}(data, at)",
                *(f"    v{i} = {_value(i, kinds[i], f'x{i}')}" for i in columns if kinds[i][2]),
                f"    at += {run}",
                "else:",
                *_indent(slow),
            ]
    values = "".join(f"v{i}, " for i in range(count))
    body += [
        # A column that ran past its message shows here, before the row is kept.
        "if at != end:",
        "    break",
        f"append(new(R, ({values})))",
        "pos = end",
    ]
    readers = "".join(f", s{i}" for i in range(len(structs)))
    params = "".join(f", c{i}" for i in range(count)) + "".join(f", t{i}" for i in range(count))
    loop = "".join(f"                {line}\n" for line in body)
    source = (
        f"def make(new, R, L, B{readers}{params}):\n"
        "    def parse(data, pos, size, limit):\n"
        "        rows = []\n"
        "        append = rows.append\n"
        f"        retry = {retry_at}\n"
        "        try:\n"
        f"            while size - pos >= 11 and data[pos] == {_DATA_ROW}:\n"
        f"{loop}"
        "        except Exception:\n"
        "            pass  # the row stays buffered: the general path reports it\n"
        "        return rows, pos\n"
        "    return parse\n"
    )
    return _Maker(compile_maker(source, f"<pgwire row parser {count} columns>"), structs, batched)
