"""Side-by-side benchmark of pgwire against asyncpg, psycopg 3 and pg8000, with their PEP 249
modules too.

Run it from the repository root (``scripts/bench`` sets up .venv and PostgreSQL 18 first)::

    .venv/bin/python bench/run.py                 # full run, about 20 minutes
    .venv/bin/python bench/run.py --quick         # about 4 minutes, noisier
    .venv/bin/python bench/run.py --drivers pgwire-sync,asyncpg --workloads select,pgtype
    .venv/bin/python bench/run.py --profile pgwire-sync:pgtype   # py-spy profile summary

Besides the queries on open connections, ``pool`` measures each driver's own pool (20 tasks
or threads sharing 5 connections: acquire, SELECT 1, release), ``connect`` a whole
connection (TCP, SCRAM-SHA-256, SELECT 1, close), and ``import`` the import time of each
driver (bench/imports.py; its own table, not in the ratios).

One PostgreSQL 18 server (``tests.pg.PostgresServer``, or ``--dsn``) serves the whole run.
For each workload every driver gets its own fresh worker subprocess (its own interpreter:
psycopg picks its implementation at import time, and peak RSS must be the driver's alone),
which opens its connections, warms up and checks its answer once. The parent then asks the
workers in turn for a fixed-duration measurement, for several rounds, rotating who goes
first, so that outside load hits every driver alike; the table shows the medians over the
rounds. See docs/performance.md for the method and the latest numbers.

This is a benchmark, not a test: nothing asserts on time. A driver that returns a wrong
answer, or fails, is reported as failed for that workload instead of timed; one that lacks
what a workload needs (pg8000 and the PEP 249 modules have no pool) is shown as skipped,
with a note saying why.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.drivers import (  # noqa: E402
    DRIVERS,
    POOL_SIZE,
    RESET_SQL,
    SETUP_SQL,
    WORKLOADS,
    check,
    concurrency_of,
    make_adapter,
    missing,
    note_of,
    op_for,
    versions_of,
)
from bench.imports import labels_for  # noqa: E402
from bench.imports import measure as measure_imports  # noqa: E402
from bench.orm import ORM_BASELINE, ORM_PEERS, is_orm_driver, is_orm_workload  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
USER, PASSWORD = "scram_user", "pw-scram"
BASELINE = "asyncpg"
WARM_STREAM_ROWS = 10_000
#: The entry of ``--workloads`` that measures import times (bench/imports.py) instead.
IMPORT = "import"

# name -> settings. ``duration``: seconds per measurement; ``rounds``: measurements per
# driver and workload; ``warmup``: seconds of untimed ops first; ``stream_rows``: rows of
# the streaming workload, measured ``stream_rounds`` times; ``import_runs``: fresh
# interpreters per import statement (the best is kept).
MODES = {
    "full": {
        "duration": 2.0,
        "rounds": 3,
        "warmup": 0.5,
        "stream_rows": 5_000_000,
        "stream_rounds": 1,
        "import_runs": 20,
    },
    "quick": {
        "duration": 0.4,
        "rounds": 2,
        "warmup": 0.2,
        "stream_rows": 300_000,
        "stream_rounds": 1,
        "import_runs": 7,
    },
}


# ---------------------------------------------------------------------------------------
# Worker subprocess: one driver, one workload
# ---------------------------------------------------------------------------------------


def memory_kib(field: str) -> int:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process, in KiB. getrusage's
    ru_maxrss would include the parent's memory inherited through fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def summarize(latencies: list[float], elapsed: float, rows_per_op: int) -> dict[str, Any]:
    n = len(latencies)
    if n >= 2:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
    else:
        p50 = p99 = latencies[0] if latencies else float("nan")
    return {
        "ops": n,
        "elapsed_s": elapsed,
        "qps": n / elapsed,
        "rows_per_s": n * rows_per_op / elapsed,
        "p50_s": p50,
        "p99_s": p99,
        "mean_s": sum(latencies) / n if n else float("nan"),
    }


class Channel:
    """JSON lines: commands on stdin, replies on the real stdout (print goes to stderr)."""

    def __init__(self) -> None:
        self.out = sys.stdout
        sys.stdout = sys.stderr

    def reply(self, obj: Any) -> None:
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def read(self) -> dict[str, Any]:
        line = sys.stdin.readline()
        return json.loads(line) if line else {"cmd": "quit"}


def timed_sync(conns: list[Any], op: Any, seconds: float) -> tuple[list[float], float]:
    """Every connection runs ``op`` back to back (a thread each when there are several)
    until ``seconds`` have passed; returns every op's latency and the wall time."""
    pc = time.perf_counter
    lats: list[list[float]] = [[] for _ in conns]
    errors: list[BaseException] = []
    deadline = [0.0]

    def loop(conn: Any, lat: list[float], barrier: threading.Barrier | None) -> None:
        try:
            if barrier is not None:
                barrier.wait()
            append, end = lat.append, deadline[0]
            while True:
                t0 = pc()
                if t0 >= end:
                    return
                op(conn)
                append(pc() - t0)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    start = pc()
    deadline[0] = start + seconds
    if len(conns) == 1:
        loop(conns[0], lats[0], None)
    else:
        barrier = threading.Barrier(len(conns) + 1)
        threads = [
            threading.Thread(target=loop, args=(c, lat, barrier))
            for c, lat in zip(conns, lats, strict=True)
        ]
        for t in threads:
            t.start()
        start = pc()
        deadline[0] = start + seconds
        barrier.wait()
        for t in threads:
            t.join()
    elapsed = pc() - start
    if errors:
        raise errors[0]
    return [x for lat in lats for x in lat], elapsed


