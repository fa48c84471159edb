"""Client CPU per operation of the blocking drivers, one connection each: what a driver costs
its process, apart from the server's time and the machine's other load (which move the
queries/s of ``run.py`` by 10-20 % on a shared machine).

Each (driver, workload) runs in its own subprocess (psycopg picks its implementation at
import time): one connection, the workload's tables, three untimed operations, then
``time.process_time()`` (user + system CPU of the process, so the kernel's share of each
send and receive counts) over a batch of operations, best of five batches. Prints µs per
operation and each driver's ratio to the first one::

    .venv/bin/python bench/cpu.py --drivers pgwire-dbapi,psycopg-py-dbapi,pg8000-dbapi
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench.drivers import (  # noqa: E402
    DBAPI_DRIVERS,
    DRIVERS,
    SETUP_SQL,
    TRUNCATE_SQL,
    WORKLOADS,
    make_adapter,
)
from bench.run import PASSWORD, USER  # noqa: E402

#: Operations per timed batch, and the rows of the stream.
BATCH = {
    "pgtype": 20,
    "series": 50,
    "bytea": 100,
    "intarray": 50,
    "copy": 3,
    "executemany": 5,
    "select": 2000,
    "pipeline": 3,
    "stream": 1,
}
STREAM_ROWS = 200_000
REPEATS = 5


def measure(driver: str, workload: str, dsn: str) -> float:
    """Best µs of client CPU per operation (in this process)."""
    adapter = make_adapter(driver, dsn)
    conn = adapter.connect()
    try:
        for sql in SETUP_SQL.get(workload, []):
            adapter.execute(conn, sql)
        op = adapter.op(workload, STREAM_ROWS)
        for _ in range(3):
            op(conn)
        best = float("inf")
        for _ in range(REPEATS):
            if workload in ("copy", "executemany"):
                adapter.execute(conn, TRUNCATE_SQL)
            start = time.process_time()
            for _ in range(BATCH[workload]):
                op(conn)
            best = min(best, (time.process_time() - start) / BATCH[workload])
        return best * 1e6
    finally:
        adapter.close(conn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drivers", default=",".join(DBAPI_DRIVERS), help="comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--dsn", help="use this server instead of starting one")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        driver, workload, dsn = args.child
        print(json.dumps(measure(driver, workload, dsn)))
        return 0
    drivers = [d for d in args.drivers.split(",") if d]
    workloads = [w for w in args.workloads.split(",") if w]
    blocking = [d for d in drivers if DRIVERS[d][1] == "sync"]
    with contextlib.ExitStack() as stack:
        if args.dsn:
            dsn = args.dsn
        else:
            from tests.pg import PostgresServer

            server = stack.enter_context(PostgresServer())
            dsn = server.dsn(USER, PASSWORD, sslmode="disable")
        results: dict[str, dict[str, float]] = {w: {} for w in workloads}
        for workload in workloads:
            for driver in blocking:
                env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_IMPL"}
                env.update(DRIVERS[driver][2])
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", driver, workload, dsn],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    results[workload][driver] = float("nan")
                else:
                    results[workload][driver] = float(proc.stdout.strip().splitlines()[-1])
    print(render(results, blocking))
    return 0


def render(results: dict[str, dict[str, float]], drivers: list[str]) -> str:
    """A Markdown table: µs per operation, and the first driver's advantage over each."""
    first = drivers[0]
    head = ["workload", *(f"{d} µs" for d in drivers), *(f"{first} vs {d}" for d in drivers[1:])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for workload, per in results.items():
        cells = [f"{per[d]:,.0f}" for d in drivers]
        cells += [f"{per[d] / per[first]:.1f}x" for d in drivers[1:]]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
