"""What an IAM token costs per connection: pgwire's against a boto3 session and client per
token (what AWS's Python DSQL connector does for every connection).

Run it from the repository root::

    .venv/bin/python bench/tokens.py            # about 10 seconds
    .venv/bin/python bench/tokens.py --tokens 50

The credentials are fake keys in the environment (botocore's default chain reads them), so
no network is involved and both sides resolve the same credentials. pgwire's figures are for
every token after the first (the first resolves the credential chain once per process):

* ``pgwire.dsql.generate_token``: one SigV4 presign per token, the way a connection gets a
  token when its provider's cached one is due for renewal;
* ``TokenProvider()``: a cached token, what most new connections of a pool get;
* ``boto3 session + client per token``: ``boto3.session.Session().client("dsql")``, then
  ``generate_db_connect_admin_auth_token``.

This is a benchmark, not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
REGION = "us-east-1"


def measure(make: Callable[[], str], count: int) -> list[float]:
    """Milliseconds for each of ``count`` calls, after one warm-up call."""
    make()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        make()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=100, help="tokens per method (100)")
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIDBENCHMARK",
        AWS_SECRET_ACCESS_KEY="bench-secret-key",
        AWS_REGION=REGION,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    import boto3

    from pgwire import dsql

    def pgwire_token() -> str:
        return dsql.generate_token(HOST, admin=True)

    provider = dsql.token_provider(HOST, admin=True)

    def boto3_token() -> str:
        client = boto3.session.Session().client("dsql", region_name=REGION)
        token: str = client.generate_db_connect_admin_auth_token(HOST, REGION)
        return token

    started = time.perf_counter()
    pgwire_token()
    first = (time.perf_counter() - started) * 1000
    assert pgwire_token().split("&X-Amz-Date")[0] == boto3_token().split("&X-Amz-Date")[0]
    rows = [
        ("pgwire.dsql.generate_token", measure(pgwire_token, args.tokens)),
        ("pgwire TokenProvider() (cached)", measure(provider, args.tokens)),
        ("boto3 session + client per token", measure(boto3_token, max(args.tokens // 5, 5))),
    ]
    baseline = statistics.median(rows[-1][1])
    print(f"first pgwire token (resolves the credential chain): {first:.2f} ms\n")
    print(f"{'method':<36} {'median ms':>10} {'mean ms':>9} {'p90 ms':>8} {'speed-up':>9}")
    for name, times in rows:
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(
            f"{name:<36} {median:>10.3f} {statistics.fmean(times):>9.3f} {p90:>8.3f} "
            f"{baseline / median:>8.0f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
