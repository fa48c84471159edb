"""Run SQLAlchemy's dialect compliance suite for pgwire's dialects and, on the same server in
the same run, for SQLAlchemy's own psycopg and asyncpg dialects; print the counts side by side.

    python tests/sqlalchemy/compliance/run.py [--jobs N] [--dialects pgwire,psycopg,...]

It starts one PostgreSQL 18 (tests/pg.py) with a database per dialect, runs the suite once per
dialect (pytest with SQLAlchemy's plugin, ``--dburi``; ``--jobs`` of them at a time), and reads
each run's JUnit report. It fails when a pgwire dialect has a failure or an error, or when a
PostgreSQL dialect of pgwire skips a test that runs for psycopg or asyncpg (docs/sqlalchemy.md
names the tests the suite itself skips, and why). The other dialects' results are shown, never
judged.

``auroradsql`` is ``auroradsql+pgwire``, through a local DSQL endpoint with DSQL's rules
(:mod:`pgwire.dsql_local`) in front of its database, with IAM tokens made from the endpoint's
test credentials; ``requirements_dsql.py`` states what DSQL lacks, so its skips are its own.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg import PostgresServer  # noqa: E402

DIALECTS = ("pgwire", "pgwire_async", "psycopg", "asyncpg", "auroradsql")
OURS = ("pgwire", "pgwire_async", "auroradsql")
#: pgwire's PostgreSQL dialects: they skip no test that psycopg or asyncpg runs.
PARITY = ("pgwire", "pgwire_async")
OTHERS = ("psycopg", "asyncpg")
#: The dialects that reach PostgreSQL through a local DSQL endpoint.
THROUGH_DSQL = ("auroradsql",)
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
        # The class, without its module's path (which depends on the pytest root).
        classname = str(case.get("classname")).rsplit(".", 1)[-1]
        name = _BACKEND.sub("", f"{classname}::{case.get('name')}")
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


def scheme(dialect: str) -> str:
    """The URL scheme of ``dialect``: ``postgresql+pgwire``, ``auroradsql+pgwire``, ..."""
    return "auroradsql+pgwire" if dialect == "auroradsql" else f"postgresql+{dialect}"


@dataclass
class Target:
    """Where one dialect's suite connects, and what its pytest run adds."""

    url: str
    #: The pytest root, whose setup.cfg names the requirements class.
    root: Path = HERE
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def targets(server: PostgresServer, dialects: list[str]) -> Iterator[dict[str, Target]]:
    """The target of each dialect; a local DSQL endpoint runs for those that need one."""
    with ExitStack() as stack:
        found = {}
        for dialect in dialects:
            database = f"sa_{dialect}"
            if dialect in THROUGH_DSQL:
                found[dialect] = stack.enter_context(_dsql_target(server, database, dialect))
            else:
                url = server.dsn(server.superuser, dbname=database)
                found[dialect] = Target(url.replace("postgresql://", f"{scheme(dialect)}://", 1))
        yield found


@contextmanager
def _dsql_target(server: PostgresServer, database: str, dialect: str) -> Iterator[Target]:
    """A local DSQL endpoint with DSQL's rules, relaying to ``database`` as the superuser;
    the suite's engines make their IAM tokens from the endpoint's test credentials, which
    botocore's credential chain finds in the environment."""
    from pgwire.dsql_local import TEST_CREDENTIALS, LocalDsqlEndpoint, Upstream

    upstream = Upstream(server.host, server.port, server.superuser, None, database)
    with tempfile.TemporaryDirectory() as cert_dir:
        endpoint = LocalDsqlEndpoint(upstream, cert_dir=cert_dir)
        with endpoint.running_in_thread() as port:
            url = (
                f"{scheme(dialect)}://admin@{endpoint.endpoint}:{port}/postgres"
                f"?hostaddr=127.0.0.1&sslrootcert={endpoint.ca_file}&connect_timeout=10"
            )
            env = {
                "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS.access_key,
                "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS.secret_key,
            }
            yield Target(url, HERE / "dsql", env)


def run_suite(dialect: str, target: Target, report_dir: Path) -> Outcome:
    report = report_dir / f"{dialect}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(target.root / "setup.cfg"),
        "--rootdir",
        str(target.root),
        # The plugin's conftest.py sits in HERE, above the DSQL root.
        "--confcutdir",
        str(HERE),
        "--dburi",
        target.url,
        "-q",
        f"--junitxml={report}",
        str(HERE / "test_suite.py"),
    ]
    env = dict(os.environ, **target.env)
    started = time.monotonic()
    finished = subprocess.run(
        command, cwd=HERE, capture_output=True, text=True, check=False, env=env
    )
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
            f"{scheme(o.dialect):<24}{o.count('passed'):>8}{o.count('skipped'):>9}"
            f"{o.count('failed'):>8}{o.count('error'):>8}{o.seconds:>9.0f}"
        )
    status = 0
    by_dialect = {o.dialect: o for o in outcomes}
    for o in outcomes:
        if not o.tests:
            print(f"\n{scheme(o.dialect)}: no report (pytest exited {o.returncode}):")
            print(o.output[-4000:])
            status = 1 if o.dialect in OURS or status else status
            continue
        bad = sorted(name for name, value in o.tests.items() if value in ("failed", "error"))
        if bad:
            print(f"\n{scheme(o.dialect)}: {len(bad)} failed or errors:")
            for name in bad:
                print(f"  {name}")
            if o.dialect in OURS:
                print(o.output[-8000:])
                status = 1
    for ours in PARITY:
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
    print()
    for o in outcomes:
        if o.dialect in OURS:
            failed = o.count("failed") + o.count("error")
            print(
                f"{scheme(o.dialect)}: {o.count('passed')} passed, {failed} failed, "
                f"{o.count('skipped')} skipped"
            )
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
        with (
            targets(server, dialects) as found,
            ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool,
        ):
            outcomes = list(pool.map(lambda d: run_suite(d, found[d], report_dir), dialects))
        return report(outcomes)


if __name__ == "__main__":
    sys.exit(main())
