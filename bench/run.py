"""Side-by-side benchmark: pgwire (blocking) against asyncpg, psycopg 3 and pg8000.

Run it from the repository root::

    .venv/bin/python bench/run.py            # full run, about 1.5 minutes
    .venv/bin/python bench/run.py --quick    # about 20 seconds, noisier
    .venv/bin/python bench/run.py --drivers pgwire,asyncpg --budget 1
    .venv/bin/python bench/run.py --profile  # cProfile of pgwire's 10,000-row fetch

One PostgreSQL 18 server (``tests.pg.PostgresServer``) is started for the whole run; every
driver then runs in its own subprocess, one after the other, against that server. See
bench/README.md for what is measured and why it is measured that way.

This is a benchmark, not a test: nothing here asserts on time. It does check once per
workload that each driver got the right answer, so that a fast wrong result cannot win.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_FILE = BENCH_DIR / "results" / "latest.json"

USER, PASSWORD = "scram_user", "pw-scram"

# ---------------------------------------------------------------------------------------
# Workloads. The SQL is the same for every driver, up to the placeholder style.
# ---------------------------------------------------------------------------------------

FETCH_ROWS = 10_000
FETCH_SQL = (
    "SELECT i::int4 AS a, i::int8 * 1000003 AS b, 'row number ' || i AS c,"
    " i / 3.0::float8 AS d, round(i::numeric / 7, 4) AS e,"
    " timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS f"
    f" FROM generate_series(1, {FETCH_ROWS}) AS i"
)
INSERT_ROWS = 1_000
CREATE_TABLE_SQL = (
    "CREATE TEMP TABLE bench_insert (a int4, b text, c float8, d timestamptz, e int8)"
)
TRUNCATE_SQL = "TRUNCATE bench_insert"
COUNT_SQL = "SELECT count(*) FROM bench_insert"
PIPELINE_QUERIES = 100
PIPELINE_EXPECTED = sum(i + 1 for i in range(PIPELINE_QUERIES))

_T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
INSERT_DATA = [
    (i, f"name {i}", i * 0.25, _T0 + datetime.timedelta(seconds=i), i * 1_000_003)
    for i in range(INSERT_ROWS)
]


def sql_for(style: str, sql: str) -> str:
    """Rewrite ``$n`` placeholders for the driver's paramstyle."""
    if style == "dollar":
        return sql
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", "%s" if style == "format" else f":p{n}")
    return sql


INSERT_SQL = "INSERT INTO bench_insert (a, b, c, d, e) VALUES ($1, $2, $3, $4, $5)"
PIPELINE_SQL = "SELECT $1::int4 + 1"

# (key, title, what one "op" is)
WORKLOADS = [
    ("connect", "connect + SCRAM auth + close", "1 connection"),
    ("select1", "SELECT 1 round trip", "1 query"),
    ("fetch", f"fetch {FETCH_ROWS:,} rows x 6 cols", f"{FETCH_ROWS:,} rows"),
    ("insert", f"executemany insert {INSERT_ROWS:,} rows", f"{INSERT_ROWS:,} rows"),
    ("pipeline", f"{PIPELINE_QUERIES} small SELECTs pipelined", f"{PIPELINE_QUERIES} queries"),
]

# name -> (extra environment, description). Every driver runs in its own subprocess.
DRIVERS: dict[str, tuple[dict[str, str], str]] = {
    "pgwire": ({}, "pgwire blocking driver (pure Python)"),
    "asyncpg": ({}, "asyncpg on the default asyncio loop (Cython)"),
    "psycopg-c": ({"PSYCOPG_IMPL": "binary"}, "psycopg 3, psycopg-binary C impl over libpq"),
    "psycopg-py": ({"PSYCOPG_IMPL": "python"}, "psycopg 3, pure-Python impl over libpq (ctypes)"),
    "pg8000": ({}, "pg8000 native API (pure Python)"),
}


