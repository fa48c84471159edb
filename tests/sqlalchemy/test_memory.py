"""A million rows streamed through SQLAlchemy (``yield_per``: a server-side cursor) keep the
peak RSS of the process flat, on both dialects. Each run is a fresh subprocess that reports
its peak RSS (VmHWM); a run that reads the rows whole shows that the measure does see
growth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PostgresServer
from tests.sqlalchemy.conftest import url

ROOT = Path(__file__).resolve().parent.parent.parent

STREAM = """
import asyncio, json, sys
import sqlalchemy as sa

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

url, rows, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
query = sa.text("SELECT i, 'row number ' || i AS label FROM generate_series(1, :n) AS i")
query = query.bindparams(n=rows)

def count(result):
    seen = 0
    for partition in result.partitions(2000):
        seen += len(partition)
    return seen

async def run_async():
    from sqlalchemy.ext.asyncio import create_async_engine
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        if mode == "stream":
            result = await conn.stream(query.execution_options(yield_per=2000))
            seen = 0
            async for partition in result.partitions(2000):
                seen += len(partition)
        else:
            seen = len((await conn.execute(query)).all())
    await engine.dispose()
    return seen

if "+pgwire_async" in url:
    seen = asyncio.run(run_async())
else:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if mode == "stream":
            seen = count(conn.execution_options(yield_per=2000).execute(query))
        else:
            seen = len(conn.execute(query).all())
print(json.dumps({"rows": seen, "peak_kib": peak()}))
"""


def _peak_kib(url: str, rows: int, mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", STREAM, url, str(rows), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=600,
    ).stdout
    result = json.loads(out)
    assert result["rows"] == rows
    return int(result["peak_kib"])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("driver", ["pgwire", "pgwire_async"])
def test_a_million_streamed_rows_keep_memory_flat(pg_server: PostgresServer, driver: str) -> None:
    target = url(pg_server, driver)
    baseline = _peak_kib(target, 10_000, "stream")
    streamed = _peak_kib(target, 1_000_000, "stream")
    assert streamed - baseline < 15 * 1024, (baseline, streamed)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_the_measure_sees_a_million_rows_read_whole(pg_server: PostgresServer) -> None:
    target = url(pg_server)
    baseline = _peak_kib(target, 10_000, "whole")
    whole = _peak_kib(target, 1_000_000, "whole")
    assert whole - baseline > 60 * 1024, (baseline, whole)
