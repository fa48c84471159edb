# GENERATED from tests/driver/test_copy_async.py by scripts/gen_sync.py: do not edit.
"""COPY FROM STDIN and COPY TO STDOUT (``copy_in``, ``copy_out``), against the real
PostgreSQL 18, on the blocking driver and on asyncio, uvloop and trio (one source,
``test_copy_async.py``, for both drivers)."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.concurrency_sync import sleep
from tests.driver.fixtures_sync import NewTable, SendCounter, assert_usable


@pytest.fixture
def table(new_table: NewTable) -> str:
    return new_table("id int, name text")


def _rows(conn: Connection, table: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.fetch(f"SELECT id, name FROM {table} ORDER BY id")]


# --------------------------------------------------------------------------------------
# copy_in
# --------------------------------------------------------------------------------------


def test_copy_in_from_bytes(conn: Connection, table: str) -> None:
    assert conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n2\ttwo\n") == "COPY 2"
    assert _rows(conn, table) == [(1, "one"), (2, "two")]


def test_copy_in_from_str(conn: Connection, table: str) -> None:
    assert conn.copy_in(f"COPY {table} FROM STDIN", "1\tünï ✓\n") == "COPY 1"
    assert _rows(conn, table) == [(1, "ünï ✓")]


def test_copy_in_from_a_binary_file(conn: Connection, table: str, tmp_path: Path) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes(b"1\tone\n2\t\\N\n")
    with path.open("rb") as file:
        assert conn.copy_in(f"COPY {table} FROM STDIN", file) == "COPY 2"
    assert _rows(conn, table) == [(1, "one"), (2, None)]


def test_copy_in_from_a_text_file(conn: Connection, table: str) -> None:
    assert conn.copy_in(f"COPY {table} FROM STDIN", io.StringIO("7\tseven\n")) == "COPY 1"
    assert _rows(conn, table) == [(7, "seven")]


def test_copy_in_from_an_iterable_of_chunks_cut_anywhere(conn: Connection, table: str) -> None:
    # Chunks need not end on row boundaries, and may mix bytes and str.
    chunks: list[bytes | str] = [b"1\to", "ne\n2", b"\ttwo\n", b"", "3\tthree\n"]
    assert conn.copy_in(f"COPY {table} FROM STDIN", chunks) == "COPY 3"
    assert _rows(conn, table) == [(1, "one"), (2, "two"), (3, "three")]


def test_copy_in_from_a_generator(conn: Connection, table: str) -> None:
    lines = (f"{n}\tname {n}\n".encode() for n in range(10000))
    assert conn.copy_in(f"COPY {table} FROM STDIN", lines) == "COPY 10000"
    assert conn.fetchval(f"SELECT count(*) FROM {table}") == 10000


def test_copy_in_of_data_larger_than_one_chunk(conn: Connection, table: str) -> None:
    data = "".join(f"{n}\t{'x' * 100}\n" for n in range(5000)).encode()
    assert len(data) > 4 * 65536
    assert conn.copy_in(f"COPY {table} FROM STDIN", data) == "COPY 5000"
    assert conn.fetchval(f"SELECT sum(length(name)) FROM {table}") == 5000 * 100


def test_copy_in_of_nothing_copies_no_row(conn: Connection, table: str) -> None:
    assert conn.copy_in(f"COPY {table} FROM STDIN", b"") == "COPY 0"


def test_copy_in_csv_format(conn: Connection, table: str) -> None:
    data = '1,"a, quoted ""name"""\n2,\n3,""\n'
    assert conn.copy_in(f"COPY {table} FROM STDIN (FORMAT csv)", data) == "COPY 3"
    assert _rows(conn, table) == [(1, 'a, quoted "name"'), (2, None), (3, "")]


def test_copy_in_source_that_raises_sends_copy_fail_and_propagates(
    conn: Connection, table: str
) -> None:
    class Boom(Exception):
        pass

    def rows() -> Iterator[bytes]:
        yield b"1\tone\n"
        sleep(0)
        raise Boom("the source failed")

    sends = SendCounter(conn)
    with pytest.raises(Boom, match="the source failed"):
        conn.copy_in(f"COPY {table} FROM STDIN", rows())
    copy_fail = b"f" + struct.pack("!i", 4 + len(b"client error: Boom") + 1)
    assert copy_fail + b"client error: Boom\x00" in b"".join(sends.sent)
    assert _rows(conn, table) == []
    assert_usable(conn)