class WrongResult(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise WrongResult(what)


# ---------------------------------------------------------------------------------------
# Driver adapters. Each workload method returns (op, reset): ``op()`` does one operation
# (for asyncpg a coroutine function), ``reset()`` runs untimed between samples (or None).
# ``verify()`` runs once, untimed, after warm-up.
# ---------------------------------------------------------------------------------------

Op = Callable[[], Any]


class Workload:
    def __init__(
        self,
        op: Op,
        verify: Callable[[], object],
        reset: Callable[[], object] | None = None,
        note: str = "",
    ) -> None:
        self.op, self.verify, self.reset, self.note = op, verify, reset, note


class PgwireDriver:
    is_async = False

    def __init__(self, conn: dict[str, Any]) -> None:
        import pgwire

        self.pgwire = pgwire
        self.dsn = conn["dsn"]
        self.conn = pgwire.connect(self.dsn)
        self.conn.execute(CREATE_TABLE_SQL)

    def versions(self) -> dict[str, str]:
        import importlib.metadata

        return {"pgwire": importlib.metadata.version("pgwire")}

    def close(self) -> None:
        self.conn.close()

    def connect(self) -> Workload:
        def op() -> None:
            self.pgwire.connect(self.dsn).close()

        def verify() -> None:
            with self.pgwire.connect(self.dsn) as c:
                check(c.fetchval("SELECT current_user") == USER, "connected as wrong user")

        return Workload(op, verify)

    def select1(self) -> Workload:
        conn = self.conn

        def op() -> Any:
            return conn.fetchval("SELECT 1")

        return Workload(op, lambda: check(op() == 1, "SELECT 1"))

    def fetch(self) -> Workload:
        conn = self.conn

        def op() -> Any:
            return conn.fetch(FETCH_SQL)

        def verify() -> None:
            rows = op()
            check(len(rows) == FETCH_ROWS and rows[-1][0] == FETCH_ROWS, "fetch rows")

        return Workload(op, verify)

    def insert(self) -> Workload:
        conn = self.conn

        def op() -> None:
            conn.executemany(INSERT_SQL, INSERT_DATA)

        def verify() -> None:
            conn.execute(TRUNCATE_SQL)
            op()
            check(conn.fetchval(COUNT_SQL) == INSERT_ROWS, "inserted row count")

        return Workload(op, verify, lambda: conn.execute(TRUNCATE_SQL))

    def pipeline(self) -> Workload:
        conn = self.conn

        def op() -> list[Any]:
            with conn.pipeline() as p:
                futures = [p.fetchval(PIPELINE_SQL, i) for i in range(PIPELINE_QUERIES)]
            return [f.result() for f in futures]

        return Workload(op, lambda: check(sum(op()) == PIPELINE_EXPECTED, "pipeline"))


class AsyncpgDriver:
    is_async = True

    def __init__(self, conn: dict[str, Any]) -> None:
        import asyncio

        import asyncpg

        self.asyncpg = asyncpg
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.dsn = conn["dsn"]
        self.conn = self.run(asyncpg.connect(self.dsn))
        self.run(self.conn.execute(CREATE_TABLE_SQL))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def versions(self) -> dict[str, str]:
        return {"asyncpg": self.asyncpg.__version__}

    def close(self) -> None:
        self.run(self.conn.close())
        self.loop.close()

    def connect(self) -> Workload:
        async def op() -> None:
            c = await self.asyncpg.connect(self.dsn)
            await c.close()

        async def user() -> Any:
            c = await self.asyncpg.connect(self.dsn)
            try:
                return await c.fetchval("SELECT current_user")
            finally:
                await c.close()

        return Workload(op, lambda: check(self.run(user()) == USER, "connected as wrong user"))

    def select1(self) -> Workload:
        conn = self.conn

        async def op() -> Any:
            return await conn.fetchval("SELECT 1")

        return Workload(op, lambda: check(self.run(op()) == 1, "SELECT 1"))

    def fetch(self) -> Workload:
        conn = self.conn

        async def op() -> Any:
            return await conn.fetch(FETCH_SQL)

        def verify() -> None:
            rows = self.run(op())
            check(len(rows) == FETCH_ROWS and rows[-1][0] == FETCH_ROWS, "fetch rows")

        return Workload(op, verify)

    def insert(self) -> Workload:
        conn = self.conn

        async def op() -> None:
            await conn.executemany(INSERT_SQL, INSERT_DATA)

        def verify() -> None:
            self.run(conn.execute(TRUNCATE_SQL))
            self.run(op())
            check(self.run(conn.fetchval(COUNT_SQL)) == INSERT_ROWS, "inserted row count")

        return Workload(op, verify, lambda: self.run(conn.execute(TRUNCATE_SQL)))

    def pipeline(self) -> Workload:
        # asyncpg has no pipeline API, and asyncio.gather() on one connection fails with
        # "another operation is in progress"; its executemany pipelines but discards rows.
        conn = self.conn

        async def op() -> list[Any]:
            return [await conn.fetchval(PIPELINE_SQL, i) for i in range(PIPELINE_QUERIES)]

        return Workload(
            op,
            lambda: check(sum(self.run(op())) == PIPELINE_EXPECTED, "pipeline"),
            note="sequential (asyncpg has no pipeline for queries returning rows)",
        )


class PsycopgDriver:
    is_async = False

    def __init__(self, conn: dict[str, Any]) -> None:
        import psycopg

        self.psycopg = psycopg
        self.dsn = conn["dsn"]
        # autocommit: like pgwire, asyncpg and pg8000.native, no implicit BEGIN per query.
        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self.conn.execute(CREATE_TABLE_SQL)

    def versions(self) -> dict[str, str]:
        return {
            "psycopg": self.psycopg.__version__,
            "impl": self.psycopg.pq.__impl__,
            "libpq": str(self.psycopg.pq.version()),
        }

    def close(self) -> None:
        self.conn.close()

    def connect(self) -> Workload:
        def op() -> None:
            self.psycopg.connect(self.dsn).close()

        def verify() -> None:
            with self.psycopg.connect(self.dsn) as c:
                row = c.execute("SELECT current_user").fetchone()
                check(row is not None and row[0] == USER, "connected as wrong user")

        return Workload(op, verify)

    def select1(self) -> Workload:
        conn = self.conn

        def op() -> Any:
            return conn.execute("SELECT 1", prepare=True).fetchone()[0]  # type: ignore[index]

        return Workload(op, lambda: check(op() == 1, "SELECT 1"))

    def fetch(self) -> Workload:
        conn = self.conn

        def op() -> Any:
            return conn.execute(FETCH_SQL, prepare=True).fetchall()

        def verify() -> None:
            rows = op()
            check(len(rows) == FETCH_ROWS and rows[-1][0] == FETCH_ROWS, "fetch rows")

        return Workload(op, verify)

    def insert(self) -> Workload:
        conn = self.conn
        sql = sql_for("format", INSERT_SQL)

        def op() -> None:
            with conn.cursor() as cur:
                cur.executemany(sql, INSERT_DATA)

        def verify() -> None:
            conn.execute(TRUNCATE_SQL)
            op()
            row = conn.execute(COUNT_SQL).fetchone()
            check(row is not None and row[0] == INSERT_ROWS, "inserted row count")

        return Workload(op, verify, lambda: conn.execute(TRUNCATE_SQL))

    def pipeline(self) -> Workload:
        conn = self.conn
        sql = sql_for("format", PIPELINE_SQL)

        def op() -> list[Any]:
            cursors = []
            with conn.pipeline():
                for i in range(PIPELINE_QUERIES):
                    cur = conn.cursor()
                    cur.execute(sql, (i,), prepare=True)
                    cursors.append(cur)
            return [cur.fetchone()[0] for cur in cursors]  # type: ignore[index]

        return Workload(op, lambda: check(sum(op()) == PIPELINE_EXPECTED, "pipeline"))


class Pg8000Driver:
    is_async = False

    def __init__(self, conn: dict[str, Any]) -> None:
        import pg8000.native

        self.pg8000 = pg8000
        self.params = {
            "user": conn["user"],
            "password": conn["password"],
            "host": conn["host"],
            "port": conn["port"],
            "database": conn["database"],
        }
        self.conn = pg8000.native.Connection(**self.params)
        self.conn.run(CREATE_TABLE_SQL)

    def versions(self) -> dict[str, str]:
        import importlib.metadata

        return {"pg8000": importlib.metadata.version("pg8000")}

    def close(self) -> None:
        self.conn.close()

    def connect(self) -> Workload:
        native = self.pg8000.native

        def op() -> None:
            native.Connection(**self.params).close()

        def verify() -> None:
            c = native.Connection(**self.params)
            try:
                check(c.run("SELECT current_user")[0][0] == USER, "connected as wrong user")
            finally:
                c.close()

        return Workload(op, verify)

    def select1(self) -> Workload:
        statement = self.conn.prepare("SELECT 1")

        def op() -> Any:
            return statement.run()[0][0]

        return Workload(op, lambda: check(op() == 1, "SELECT 1"))

    def fetch(self) -> Workload:
        statement = self.conn.prepare(FETCH_SQL)

        def op() -> Any:
            return statement.run()

        def verify() -> None:
            rows = op()
            check(len(rows) == FETCH_ROWS and rows[-1][0] == FETCH_ROWS, "fetch rows")

        return Workload(op, verify)

    def insert(self) -> Workload:
        conn = self.conn
        statement = conn.prepare(sql_for("named", INSERT_SQL))
        data = [{f"p{n}": v for n, v in enumerate(row, 1)} for row in INSERT_DATA]

        def op() -> None:
            # pg8000 has no batched executemany (its DB-API one is this same loop).
            conn.run("BEGIN")
            for params in data:
                statement.run(**params)
            conn.run("COMMIT")

        def verify() -> None:
            conn.run(TRUNCATE_SQL)
            op()
            check(conn.run(COUNT_SQL)[0][0] == INSERT_ROWS, "inserted row count")

        return Workload(
            op,
            verify,
            lambda: conn.run(TRUNCATE_SQL),
            note="sequential: one round trip per row, in one transaction",
        )

    def pipeline(self) -> Workload:
        statement = self.conn.prepare(sql_for("named", PIPELINE_SQL))

        def op() -> list[Any]:
            return [statement.run(p1=i)[0][0] for i in range(PIPELINE_QUERIES)]

        return Workload(
            op,
            lambda: check(sum(op()) == PIPELINE_EXPECTED, "pipeline"),
            note="sequential (pg8000 has no pipeline mode)",
        )


ADAPTERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "pgwire": PgwireDriver,
    "asyncpg": AsyncpgDriver,
    "psycopg-c": PsycopgDriver,
    "psycopg-py": PsycopgDriver,
    "pg8000": Pg8000Driver,
}


