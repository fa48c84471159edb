"""A tiny run of every benchmark workload, for correctness only: each driver that can run in
this process does each workload twice and its answer is checked. Nothing here looks at
time (issue 9: benchmarks are not timed tests). One end-to-end run of ``bench/run.py``
checks the worker protocol, the JSON file and the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run
from bench.drivers import DRIVERS, WORKLOADS
from bench.orm import ORM_DRIVERS, ORM_WORKLOADS
from tests.pg import PostgresServer

pytestmark = pytest.mark.pg

# psycopg-py needs PSYCOPG_IMPL=python before the import: it runs in the end-to-end test.
IN_PROCESS = ["pgwire-sync", "pgwire-asyncio", "pgwire-trio", "asyncpg", "psycopg-c", "pg8000"]


@pytest.fixture(scope="module")
def dsn(pg_server: PostgresServer) -> str:
    return pg_server.dsn(run.USER, run.PASSWORD, sslmode="disable")


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if w not in ORM_WORKLOADS])
def test_every_workload_gives_the_right_answer(dsn: str, workload: str) -> None:
    for driver in IN_PROCESS:
        rows = run.smoke(driver, workload, dsn, stream_rows=2000)
        expected = WORKLOADS[workload][3] or (2000 if workload == "stream" else None)
        if expected is not None:
            assert rows == expected, driver
        else:
            assert rows > 100, driver


@pytest.mark.parametrize("workload", list(ORM_WORKLOADS))
def test_every_orm_workload_gives_the_right_answer(dsn: str, workload: str) -> None:
    # sa-psycopg needs PSYCOPG_IMPL set before psycopg's import: any implementation will do.
    for driver in ORM_DRIVERS:
        assert run.smoke(driver, workload, dsn) == 1000, driver


def test_pgwire_on_uvloop(dsn: str) -> None:
    assert run.smoke("pgwire-uvloop", "pipeline", dsn) == 1000


def test_end_to_end_run_writes_table_and_json(dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    drivers = "pgwire-sync,asyncpg,psycopg-py"
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(run.__file__)),
            f"--dsn={dsn}",
            f"--drivers={drivers}",
            "--workloads=select,stream",
            "--duration=0.05",
            "--rounds=1",
            "--warmup=0",
            "--stream-rows=1000",
            f"--json={out}",
            f"--markdown={md}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"select", "stream"}
    for workload in ("select", "stream"):
        for driver in drivers.split(","):
            result = report["results"][workload][driver]
            assert "error" not in result, result
            assert result["qps"] > 0 and result["peak_rss_mb"] > 0
    assert report["results"]["stream"]["psycopg-py"]["versions"]["impl"] == "python"
    assert report["results"]["select"]["asyncpg"]["qps_ratio"] == 1.0
    assert set(report["geomean_qps_ratio"]) == set(drivers.split(","))
    assert report["machine"]["cores"] and report["git"]["commit"]
    assert "geomean" in proc.stdout and "vs asyncpg" in proc.stdout
    assert md.read_text().startswith("PostgreSQL")
    assert set(DRIVERS) >= set(report["drivers"])
