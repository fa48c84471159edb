"""Peak memory of pgwire streaming large data: COPY in, COPY out and a cursor.

Each workload runs in a fresh subprocess against one PostgreSQL 18 (started here) and
reports the peak RSS of that process, next to the peak RSS of a process that only
connected. Bounded memory means the peak does not grow with the row count.

    .venv/bin/python bench/memory.py                 # 10,000,000 rows
    .venv/bin/python bench/memory.py --rows 1000000  # quicker
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKLOADS = ("baseline", "copy_records_in", "copy_out_stream", "cursor", "async_cursor")


def _worker(dsn: str, workload: str, rows: int) -> dict[str, float]:
    import anyio

    import pgwire

    started = time.perf_counter()
    count = 0
    if workload == "async_cursor":

        async def run() -> int:
            seen = 0
            async with await pgwire.connect_async(dsn) as conn:
                async for _ in conn.cursor("SELECT i, i::text FROM big", batch_size=10_000):
                    seen += 1
            return seen

        count = anyio.run(run)
    else:
        with pgwire.connect(dsn) as conn:
            if workload == "copy_records_in":
                conn.execute("TRUNCATE big")
                tag = conn.copy_records_to_table("big", records=((i, str(i)) for i in range(rows)))
                count = int(tag.split()[-1])
            elif workload == "copy_out_stream":
                with conn.copy_out_stream("COPY big TO STDOUT") as chunks:
                    for chunk in chunks:
                        count += chunk.count(b"\n")
            elif workload == "cursor":
                for _ in conn.cursor("SELECT i, i::text FROM big", batch_size=10_000):
                    count += 1
    elapsed = time.perf_counter() - started
    return {"rows": count, "seconds": elapsed, "peak_rss_mib": _peak_rss_kib() / 1024}


def _peak_rss_kib() -> int:
    # VmHWM is this process image's own high-water mark; getrusage's ru_maxrss would also
    # count the parent's memory inherited through fork, which exec does not reset.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--worker", nargs=3, metavar=("DSN", "WORKLOAD", "ROWS"))
    args = parser.parse_args()
    if args.worker:
        dsn, workload, rows = args.worker
        print(json.dumps(_worker(dsn, workload, int(rows))))
        return 0

    from tests.pg import PostgresServer

    with PostgresServer() as server:
        dsn = server.dsn("trust_user")
        server.psql("CREATE TABLE big (i int, t text)")
        server.psql("GRANT ALL ON big TO trust_user")
        print(f"{'workload':<18} {'rows':>12} {'seconds':>9} {'peak RSS':>10}")
        for workload in WORKLOADS:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", dsn, workload, str(args.rows)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out)
            print(
                f"{workload:<18} {int(result['rows']):>12,} {result['seconds']:>9.1f} "
                f"{result['peak_rss_mib']:>7.1f} MiB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
