"""Named cursors: rows streamed from a server-side portal in batches of ``itersize``, inside
the current transaction, with flat memory (peak RSS measured in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import pgwire.dbapi as dbapi
from pgwire.dbapi import Connection

pytestmark = pytest.mark.pg

ROOT = Path(__file__).resolve().parents[2]


def test_a_named_cursor_streams_in_batches(conn: Connection) -> None:
    cur = conn.cursor("big")
    assert isinstance(cur, dbapi.ServerCursor) and cur.name == "big"
    cur.itersize = 7
    cur.execute("SELECT i, 'row ' || i FROM generate_series(1, %s) AS i", (50,))
    assert [c.name for c in cur.description or ()] == ["i", "?column?"]
    assert cur.fetchone() == (1, "row 1")
    assert cur.fetchmany(3) == [(2, "row 2"), (3, "row 3"), (4, "row 4")]
    assert cur.rownumber == 4 and cur.rowcount == 4
    cur.scroll(10)
    assert cur.fetchone() == (15, "row 15")
    rest = list(cur)
    assert rest[0] == (16, "row 16") and rest[-1] == (50, "row 50") and len(rest) == 35
    assert cur.fetchone() is None and cur.fetchall() == []
    cur.close()


def test_a_named_cursor_lives_in_the_current_transaction(
    conn: Connection, new_table: Callable[[str], str]
) -> None:
    table = new_table("a int")
    conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 10)")
    with conn.cursor("inside") as cur:
        cur.itersize = 3
        cur.execute(f"SELECT a FROM {table} ORDER BY a")
        assert conn.transaction_status == "T"
        assert len(cur.fetchall()) == 10  # sees the uncommitted rows
    conn.rollback()


def test_in_autocommit_a_named_cursor_opens_a_transaction_until_closed(
    connect: Callable[..., Connection],
) -> None:
    conn = connect(autocommit=True)
    cur = conn.cursor("auto")
    cur.itersize = 2
    cur.execute("SELECT generate_series(1, 5)")
    assert conn.transaction_status == "T"
    assert cur.fetchone() == (1,)
    cur.close()
    assert conn.transaction_status == "I"


def test_an_error_in_the_query_raises_at_execute(conn: Connection) -> None:
    cur = conn.cursor("bad")
    with pytest.raises(dbapi.DataError):
        cur.execute("SELECT 1 / (i - 3) FROM generate_series(1, 5) AS i")
    conn.rollback()


def test_named_cursors_refuse_what_they_cannot_do(conn: Connection) -> None:
    with pytest.raises(dbapi.NotSupportedError):
        conn.cursor("s", scrollable=True)
    with pytest.raises(dbapi.NotSupportedError):
        conn.cursor("h", withhold=True)
    cur = conn.cursor("c")
    cur.execute("SELECT 1")
    with pytest.raises(dbapi.NotSupportedError):
        cur.scroll(-1)
    with pytest.raises(dbapi.ProgrammingError):
        cur.executemany("SELECT %s", [(1,)])
    assert cur.nextset() is None


def test_a_named_cursor_takes_the_row_factory(conn: Connection) -> None:
    cur = conn.cursor("d", row_factory=dbapi.dict_row)
    cur.execute("SELECT 1 AS a")
    assert cur.fetchall() == [{"a": 1}]


def test_a_new_execute_closes_the_previous_portal(conn: Connection) -> None:
    cur = conn.cursor("again")
    cur.execute("SELECT generate_series(1, 5000)")
    cur.fetchone()
    cur.execute("SELECT 'second'")
    assert cur.fetchall() == [("second",)]
    portals = conn.execute("SELECT count(*) FROM pg_cursors").fetchone()
    assert portals == (1,)


STREAM = """
import json, sys
import pgwire.dbapi

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

dsn, rows, named = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "named"
with pgwire.dbapi.connect(dsn) as conn:
    cur = conn.cursor("stream" if named else None)
    cur.execute("SELECT i, 'row number ' || i FROM generate_series(1, %s) AS i", (rows,))
    seen = 0
    if named:
        for _row in cur:
            seen += 1
    else:
        seen = len(cur.fetchall())
print(json.dumps({"rows": seen, "peak_kib": peak()}))
"""


def stream_peak_kib(dsn: str, rows: int, kind: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", STREAM, dsn, str(rows), kind],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    ).stdout
    result = json.loads(out)
    assert result["rows"] == rows
    return int(result["peak_kib"])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_million_rows_through_a_named_cursor_keep_memory_flat(connect: object) -> None:
    from tests.dbapi.conftest import Connector

    assert isinstance(connect, Connector)
    baseline = stream_peak_kib(connect.dsn, 10_000, "named")
    streamed = stream_peak_kib(connect.dsn, 1_000_000, "named")
    assert streamed - baseline < 15 * 1024, (baseline, streamed)
    # The same rows read whole by a client-side cursor: the measure does see growth.
    whole = stream_peak_kib(connect.dsn, 1_000_000, "client")
    assert whole - baseline > 60 * 1024, (baseline, whole)
