"""DSQL's connection limits at the local endpoint (open connections: 53300; connection rate:
53400, a token bucket; connections not yet authenticated: 53300, before TLS), its default
limits, and the rules table in docs/dsql-local.md."""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgwire import dsql, errors
from pgwire.dsql_local import LocalDsqlEndpoint, Upstream
from pgwire.dsql_local.rules import LIMITS, PAGES, RULES, render_markdown, rule
from pgwire.protocol import ErrorResponse, SSLRequest, decode_backend
from tests.dsql.conftest import StartEndpoint

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dsql-local.md"


def test_dsqls_limits_are_the_defaults() -> None:
    assert (LIMITS.max_connections, LIMITS.connection_rate, LIMITS.connection_burst) == (
        10_000,
        100.0,
        1000,
    )
    assert (LIMITS.transaction_rows, LIMITS.transaction_bytes, LIMITS.transaction_seconds) == (
        3000,
        10 * 1024 * 1024,
        300.0,
    )


def test_more_open_connections_than_the_limit_are_refused(start_endpoint: StartEndpoint) -> None:
    running = start_endpoint(limits=dataclasses.replace(LIMITS, max_connections=2))
    with dsql.connect(**running.params()), dsql.connect(**running.params()):
        with pytest.raises(errors.Error) as caught:
            dsql.connect(**running.params())
        too_many = rule("max-connections")
        assert (caught.value.sqlstate, caught.value.message) == (
            too_many.sqlstate,
            too_many.message,
        )
    # Closed connections free their places (once the endpoint has seen them close).
    for _ in range(1000):
        if running.endpoint.open_connections == 0:
            break
        time.sleep(0.01)
    with dsql.connect(**running.params()) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_connections_faster_than_the_rate_are_refused(start_endpoint: StartEndpoint) -> None:
    now = [0.0]
    limits = dataclasses.replace(LIMITS, connection_rate=1.0, connection_burst=2)
    running = start_endpoint(limits=limits, monotonic=lambda: now[0])
    for _ in range(2):
        with dsql.connect(**running.params()):
            pass
    with pytest.raises(errors.Error) as caught:
        dsql.connect(**running.params())
    rate = rule("connection-rate")
    assert (caught.value.sqlstate, caught.value.message) == (rate.sqlstate, rate.message)
    now[0] += 1.0  # the bucket refills one connection per second
    with dsql.connect(**running.params()) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_the_rules_table_in_the_docs_is_current() -> None:
    text = DOCS.read_text()
    start = text.index("<!-- rules: begin -->\n") + len("<!-- rules: begin -->\n")
    end = text.index("<!-- rules: end -->")
    assert text[start:end] == render_markdown(), (
        "docs/dsql-local.md is stale: paste pgwire.dsql_local.rules.render_markdown() "
        "between its rules markers"
    )


def test_every_rule_names_its_source_page_and_what_dsql_offers_instead() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.page in PAGES and r.instead and re.fullmatch(r"[0-9A-Z]{5}", r.sqlstate)
        if r.kind == "statement":
            assert r.example and r.allowed


def test_an_unknown_rule_is_named_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no DSQL rule 'nope'; the rules are temporary-table"):
        rule("nope")


def test_without_pglast_dsqls_rules_say_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pgwire.dsql_local.statements import MissingParser

    monkeypatch.setitem(sys.modules, "pglast", None)
    with pytest.raises(MissingParser, match=r"pip install 'pgwire\[dsql-local\]'"):
        LocalDsqlEndpoint(Upstream())


def test_random_conflicts_fail_commits_with_the_probability_given(
    start_endpoint: StartEndpoint,
) -> None:
    running = start_endpoint()
    running.endpoint.inject_occ_randomly(1.0)
    with dsql.connect(**running.params()) as conn:
        for _ in range(3):
            with pytest.raises(errors.SerializationFailure, match="OC000"), conn.transaction():
                conn.execute("SELECT 1")
    with pytest.raises(ValueError, match="probability must be between 0 and 1"):
        running.endpoint.inject_occ_randomly(1.5)


def test_a_limit_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Limits\.transaction_rows must be a positive number"):
        dataclasses.replace(LIMITS, transaction_rows=0)


def test_pgwire_and_its_dsql_modules_import_without_pglast() -> None:
    code = (
        "import sys; sys.modules['pglast'] = None\n"
        "import pgwire, pgwire.dsql, pgwire.dsql_local\n"
        "from pgwire.dsql_local import LocalDsqlEndpoint, Upstream\n"
        "LocalDsqlEndpoint(Upstream(), postgres_rules=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")


def test_more_unauthenticated_connections_than_the_limit_are_refused_at_once(
    start_endpoint: StartEndpoint,
) -> None:
    running = start_endpoint(limits=dataclasses.replace(LIMITS, max_unauthenticated=2))
    address = ("127.0.0.1", running.port)
    # Two clients that connect and say nothing hold both places.
    idle = [socket.create_connection(address, timeout=10) for _ in range(2)]
    for _ in range(1000):
        if running.endpoint.unauthenticated_connections == 2:
            break
        time.sleep(0.01)
    with socket.create_connection(address, timeout=10) as third:
        # Answered before any TLS, in plaintext, as a server answers an SSLRequest it
        # cannot serve: 'E', then the error.
        third.sendall(SSLRequest().encode())
        data = b""
        while chunk := third.recv(65536):
            data += chunk
    error = decode_backend(data[0], data[5:])
    assert isinstance(error, ErrorResponse)
    refused = rule("max-unauthenticated")
    assert (error.fields["S"], error.fields["C"], error.fields["M"]) == (
        "FATAL",
        refused.sqlstate,
        refused.message,
    )
    with pytest.raises(errors.Error) as caught:
        dsql.connect(**running.params(sslnegotiation="postgres"))
    assert caught.value.sqlstate == "53300"
    for sock in idle:
        sock.close()
    for _ in range(1000):
        if running.endpoint.unauthenticated_connections == 0:
            break
        time.sleep(0.01)
    with dsql.connect(**running.params()) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_an_authenticated_connection_frees_its_unauthenticated_place(
    start_endpoint: StartEndpoint,
) -> None:
    running = start_endpoint(limits=dataclasses.replace(LIMITS, max_unauthenticated=1))
    with dsql.connect(**running.params()) as first, dsql.connect(**running.params()) as second:
        assert first.fetchval("SELECT 1") == second.fetchval("SELECT 2") - 1
    assert running.endpoint.unauthenticated_connections == 0
