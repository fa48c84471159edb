"""COPY FROM STDIN and COPY TO STDOUT on an async connection, against the real PostgreSQL 18,
on asyncio, uvloop and trio."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import anyio
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.aio.conftest import NewTable, SendCounter

pytestmark = pytest.mark.anyio


@pytest.fixture
async def table(new_table: NewTable) -> str:
    return await new_table("id int, name text")


async def _rows(conn: AsyncConnection, table: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await conn.fetch(f"SELECT id, name FROM {table} ORDER BY id")]


async def _assert_usable(conn: AsyncConnection) -> None:
    assert await conn.fetchval("SELECT $1::int * 2", 21) == 42
    assert conn.transaction_status == "I"
    assert not conn.closed


# --------------------------------------------------------------------------------------
# copy_in
# --------------------------------------------------------------------------------------


async def test_copy_in_from_bytes(conn: AsyncConnection, table: str) -> None:
    assert await conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n2\ttwo\n") == "COPY 2"
    assert await _rows(conn, table) == [(1, "one"), (2, "two")]


async def test_copy_in_from_str(conn: AsyncConnection, table: str) -> None:
    assert await conn.copy_in(f"COPY {table} FROM STDIN", "1\tünï ✓\n") == "COPY 1"
    assert await _rows(conn, table) == [(1, "ünï ✓")]


async def test_copy_in_from_a_binary_file(
    conn: AsyncConnection, table: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes(b"1\tone\n2\t\\N\n")
    with path.open("rb") as file:
        assert await conn.copy_in(f"COPY {table} FROM STDIN", file) == "COPY 2"
    assert await _rows(conn, table) == [(1, "one"), (2, None)]


async def test_copy_in_from_a_text_file(conn: AsyncConnection, table: str) -> None:
    assert await conn.copy_in(f"COPY {table} FROM STDIN", io.StringIO("7\tseven\n")) == "COPY 1"
    assert await _rows(conn, table) == [(7, "seven")]


async def test_copy_in_from_an_async_file(
    conn: AsyncConnection, table: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.tsv"
    path.write_bytes("".join(f"{n}\tname {n}\n" for n in range(20000)).encode())
    async with await anyio.open_file(path, "rb") as file:
        assert await conn.copy_in(f"COPY {table} FROM STDIN", file) == "COPY 20000"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 20000


async def test_copy_in_from_a_sync_iterable_of_chunks_cut_anywhere(
    conn: AsyncConnection, table: str
) -> None:
    chunks: list[bytes | str] = [b"1\to", "ne\n2", b"\ttwo\n", b"", "3\tthree\n"]
    assert await conn.copy_in(f"COPY {table} FROM STDIN", chunks) == "COPY 3"
    assert await _rows(conn, table) == [(1, "one"), (2, "two"), (3, "three")]


async def test_copy_in_from_an_async_iterable(conn: AsyncConnection, table: str) -> None:
    async def lines() -> AsyncIterator[bytes]:
        for n in range(10000):
            if n % 1000 == 0:
                await anyio.sleep(0)
            yield f"{n}\tname {n}\n".encode()

    assert await conn.copy_in(f"COPY {table} FROM STDIN", lines()) == "COPY 10000"
    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 10000


async def test_copy_in_csv_format(conn: AsyncConnection, table: str) -> None:
    data = '1,"a, quoted ""name"""\n2,\n3,""\n'
    assert await conn.copy_in(f"COPY {table} FROM STDIN (FORMAT csv)", data) == "COPY 3"
    assert await _rows(conn, table) == [(1, 'a, quoted "name"'), (2, None), (3, "")]


async def test_copy_in_async_generator_that_raises_sends_copy_fail_and_propagates(
    conn: AsyncConnection, table: str, count_sends: Callable[..., SendCounter]
) -> None:
    class Boom(Exception):
        pass

    async def rows() -> AsyncIterator[bytes]:
        yield b"1\tone\n"
        await anyio.sleep(0)
        raise Boom("the source failed")

    sends = count_sends(conn)
    with pytest.raises(Boom, match="the source failed"):
        await conn.copy_in(f"COPY {table} FROM STDIN", rows())
    copy_fail = b"f" + struct.pack("!i", 4 + len(b"client error: Boom") + 1)
    assert copy_fail + b"client error: Boom\x00" in b"".join(sends.sent)
    assert await _rows(conn, table) == []
    await _assert_usable(conn)


async def test_copy_in_sync_generator_that_raises_aborts_the_copy(
    conn: AsyncConnection, table: str
) -> None:
    def rows() -> Iterator[bytes]:
        yield b"1\tone\n"
        raise ValueError("bad source")

    with pytest.raises(ValueError, match="bad source"):
        await conn.copy_in(f"COPY {table} FROM STDIN", rows())
    assert await _rows(conn, table) == []
    await _assert_usable(conn)