def test_copy_in_with_a_bad_row_raises_data_error_and_copies_nothing(
    conn: Connection, table: str
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\nnot-a-number\ttwo\n3\tthree\n")
    assert isinstance(caught.value, errors.InvalidTextRepresentation)
    assert "not-a-number" in str(caught.value)
    assert _rows(conn, table) == []
    assert_usable(conn)


def test_copy_in_with_a_malformed_row_raises_bad_copy_file_format(
    conn: Connection, table: str
) -> None:
    with pytest.raises(errors.BadCopyFileFormat):
        conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\textra\n")
    assert_usable(conn)


def test_copy_in_with_a_bad_row_early_in_a_long_stream(conn: Connection, table: str) -> None:
    # The server fails at once but the client keeps sending: it must still end cleanly.
    def rows() -> Iterator[bytes]:
        yield b"oops\tbad\n"
        for n in range(20000):
            yield f"{n}\t{'y' * 50}\n".encode()

    with pytest.raises(errors.InvalidTextRepresentation):
        conn.copy_in(f"COPY {table} FROM STDIN", rows())
    assert_usable(conn)


def test_copy_in_inside_a_transaction_rolls_back_with_it(conn: Connection, table: str) -> None:
    with pytest.raises(ZeroDivisionError), conn.transaction():
        conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n")
        assert conn.fetchval(f"SELECT count(*) FROM {table}") == 1
        1 / 0  # noqa: B018
    assert _rows(conn, table) == []


def test_copy_in_of_an_unknown_table_raises_undefined_table(conn: Connection) -> None:
    with pytest.raises(errors.UndefinedTable):
        conn.copy_in("COPY no_such_table FROM STDIN", b"1\n")
    assert_usable(conn)


def test_copy_in_of_a_statement_that_is_not_copy_from_stdin_raises(
    conn: Connection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match=r"COPY \.\.\. FROM STDIN"):
        conn.copy_in("SELECT 1", b"1\tone\n")
    with pytest.raises(pgwire.InterfaceError, match="copy_out"):
        conn.copy_in(f"COPY {table} TO STDOUT", b"1\tone\n")
    assert_usable(conn)


def test_execute_of_copy_from_stdin_raises_interface_error(conn: Connection, table: str) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        conn.execute(f"COPY {table} FROM STDIN")
    assert_usable(conn)


def test_fetch_of_copy_from_stdin_raises_interface_error(conn: Connection, table: str) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        conn.fetch(f"COPY {table} FROM STDIN")
    assert_usable(conn)


# --------------------------------------------------------------------------------------
# copy_out
# --------------------------------------------------------------------------------------

EXPECTED = b'1\tone\n2\t\\N\n3\ta, "b"\n'


@pytest.fixture
def filled(conn: Connection, table: str) -> str:
    conn.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, NULL), (3, 'a, \"b\"')")
    return table


def test_copy_out_returns_bytes(conn: Connection, filled: str) -> None:
    data = conn.copy_out(f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT")
    assert data == EXPECTED


def test_copy_out_to_a_callback_hands_over_chunks_and_returns_the_tag(
    conn: Connection, filled: str
) -> None:
    chunks: list[bytes] = []
    sql = f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT"
    assert conn.copy_out(sql, chunks.append) == "COPY 3"
    assert b"".join(chunks) == EXPECTED


def test_copy_out_calls_the_callback_once_per_row(conn: Connection) -> None:
    chunks: list[bytes] = []

    def sink(chunk: bytes) -> None:
        sleep(0)
        chunks.append(chunk)

    tag = conn.copy_out("COPY (SELECT generate_series(1, 20000)) TO STDOUT", sink)
    assert tag == "COPY 20000"
    assert len(chunks) == 20000  # one chunk per row, as the server sends them
    assert b"".join(chunks).count(b"\n") == 20000


def test_copy_out_to_a_file(conn: Connection, filled: str, tmp_path: Path) -> None:
    path = tmp_path / "out.tsv"
    with path.open("wb") as file:
        assert conn.copy_out(f"COPY {filled} TO STDOUT", file) == "COPY 3"
    assert sorted(path.read_bytes().splitlines()) == [b"1\tone", b"2\t\\N", b'3\ta, "b"']


def test_copy_out_csv_format(conn: Connection, filled: str) -> None:
    data = conn.copy_out(
        f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"
    )
    assert data == b'id,name\n1,one\n2,\n3,"a, ""b"""\n'


def test_copy_out_of_many_rows(conn: Connection) -> None:
    data = conn.copy_out("COPY (SELECT generate_series(1, 100000)) TO STDOUT")
    assert data.count(b"\n") == 100000


def test_copy_out_then_in_round_trips_in_binary(
    conn: Connection, filled: str, new_table: NewTable
) -> None:
    copy = new_table("id int, name text")
    data = conn.copy_out(f"COPY {filled} TO STDOUT (FORMAT binary)")
    assert conn.copy_in(f"COPY {copy} FROM STDIN (FORMAT binary)", data) == "COPY 3"
    assert _rows(conn, copy) == _rows(conn, filled)


def test_copy_out_sink_that_raises_propagates_and_keeps_the_connection(
    conn: Connection,
) -> None:
    def sink(chunk: bytes) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        conn.copy_out("COPY (SELECT generate_series(1, 1000)) TO STDOUT", sink)
    assert_usable(conn)


def test_copy_out_error_mid_stream_raises_it(conn: Connection) -> None:
    with pytest.raises(errors.DivisionByZero):
        conn.copy_out("COPY (SELECT 10 / (500 - n) FROM generate_series(1, 1000) n) TO STDOUT")
    assert_usable(conn)


def test_copy_out_of_a_statement_that_is_not_copy_to_stdout_raises(
    conn: Connection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match=r"COPY \.\.\. TO STDOUT"):
        conn.copy_out("SELECT 1")
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        conn.copy_out(f"COPY {table} FROM STDIN")
    assert_usable(conn)


def test_execute_of_copy_to_stdout_raises_interface_error(conn: Connection, filled: str) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_out"):
        conn.execute(f"COPY {filled} TO STDOUT")
    assert_usable(conn)
