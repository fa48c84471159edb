"""Fixtures for the server-role tests: a mock server with SCRAM, TLS certificates, and psql.

The mock server runs in a background thread (its own event loop), so blocking clients
(psql in a subprocess, pg8000, psycopg, pgwire) and asyncpg (in asyncio.run) all reach it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

import pgwire.errors as errors
from pgwire.mockserver import MockServer, Result

USER = "alice"
PASSWORD = "secret"
PSQL = "/usr/bin/psql"


async def handler(query: str, params: tuple[Any, ...]) -> Any:
    """Rows, tags and errors that every real client is checked against."""
    text = " ".join(query.strip().rstrip(";").split()).lower()
    if text == "select 1":
        return Result([(1,)], [("?column?", "int4")])
    if text == "select n, word from pairs":
        return Result([(1, "one"), (2, "two"), (3, None)], [("n", "int8"), ("word", "text")])
    if text.startswith("select $1") or text.startswith("select %s"):
        return Result([(params[0],)], [("echo", "text")])
    if text == "create table t (a int)":
        return "CREATE TABLE"
    if text == "insert into t values (1), (2)":
        return "INSERT 0 2"
    if text == "select * from missing":
        raise errors.UndefinedTable('relation "missing" does not exist')
    raise errors.lookup("42601")(f"syntax error at or near {query.split()[0]!r}")


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and a server certificate for localhost and 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    certs = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(certs.ca))
    issued.private_key_pem.write_to_path(str(certs.key))
    certs.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return certs


@pytest.fixture(scope="session")
def mock_port() -> Iterator[int]:
    """A plaintext mock server asking for SCRAM-SHA-256."""
    server = MockServer(handler, users={"*": PASSWORD})
    with server.running_in_thread() as port:
        yield port


@pytest.fixture(scope="session")
def tls_port(certificates: Certificates) -> Iterator[int]:
    """A TLS mock server (SSLRequest and direct TLS), offering SCRAM-SHA-256-PLUS."""
    server = MockServer(
        handler, users={USER: PASSWORD}, certfile=certificates.cert, keyfile=certificates.key
    )
    with server.running_in_thread() as port:
        yield port


def psql(
    conninfo: str, *commands: str, password: str = PASSWORD, script: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run psql (libpq) non-interactively, with SQLSTATEs in its error messages.

    Each command is one ``-c``; ``script`` is read from standard input instead (where a
    line may mix SQL and backslash commands, as ``\\bind``).
    """
    args = [PSQL, "-X", "-v", "VERBOSITY=verbose", "-A", "-t", conninfo]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    return subprocess.run(args, input=script, capture_output=True, text=True, env=env, timeout=60)
