"""Fixtures for the browser page's tests: the page's server in front of the suite's
PostgreSQL 18 and of a local DSQL endpoint's ``wss://`` listener, and headless Chromium.

Chromium is Debian's (``scripts/install-debian-packages`` installs it as root, which CI is);
the tests are skipped, saying so, only where it is not installed. Chromium reaches the DSQL
endpoint by its real name (``<cluster>.dsql.us-east-1.on.aws``, mapped to 127.0.0.1 by
``--host-resolver-rules``) and trusts exactly the endpoint's certificate
(``--ignore-certificate-errors-spki-list`` with its key's hash), so the TLS name, the SNI
and the token's host are those a real DSQL page uses. Pyodide comes from
``scripts/install-pyodide``. Screenshots and timings are written under
``.cache/artifacts/browser`` (``$PGWIRE_ARTIFACTS`` overrides it) and named at the end of
the run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pgwire.browser.server import DsqlTarget, PageServer, PostgresTarget
from pgwire.dsql_local import TEST_CREDENTIALS
from tests.browser.cdp import Chromium, Page, find_chromium
from tests.dsql.conftest import RunningEndpoint, rules_endpoint
from tests.pg import REPO_ROOT, SCRAM_USER, PostgresServer

__all__ = ["rules_endpoint"]

#: What the run wrote, shown at its end: (what, path or value).
ARTIFACTS: list[tuple[str, str]] = []


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("PGWIRE_ARTIFACTS") or REPO_ROOT / ".cache" / "artifacts")
    path = folder / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ARTIFACTS:
        terminalreporter.section("browser page")
        for what, value in ARTIFACTS:
            terminalreporter.write_line(f"{what}: {value}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "Chromium is not installed and could not be installed here: "
            "scripts/install-debian-packages installs Debian's chromium when run as root"
        )
    return path


@pytest.fixture(scope="session")
def pyodide_dir() -> Path:
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "install-pyodide")],
        capture_output=True,
        text=True,
        check=False,
        # Its pip downloads the wheels for Pyodide's Python.
        env={**os.environ, "PYTHON": sys.executable},
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/install-pyodide failed:\n{result.stderr}")
    return Path(result.stdout.strip()) / "node_modules" / "pyodide"


class RecordingDsqlTarget(DsqlTarget):
    """A DSQL target that remembers the tokens it made, so that tests can look for them
    where they must not be."""

    def token(self, user: str) -> str:
        token = super().token(user)
        TOKENS.append(token)
        return token


#: Every token the page's server made in this run.
TOKENS: list[str] = []


@dataclass
class Site:
    """The page's server, the database behind its bridge and the DSQL endpoint."""

    server: PageServer
    postgres: PostgresServer
    dsql: RunningEndpoint


@pytest.fixture(scope="session")
def site(
    pyodide_dir: Path, pg_server: PostgresServer, rules_endpoint: RunningEndpoint
) -> Iterator[Site]:
    assert rules_endpoint.endpoint.websocket_url is not None
    dsql = RecordingDsqlTarget(rules_endpoint.endpoint.websocket_url, credentials=TEST_CREDENTIALS)
    postgres = PostgresTarget(pg_server.host, pg_server.port, SCRAM_USER.name, pg_server.database)
    with PageServer(pyodide_dir, postgres=postgres, dsql=dsql) as server:
        yield Site(server, pg_server, rules_endpoint)


def _certificate_key_hash(port: int, server_name: str) -> str:
    """The base64 SHA-256 of the public key of the certificate served on ``port``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="session")
def chromium(chromium_path: str, rules_endpoint: RunningEndpoint) -> Iterator[Chromium]:
    endpoint = rules_endpoint.endpoint
    assert endpoint.websocket_port is not None
    key_hash = _certificate_key_hash(endpoint.websocket_port, endpoint.endpoint)
    flags = [
        "--host-resolver-rules=MAP *.on.aws 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={key_hash}",
    ]
    with Chromium(chromium_path, flags) as browser:
        yield browser


def closed_port() -> int:
    """A port of 127.0.0.1 on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def open_page(chromium: Chromium, url: str) -> Page:
    """A new tab with the page at ``url``, once Pyodide and pgwire are loaded."""
    page = chromium.new_page()
    page.goto(url)
    page.wait_for(
        "window.pgwirePage && (window.pgwirePage.ready || window.pgwirePage.failed)",
        timeout=180,
        what="Pyodide and pgwire to load",
    )
    failed = page.evaluate("window.pgwirePage.failed || null")
    assert failed is None, f"the page did not start: {failed}; console: {page.console()}"
    return page


@pytest.fixture
def page(chromium: Chromium, site: Site) -> Iterator[Page]:
    """The page, loaded, in a tab of its own."""
    tab = open_page(chromium, site.server.url)
    yield tab
    tab.close()
