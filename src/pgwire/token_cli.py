"""``python -m pgwire token``: print one IAM token, for ``psql`` and other clients.

As ``aws dsql generate-db-connect-admin-auth-token`` (``--admin``) and
``generate-db-connect-auth-token`` do: a DSQL token for ``--hostname`` (an endpoint, or a
cluster id with ``--region``), valid ``--expires-in`` seconds (900 by default); with
``--rds``, an RDS / Aurora PostgreSQL token (``rds-db:connect``) for ``--username`` at
``--hostname``:``--port``, as ``aws rds generate-db-auth-token`` does.  Credentials come
from botocore's usual chain (environment, profile, SSO, instance role), or ``--profile``.

The token goes to standard output, alone on its line, and nowhere else: no log line, no
error message.  A failure prints its reason on standard error and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

__all__ = ["add_arguments", "run"]

#: The longest validity SigV4 presigned URLs allow (seven days).
MAX_EXPIRES_IN = 604800


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``python -m pgwire token``."""
    parser.add_argument(
        "--hostname",
        required=True,
        help="the DSQL cluster endpoint (or its 26-character id), or the RDS host with --rds",
    )
    parser.add_argument(
        "--region", help="AWS region (default: from the host name, then AWS_REGION)"
    )
    parser.add_argument("--profile", help="AWS profile of the credentials (default: the chain's)")
    parser.add_argument(
        "--admin",
        action="store_true",
        help="a DbConnectAdmin token, for the admin role (default: DbConnect, for other roles)",
    )
    parser.add_argument(
        "--expires-in",
        type=_expires_in,
        help=f"seconds the DSQL token is valid, 1 to {MAX_EXPIRES_IN} (default: 900)",
    )
    parser.add_argument("--rds", action="store_true", help="an RDS / Aurora PostgreSQL token")
    parser.add_argument("--port", type=int, default=5432, help="the RDS port (with --rds)")
    parser.add_argument("--username", help="the database user (with --rds)")


def _expires_in(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
    if not 1 <= value <= MAX_EXPIRES_IN:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_EXPIRES_IN} seconds, got {value}")
    return value


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the token asked for on ``out``; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    problem = _check(args)
    if problem:
        print(f"python -m pgwire token: {problem}", file=err)
        return 2
    from pgwire.errors import InterfaceError

    try:
        token = _token(args)
    except InterfaceError as exc:
        print(f"python -m pgwire token: {exc}", file=err)
        return 1
    print(token, file=out)
    return 0


def _check(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, if anything."""
    if args.rds:
        if not args.username:
            return "--rds needs --username (the database user the token is for)"
        if args.admin:
            return "--admin is for DSQL; an RDS token is for --username"
        if args.expires_in is not None:
            return "--expires-in is for DSQL; RDS tokens are valid 900 seconds"
        if not 0 < args.port < 65536:
            return f"--port must be 1 to 65535, got {args.port}"
    elif args.username:
        return "--username is for --rds; a DSQL token is for admin (--admin) or any other role"
    return None


def _token(args: argparse.Namespace) -> str:
    if args.rds:
        from pgwire.iam import generate_rds_token

        return generate_rds_token(
            args.hostname, args.port, args.username, region=args.region, profile=args.profile
        )
    from pgwire.iam_params import DEFAULT_EXPIRES_IN, generate_token

    return generate_token(
        args.hostname,
        region=args.region,
        admin=args.admin,
        expires_in=args.expires_in or DEFAULT_EXPIRES_IN,
        profile=args.profile,
    )
