"""Values near and over PostgreSQL's 1 GB message limit, against PostgreSQL 18, on the
blocking driver and on asyncio, uvloop and trio (one source, ``test_large_values_async.py``,
for both drivers): a value too large for one message is refused before anything is sent (a
pipeline runs none of its statements), and a value spread over many reads arrives whole.
"""

from __future__ import annotations

import pytest

from pgwire import errors
from pgwire.connection import AsyncConnection
from pgwire.protocol.messages import MAX_MESSAGE_SIZE
from tests.driver.fixtures_async import assert_usable

if True:  # ASYNC
    pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def too_large() -> bytes:
    """One byte over what fits in a Bind with one parameter (1 GB, made once per module)."""
    return b"\0" * MAX_MESSAGE_SIZE


async def test_a_parameter_over_the_message_limit_is_refused_before_sending(
    aconn: AsyncConnection, too_large: bytes
) -> None:
    with pytest.raises(errors.DataError, match="over PostgreSQL's limit of 1,073,741,822"):
        await aconn.fetchval("SELECT length($1::bytea)", too_large)
    await assert_usable(aconn)


async def test_a_pipeline_with_one_value_too_large_runs_none_of_its_statements(
    aconn: AsyncConnection, too_large: bytes
) -> None:
    await aconn.execute("CREATE TEMP TABLE t (n int)")
    pipeline = aconn.pipeline()
    pipeline.execute("INSERT INTO t VALUES ($1)", 1)
    pipeline.fetchval("SELECT length($1::bytea)", too_large)
    pipeline.execute("INSERT INTO t VALUES ($1)", 2)
    with pytest.raises(errors.DataError, match=r"\$1: 1,073,741,822"):
        await pipeline.run()
    await assert_usable(aconn)
    assert await aconn.fetchval("SELECT count(*) FROM t") == 0


async def test_executemany_with_one_value_too_large_sends_nothing(
    aconn: AsyncConnection, too_large: bytes
) -> None:
    await aconn.execute("CREATE TEMP TABLE t (b bytea)")
    with pytest.raises(errors.DataError, match="limit"):
        await aconn.executemany("INSERT INTO t VALUES ($1)", [(b"x",), (too_large,)])
    await assert_usable(aconn)
    assert await aconn.fetchval("SELECT count(*) FROM t") == 0


async def test_a_value_spread_over_many_reads_arrives_whole(aconn: AsyncConnection) -> None:
    # 48 MB in one column: hundreds of reads, each of which once copied the whole buffer.
    size = 48 << 20
    row = await aconn.fetchrow("SELECT repeat('ab', $1::int) AS v, 1 AS n", size // 2)
    assert row is not None
    assert len(row["v"]) == size and row["v"][:4] == "abab" and row["n"] == 1
    await assert_usable(aconn)