# ---------------------------------------------------------------------------------------
# Timing: runs in the worker subprocess, one per driver, driven by the parent over a pipe
# ---------------------------------------------------------------------------------------

# A sample lasts about min(budget / SAMPLES_PER_BUDGET, MAX_SAMPLE_S): short enough that on
# a busy machine some samples fall between other jobs' bursts, long enough to hide the timer.
SAMPLES_PER_BUDGET = 40
MAX_SAMPLE_S = 0.02


def make_batch_runner(driver: Any, op: Op) -> Callable[[int], float]:
    """A function that runs ``op`` n times back to back and returns the elapsed seconds.

    For asyncpg the loop runs inside one coroutine, so the cost of entering the event loop
    is paid once per batch, not once per operation.
    """
    perf_counter = time.perf_counter
    if driver.is_async:

        async def abatch(n: int) -> float:
            start = perf_counter()
            for _ in range(n):
                await op()
            return perf_counter() - start

        return lambda n: driver.run(abatch(n))

    def batch(n: int) -> float:
        start = perf_counter()
        for _ in range(n):
            op()
        return perf_counter() - start

    return batch


class Measurement:
    """One workload of one driver: warmed up and verified once, then sampled in rounds.

    A sample is a batch of back-to-back operations sized to last about
    min(budget / SAMPLES_PER_BUDGET, MAX_SAMPLE_S), so that timer resolution and loop
    overhead vanish for sub-millisecond operations; its time per operation is the batch
    time / batch size.
    """

    def __init__(self, driver: Any, workload: Workload, budget: float) -> None:
        self.run_batch = make_batch_runner(driver, workload.op)
        self.reset = workload.reset or (lambda: None)
        self.note = workload.note
        # Warm-up: statement caches, type introspection, allocator, CPU caches.
        warm: list[float] = []
        start = time.perf_counter()
        while len(warm) < 3 or (time.perf_counter() - start < budget * 0.1 and len(warm) < 50):
            self.reset()
            warm.append(self.run_batch(1))
        self.reset()
        workload.verify()
        self.reset()
        target = min(budget / SAMPLES_PER_BUDGET, MAX_SAMPLE_S)
        self.batch = max(1, round(target / min(warm)))

    def sample(self, seconds: float, min_samples: int) -> list[float]:
        samples: list[float] = []
        start = time.perf_counter()
        while len(samples) < min_samples or time.perf_counter() - start < seconds:
            self.reset()
            gc.collect()
            samples.append(self.run_batch(self.batch) / self.batch)
        self.reset()
        return samples


