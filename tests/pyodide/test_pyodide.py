"""pgwire inside Pyodide (CPython 3.14 compiled to WebAssembly) in Node.js, for real.

The npm package ``pyodide`` runs in Node.js 20 with the npm package ``ws`` as the global
``WebSocket`` (what a browser provides). pgwire's source and its pure-Python dependencies are
written into Pyodide's file system; inside, pgwire's browser stream
(``pgwire.transports.pyodide``) connects through websockify to the real PostgreSQL 18, the
connection flow opens the session and the async driver (anyio on Pyodide's asyncio loop)
runs a parameterized query. PostgreSQL's TLS inside the tunnel needs Pyodide's ssl package,
which is not in its offline distribution: that case is checked to fail clearly.

The packages come from scripts/install-pyodide (run here; idempotent, offline once done).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.pg import REPO_ROOT, TRUST_USER, PostgresServer
from tests.websocket.conftest import TLSBackend, Websockify

HERE = Path(__file__).resolve().parent
#: Pure-Python distributions pgwire needs inside Pyodide, copied from this environment.
DEPENDENCIES = ["scramp", "asn1crypto", "anyio", "idna", "typing_extensions", "wsproto", "h11"]
SITE = "/lib/site"


@pytest.fixture(scope="session")
def pyodide_cache() -> Path:
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed to run Pyodide (apt-get install nodejs npm)")
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "install-pyodide")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/install-pyodide failed:\n{result.stderr}")
    return Path(result.stdout.strip())


def source_trees() -> list[str]:
    """``SOURCE=TARGET`` arguments for run_in_pyodide.mjs."""
    trees = [f"{REPO_ROOT / 'src' / 'pgwire'}={SITE}/pgwire"]
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            trees.append(f"{origin.parent}={SITE}/{name}")
        else:
            trees.append(f"{origin}={SITE}/{origin.name}")
    trees.append(f"{REPO_ROOT / 'tests' / 'websocket' / 'sessions_async.py'}={SITE}/wsessions.py")
    return trees


def run_in_pyodide(cache: Path, **args: Any) -> list[dict[str, Any]]:
    """Run pgwire_in_pyodide.py inside Pyodide; return the JSON lines it printed."""
    result = subprocess.run(
        [
            "node",
            str(HERE / "run_in_pyodide.mjs"),
            str(cache),
            str(HERE / "pgwire_in_pyodide.py"),
            *source_trees(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYODIDE_ARGS": json.dumps(args)},
        check=False,
    )
    assert result.returncode == 0, f"Pyodide run failed:\n{result.stdout}\n{result.stderr}"
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_pgwire_runs_a_parameterized_query_inside_pyodide(
    pyodide_cache: Path, websockify: Websockify, pg_server: PostgresServer
) -> None:
    dsn = pg_server.dsn(TRUST_USER.name, sslmode="disable")
    lines = run_in_pyodide(pyodide_cache, url=websockify.url, dsn=dsn)
    assert lines[0]["platform"] == "emscripten"
    assert lines[0]["python"].startswith("3.14")
    assert lines[1] == {"rows": [[1, "row 1"], [2, "row 2"], [3, "row 3"]]}
    assert lines[2]["ssl"] is False


def test_postgresql_tls_inside_the_tunnel_needs_pyodides_ssl_package(
    pyodide_cache: Path, tls_backend: TLSBackend
) -> None:
    # Pyodide's offline distribution has a stub ssl module (the real one is a separate
    # package fetched from its CDN, which this machine cannot reach): the TLS request fails
    # with an error that says what to do, not with NotImplementedError.
    dsn = tls_backend.server.dsn(TRUST_USER.name, sslmode="require")
    lines = run_in_pyodide(pyodide_cache, url=tls_backend.bridge.url, dsn=dsn)
    assert "TLS is not available in this Python" in lines[1]["error"]
    assert 'pyodide.loadPackage("ssl")' in lines[1]["error"]
