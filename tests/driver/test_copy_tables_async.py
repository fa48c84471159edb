"""Table-level COPY: records in binary format, tables and queries out, and streaming output,
against the real PostgreSQL 18, on the blocking driver and on asyncio, uvloop and trio (one
source, ``test_copy_tables_async.py``, for both drivers)."""

from __future__ import annotations

import datetime
import decimal
import io
import uuid

import pytest

from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.driver.fixtures_async import assert_usable

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


@pytest.fixture
async def item(aconn: AsyncConnection) -> str:
    """A temporary table of ``aconn`` with a column of each common type."""
    await aconn.execute(
        "CREATE TEMP TABLE item (id int, name text, price numeric, seen timestamptz,"
        " tag uuid, raw bytea, ok bool, score float8)"
    )
    return "item"


# --------------------------------------------------------------------------------------
# copy_records_to_table, copy_to_table
# --------------------------------------------------------------------------------------


async def test_copy_records_to_table_loads_every_type_in_binary(
    aconn: AsyncConnection, item: str
) -> None:
    seen = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
    tag = uuid.UUID(int=7)
    records = [
        (1, "apple", decimal.Decimal("1.25"), seen, tag, b"\x00\xff", True, 0.5),
        (2, None, None, None, None, None, None, None),
    ]
    assert await aconn.copy_records_to_table(item, records=records) == "COPY 2"
    rows = await aconn.fetch(f"SELECT * FROM {item} ORDER BY id")
    assert [tuple(r) for r in rows] == records


async def test_copy_records_to_table_takes_a_generator_and_a_column_subset(
    aconn: AsyncConnection, item: str
) -> None:
    tag = await aconn.copy_records_to_table(
        item, records=((i, f"n{i}") for i in range(5000)), columns=["id", "name"]
    )
    assert tag == "COPY 5000"
    assert await aconn.fetchval(f"SELECT count(name) FROM {item} WHERE price IS NULL") == 5000


async def test_copy_records_with_a_wrong_value_fails_naming_the_column_and_keeps_the_connection(
    aconn: AsyncConnection, item: str
) -> None:
    with pytest.raises(errors.DataError, match="column 1"):
        await aconn.copy_records_to_table(item, records=[("not an int",)], columns=["id"])
    assert await aconn.fetchval(f"SELECT count(*) FROM {item}") == 0
    await assert_usable(aconn)


async def test_copy_records_with_the_wrong_number_of_values_fails(
    aconn: AsyncConnection, item: str
) -> None:
    with pytest.raises(errors.DataError, match="2 values for 1 columns"):
        await aconn.copy_records_to_table(item, records=[(1, "x")], columns=["id"])
    await assert_usable(aconn)


async def test_copy_records_keeps_each_copy_data_small_however_wide_the_records(
    aconn: AsyncConnection, item: str
) -> None:
    # 300 records of 2 MB: the batches shrink to about one record each (the first batch
    # is one record), instead of one CopyData of 600 MB.
    sent: list[int] = []
    write = aconn._write

    async def spy(data: bytes) -> None:
        sent.append(len(data))
        await write(data)

    aconn._write = spy  # type: ignore[method-assign]
    wide = b"\xab" * (2 << 20)
    tag = await aconn.copy_records_to_table(
        item, records=((i, wide) for i in range(300)), columns=["id", "raw"]
    )
    assert tag == "COPY 300"
    assert max(sent) < 5 << 20
    assert await aconn.fetchval(f"SELECT sum(length(raw)) FROM {item}") == 300 * len(wide)
    # Narrow records still go about 1,000 to a batch.
    sent.clear()
    await aconn.copy_records_to_table(
        item, records=[(i, b"x") for i in range(5000)], columns=["id", "raw"]
    )
    assert len(sent) < 15


async def test_copy_to_table_and_back_in_csv(aconn: AsyncConnection, item: str) -> None:
    data = 'id,name\n1,one\n2,"t,wo"\n'
    tag = await aconn.copy_to_table(
        item, source=data, columns=["id", "name"], format="csv", header=True
    )
    assert tag == "COPY 2"
    out = io.BytesIO()
    tag = await aconn.copy_from_table(
        item, output=out, columns=["id", "name"], format="csv", header=True
    )
    assert tag == "COPY 2"
    assert out.getvalue().decode() == data


# --------------------------------------------------------------------------------------
# copy_from_query, copy_out_stream
# --------------------------------------------------------------------------------------


async def test_copy_from_query_to_a_callback(aconn: AsyncConnection) -> None:
    chunks: list[bytes] = []
    tag = await aconn.copy_from_query("SELECT g FROM generate_series(1, 3) g", output=chunks.append)
    assert tag == "COPY 3"
    assert b"".join(chunks) == b"1\n2\n3\n"


async def test_copy_out_stream_yields_the_chunks_as_they_arrive(aconn: AsyncConnection) -> None:
    sql = "COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT"
    total = 0
    async with aconn.copy_out_stream(sql) as chunks:
        async for chunk in chunks:
            total += len(chunk)
    assert total == len("".join(f"{i}\n" for i in range(1, 200001)))
    await assert_usable(aconn)


async def test_copy_out_stream_left_early_keeps_the_connection(aconn: AsyncConnection) -> None:
    sql = "COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT"
    async with aconn.copy_out_stream(sql) as chunks:
        async for _ in chunks:
            break
    await assert_usable(aconn)


async def test_copy_out_stream_refuses_a_statement_that_is_not_copy_out(
    aconn: AsyncConnection,
) -> None:
    stream = aconn.copy_out_stream("SELECT 1")
    with pytest.raises(errors.InterfaceError, match="expects COPY"):
        async with stream as chunks:
            async for _ in chunks:
                pass
    await assert_usable(aconn)
