"""A tiny run of every benchmark workload, for correctness only: each driver that can run in
this process does each workload twice and its answer is checked. Nothing here looks at
time (issue 9: benchmarks are not timed tests). One end-to-end run of ``bench/run.py``
checks the worker protocol, the JSON file and the table; the targets are checked on made-up
figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import imports, run
from bench.drivers import (
    DBAPI_DRIVERS,
    DRIVERS,
    WORKLOADS,
    concurrency_of,
    conn_params,
    make_adapter,
    missing,
)
from bench.orm import ORM_DRIVERS, ORM_WORKLOADS
from tests.pg import PostgresServer

pytestmark = pytest.mark.pg

# psycopg-py needs PSYCOPG_IMPL=python before the import: it runs in the end-to-end test.
IN_PROCESS = [
    "pgwire-sync",
    "pgwire-asyncio",
    "pgwire-trio",
    "asyncpg",
    "psycopg-c",
    "psycopg-c-async",
    "pg8000",
]


@pytest.fixture(scope="module")
def dsn(pg_server: PostgresServer) -> str:
    return pg_server.dsn(run.USER, run.PASSWORD, sslmode="disable")


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if w not in ORM_WORKLOADS])
def test_every_workload_gives_the_right_answer(dsn: str, workload: str) -> None:
    for driver in IN_PROCESS:
        if workload == "pool" and driver == "pg8000":
            with pytest.raises(run.Skipped, match="no pool"):
                run.smoke(driver, workload, dsn)
            continue
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


def test_the_drivers_without_a_pool_skip_the_pool_workload(dsn: str) -> None:
    for driver in ["pg8000", *DBAPI_DRIVERS]:
        assert missing(make_adapter(driver, dsn), driver, "pool").startswith("no pool"), driver
    for driver in IN_PROCESS[:-1]:
        assert missing(make_adapter(driver, dsn), driver, "pool") == "", driver


def test_connections_leaves_pool_connect_pipeline_and_stream_alone() -> None:
    assert concurrency_of("select") == 10
    assert concurrency_of("select", 1) == concurrency_of("pgtype", 1) == 1
    assert concurrency_of("pool", 1) == concurrency_of("pool") == 20
    for workload in ("connect", "pipeline", "stream"):
        assert concurrency_of(workload, 10) == 1


def test_end_to_end_run_writes_table_and_json(dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    drivers = "pgwire-sync,asyncpg,psycopg-py,pg8000"
    workloads = ["select", "stream", "pool", "connect"]
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(run.__file__)),
            f"--dsn={dsn}",
            f"--drivers={drivers}",
            f"--workloads={','.join(workloads)},import",
            "--duration=0.05",
            "--rounds=1",
            "--warmup=0",
            "--stream-rows=1000",
            "--import-runs=1",
            "--connections=1",
            f"--json={out}",
            f"--markdown={md}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert set(report["results"]) == set(workloads)
    for workload in workloads:
        for driver in drivers.split(","):
            result = report["results"][workload][driver]
            if (workload, driver) == ("pool", "pg8000"):
                assert result["skipped"].startswith("no pool"), result
                continue
            assert "error" not in result, result
            assert result["qps"] > 0 and result["peak_rss_mb"] > 0
    assert report["results"]["stream"]["psycopg-py"]["versions"]["impl"] == "python"
    assert report["results"]["pool"]["psycopg-py"]["versions"]["psycopg-pool"][0].isdigit()
    assert report["results"]["select"]["asyncpg"]["qps_ratio"] == 1.0
    assert report["settings"]["concurrency"] == {
        "select": 1,
        "stream": 1,
        "pool": 20,
        "connect": 1,
    }
    assert set(report["geomean_qps_ratio"]) == set(drivers.split(","))
    assert report["machine"]["cores"] and report["git"]["commit"]
    imported = report["import"]["results"]
    assert list(imported) == imports.labels_for(drivers.split(","))
    assert all("error" not in r and r["import_s"] >= 0 for r in imported.values()), imported
    assert "pgwire" in report["import"]["importtime"]["pgwire async"]["by_package"]
    assert "geomean" in proc.stdout and "vs asyncpg" in proc.stdout
    assert "Import time" in proc.stdout and "skipped" in proc.stdout
    assert md.read_text().startswith("PostgreSQL")
    assert set(DRIVERS) >= set(report["drivers"])


def test_import_rows_follow_the_drivers() -> None:
    assert imports.labels_for(["pgwire-trio", "psycopg-py-dbapi", "sa-pgwire"]) == [
        "pgwire",
        "pgwire async",
        "pgwire blocking",
        "psycopg-py",
    ]
    assert imports.labels_for(["asyncpg", "psycopg-c-async", "pg8000-dbapi"]) == [
        "asyncpg",
        "psycopg-c",
        "pg8000",
    ]


def test_importtime_output_is_parsed() -> None:
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      2500 |       3100 | pgwire.protocol\n"
    )
    assert imports.parse_importtime(text) == [("_io", 120, 120), ("pgwire.protocol", 2500, 3100)]


def fake_report(concurrency: int, ratios: dict[str, dict[str, float]]) -> dict[str, Any]:
    """A report whose queries/s are ``ratios`` (driver -> workload -> ratio to asyncpg's)."""
    workloads = list(next(iter(ratios.values())))
    results: dict[str, Any] = {w: {"asyncpg": {"qps": 1000.0}} for w in workloads}
    for driver, per in ratios.items():
        for w, ratio in per.items():
            results[w][driver] = {"qps": 1000.0 * ratio, "qps_ratio": ratio}
    drivers = ["asyncpg", *ratios]
    return {
        "drivers": dict.fromkeys(drivers, ""),
        "settings": {"concurrency": {w: concurrency_of(w, concurrency) for w in workloads}},
        "results": results,
        "geomean_qps_ratio": {
            d: run.geomean([results[w][d]["qps"] / 1000.0 for w in workloads]) for d in drivers
        },
    }


def status(report: dict[str, Any], driver: str, target: str) -> Any:
    (found,) = [
        t for t in run.targets(report) if t["driver"] == driver and t["target"].startswith(target)
    ]
    return found["met"]


def test_the_targets_of_the_second_speed_round() -> None:
    good = {"select": 0.8, "series": 0.75, "pool": 1.1, "connect": 1.5, "pipeline": 1.2}
    report = fake_report(
        1,
        {
            "pgwire-asyncio": good,
            "pgwire-sync": {**good, "series": 0.69},
            "pgwire-trio": {w: v * 0.85 for w, v in good.items()},
        },
    )
    assert status(report, "pgwire-asyncio", "single-connection workloads >= 0.7x") is True
    assert status(report, "pgwire-sync", "single-connection workloads >= 0.7x") is False
    assert status(report, "pgwire-asyncio", "pool >= asyncpg") is True
    assert status(report, "pgwire-asyncio", "geomean >= 1.0x") is True
    assert status(report, "pgwire-trio", "every workload >= 0.8x pgwire-asyncio") is True
    slow_trio = fake_report(
        1, {"pgwire-asyncio": good, "pgwire-trio": {**good, "connect": 1.5 * 0.79}}
    )
    assert status(slow_trio, "pgwire-trio", "every workload >= 0.8x pgwire-asyncio") is False
    # The single-connection target is judged only on a --connections 1 run.
    on_ten = fake_report(10, {"pgwire-asyncio": good})
    assert status(on_ten, "pgwire-asyncio", "single-connection workloads") is None
    assert status(on_ten, "pgwire-asyncio", "pool >= asyncpg") is True


def test_pg8000_connects_without_tls_under_sslmode_disable() -> None:
    params = conn_params("postgresql://u:p%40w@127.0.0.1:5433/db?sslmode=disable")
    assert params == {
        "host": "127.0.0.1",
        "port": 5433,
        "user": "u",
        "password": "p@w",
        "database": "db",
        "ssl_context": False,
    }
    assert "ssl_context" not in conn_params("postgresql://u@127.0.0.1/db")
