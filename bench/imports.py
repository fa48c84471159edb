"""Import time of each driver: what ``import <driver>`` adds to a fresh interpreter's start.

Each statement runs as ``python -c STATEMENT`` in a new interpreter (this one's, so the same
site-packages), best of N, minus the best of a bare ``python -c pass``; the statements take
turns in every round so that outside load hits them alike. ``import pgwire`` alone loads
no driver (its names are imported on first use), so pgwire has three rows: the package, the
async driver and the blocking one. For pgwire, ``python -X importtime`` also says where the
time goes: own time per top-level package, and the slowest modules, without the modules a
bare interpreter imports anyway.

Used by ``bench/run.py`` (the ``import`` entry of ``--workloads``); its own table, not part
of the queries/s ratios.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from typing import Any

# label -> (statement, extra environment)
IMPORTS: dict[str, tuple[str, dict[str, str]]] = {
    "pgwire": ("import pgwire", {}),
    "pgwire async": ("from pgwire import connect_async", {}),
    "pgwire blocking": ("from pgwire import connect", {}),
    "asyncpg": ("import asyncpg", {}),
    "psycopg-c": ("import psycopg", {"PSYCOPG_IMPL": "binary"}),
    "psycopg-py": ("import psycopg", {"PSYCOPG_IMPL": "python"}),
    "pg8000": ("import pg8000", {}),
}

#: The labels a benchmark driver stands for, by the start of its name (first match).
_BY_PREFIX = [
    ("pgwire", ["pgwire", "pgwire async", "pgwire blocking"]),
    ("asyncpg", ["asyncpg"]),
    ("psycopg-c", ["psycopg-c"]),
    ("psycopg-py", ["psycopg-py"]),
    ("pg8000", ["pg8000"]),
]

TOP = 15


def labels_for(drivers: list[str]) -> list[str]:
    """The rows of the import table for these benchmark drivers, in table order (the ORM
    drivers, ``sa-*``, add none)."""
    wanted = {
        label
        for d in drivers
        for prefix, labels in _BY_PREFIX
        if d.startswith(prefix)
        for label in labels
    }
    return [label for label in IMPORTS if label in wanted]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # Cached bytecode as a user has it; no importtime output unless asked.
    for name in ("PSYCOPG_IMPL", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    env.update(extra)
    return env


def _run(args: list[str], extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=_env(extra), capture_output=True, text=True, check=False
    )


def measure(labels: list[str], runs: int) -> dict[str, Any]:
    """Best-of-``runs`` import time of each label's statement, less a bare interpreter's;
    and ``-X importtime`` profiles of the pgwire rows."""
    statements = {"": ("pass", {}), **{label: IMPORTS[label] for label in labels}}
    best = dict.fromkeys(statements, math.inf)
    errors: dict[str, str] = {}
    for _ in range(runs):
        for label, (statement, extra) in statements.items():
            if label in errors:
                continue
            t0 = time.perf_counter()
            proc = _run(["-c", statement], extra)
            elapsed = time.perf_counter() - t0
            if proc.returncode:
                lines = proc.stderr.strip().splitlines()
                errors[label] = lines[-1] if lines else f"exit status {proc.returncode}"
            best[label] = min(best[label], elapsed)
    bare = best.pop("")
    if "" in errors:
        raise RuntimeError(f"a bare interpreter failed: {errors['']}")
    results: dict[str, Any] = {}
    for label in labels:
        statement = IMPORTS[label][0]
        if label in errors:
            results[label] = {"statement": statement, "error": errors[label]}
        else:
            results[label] = {
                "statement": statement,
                "best_s": best[label],
                "import_s": max(0.0, best[label] - bare),
            }
    profiles = {
        label: importtime(*IMPORTS[label])
        for label in labels
        if label.startswith("pgwire") and label not in errors
    }
    return {"runs": runs, "bare_s": bare, "results": results, "importtime": profiles}


def parse_importtime(text: str) -> list[tuple[str, int, int]]:
    """(module, own us, cumulative us) of each line of ``-X importtime`` output."""
    out = []
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        out.append((fields[2].strip(), int(fields[0]), int(fields[1])))
    return out


def importtime(statement: str, extra: dict[str, str]) -> dict[str, Any]:
    """Where ``statement``'s import time goes: own microseconds per top-level package (most
    first) and the ``TOP`` slowest modules by own time, leaving out what a bare interpreter
    imports too. One run: the proportions matter here, not the total."""
    bare = {m for m, _, _ in parse_importtime(_run(["-X", "importtime", "-c", "pass"], {}).stderr)}
    proc = _run(["-X", "importtime", "-c", statement], extra)
    rows = [r for r in parse_importtime(proc.stderr) if r[0] not in bare]
    by_package: dict[str, int] = {}
    for module, own, _ in rows:
        top = module.split(".")[0]
        by_package[top] = by_package.get(top, 0) + own
    slowest = sorted(rows, key=lambda r: r[1], reverse=True)[:TOP]
    return {
        "statement": statement,
        "total_own_us": sum(r[1] for r in rows),
        "by_package": dict(sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)),
        "top_modules": [{"module": m, "own_us": o, "cumulative_us": c} for m, o, c in slowest],
    }
