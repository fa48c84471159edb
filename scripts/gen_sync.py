"""Generate the blocking driver and pool from their async sources.

The async code is the single source: this script drops ``async``/``await``, swaps the
event-loop helpers (``_async_compat``/``_async_io``) for their blocking twins
(``_sync_compat``/``_sync_io``) and renames the async names, then formats the result with
ruff. Each job turns one source into one target:

    src/pgwire/connection.py -> src/pgwire/sync.py        (the blocking driver)
    src/pgwire/pool.py       -> src/pgwire/sync_pool.py   (the blocking pool)

A block between the lines ``# async only: begin`` and ``# async only: end`` is left out of
the blocking code (e.g. ``__await__``). Run the script after every change to a source; a
test fails while a target is stale.

    python scripts/gen_sync.py            # rewrite the targets
    python scripts/gen_sync.py --check    # exit 1 if a target is not up to date
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pgwire"

DOCSTRING = '''"""The blocking driver: :func:`connect` and :class:`Connection`.

GENERATED from connection.py by scripts/gen_sync.py: do not edit; change connection.py
and run the script. Everything the async driver's docstring says holds here, with threads
in place of tasks and Ctrl-C (KeyboardInterrupt) in place of task cancellation: an
interrupted query is cancelled on the server and the connection stays usable.
"""'''

#: Whole-word renames, applied in order.
NAMES = [
    ("_async_compat", "_sync_compat"),
    ("_async_io", "_sync_io"),
    ("pgwire.transports.async_tcp", "pgwire.transports"),
    ("AsyncConnection", "Connection"),
    ("AsyncPipeline", "Pipeline"),
    ("AsyncStream", "SyncStream"),
    ("AsyncIterator", "Iterator"),
    ("AsyncGenerator", "Generator"),
    ("asynccontextmanager", "contextmanager"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("connect_async", "connect"),
]

#: Text rewrites (regular expressions), applied after the renames.
REWRITES = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    # AsyncGenerator[Y, S] has two parameters; Generator[Y, S, R] three.
    (r"\bGenerator\[(\w+), None\]", r"Generator[\1, None, None]"),
]

POOL_DOCSTRING = '''"""The blocking connection pool, for threads: :func:`create_pool` (exported as
``pgwire.create_blocking_pool``) and :class:`Pool`.

GENERATED from pool.py by scripts/gen_sync.py: do not edit; change pool.py and run the
script. Everything the async pool's docstring says holds here, with threads in place of
tasks: ``with pool.acquire() as conn:`` lends a connection to the calling thread.
"""'''

#: The blocking pool's renames, on top of the driver's.
POOL_NAMES = [
    *NAMES,
    ("pgwire.connection", "pgwire.sync"),
    ("pgwire.create_pool", "pgwire.create_blocking_pool"),
    ("AsyncPool", "Pool"),
]

#: Blocks of the async source that have no blocking counterpart.
ASYNC_ONLY = re.compile(
    r"^[ \t]*# async only: begin\n.*?^[ \t]*# async only: end\n", re.MULTILINE | re.DOTALL
)


@dataclass(frozen=True)
class Job:
    """One async source and the blocking module generated from it."""

    source: Path
    target: Path
    docstring: str
    names: list[tuple[str, str]]


JOBS = [
    Job(PACKAGE / "connection.py", PACKAGE / "sync.py", DOCSTRING, NAMES),
    Job(PACKAGE / "pool.py", PACKAGE / "sync_pool.py", POOL_DOCSTRING, POOL_NAMES),
]


def transform(source: str, job: Job) -> str:
    """The blocking module's source, before formatting."""
    body = source.split('"""', 2)[2]  # drop the module docstring
    body = ASYNC_ONLY.sub("", body)
    for old, new in job.names:
        body = re.sub(rf"\b{re.escape(old)}\b", new, body)
    for pattern, replacement in REWRITES:
        body = re.sub(pattern, replacement, body)
    return job.docstring + body


def formatted(text: str) -> str:
    """``text`` fixed and formatted by ruff: imports deduplicated and sorted, and nested
    ``with`` blocks (``with shield(): with lock:``, from ``async with`` inside ``with``) merged."""
    ruff = [sys.executable, "-m", "ruff"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sync.py"
        path.write_text(text)
        config = ["--config", str(ROOT / "pyproject.toml")]
        subprocess.run(
            [*ruff, "check", "--fix-only", "--select", "I,F401,RUF022,SIM117", *config, str(path)],
            check=True,
            capture_output=True,
        )
        subprocess.run([*ruff, "format", *config, str(path)], check=True, capture_output=True)
        return path.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that targets are current")
    args = parser.parse_args()
    stale = 0
    for job in JOBS:
        result = formatted(transform(job.source.read_text(), job))
        if not args.check:
            job.target.write_text(result)
        elif job.target.read_text() != result:
            target, source = job.target.relative_to(ROOT), job.source.relative_to(ROOT)
            print(
                f"{target} is stale: change {source}, then run python scripts/gen_sync.py",
                file=sys.stderr,
            )
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
