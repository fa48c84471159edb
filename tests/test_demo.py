"""The README's demo runs its whole session (here against the test server, given as a DSN)."""

from __future__ import annotations

import subprocess
import sys


def test_demo_session_runs_against_a_given_server(pg_server) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "pgwire", "demo", pg_server.dsn("scram_user", "pw-scram")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "UniqueViolation (SQLSTATE 23505)" in out
    assert "d'Artagnan's fig" in out
    assert "SELECT $1::int + 1 with 41 -> 42" in out
    assert "retried by run_transaction: 2 tries" in out
    assert "pw-scram" not in out + result.stderr
