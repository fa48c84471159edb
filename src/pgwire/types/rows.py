"""Row parsers: DataRow messages straight from the receive buffer to Records.

A result set's rows normally cost three steps each: the framing cuts the message into one
bytes object per column, the row decoder turns those into Python values, and a Record wraps
them.  A *row parser* (:data:`pgwire.protocol.framing.RowParser`) fuses the three for one
statement: compiled once per shape of row (which columns are fixed-width ``struct`` fields,
which are kept as raw bytes, which need a decoder), it reads each column's length and value
at their offsets in the buffered bytes, so a 4-byte integer column costs one ``unpack_from``
and no intermediate bytes object.

It decides nothing on its own: a row it cannot handle (a malformed message, a value its
decoder refuses, a column count other than the statement's) stops it *before* that row, and
the driver's general path (``take_data_rows`` and the statement's row decoder) then reads
that row and reports the precise error.  So the parser and the general path always agree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Sequence
from functools import lru_cache
from typing import Any

from pgwire.protocol.framing import RowParser
from pgwire.record import RecordShape
from pgwire.types.base import Decoder, StructDecoder, compile_maker
from pgwire.types.scalars import decode_bool_binary, decode_char_binary

__all__ = ["make_row_parser"]

_DATA_ROW = 0x44
_unpack_length = struct.Struct("!i").unpack_from

#: Decoders of one-byte values that row parsers inline: the ``struct`` code to read the byte
#: and the expression (of ``x``) that gives exactly what the decoder returns for it.
_BYTE_DECODERS: dict[Decoder, str] = {
    decode_bool_binary: "x == 1",
    decode_char_binary: "chr(x) if x else ''",
}

#: How a parser reads one column: ("s", struct code, expression of x or "") for a fixed-width
#: field, ("r",) to keep the raw bytes, ("d",) to call the column's decoder.
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
    for decoder in decoders:
        code = None
        if isinstance(decoder, StructDecoder):
            if decoder.format[:1] in ("!", ">"):  # big-endian, as the row parser reads
                code, expression = decoder.format[1:], ""
        elif _is_in(decoder, _BYTE_DECODERS):
            code, expression = "B", _BYTE_DECODERS[decoder]
        if code is not None and len(code) == 1:
            kinds.append(("s", code, expression))
            targets.append(struct.Struct("!" + code).unpack_from)
        elif _is_in(decoder, raw):
            kinds.append(("r",))
            targets.append(None)
        else:
            kinds.append(("d",))
            targets.append(decoder)
    fused = _parser_factory(tuple(kinds))
    return fused.make(tuple.__new__, shape.record_class, _unpack_length, *fused.structs, *targets)


def _is_in(decoder: Decoder, decoders: Collection[Decoder]) -> bool:
    """``decoder in decoders``, False for a decoder that cannot be hashed (a user's)."""
    try:
        return decoder in decoders
    except TypeError:
        return False


class _Maker:
    __slots__ = ("make", "structs")

    def __init__(self, make: Callable[..., RowParser], structs: list[Any]) -> None:
        self.make = make
        self.structs = structs


def _value(index: int, kind: _Kind, x: str) -> str:
    """The expression of column ``index``'s value from its struct field ``x``."""
    expression = kind[2]
    return expression.replace("x", x) if expression else x


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
    a row without NULLs is one ``unpack_from`` and a check of the lengths.  Only struct
    codes and column numbers go into the source, never names or data.  For one int4
    column the parser's loop is::

        while size - pos >= 11 and data[pos] == 68:
            if size - pos > 14:
                length, count, w0, x0, = s0(data, pos + 1)
                if length == 14 and count == 1 and w0 == 4:
                    append(new(R, (x0, )))
                    pos += 15
                    continue
            length, count = s1(data, pos + 1)
            end = pos + 1 + length
            if end > size or count != 1:
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
    if len(runs) == 1 and kinds[0][0] == "s":
        # Every column is fixed-width: a row without NULLs has one known length.
        codes, names, checks, run = fixed_run(range(count))
        total = 6 + run
        values = "".join(f"{_value(i, kind, f'x{i}')}, " for i, kind in enumerate(kinds))
        body += [
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
            body += [
                f"if end - at >= {run}:",
                f"    {names}= {reader('!' + codes)}(data, at)",
                f"    if {checks}:",
                *_indent(fast),
                "    else:",
                *_indent(_indent(slow)),
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
    params = "".join(f", c{i}" for i in range(count))
    loop = "".join(f"                {line}\n" for line in body)
    source = (
        f"def make(new, R, L{readers}{params}):\n"
        "    def parse(data, pos, size, limit):\n"
        "        rows = []\n"
        "        append = rows.append\n"
        "        try:\n"
        f"            while size - pos >= 11 and data[pos] == {_DATA_ROW}:\n"
        f"{loop}"
        "        except Exception:\n"
        "            pass  # the row stays buffered: the general path reports it\n"
        "        return rows, pos\n"
        "    return parse\n"
    )
    return _Maker(compile_maker(source, f"<pgwire row parser {count} columns>"), structs)
