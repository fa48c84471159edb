"""The benchmark's PEP 249 rows, for correctness only (no timing): every workload through
each driver's DB-API module gives the right answer (the pool workload is skipped: PEP 249
has no pool)."""

from __future__ import annotations

import pytest

from bench import run
from bench.drivers import DBAPI_DRIVERS, DRIVERS, WORKLOADS
from bench.orm import ORM_WORKLOADS
from tests.pg import PostgresServer

pytestmark = pytest.mark.pg

# psycopg-py-dbapi needs PSYCOPG_IMPL=python before psycopg's import: not in this process.
IN_PROCESS = [d for d in DBAPI_DRIVERS if DRIVERS[d][2].get("PSYCOPG_IMPL") != "python"]


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if w not in ORM_WORKLOADS])
@pytest.mark.parametrize("driver", IN_PROCESS)
def test_every_workload_through_pep_249_gives_the_right_answer(
    pg_server: PostgresServer, driver: str, workload: str
) -> None:
    dsn = pg_server.dsn(run.USER, run.PASSWORD, sslmode="disable")
    if workload == "pool":  # PEP 249 defines no pool: the benchmark skips these rows
        with pytest.raises(run.Skipped, match="no pool"):
            run.smoke(driver, workload, dsn)
        return
    rows = run.smoke(driver, workload, dsn, stream_rows=2000)
    expected = WORKLOADS[workload][3] or (2000 if workload == "stream" else None)
    if expected is not None:
        assert rows == expected
    else:
        assert rows > 100
