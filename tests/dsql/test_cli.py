"""``python -m pgwire dsql-local`` starts an endpoint that a five-line program reaches with
``pgwire.dsql.connect`` over TLS with an IAM token from the environment's credentials."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgwire import iam
from pgwire.dsql_local import DEFAULT_CLUSTER_ID, TEST_CREDENTIALS
from tests.pg import TRUST_USER, PostgresServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dsql-local exited: {process.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("dsql-local did not start listening within 30 seconds")


@pytest.fixture
def cli_endpoint(pg_server: PostgresServer, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgwire",
            "dsql-local",
            "--port",
            str(port),
            "--upstream",
            pg_server.dsn(TRUST_USER.name),
            "--cert-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(port, process)
        yield port, tmp_path
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "AWS_ACCESS_KEY_ID=" in output and "ca.pem" in output


def test_a_five_line_program_connects_to_the_cli_endpoint(
    cli_endpoint: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert_dir = cli_endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setattr(iam, "_default_credentials", {})

    import pgwire.dsql

    host = f"{DEFAULT_CLUSTER_ID}.dsql.us-east-1.on.aws"
    ca = str(cert_dir / "ca.pem")
    with pgwire.dsql.connect(host, hostaddr="127.0.0.1", port=port, sslrootcert=ca) as conn:
        assert conn.fetchval("SELECT current_user") == TRUST_USER.name
