"""Values near and over PostgreSQL's 1 GB message limit, on the blocking driver against
PostgreSQL 18: a value too large for one message is refused before anything is sent (a
pipeline runs none of its statements), and a value spread over many reads arrives whole.
"""

from __future__ import annotations

import pytest

from pgwire import errors
from pgwire.protocol.messages import MAX_MESSAGE_SIZE
from pgwire.sync import Connection

# One byte over what fits in a Bind with one parameter: refused without a copy of it.
TOO_LARGE = b"\0" * (MAX_MESSAGE_SIZE)


def _in_step(conn: Connection) -> None:
    assert conn.transaction_status == "I"
    assert conn.fetchval("SELECT $1::int", 7) == 7


def test_a_parameter_over_the_message_limit_is_refused_before_sending(conn: Connection) -> None:
    with pytest.raises(errors.DataError, match="over PostgreSQL's limit of 1,073,741,822"):
        conn.fetchval("SELECT length($1::bytea)", TOO_LARGE)
    _in_step(conn)


def test_a_pipeline_with_one_value_too_large_runs_none_of_its_statements(
    conn: Connection,
) -> None:
    conn.execute("CREATE TEMP TABLE t (n int)")
    pipeline = conn.pipeline()
    pipeline.execute("INSERT INTO t VALUES ($1)", 1)
    pipeline.fetchval("SELECT length($1::bytea)", TOO_LARGE)
    pipeline.execute("INSERT INTO t VALUES ($1)", 2)
    with pytest.raises(errors.DataError, match=r"\$1: 1,073,741,822"):
        pipeline.run()
    _in_step(conn)
    assert conn.fetchval("SELECT count(*) FROM t") == 0


def test_executemany_with_one_value_too_large_sends_nothing(conn: Connection) -> None:
    conn.execute("CREATE TEMP TABLE t (b bytea)")
    with pytest.raises(errors.DataError, match="limit"):
        conn.executemany("INSERT INTO t VALUES ($1)", [(b"x",), (TOO_LARGE,)])
    _in_step(conn)
    assert conn.fetchval("SELECT count(*) FROM t") == 0


def test_a_value_spread_over_many_reads_arrives_whole(conn: Connection) -> None:
    # 48 MB in one column: hundreds of reads, each of which once copied the whole buffer.
    size = 48 << 20
    row = conn.fetchrow("SELECT repeat('ab', $1::int) AS v, 1 AS n", size // 2)
    assert row is not None
    assert len(row["v"]) == size and row["v"][:4] == "abab" and row["n"] == 1
    _in_step(conn)