def worker(name: str, conn: dict[str, Any]) -> None:
    """Serve the parent: one JSON command per line on stdin, one JSON reply per line."""
    reply_to = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies may reach the pipe
    driver = ADAPTERS[name](conn)
    measurements: dict[str, Measurement] = {}

    def reply(obj: Any) -> None:
        reply_to.write(json.dumps(obj) + "\n")
        reply_to.flush()

    reply({"versions": driver.versions()})
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["cmd"] == "prepare":
                workload = getattr(driver, cmd["workload"])()
                m = Measurement(driver, workload, cmd["budget"])
                measurements[cmd["workload"]] = m
                reply({"batch": m.batch, "note": m.note})
            elif cmd["cmd"] == "sample":
                m = measurements[cmd["workload"]]
                reply({"samples": m.sample(cmd["seconds"], cmd["min_samples"])})
            else:
                break
    finally:
        driver.close()


# ---------------------------------------------------------------------------------------
# Orchestration (the parent process)
# ---------------------------------------------------------------------------------------


class Worker:
    """The parent's handle on one driver's worker subprocess."""

    def __init__(self, name: str, conn: dict[str, Any]) -> None:
        extra_env, _ = DRIVERS[name]
        # Drop PG* variables so that nothing but the DSN decides where a driver connects.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.pop("PSYCOPG_IMPL", None)
        env.update(extra_env)
        args = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
        args += ["--conn", json.dumps(conn)]
        self.name = name
        self.proc = subprocess.Popen(
            args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.versions: dict[str, str] = self._read()["versions"]

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            status = self.proc.wait()
            raise RuntimeError(f"{self.name} worker died (exit status {status}); see above")
        return json.loads(line)

    def call(self, **cmd: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, OSError, ValueError):
                self.call(cmd="quit")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def summarize(samples: list[float], batch: int, note: str) -> dict[str, Any]:
    quartiles = statistics.quantiles(samples, n=4)
    median = statistics.median(samples)
    return {
        "median_s": median,
        "ops_per_s": 1.0 / median,
        "min_s": min(samples),
        "p25_s": quartiles[0],
        "p75_s": quartiles[2],
        "samples": len(samples),
        "batch": batch,
        "note": note,
    }


def measure_all(
    workers: list[Worker], keys: list[str], budget: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """For each workload: prepare it in every worker, then sample the drivers in turn,
    ``rounds`` times, rotating who goes first, so that drifting load from outside the
    benchmark hits every driver alike. Returns {workload: {driver: summary}}."""
    results: dict[str, dict[str, Any]] = {}
    for key in keys:
        title = next(t for k, t, _u in WORKLOADS if k == key)
        print(f"  {title}: ", end="", file=sys.stderr, flush=True)
        prepared = {w.name: w.call(cmd="prepare", workload=key, budget=budget) for w in workers}
        samples: dict[str, list[float]] = {w.name: [] for w in workers}
        for r in range(rounds):
            for w in workers[r % len(workers) :] + workers[: r % len(workers)]:
                reply = w.call(cmd="sample", workload=key, seconds=budget / rounds, min_samples=2)
                samples[w.name] += reply["samples"]
            print(".", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        results[key] = {
            w.name: summarize(samples[w.name], prepared[w.name]["batch"], prepared[w.name]["note"])
            for w in workers
        }
    return results


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def render_table(report: dict[str, Any]) -> str:
    """Per workload, one line per driver: median time per op, ops/s, ratio to pgwire."""
    width = max(len(f"{title} ({unit})") for _key, title, unit in WORKLOADS)
    rule = "-" * (width + 75)
    lines = [
        "ratio = driver's median time / pgwire's median time (below 1.00x: faster than pgwire)",
        "",
        f"{'workload (one op)':<{width}} {'driver':<11} {'median/op':>11} {'ops/s':>10}"
        f" {'spread':>7} {'vs pgwire':>10} {'best/op':>11} {'best vs':>8}",
    ]
    notes: list[str] = []
    for key, title, unit in WORKLOADS:
        per_driver = report["results"].get(key)
        if not per_driver:
            continue
        lines.append(rule)
        label = f"{title} ({unit})"
        for name, r in per_driver.items():
            ratio = r.get("ratio_vs_pgwire")
            ratio_s = f"{ratio:.2f}x" if ratio is not None else "-"
            best = r.get("best_ratio_vs_pgwire")
            best_s = f"{best:.2f}x" if best is not None else "-"
            spread = (r["p75_s"] - r["p25_s"]) / r["median_s"]  # interquartile range / median
            mark = ""
            if r.get("note"):
                notes.append(r["note"])
                mark = f" [{len(notes)}]"
            lines.append(
                f"{label:<{width}} {name + mark:<11} {fmt_time(r['median_s']):>11}"
                f" {r['ops_per_s']:>10,.1f} {spread:>6.0%} {ratio_s:>10}"
                f" {fmt_time(r['min_s']):>11} {best_s:>8}"
            )
            label = ""
    lines.append(rule)
    lines.append(
        "spread = interquartile range of the samples / median;"
        " best = fastest sample (less sensitive to outside load)"
    )
    for n, note in enumerate(notes, 1):
        lines.append(f"[{n}] {note}")
    return "\n".join(lines)


def render_matrix(report: dict[str, Any], field: str, title: str) -> str:
    """The ratios alone, workloads down, drivers across."""
    names = report["drivers_run"]
    head = f"{title:<20}" + "".join(f"{n:>12}" for n in names)
    lines = [head]
    for key, _title, _unit in WORKLOADS:
        per_driver = report["results"].get(key)
        if not per_driver:
            continue
        cells = []
        for n in names:
            r = per_driver.get(n)
            ratio = r.get(field) if r else None
            cells.append(f"{ratio:.2f}x" if ratio is not None else "-")
        lines.append(f"{key:<20}" + "".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def orchestrate(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.pg import PostgresServer

    names = [n.strip() for n in args.drivers.split(",") if n.strip()]
    keys = [k for k, _t, _u in WORKLOADS]
    only = [w.strip() for w in args.workloads.split(",") if w.strip()] if args.workloads else keys
    unknown = [n for n in names if n not in DRIVERS] + [w for w in only if w not in keys]
    if unknown or not names:
        print(
            f"unknown: {', '.join(unknown)}; drivers: {', '.join(DRIVERS)}; workloads: "
            f"{', '.join(keys)}"
        )
        return 2
    budget = args.budget if args.budget is not None else (0.4 if args.quick else 2.5)
    rounds = 3 if args.quick else 5
    started = time.perf_counter()
    print(
        f"starting PostgreSQL 18; then {budget} s of samples per workload per driver,"
        f" in {rounds} interleaved rounds",
        file=sys.stderr,
    )
    with PostgresServer() as server:
        conn = {
            "dsn": server.dsn(USER, PASSWORD, sslmode="disable"),
            "user": USER,
            "password": PASSWORD,
            "host": server.host,
            "port": server.port,
            "database": server.database,
        }
        server_version = server.psql("SHOW server_version")[0][0]
        workers: list[Worker] = []
        try:
            for name in names:
                workers.append(Worker(name, conn))
            results = measure_all(workers, [k for k in keys if k in only], budget, rounds)
        finally:
            for w in workers:
                w.close()
        versions = {w.name: w.versions for w in workers}

    report: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "budget_s_per_workload": budget,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_version": server_version,
        "connection": "TCP 127.0.0.1, sslmode=disable, user scram_user (SCRAM-SHA-256)",
        "drivers_run": names,
        "rounds": rounds,
        "drivers": {n: {"description": DRIVERS[n][1], **versions[n]} for n in names},
        "results": results,
        "elapsed_s": 0.0,
    }
    for row in results.values():
        base = row.get("pgwire")
        for r in row.values():
            r["ratio_vs_pgwire"] = r["median_s"] / base["median_s"] if base else None
            r["best_ratio_vs_pgwire"] = r["min_s"] / base["min_s"] if base else None
    report["elapsed_s"] = round(time.perf_counter() - started, 1)

    print()
    print(
        f"PostgreSQL {server_version}, Python {report['python']}, {report['cpus']} CPUs, "
        f"{report['mode']} run, {report['elapsed_s']} s"
    )
    for n in names:
        d = report["drivers"][n]
        extra = ", ".join(f"{k} {v}" for k, v in d.items() if k != "description")
        print(f"  {n:<11} {d['description']}  ({extra})")
    print()
    print(render_table(report))
    print()
    print(render_matrix(report, "ratio_vs_pgwire", "median vs pgwire"))
    print()
    print(render_matrix(report, "best_ratio_vs_pgwire", "best vs pgwire"))
    out = Path(args.json) if args.json else RESULTS_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0


# ---------------------------------------------------------------------------------------
# Profile of pgwire's 10,000-row fetch
# ---------------------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> int:
    """``--profile``: cProfile of pgwire's fetch. ``--profile loop``: no profiler, just
    fetches for a while, for a sampling profiler run around it (see bench/README.md)."""
    import cProfile
    import pstats

    sys.path.insert(0, str(REPO_ROOT))
    import pgwire
    from tests.pg import PostgresServer

    rounds = 10 if args.quick else 30
    profiler = cProfile.Profile()
    with (
        PostgresServer() as server,
        pgwire.connect(server.dsn(USER, PASSWORD, sslmode="disable")) as conn,
    ):
        for _ in range(3):
            conn.fetch(FETCH_SQL)
        start = time.perf_counter()
        if args.profile == "loop":
            seconds = 3 if args.quick else 10
            while time.perf_counter() - start < seconds:
                conn.fetch(FETCH_SQL)
            return 0
        for _ in range(rounds):
            conn.fetch(FETCH_SQL)
        plain = (time.perf_counter() - start) / rounds
        profiler.enable()
        for _ in range(rounds):
            conn.fetch(FETCH_SQL)
        profiler.disable()
    print(f"pgwire fetch of {FETCH_ROWS:,} rows: {fmt_time(plain)} per fetch without profiler")
    print(f"cProfile over {rounds} fetches (cProfile inflates per-call overhead):\n")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(15)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 20 s)")
    parser.add_argument(
        "--budget", type=float, help="seconds of timed samples per workload per driver"
    )
    parser.add_argument(
        "--drivers", default=",".join(DRIVERS), help=f"comma-separated, from {','.join(DRIVERS)}"
    )
    parser.add_argument(
        "--workloads", help=f"comma-separated, from {','.join(w[0] for w in WORKLOADS)}"
    )
    parser.add_argument("--json", help=f"where to write the results (default {RESULTS_FILE})")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cprofile",
        choices=["cprofile", "loop"],
        help="profile pgwire's fetch instead of comparing: under cProfile, or (loop) bare,"
        " for py-spy",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--conn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, json.loads(args.conn))
        return 0
    if args.profile:
        return profile(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