async def test_copy_in_with_a_bad_row_raises_data_error_and_copies_nothing(
    conn: AsyncConnection, table: str
) -> None:
    with pytest.raises(errors.InvalidTextRepresentation, match="not-a-number"):
        await conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\nnot-a-number\ttwo\n")
    assert await _rows(conn, table) == []
    await _assert_usable(conn)


async def test_copy_in_inside_a_transaction_rolls_back_with_it(
    conn: AsyncConnection, table: str
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with conn.transaction():
            await conn.copy_in(f"COPY {table} FROM STDIN", b"1\tone\n")
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
            1 / 0  # noqa: B018
    assert await _rows(conn, table) == []


async def test_copy_in_of_a_statement_that_is_not_copy_from_stdin_raises(
    conn: AsyncConnection,
) -> None:
    with pytest.raises(pgwire.InterfaceError, match=r"COPY \.\.\. FROM STDIN"):
        await conn.copy_in("SELECT 1", b"1\tone\n")
    await _assert_usable(conn)


# --------------------------------------------------------------------------------------
# copy_out
# --------------------------------------------------------------------------------------

EXPECTED = b'1\tone\n2\t\\N\n3\ta, "b"\n'


@pytest.fixture
async def filled(conn: AsyncConnection, table: str) -> str:
    await conn.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, NULL), (3, 'a, \"b\"')")
    return table


async def test_copy_out_returns_bytes(conn: AsyncConnection, filled: str) -> None:
    assert await conn.copy_out(f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT") == EXPECTED


async def test_copy_out_to_a_sync_callback_returns_the_tag(
    conn: AsyncConnection, filled: str
) -> None:
    chunks: list[bytes] = []
    sql = f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT"
    assert await conn.copy_out(sql, chunks.append) == "COPY 3"
    assert b"".join(chunks) == EXPECTED


async def test_copy_out_to_an_async_callback_awaits_each_chunk(conn: AsyncConnection) -> None:
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        await anyio.sleep(0)
        chunks.append(chunk)

    tag = await conn.copy_out("COPY (SELECT generate_series(1, 20000)) TO STDOUT", sink)
    assert tag == "COPY 20000"
    assert len(chunks) == 20000  # one chunk per row, as the server sends them
    assert b"".join(chunks).count(b"\n") == 20000


async def test_copy_out_to_a_file(conn: AsyncConnection, filled: str, tmp_path: Path) -> None:
    path = tmp_path / "out.tsv"
    with path.open("wb") as file:
        assert await conn.copy_out(f"COPY {filled} TO STDOUT", file) == "COPY 3"
    assert sorted(path.read_bytes().splitlines()) == [b"1\tone", b"2\t\\N", b'3\ta, "b"']


async def test_copy_out_to_an_async_file(
    conn: AsyncConnection, filled: str, tmp_path: Path
) -> None:
    path = tmp_path / "out.tsv"
    async with await anyio.open_file(path, "wb") as file:
        sql = f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT"
        assert await conn.copy_out(sql, file) == "COPY 3"
    assert path.read_bytes() == EXPECTED


async def test_copy_out_csv_format(conn: AsyncConnection, filled: str) -> None:
    data = await conn.copy_out(
        f"COPY (SELECT * FROM {filled} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"
    )
    assert data == b'id,name\n1,one\n2,\n3,"a, ""b"""\n'


async def test_copy_out_then_in_round_trips_in_binary(
    conn: AsyncConnection, filled: str, new_table: NewTable
) -> None:
    copy = await new_table("id int, name text")
    data = await conn.copy_out(f"COPY {filled} TO STDOUT (FORMAT binary)")
    assert await conn.copy_in(f"COPY {copy} FROM STDIN (FORMAT binary)", data) == "COPY 3"
    assert await _rows(conn, copy) == await _rows(conn, filled)


async def test_copy_out_async_sink_that_raises_propagates_and_keeps_the_connection(
    conn: AsyncConnection,
) -> None:
    async def sink(chunk: bytes) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await conn.copy_out("COPY (SELECT generate_series(1, 1000)) TO STDOUT", sink)
    await _assert_usable(conn)


async def test_copy_out_error_mid_stream_raises_it(conn: AsyncConnection) -> None:
    with pytest.raises(errors.DivisionByZero):
        await conn.copy_out(
            "COPY (SELECT 10 / (500 - n) FROM generate_series(1, 1000) n) TO STDOUT"
        )
    await _assert_usable(conn)


async def test_copy_out_stream_yields_chunks_as_they_arrive(conn: AsyncConnection) -> None:
    lines = 0
    async with conn.copy_out_stream("COPY (SELECT generate_series(1, 5000)) TO STDOUT") as chunks:
        async for chunk in chunks:
            lines += chunk.count(b"\n")
    assert lines == 5000
    await _assert_usable(conn)