async def timed_async(conns: list[Any], op: Any, seconds: float) -> tuple[list[float], float]:
    """As `timed_sync`, with one task per connection."""
    import anyio

    pc = time.perf_counter
    lat: list[float] = []
    append = lat.append
    start = pc()
    end = start + seconds

    async def loop(conn: Any) -> None:
        while True:
            t0 = pc()
            if t0 >= end:
                return
            await op(conn)
            append(pc() - t0)

    async with anyio.create_task_group() as tg:
        for c in conns:
            tg.start_soon(loop, c)
    return lat, pc() - start


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


class Connections:
    """What the workload's ops run on, one item per task or thread (the op's argument): ``n``
    connections, each with the workload's tables; for ``pool`` the one pool (of
    ``POOL_SIZE``) ``n`` times; for ``connect`` nothing (the op connects)."""

    def __init__(self, adapter: Any, workload: str, n: int) -> None:
        self.adapter, self.workload, self.n = adapter, workload, n
        self.pool: Any = None
        self.conns: list[Any] = []

    async def open(self, call: Any) -> list[Any]:
        a = self.adapter
        if self.workload == "pool":
            self.pool = await call(a.open_pool(POOL_SIZE))
            return [self.pool] * self.n
        if self.workload == "connect":
            return [None]
        for _ in range(self.n):
            self.conns.append(await call(a.connect()))
        for c in self.conns:
            for sql in SETUP_SQL.get(self.workload, []):
                await call(a.execute(c, sql))
        return list(self.conns)

    async def close(self, call: Any) -> None:
        if self.pool is not None:
            await call(self.adapter.close_pool(self.pool))
        for c in self.conns:
            await call(self.adapter.close(c))


