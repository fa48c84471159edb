"""COPY FROM STDIN and COPY TO STDOUT (``copy_in``, ``copy_out``), against the real
PostgreSQL 18, on the blocking driver and on asyncio, uvloop and trio (one source,
``test_copy_async.py``, for both drivers)."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.concurrency_async import sleep
from tests.driver.fixtures_async import NewTable, SendCounter, assert_usable

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


@pytest.fixture
async def table(anew_table: NewTable) -> str:
    return await anew_table("id int, name text")


async def _rows(conn: AsyncConnection, table: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await conn.fetch(f"SELECT id, name FROM {table} ORDER BY id")]


# --------------------------------------------------------------------------------------
# copy_in
# --------------------------------------------------------------------------------------


async def test_copy_in_from_bytes(aconn: AsyncConnection, table: str) -> None:
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n2\ttwo\n") == "COPY 2"
    assert await _rows(aconn, table) == [(1, "one"), (2, "two")]


async def test_copy_in_from_str(aconn: AsyncConnection, table: str) -> None:
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", "1\tünï ✓\n") == "COPY 1"
    assert await _rows(aconn, table) == [(1, "ünï ✓")]


async def test_copy_in_from_a_binary_file(
    aconn: AsyncConnection, table: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes(b"1\tone\n2\t\\N\n")
    with path.open("rb") as file:
        assert await aconn.copy_in(f"COPY {table} FROM STDIN", file) == "COPY 2"
    assert await _rows(aconn, table) == [(1, "one"), (2, None)]


async def test_copy_in_from_a_text_file(aconn: AsyncConnection, table: str) -> None:
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", io.StringIO("7\tseven\n")) == "COPY 1"
    assert await _rows(aconn, table) == [(7, "seven")]


async def test_copy_in_from_an_iterable_of_chunks_cut_anywhere(
    aconn: AsyncConnection, table: str
) -> None:
    # Chunks need not end on row boundaries, and may mix bytes and str.
    chunks: list[bytes | str] = [b"1\to", "ne\n2", b"\ttwo\n", b"", "3\tthree\n"]
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", chunks) == "COPY 3"
    assert await _rows(aconn, table) == [(1, "one"), (2, "two"), (3, "three")]


async def test_copy_in_from_a_generator(aconn: AsyncConnection, table: str) -> None:
    lines = (f"{n}\tname {n}\n".encode() for n in range(10000))
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", lines) == "COPY 10000"
    assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 10000


if True:  # ASYNC

    async def test_copy_in_from_an_async_generator(aconn: AsyncConnection, table: str) -> None:
        async def lines() -> AsyncIterator[bytes]:
            for n in range(10000):
                if n % 1000 == 0:
                    await sleep(0)
                yield f"{n}\tname {n}\n".encode()

        assert await aconn.copy_in(f"COPY {table} FROM STDIN", lines()) == "COPY 10000"
        assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 10000

    async def test_copy_in_from_an_async_file(
        aconn: AsyncConnection, table: str, tmp_path: Path
    ) -> None:
        path = tmp_path / "data.tsv"
        path.write_bytes("".join(f"{n}\tname {n}\n" for n in range(20000)).encode())
        async with await anyio.open_file(path, "rb") as file:
            assert await aconn.copy_in(f"COPY {table} FROM STDIN", file) == "COPY 20000"
        assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 20000

    async def test_copy_in_from_a_plain_generator_that_raises_aborts_the_copy(
        aconn: AsyncConnection, table: str
    ) -> None:
        def rows() -> Iterator[bytes]:
            yield b"1\tone\n"
            raise ValueError("bad source")

        with pytest.raises(ValueError, match="bad source"):
            await aconn.copy_in(f"COPY {table} FROM STDIN", rows())
        assert await _rows(aconn, table) == []
        await assert_usable(aconn)


async def test_copy_in_of_data_larger_than_one_chunk(aconn: AsyncConnection, table: str) -> None:
    data = "".join(f"{n}\t{'x' * 100}\n" for n in range(5000)).encode()
    assert len(data) > 4 * 65536
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", data) == "COPY 5000"
    assert await aconn.fetchval(f"SELECT sum(length(name)) FROM {table}") == 5000 * 100


async def test_copy_in_of_nothing_copies_no_row(aconn: AsyncConnection, table: str) -> None:
    assert await aconn.copy_in(f"COPY {table} FROM STDIN", b"") == "COPY 0"


async def test_copy_in_csv_format(aconn: AsyncConnection, table: str) -> None:
    data = '1,"a, quoted ""name"""\n2,\n3,""\n'
    assert await aconn.copy_in(f"COPY {table} FROM STDIN (FORMAT csv)", data) == "COPY 3"
    assert await _rows(aconn, table) == [(1, 'a, quoted "name"'), (2, None), (3, "")]


