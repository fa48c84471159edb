"""``python -m pgwire dsql-local`` starts an endpoint that a five-line program reaches with
``pgwire.dsql.connect`` over TLS with an IAM token from the environment's credentials."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgwire import errors, iam
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
def cli_endpoint(
    pg_server: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[int, Path]]:
    """``python -m pgwire dsql-local``, with the options given by indirect parametrization."""
    options: list[str] = getattr(request, "param", [])
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
            *options,
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
    rules = "PostgreSQL's (--postgres-rules)" if "--postgres-rules" in options else "DSQL's"
    assert f"SQL rules: {rules}" in output


def connect(cli_endpoint: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> Any:
    port, cert_dir = cli_endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setattr(iam, "_default_credentials", {})

    import pgwire.dsql

    host = f"{DEFAULT_CLUSTER_ID}.dsql.us-east-1.on.aws"
    ca = str(cert_dir / "ca.pem")
    return pgwire.dsql.connect(host, hostaddr="127.0.0.1", port=port, sslrootcert=ca)


def test_a_five_line_program_connects_to_the_cli_endpoint(
    cli_endpoint: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(cli_endpoint, monkeypatch) as conn:
        assert conn.fetchval("SELECT current_user") == TRUST_USER.name
        with pytest.raises(errors.FeatureNotSupported, match="TRUNCATE not supported"):
            conn.execute("TRUNCATE no_such_table")


@pytest.mark.parametrize("cli_endpoint", [["--postgres-rules"]], indirect=True)
def test_postgres_rules_relay_what_dsql_refuses(
    cli_endpoint: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(cli_endpoint, monkeypatch) as conn, pytest.raises(errors.UndefinedTable):
        conn.execute("TRUNCATE no_such_table")


@pytest.mark.parametrize("cli_endpoint", [["--transaction-rows", "1"]], indirect=True)
def test_the_limits_are_options(
    cli_endpoint: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(cli_endpoint, monkeypatch) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cli_rows (n int)")
        conn.execute("INSERT INTO cli_rows VALUES (1)")
        with pytest.raises(errors.Error, match="transaction row limit exceeded"):
            conn.execute("INSERT INTO cli_rows VALUES (2), (3)")
        conn.execute("DROP TABLE cli_rows")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-connections", "0"], "expected a positive whole number, got 0"),
        (["--max-unauthenticated", "0"], "expected a positive whole number, got 0"),
        (["--transaction-seconds", "-1"], "expected a positive number, got -1"),
    ],
)
def test_bad_limits_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgwire.__main__ import main

    with pytest.raises(SystemExit):
        main(["dsql-local", *argv])
    assert message in capsys.readouterr().err


def test_the_unauthenticated_limit_is_an_option() -> None:
    import argparse

    from pgwire.dsql_local.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).max_unauthenticated == 100
    assert parser.parse_args(["--max-unauthenticated", "5"]).max_unauthenticated == 5