class WorkerBody:
    """What a worker does, written once for both kinds of driver: ``call`` runs a driver
    method (awaiting it for async drivers), ``timed`` is `timed_sync` or `timed_async`."""

    def __init__(self, driver: str, workload: str, settings: dict[str, Any]) -> None:
        self.driver, self.workload, self.settings = driver, workload, settings
        self.adapter = make_adapter(driver, settings["dsn"])
        self.concurrency = concurrency_of(workload, settings.get("concurrency"))
        self.conns: list[Any] = []

    async def run(self, chan: Channel, call: Any, timed: Any, read: Any) -> None:
        a, workload = self.adapter, self.workload
        skip = missing(a, self.driver, workload)
        if skip:
            chan.reply({"skipped": skip, "versions": a.versions()})
            return
        held = Connections(a, workload, self.concurrency)
        try:
            self.conns = await held.open(call)
            if workload == "stream":
                warm = a.op("stream", WARM_STREAM_ROWS)
                for _ in range(2):
                    check("stream", await call(warm(self.conns[0])), rows=WARM_STREAM_ROWS)
                rows = self.settings["stream_rows"]
                op = a.op("stream", rows)
                rows_per_op = rows
            else:
                op = op_for(a, workload)
                await timed(self.conns, op, self.settings["warmup"])
                await self.reset(call)
                result = await call(op(self.conns[0]))
                count = None
                if workload in RESET_SQL:
                    count = await call(a.count(self.conns[0]))
                rows_per_op = check(workload, result, count)
            note = note_of(a, self.driver, workload)
            chan.reply(
                {
                    "ready": True,
                    "versions": a.versions(),
                    "rows_per_op": rows_per_op,
                    "note": note,
                    "rss_ready_kib": memory_kib("VmRSS"),
                }
            )
            while (cmd := await read())["cmd"] == "run":
                await self.reset(call)
                gc.collect()
                if workload == "stream":
                    t0 = time.perf_counter()
                    n = await call(op(self.conns[0]))
                    elapsed = time.perf_counter() - t0
                    check("stream", n, rows=rows_per_op)
                    chan.reply(summarize([elapsed], elapsed, rows_per_op))
                else:
                    lat, elapsed = await timed(self.conns, op, cmd["seconds"])
                    chan.reply(summarize(lat, elapsed, rows_per_op))
            await held.close(call)
            chan.reply({"peak_rss_kib": memory_kib("VmHWM")})
        except Exception as exc:  # reported to the parent, which goes on without this driver
            chan.reply(
                {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            )

    async def reset(self, call: Any) -> None:
        if self.workload in RESET_SQL:
            for c in self.conns:
                await call(self.adapter.execute(c, RESET_SQL[self.workload]))


def run_blocking(coro: Any) -> Any:
    """Run a coroutine that never suspends (`WorkerBody` with a blocking driver)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("a blocking driver's coroutine suspended")


class Skipped(Exception):
    """The driver lacks what the workload needs (``bench.drivers.missing`` says what)."""


def smoke(driver: str, workload: str, dsn: str, stream_rows: int = 1000) -> int:
    """Run one workload's op twice on one connection (``pool``: on a pool; ``connect``: on
    none), in this process, and check the answers; return the rows of one op. For the tests:
    no timing at all. Raises `Skipped` if the driver cannot run the workload."""
    adapter = make_adapter(driver, dsn)
    skip = missing(adapter, driver, workload)
    if skip:
        raise Skipped(skip)

    async def body() -> int:
        call = _maybe_await
        held = Connections(adapter, workload, 1)
        try:
            (conn,) = await held.open(call)
            op = op_for(adapter, workload, stream_rows)
            rows = 0
            for _ in range(2):
                if workload in RESET_SQL:
                    await call(adapter.execute(conn, RESET_SQL[workload]))
                result = await call(op(conn))
                count = None
                if workload in RESET_SQL:
                    count = await call(adapter.count(conn))
                rows = check(workload, result, count, stream_rows)
            return rows
        finally:
            await held.close(call)

    if not adapter.is_async:
        return int(run_blocking(body()))
    import anyio

    runs_on = DRIVERS[driver][1]
    if runs_on == "trio":
        return int(anyio.run(body, backend="trio"))
    return int(
        anyio.run(body, backend="asyncio", backend_options={"use_uvloop": runs_on == "uvloop"})
    )


def worker(driver: str, workload: str, settings: dict[str, Any]) -> int:
    chan = Channel()
    try:
        body = WorkerBody(driver, workload, settings)
    except BaseException as exc:
        chan.reply({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        return 1
    runs_on = DRIVERS[driver][1]
    if not body.adapter.is_async:

        async def read() -> dict[str, Any]:
            return chan.read()

        async def timed(conns: list[Any], op: Any, seconds: float) -> Any:
            return timed_sync(conns, op, seconds)

        run_blocking(body.run(chan, _maybe_await, timed, read))
        return 0

    import anyio

    async def aread() -> dict[str, Any]:
        return await anyio.to_thread.run_sync(chan.read)

    async def main() -> None:
        await body.run(chan, _maybe_await, timed_async, aread)

    if runs_on == "trio":
        anyio.run(main, backend="trio")
    else:
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": runs_on == "uvloop"})
    return 0


# ---------------------------------------------------------------------------------------
# The parent: orchestration
# ---------------------------------------------------------------------------------------


class Worker:
    """The parent's handle on one worker subprocess."""

    def __init__(
        self, driver: str, workload: str, settings: dict[str, Any], wrap: list[str] = ()
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.pop("PSYCOPG_IMPL", None)
        env.update(DRIVERS[driver][2])
        args = [*wrap, sys.executable, str(Path(__file__).resolve()), "--worker"]
        args += [driver, workload, json.dumps(settings)]
        self.driver, self.error, self.skipped = driver, "", ""
        self.proc = subprocess.Popen(
            args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ready: dict[str, Any] = {}

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        while line and not line.startswith("{"):  # py-spy's own messages, under --profile
            print(line, end="", file=sys.stderr)
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with status {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            print(reply["traceback"], file=sys.stderr)
            raise RuntimeError(reply["error"])
        return reply

    def wait_ready(self) -> None:
        try:
            self.ready = self._read()
        except RuntimeError as exc:
            self.fail(exc)
            return
        if "skipped" in self.ready:
            self.skipped = self.ready["skipped"]
            self.close()

    def call(self, **cmd: Any) -> dict[str, Any] | None:
        if self.error or self.skipped:
            return None
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            return self._read()
        except (RuntimeError, OSError) as exc:
            self.fail(exc)
            return None

    def fail(self, exc: BaseException) -> None:
        self.error = str(exc) or type(exc).__name__
        print(f"\n  {self.driver} failed: {self.error}", file=sys.stderr)
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(
    workload: str, drivers: list[str], settings: dict[str, Any], mode: dict[str, Any]
) -> dict[str, Any]:
    """Run one workload for every driver; return {driver: result}."""
    title = WORKLOADS[workload][0]
    print(f"  {title}: ", end="", file=sys.stderr, flush=True)
    workers = [Worker(d, workload, settings) for d in drivers]
    for w in workers:
        w.wait_ready()
    stream = workload == "stream"
    rounds = mode["stream_rounds"] if stream else mode["rounds"]
    samples: dict[str, list[dict[str, Any]]] = {d: [] for d in drivers}
    for r in range(rounds):
        shift = r % len(workers)
        for w in workers[shift:] + workers[:shift]:
            reply = w.call(cmd="run", seconds=mode["duration"])
            if reply is not None:
                samples[w.driver].append(reply)
            if stream:
                print(".", end="", file=sys.stderr, flush=True)
        print(".", end="", file=sys.stderr, flush=True)
    out: dict[str, Any] = {}
    for w in workers:
        peak = w.call(cmd="quit")
        w.close()
        if w.error:
            out[w.driver] = {"error": w.error}
            continue
        if w.skipped:
            out[w.driver] = {"skipped": w.skipped, "versions": w.ready["versions"]}
            continue
        runs = samples[w.driver]
        out[w.driver] = {
            "qps": median([s["qps"] for s in runs]),
            "rows_per_s": median([s["rows_per_s"] for s in runs]),
            "p50_s": median([s["p50_s"] for s in runs]),
            "p99_s": median([s["p99_s"] for s in runs]),
            "peak_rss_mb": (peak or {}).get("peak_rss_kib", float("nan")) * 1024 / 1e6,
            "rss_ready_mb": w.ready["rss_ready_kib"] * 1024 / 1e6,
            "rows_per_op": w.ready["rows_per_op"],
            "note": w.ready["note"],
            "versions": w.ready["versions"],
            "rounds": runs,
        }
    print(file=sys.stderr)
    base = out.get(baseline_of(workload), {})
    for r in out.values():
        if "qps" not in r or "qps" not in base:
            continue
        r["qps_ratio"] = r["qps"] / base["qps"]
        r["rss_ratio"] = r["peak_rss_mb"] / base["peak_rss_mb"]
    return out


def baseline_of(workload: str) -> str:
    """The driver a workload's ratios are to: asyncpg, or SQLAlchemy on asyncpg for the
    ORM workloads."""
    return ORM_BASELINE if is_orm_workload(workload) else BASELINE


def drivers_for(workload: str, drivers: list[str]) -> list[str]:
    """The drivers that run ``workload``: the ORM ones for the ORM workloads, the others
    for the rest."""
    return [d for d in drivers if is_orm_driver(d) == is_orm_workload(workload)]


def geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": git("status", "--porcelain").splitlines(),
    }


def orchestrate(args: argparse.Namespace) -> int:
    drivers = [d.strip() for d in args.drivers.split(",") if d.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [d for d in drivers if d not in DRIVERS] + [
        w for w in workloads if w not in WORKLOADS and w != IMPORT
    ]
    if unknown or not drivers or not workloads:
        print(f"unknown: {', '.join(unknown)}; drivers: {', '.join(DRIVERS)};", file=sys.stderr)
        print(f"workloads: {', '.join([*WORKLOADS, IMPORT])}", file=sys.stderr)
        return 2
    timed_imports = IMPORT in workloads
    workloads = [w for w in workloads if w != IMPORT]
    mode = dict(MODES["quick" if args.quick else "full"])
    for key in ("duration", "rounds", "warmup", "stream_rows", "stream_rounds", "import_runs"):
        if getattr(args, key) is not None:
            mode[key] = getattr(args, key)
    started = time.perf_counter()
    git_at_start = git_state()  # workers import the working tree: note if it changed meanwhile
    print(
        f"{len(drivers)} drivers x {len(workloads)} workloads: {mode['rounds']} rounds of"
        f" {mode['duration']} s each, {mode['stream_rows']:,} rows streamed",
        file=sys.stderr,
    )
    with contextlib.ExitStack() as stack:
        if args.dsn:
            dsn = args.dsn
        else:
            from tests.pg import PostgresServer

            print("starting PostgreSQL 18", file=sys.stderr)
            server = stack.enter_context(PostgresServer(conf_lines=["max_connections = 300"]))
            dsn = server.dsn(USER, PASSWORD, sslmode="disable")
        settings = {"dsn": dsn, "warmup": mode["warmup"], "stream_rows": mode["stream_rows"]}
        if args.connections:
            settings["concurrency"] = args.connections
        server_version = _server_version(dsn)
        results = {
            w: measure(w, drivers_for(w, drivers), settings, mode)
            for w in workloads
            if drivers_for(w, drivers)
        }
    imports = None
    if timed_imports and labels_for(drivers):
        print(f"  import times: {mode['import_runs']} runs", file=sys.stderr)
        imports = measure_imports(labels_for(drivers), mode["import_runs"])

    report: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "settings": {
            **mode,
            "concurrency": {w: concurrency_of(w, args.connections) for w in workloads},
        },
        "machine": machine_info(),
        "server_version": server_version,
        "connection": "TCP 127.0.0.1, sslmode=disable, scram_user (SCRAM-SHA-256)",
        "git": git_at_start,
        "git_changed_during_run": git_state() != git_at_start,
        "packages": versions_of(
            "pgwire",
            "asyncpg",
            "psycopg",
            "psycopg-binary",
            "pg8000",
            "anyio",
            "trio",
            "uvloop",
            "sqlalchemy",
        ),
        "drivers": {d: DRIVERS[d][3] for d in drivers},
        "workloads": {w: {"title": WORKLOADS[w][0], "op": WORKLOADS[w][1]} for w in workloads},
        "results": results,
        "import": imports,
    }
    report["geomean_qps_ratio"] = {
        d: geomean([results[w].get(d, {}).get("qps_ratio", float("nan")) for w in results])
        for d in drivers
    }
    report["targets"] = targets(report)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    text = render(report)
    print(text)
    out = Path(args.json) if args.json else RESULTS_DIR / f"bench-{report['mode']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if not args.json:
        (RESULTS_DIR / "latest.json").write_text(out.read_text())
    if args.markdown:
        Path(args.markdown).write_text(render(report, markdown=True) + "\n")
    print(f"\nraw results: {out}")
    return 0


def _server_version(dsn: str) -> str:
    import pgwire

    with pgwire.connect(dsn) as conn:
        return str(conn.fetchval("SHOW server_version"))


# ---------------------------------------------------------------------------------------
# Targets (issues 9 and 14, and the second speed round) and the report
# ---------------------------------------------------------------------------------------

PGWIRE = ["pgwire-asyncio", "pgwire-uvloop", "pgwire-trio", "pgwire-sync"]
#: The single-connection workloads of the second speed round's target: >= 0.7x asyncpg on
#: asyncio and blocking, judged only on a ``--connections 1`` run.
SINGLE = ["pgtype", "series", "bytea", "intarray", "executemany", "select"]
#: Workloads the first round's targets (against pg8000 and psycopg) did not cover.
LATER_WORKLOADS = ("pool", "connect")


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issues, per pgwire driver that ran: value, goal, met (``None``:
    not judged by this run)."""
    res, drivers = report["results"], list(report["drivers"])
    conc = report["settings"].get("concurrency", {})
    out: list[dict[str, Any]] = []

    def qps(w: str, d: str) -> float:
        r = res.get(w, {}).get(d, {})
        return float(r.get("qps", float("nan")))

    def against(
        p: str, peer: str, goal: float, workloads: list[str], what: str, judged: bool = True
    ) -> dict[str, Any] | None:
        """The target: ``p`` at least ``goal`` times ``peer``'s queries/s on every one of
        ``workloads`` that both were meant to run (a skipped one, say pg8000's pool, is not
        counted; a failed one is a miss)."""
        if p not in drivers or peer not in drivers:
            return None
        ws = [
            w
            for w in workloads
            if w in res and not any("skipped" in res[w].get(d, {}) for d in (p, peer))
        ]
        if not ws:
            return None
        ratios = {w: qps(w, p) / qps(w, peer) for w in ws}
        worst = min(ratios, key=lambda w: ratios[w] if math.isfinite(ratios[w]) else -1)
        misses = [w for w, v in ratios.items() if not v >= goal]
        label = f">= {goal:g}x {peer}" if goal != 1.0 else f">= {peer}"
        target = {
            "driver": p,
            "target": f"{what} {label}",
            "value": f"{worst} {ratios[worst]:.2f}x"
            if len(ws) == 1
            else f"worst {worst} {ratios[worst]:.2f}x",
            "met": not misses if judged else None,
            "misses": {w: round(ratios[w], 2) for w in misses},
        }
        out.append(target)
        return target

    queries = [w for w in res if not is_orm_workload(w) and w not in LATER_WORKLOADS]
    everything = [w for w in res if not is_orm_workload(w)]
    for p, peers in ORM_PEERS.items():
        # Issue 15: SQLAlchemy's ORM on pgwire's dialects against the same on other drivers.
        orm = [w for w in res if is_orm_workload(w)]
        for peer in peers:
            if p in drivers and peer in drivers and orm:
                value = ", ".join(f"{w} {qps(w, p) / qps(w, peer):.2f}x" for w in orm)
                out.append(
                    {"driver": p, "target": f"ORM queries/s vs {peer}", "value": value, "met": None}
                )
    # Issue 14: the PEP 249 module against the other drivers' PEP 249 modules.
    against("pgwire-dbapi", "pg8000-dbapi", 3.0, queries, "every workload but pool/connect")
    against("pgwire-dbapi", "psycopg-py-dbapi", 1.0, queries, "every workload but pool/connect")
    for p in [d for d in PGWIRE if d in drivers]:
        # Issue 9: against the pure-Python drivers, on the query workloads.
        against(p, "pg8000", 2.0, queries, "every workload but pool/connect")
        peer = "psycopg-py" if p == "pgwire-sync" else "psycopg-py-async"
        against(p, peer, 1.0, queries, "every workload but pool/connect")
        if p in ("pgwire-asyncio", "pgwire-sync"):
            # Speed, round two: the client's work for one query at a time.
            single = [w for w in SINGLE if w in res]
            alone = all(conc.get(w) == 1 for w in single)
            t = against(p, BASELINE, 0.7, single, "single-connection workloads", judged=alone)
            if t is not None and not alone:
                t["value"] += " (not judged: run with --connections 1)"
                t["caveat"] = "the target is for a --connections 1 run"
        if BASELINE in drivers and everything:
            g = report["geomean_qps_ratio"].get(p, float("nan"))
            out.append(
                {
                    "driver": p,
                    "target": "geomean >= 1.0x asyncpg",
                    "value": f"{g:.2f}x",
                    "met": g >= 1.0,
                }
            )
            if p == "pgwire-asyncio":
                against(p, BASELINE, 1.0, ["pool"], "pool")
                # The same pool work with both drivers on plain asyncio's event loop.
                against(p, "asyncpg-asyncio", 1.0, ["pool"], "pool (both on asyncio)")
            if p == "pgwire-uvloop":
                against(p, BASELINE, 1.0, ["pool"], "pool (both on uvloop)")
            against(p, BASELINE, 1.0, ["pipeline"], "pipeline")
        if p == "pgwire-trio":
            against(p, "pgwire-asyncio", 0.8, everything, "every workload")
        if "stream" in res and "qps" in res["stream"].get(p, {}):
            r = res["stream"][p]
            rows = r["rows_per_op"]
            out.append(
                {
                    "driver": p,
                    "target": f"stream of {rows:,} rows < 100 MB peak RSS",
                    "value": f"{r['peak_rss_mb']:.1f} MB"
                    + ("" if rows >= 5_000_000 else " (too few rows to tell)"),
                    "met": r["peak_rss_mb"] < 100 if rows >= 5_000_000 else None,
                    **({} if rows >= 5_000_000 else {"caveat": "fewer than 5M rows streamed"}),
                }
            )
    return out


def fmt_time(s: float) -> str:
    if not math.isfinite(s):
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} us"


def fmt_num(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}"


def fmt_ratio(x: Any) -> str:
    return f"{x:.2f}x" if isinstance(x, float) and math.isfinite(x) else "-"


def render(report: dict[str, Any], markdown: bool = False) -> str:
    """The whole report as text (or Markdown tables): per workload, then the ratio matrix
    with geometric means, then the targets."""
    res, drivers = report["results"], list(report["drivers"])
    m = report["machine"]
    lines = [
        f"PostgreSQL {report['server_version']}, Python {m['python']}, {m['cpu']},"
        f" {m['cores']} cores; {report['mode']} run: {report['settings']['rounds']} rounds x"
        f" {report['settings']['duration']} s per driver and workload, medians shown;"
        f" {report['elapsed_s']} s",
        f"git {report['git']['commit'][:12]}"
        + (
            f" + {len(report['git']['uncommitted'])} uncommitted paths"
            if report["git"]["uncommitted"]
            else ""
        ),
        "",
    ]
    notes: list[str] = []
    for w, per in res.items():
        base = baseline_of(w)
        head = [
            "driver",
            "queries/s",
            f"vs {base}",
            "rows/s",
            "p50",
            "p99",
            "peak RSS",
            f"vs {base}",
        ]
        title, op, conc, _ = WORKLOADS[w]
        conc = report["settings"].get("concurrency", {}).get(w, conc)
        if w == "stream":
            op = f"{report['settings']['stream_rows']:,} rows"
        if w == "pool":
            on = f"{conc} tasks or threads sharing a pool of {POOL_SIZE}"
        elif w == "connect":
            on = "one at a time"
        else:
            on = f"{conc} connection{'s' if conc > 1 else ''}"
        caption = f"{title} (one query = {op}; {on})"
        rows = []
        for d in [d for d in drivers if d in per]:
            r = per[d]
            if "error" in r:
                rows.append([d, "failed: " + r["error"][:60], "", "", "", "", "", ""])
                continue
            name = d
            note = r.get("note") or r.get("skipped")
            if note:
                if note not in notes:
                    notes.append(note)
                name += f" [{notes.index(note) + 1}]"
            if "skipped" in r:
                rows.append([name, "skipped", "", "", "", "", "", ""])
                continue
            rows.append(
                [
                    name,
                    fmt_num(r["qps"]),
                    fmt_ratio(r.get("qps_ratio")),
                    fmt_num(r["rows_per_s"]),
                    fmt_time(r["p50_s"]),
                    fmt_time(r["p99_s"]),
                    f"{r['peak_rss_mb']:.0f} MB",
                    fmt_ratio(r.get("rss_ratio")),
                ]
            )
        lines += [f"#### {caption}", ""] if markdown else [caption]
        lines += table(head, rows, markdown)
        lines.append("")
    # The matrix: drivers down, workloads across, geomean last.
    head = ["queries/s vs asyncpg (ORM: vs sa-asyncpg)", *res.keys(), "geomean"]
    rows = []
    for d in drivers:
        cells = [fmt_ratio(res[w].get(d, {}).get("qps_ratio")) for w in res]
        rows.append([d, *cells, fmt_ratio(report["geomean_qps_ratio"].get(d))])
    if res:
        lines += ["#### Ratios to asyncpg (queries/s; higher is faster)", ""] if markdown else []
        lines += table(head, rows, markdown)
        lines.append("")
    for n, note in enumerate(notes, 1):
        lines.append(f"[{n}] {note}" + ("  " if markdown else ""))
    if report.get("import"):
        lines += ["", *render_imports(report["import"], markdown)]
    if report["targets"]:
        lines += ["", "#### Targets" if markdown else "Targets", ""]
        rows = [
            [
                t["driver"],
                t["target"],
                t["value"],
                {True: "met", False: "NOT met"}.get(t["met"], "-"),
            ]
            for t in report["targets"]
        ]
        lines += table(["driver", "target", "value", "status"], rows, markdown)
    return "\n".join(lines)


def render_imports(imp: dict[str, Any], markdown: bool) -> list[str]:
    """The import-time table, and where pgwire's import time goes (own time by package)."""
    caption = (
        f"Import time (python -c STATEMENT minus python -c pass, best of {imp['runs']} fresh"
        f" interpreters; bare interpreter {imp['bare_s'] * 1e3:.1f} ms; lower is faster)"
    )
    base = imp["results"].get(BASELINE, {}).get("import_s")
    rows = []
    for label, r in imp["results"].items():
        if "error" in r:
            rows.append([label, r["statement"], "failed: " + r["error"][:60], ""])
            continue
        ratio = r["import_s"] / base if base else float("nan")
        rows.append([label, r["statement"], f"{r['import_s'] * 1e3:.1f} ms", fmt_ratio(ratio)])
    lines = [f"#### {caption}", ""] if markdown else [caption]
    lines += table(["driver", "statement", "import", f"vs {BASELINE}"], rows, markdown)
    for label, prof in imp.get("importtime", {}).items():
        top = ", ".join(f"{k} {v / 1e3:.1f}" for k, v in list(prof["by_package"].items())[:6])
        lines.append(
            f"{label}, own ms by package (one -X importtime run): {top}"
            + ("  " if markdown else "")
        )
    return lines


def table(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        parts = [
            str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
            for i, c in enumerate(cells)
        ]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts)

    if markdown:
        rule = (
            "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
        )
        return [line(head), rule, *(line(r) for r in rows)]
    return [line(head), "-" * len(line(head)), *(line(r) for r in rows)]


# ---------------------------------------------------------------------------------------
# Profiles with py-spy
# ---------------------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> int:
    """``--profile DRIVER:WORKLOAD,...``: run each under ``py-spy record`` for a while and
    print the functions with the most samples, by own time and including callees."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    seconds = args.duration or (3.0 if args.quick else 8.0)
    with contextlib.ExitStack() as stack:
        if args.dsn:
            dsn = args.dsn
        else:
            from tests.pg import PostgresServer

            server = stack.enter_context(PostgresServer(conf_lines=["max_connections = 300"]))
            dsn = server.dsn(USER, PASSWORD, sslmode="disable")
        settings = {
            "dsn": dsn,
            "warmup": 0.5,
            "stream_rows": args.stream_rows or 1_000_000,
            "concurrency": 1,  # one connection: the client's work for one query at a time
        }
        for spec in args.profile.split(","):
            driver, _, workload = spec.partition(":")
            raw = RESULTS_DIR / f"profile-{driver}-{workload}.txt"
            raw.parent.mkdir(parents=True, exist_ok=True)
            # --gil: only samples that hold the GIL, i.e. the client's own CPU time.
            wrap = [str(spy), "record", "-r", "250", "-g", "-f", "raw", "--nolineno"]
            wrap += ["-o", str(raw), "--"]
            w = Worker(driver, workload, settings, wrap=wrap)
            w.wait_ready()
            rounds = 1 if workload == "stream" else max(1, round(seconds / 2))
            for _ in range(rounds):
                w.call(cmd="run", seconds=min(2.0, seconds))
            w.call(cmd="quit")
            w.close()
            print(summarize_profile(raw, f"{driver} on {workload}", args.top))
    return 0


def summarize_profile(raw: Path, title: str, top: int = 15) -> str:
    """Top functions of a py-spy raw (collapsed stacks) file, by own samples and inclusive
    samples; only the frames of the op (and below) are counted."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        # Keep the op (bench/drivers.py) and what it calls: not the harness, not idle threads.
        cut = next(
            (i for i, f in enumerate(frames) if ".op.<locals>." in f or "op_for.<locals>." in f),
            None,
        )
        if cut is None or any("importlib._bootstrap" in f for f in frames):
            continue  # not the op, or a first call's lazy import
        frames = frames[cut:]
        if not frames:
            continue
        k = int(n)
        total += k
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    lines = [f"py-spy: {title}, {total} samples holding the GIL in the op", "  own time:"]
    lines += [f"    {100 * k / total:5.1f}%  {f}" for f, k in own.most_common(top)]
    lines.append("  including callees:")
    lines += [f"    {100 * k / total:5.1f}%  {f}" for f, k in incl.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 4 minutes)")
    parser.add_argument("--drivers", default=",".join(DRIVERS), help="comma-separated")
    parser.add_argument(
        "--workloads",
        default=",".join([*WORKLOADS, IMPORT]),
        help=f"comma-separated, of: {', '.join([*WORKLOADS, IMPORT])}"
        f" ({IMPORT}: import times, a table of their own)",
    )
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, help="measurements per driver and workload")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per worker")
    parser.add_argument(
        "--connections",
        type=int,
        help="connections (tasks or threads) per driver for every workload, instead of each"
        " workload's own (10 for most): 1 measures the client's work for one query at a time;"
        " pool (its own tasks and pool size), connect, pipeline and stream keep theirs",
    )
    parser.add_argument("--stream-rows", type=int, help="rows of the streaming workload")
    parser.add_argument("--stream-rounds", type=int, help="repetitions of the stream")
    parser.add_argument(
        "--import-runs", type=int, help="fresh interpreters per import statement (best kept)"
    )
    parser.add_argument(
        "--dsn", help="use this server (as a non-superuser) instead of starting one"
    )
    parser.add_argument("--json", help="where to write the raw results")
    parser.add_argument(
        "--markdown",
        help="also write the report as Markdown to this file (with --render: any value)",
    )
    parser.add_argument(
        "--render", help="print the report of this JSON file again (see --markdown)"
    )
    parser.add_argument("--profile", help="DRIVER:WORKLOAD,...: py-spy profile summaries instead")
    parser.add_argument("--top", type=int, default=15, help="functions per profile list")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        driver, workload, settings = args.worker
        return worker(driver, workload, json.loads(settings))
    if args.render:
        report = json.loads(Path(args.render).read_text())
        print(render(report, markdown=bool(args.markdown)))
        return 0
    if args.profile:
        return profile(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