async def test_copy_in_source_that_raises_sends_copy_fail_and_propagates(
    aconn: AsyncConnection, table: str
) -> None:
    class Boom(Exception):
        pass

    async def rows() -> AsyncIterator[bytes]:
        yield b"1\tone\n"
        await sleep(0)
        raise Boom("the source failed")

    sends = SendCounter(aconn)
    with pytest.raises(Boom, match="the source failed"):
        await aconn.copy_in(f"COPY {table} FROM STDIN", rows())
    copy_fail = b"f" + struct.pack("!i", 4 + len(b"client error: Boom") + 1)
    assert copy_fail + b"client error: Boom\x00" in b"".join(sends.sent)
    assert await _rows(aconn, table) == []
    await assert_usable(aconn)


async def test_copy_in_with_a_bad_row_raises_data_error_and_copies_nothing(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(pgwire.DataError) as caught:
        await aconn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\nnot-a-number\ttwo\n3\tthree\n")
    assert isinstance(caught.value, errors.InvalidTextRepresentation)
    assert "not-a-number" in str(caught.value)
    assert await _rows(aconn, table) == []
    await assert_usable(aconn)


async def test_copy_in_with_a_malformed_row_raises_bad_copy_file_format(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(errors.BadCopyFileFormat):
        await aconn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\textra\n")
    await assert_usable(aconn)


async def test_copy_in_with_a_bad_row_early_in_a_long_stream(
    aconn: AsyncConnection, table: str
) -> None:
    # The server fails at once but the client keeps sending: it must still end cleanly.
    def rows() -> Iterator[bytes]:
        yield b"oops\tbad\n"
        for n in range(20000):
            yield f"{n}\t{'y' * 50}\n".encode()

    with pytest.raises(errors.InvalidTextRepresentation):
        await aconn.copy_in(f"COPY {table} FROM STDIN", rows())
    await assert_usable(aconn)


async def test_copy_in_inside_a_transaction_rolls_back_with_it(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with aconn.transaction():
            await aconn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n")
            assert await aconn.fetchval(f"SELECT count(*) FROM {table}") == 1
            1 / 0  # noqa: B018
    assert await _rows(aconn, table) == []


async def test_copy_in_of_an_unknown_table_raises_undefined_table(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.UndefinedTable):
        await aconn.copy_in("COPY no_such_table FROM STDIN", b"1\n")
    await assert_usable(aconn)


async def test_copy_in_of_a_statement_that_is_not_copy_from_stdin_raises(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match=r"COPY \.\.\. FROM STDIN"):
        await aconn.copy_in("SELECT 1", b"1\tone\n")
    with pytest.raises(pgwire.InterfaceError, match="copy_out"):
        await aconn.copy_in(f"COPY {table} TO STDOUT", b"1\tone\n")
    await assert_usable(aconn)


async def test_execute_of_copy_from_stdin_raises_interface_error(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        await aconn.execute(f"COPY {table} FROM STDIN")
    await assert_usable(aconn)


async def test_fetch_of_copy_from_stdin_raises_interface_error(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        await aconn.fetch(f"COPY {table} FROM STDIN")
    await assert_usable(aconn)


# --------------------------------------------------------------------------------------
# copy_out
# --------------------------------------------------------------------------------------

EXPECTED = b'1\tone\n2\t\\N\n3\ta, "b"\n'


@pytest.fixture
async def filled(aconn: AsyncConnection, table: str) -> str:
    await aconn.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, NULL), (3, 'a, \"b\"')")
    return table


async def test_copy_out_returns_bytes(aconn: AsyncConnection, filled: str) -> None:
    data = await aconn.copy_out(f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT")
    assert data == EXPECTED


async def test_copy_out_to_a_callback_hands_over_chunks_and_returns_the_tag(
    aconn: AsyncConnection, filled: str
) -> None:
    chunks: list[bytes] = []
    sql = f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT"
    assert await aconn.copy_out(sql, chunks.append) == "COPY 3"
    assert b"".join(chunks) == EXPECTED


async def test_copy_out_calls_the_callback_once_per_row(aconn: AsyncConnection) -> None:
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        await sleep(0)
        chunks.append(chunk)

    tag = await aconn.copy_out("COPY (SELECT generate_series(1, 20000)) TO STDOUT", sink)
    assert tag == "COPY 20000"
    assert len(chunks) == 20000  # one chunk per row, as the server sends them
    assert b"".join(chunks).count(b"\n") == 20000


async def test_copy_out_to_a_file(aconn: AsyncConnection, filled: str, tmp_path: Path) -> None:
    path = tmp_path / "out.tsv"
    with path.open("wb") as file:
        assert await aconn.copy_out(f"COPY {filled} TO STDOUT", file) == "COPY 3"
    assert sorted(path.read_bytes().splitlines()) == [b"1\tone", b"2\t\\N", b'3\ta, "b"']


if True:  # ASYNC

    async def test_copy_out_to_an_async_file(
        aconn: AsyncConnection, filled: str, tmp_path: Path
    ) -> None:
        path = tmp_path / "out.tsv"
        async with await anyio.open_file(path, "wb") as file:
            sql = f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT"
            assert await aconn.copy_out(sql, file) == "COPY 3"
        assert path.read_bytes() == EXPECTED


async def test_copy_out_csv_format(aconn: AsyncConnection, filled: str) -> None:
    data = await aconn.copy_out(
        f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"
    )
    assert data == b'id,name\n1,one\n2,\n3,"a, ""b"""\n'


async def test_copy_out_of_many_rows(aconn: AsyncConnection) -> None:
    data = await aconn.copy_out("COPY (SELECT generate_series(1, 100000)) TO STDOUT")
    assert data.count(b"\n") == 100000


async def test_copy_out_then_in_round_trips_in_binary(
    aconn: AsyncConnection, filled: str, anew_table: NewTable
) -> None:
    copy = await anew_table("id int, name text")
    data = await aconn.copy_out(f"COPY {filled} TO STDOUT (FORMAT binary)")
    assert await aconn.copy_in(f"COPY {copy} FROM STDIN (FORMAT binary)", data) == "COPY 3"
    assert await _rows(aconn, copy) == await _rows(aconn, filled)


async def test_copy_out_sink_that_raises_propagates_and_keeps_the_connection(
    aconn: AsyncConnection,
) -> None:
    async def sink(chunk: bytes) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await aconn.copy_out("COPY (SELECT generate_series(1, 1000)) TO STDOUT", sink)
    await assert_usable(aconn)


async def test_copy_out_error_mid_stream_raises_it(aconn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        await aconn.copy_out(
            "COPY (SELECT 10 / (500 - n) FROM generate_series(1, 1000) n) TO STDOUT"
        )
    await assert_usable(aconn)


async def test_copy_out_of_a_statement_that_is_not_copy_to_stdout_raises(
    aconn: AsyncConnection, table: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match=r"COPY \.\.\. TO STDOUT"):
        await aconn.copy_out("SELECT 1")
    with pytest.raises(pgwire.InterfaceError, match="copy_in"):
        await aconn.copy_out(f"COPY {table} FROM STDIN")
    await assert_usable(aconn)


async def test_execute_of_copy_to_stdout_raises_interface_error(
    aconn: AsyncConnection, filled: str
) -> None:
    with pytest.raises(pgwire.InterfaceError, match="copy_out"):
        await aconn.execute(f"COPY {filled} TO STDOUT")
    await assert_usable(aconn)
