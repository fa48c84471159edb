"""Run SQLAlchemy's dialect compliance suite for pgwire's dialects and, on the same server in
the same run, for SQLAlchemy's own psycopg and asyncpg dialects; print the counts side by side.

    python tests/sqlalchemy/compliance/run.py [--jobs N] [--dialects pgwire,psycopg,...]

It starts one PostgreSQL 18 (tests/pg.py) with a database per dialect, runs the suite once per
dialect (pytest with SQLAlchemy's plugin, ``--dburi``; ``--jobs`` of them at a time), and reads
each run's JUnit report. It fails when a pgwire dialect has a failure or an error, or skips a
test that runs for psycopg or asyncpg (docs/sqlalchemy.md names the tests the suite itself
skips, and why). The other dialects' results are shown, never judged.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg import PostgresServer  # noqa: E402

DIALECTS = ("pgwire", "pgwire_async", "psycopg", "asyncpg")
OURS = ("pgwire", "pgwire_async")
OTHERS = ("psycopg", "asyncpg")
#: The part of a test's class name that names the database and dialect.
_BACKEND = re.compile(r"_postgresql\+[a-z_]+_\d+(?:_\d+)*")


@dataclass
class Outcome:
    dialect: str
    seconds: float = 0.0
    returncode: int = 0
    #: Test id (without the dialect part) to outcome: passed, skipped, failed, error.
    tests: dict[str, str] = field(default_factory=dict)
    output: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.tests.values() if value == outcome)


def _read_report(path: Path) -> dict[str, str]:
    tests: dict[str, str] = {}
    for case in ElementTree.parse(path).iter("testcase"):
        name = _BACKEND.sub("", f"{case.get('classname')}::{case.get('name')}")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                if outcome != "skipped":
                    break
        # A test can fail in its call and error in its teardown: the worst one counts.
        if tests.get(name) not in ("failed", "error"):
            tests[name] = outcome
    return tests


def run_suite(server: PostgresServer, dialect: str, report_dir: Path) -> Outcome:
    database = f"sa_{dialect}"
    url = server.dsn(server.superuser, dbname=database).replace(
        "postgresql://", f"postgresql+{dialect}://", 1
    )
    report = report_dir / f"{dialect}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(HERE / "setup.cfg"),
        "--rootdir",
        str(HERE),
        "--dburi",
        url,
        "-q",
        f"--junitxml={report}",
        str(HERE / "test_suite.py"),
    ]
    started = time.monotonic()
    finished = subprocess.run(command, cwd=HERE, capture_output=True, text=True, check=False)
    outcome = Outcome(dialect, time.monotonic() - started, finished.returncode)
    outcome.output = finished.stdout + finished.stderr
    if report.exists():
        outcome.tests = _read_report(report)
    return outcome


def _prepare(server: PostgresServer, dialects: list[str]) -> None:
    for dialect in dialects:
        server.psql(f"CREATE DATABASE sa_{dialect}", database="postgres")
        # The schemas the suite uses (requirements.schemas).
        server.psql(
            "CREATE SCHEMA test_schema; CREATE SCHEMA test_schema_2", database=f"sa_{dialect}"
        )


def report(outcomes: list[Outcome]) -> int:
    """Print the table and the differences; return the exit status."""
    print()
    print("SQLAlchemy compliance suite (sqlalchemy.testing.suite) on PostgreSQL 18")
    print(f"{'dialect':<24}{'passed':>8}{'skipped':>9}{'failed':>8}{'errors':>8}{'seconds':>9}")
    for o in outcomes:
        print(
            f"{'postgresql+' + o.dialect:<24}{o.count('passed'):>8}{o.count('skipped'):>9}"
            f"{o.count('failed'):>8}{o.count('error'):>8}{o.seconds:>9.0f}"
        )
    status = 0
    by_dialect = {o.dialect: o for o in outcomes}
    for o in outcomes:
        if not o.tests:
            print(f"\npostgresql+{o.dialect}: no report (pytest exited {o.returncode}):")
            print(o.output[-4000:])
            status = 1 if o.dialect in OURS or status else status
            continue
        bad = sorted(name for name, value in o.tests.items() if value in ("failed", "error"))
        if bad:
            print(f"\npostgresql+{o.dialect}: {len(bad)} failed or errors:")
            for name in bad:
                print(f"  {name}")
            if o.dialect in OURS:
                print(o.output[-8000:])
                status = 1
    for ours in OURS:
        mine = by_dialect.get(ours)
        if mine is None or not mine.tests:
            continue
        for other in OTHERS:
            theirs = by_dialect.get(other)
            if theirs is None:
                continue
            extra = sorted(
                name
                for name, value in mine.tests.items()
                if value == "skipped" and theirs.tests.get(name) in ("passed", "failed", "error")
            )
            if extra:
                status = 1
                print(f"\nskipped for postgresql+{ours} but run for postgresql+{other}:")
                for name in extra:
                    print(f"  {name}")
    ours_total = [by_dialect[d] for d in OURS if d in by_dialect]
    passed = sum(o.count("passed") for o in ours_total)
    failed = sum(o.count("failed") + o.count("error") for o in ours_total)
    skipped = sum(o.count("skipped") for o in ours_total)
    print(f"\npgwire dialects: {passed} passed, {failed} failed, {skipped} skipped")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="suites run at once (default 2)")
    parser.add_argument(
        "--dialects", default=",".join(DIALECTS), help=f"comma-separated, of {DIALECTS}"
    )
    args = parser.parse_args()
    dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]
    unknown = set(dialects) - set(DIALECTS)
    if unknown:
        parser.error(f"unknown dialects {sorted(unknown)}: expected some of {DIALECTS}")
    with PostgresServer() as server, tempfile.TemporaryDirectory() as reports:
        _prepare(server, dialects)
        report_dir = Path(reports)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(lambda d: run_suite(server, d, report_dir), dialects))
        return report(outcomes)


if __name__ == "__main__":
    sys.exit(main())
