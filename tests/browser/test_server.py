"""The page's server, bridge and wheels, and the page's Python, without a browser.

The HTTP answers are read with the standard library's client, the bridge is crossed by
pgwire's own drivers (the blocking one, and the page's session on asyncio), and the wheels
are opened as zip files.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest

import pgwire
from pgwire.browser.page import PageSession, display
from pgwire.browser.server import PageServer, PostgresTarget, downloaded_wheels
from pgwire.browser.wheels import (
    DEPENDENCIES,
    browser_wheels,
    check_version,
    installed_wheel,
    pgwire_wheel,
)
from pgwire.dsql_local import TEST_CREDENTIALS, verify_token
from pgwire.errors import OperationalError
from tests.browser.conftest import Site, closed_port
from tests.pg import REPO_ROOT, SCRAM_USER, PostgresServer


def request(
    server: PageServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post_json(server: PageServer, path: str, value: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = request(
        server, "POST", path, json.dumps(value).encode(), {"Content-Type": "application/json"}
    )
    return status, json.loads(body)


# --------------------------------------------------------------------------------------
# Wheels
# --------------------------------------------------------------------------------------


def test_the_page_gets_pgwire_and_the_wheels_downloaded_for_pyodide(pyodide_dir: Path) -> None:
    folder = downloaded_wheels(pyodide_dir)
    assert folder is not None
    wheels = browser_wheels(folder)
    assert [wheel.filename.split("-")[0] for wheel in wheels] == [*DEPENDENCIES, "pgwire"]
    for wheel in wheels[:-1]:
        assert wheel.data == (folder / wheel.filename).read_bytes()


def test_the_wheel_of_pgwire_holds_its_package_with_a_record() -> None:
    wheels = {"pgwire": pgwire_wheel()}
    with zipfile.ZipFile(_bytes_io(wheels["pgwire"].data)) as archive:
        names = set(archive.namelist())
        record = archive.read(f"pgwire-{pgwire.__version__}.dist-info/RECORD").decode()
    assert {
        "pgwire/__init__.py",
        "pgwire/connection.py",
        "pgwire/transports/pyodide.py",
        "pgwire/browser/page.py",
    } <= names
    assert not any("static/" in name or name.endswith(".pyc") for name in names)
    assert {line.split(",")[0] for line in record.splitlines()} == names


def test_an_installed_pure_python_distribution_becomes_a_wheel() -> None:
    wheel = installed_wheel("anyio")
    assert wheel.filename.startswith("anyio-") and wheel.filename.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(_bytes_io(wheel.data)) as archive:
        names = archive.namelist()
    assert "anyio/__init__.py" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    version = wheel.filename.split("-")[1]
    assert f"anyio-{version}.dist-info/METADATA" in names


def test_a_release_too_old_for_pyodide_is_refused() -> None:
    check_version("scramp", "1.5.0")
    with pytest.raises(LookupError, match=r"scramp 1.4.6 is installed here, and the page needs"):
        check_version("scramp", "1.4.6")


def test_the_same_files_make_the_same_wheels() -> None:
    first = [pgwire_wheel(), installed_wheel("anyio")]
    time.sleep(1.1)  # zip entries record the time to the second unless it is fixed
    assert [pgwire_wheel(), installed_wheel("anyio")] == first


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_a_distribution_with_compiled_code_is_refused() -> None:
    with pytest.raises(LookupError, match=r"compiled code .* which Pyodide cannot load"):
        installed_wheel("psycopg-binary")


def test_a_missing_distribution_is_named() -> None:
    with pytest.raises(LookupError, match="'no-such-package-here', which is not installed"):
        installed_wheel("no-such-package-here")


def test_values_are_displayed_as_postgresql_spells_them() -> None:
    import datetime
    import decimal

    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    assert [
        display(v)
        for v in (None, True, b"\x00\xff", moment, {"a": [1]}, [1, 2], decimal.Decimal("1.50"))
    ] == [None, "true", "\\x00ff", "2024-05-06 07:08:09+00:00", '{"a": [1]}', "[1, 2]", "1.50"]


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------


def test_the_page_and_pyodide_are_served_with_their_types_and_a_strict_policy(
    site: Site,
) -> None:
    status, headers, body = request(site.server, "GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="app.js">' in body
    assert "script-src 'self' 'wasm-unsafe-eval'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-cache"
    etag = headers["ETag"]
    status, headers, body = request(site.server, "GET", "/", headers={"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, b"", etag)
    status, headers, body = request(site.server, "GET", "/pyodide/pyodide.asm.wasm")
    assert (status, headers["Content-Type"]) == (200, "application/wasm")
    assert body == (site.server.pyodide / "pyodide.asm.wasm").read_bytes()
    name = next(name for name in site.server.wheels if name.startswith("pgwire-"))
    status, headers, body = request(site.server, "GET", f"/wheels/{name}")
    assert body == site.server.wheels[name].data
    status, headers, _ = request(site.server, "GET", "/api/config")
    assert headers["Cache-Control"] == "no-store"
    assert "ETag" not in headers


@pytest.mark.parametrize(
    "path", ["/pyodide/../../../etc/passwd", "/pyodide/..", "/cli.py", "/static/app.js", "/x/y"]
)
def test_nothing_outside_the_pages_files_is_served(site: Site, path: str) -> None:
    status, _, body = request(site.server, "GET", path)
    assert (status, body) == (404, f"no file at {path}".encode())


def test_a_request_for_another_host_name_is_refused(site: Site) -> None:
    # A site whose DNS name points at 127.0.0.1 (DNS rebinding) sends its own Host.
    status, _, _ = request(site.server, "GET", "/api/config", headers={"Host": "evil.example"})
    assert status == 421


def test_the_config_names_the_bridge_and_the_dsql_endpoint_and_the_wheels(site: Site) -> None:
    status, _, body = request(site.server, "GET", "/api/config")
    config = json.loads(body)
    assert status == 200
    assert config["targets"] == [
        {
            "id": "postgres",
            "label": "PostgreSQL (through the local WebSocket bridge)",
            "url": f"ws://127.0.0.1:{site.server.bridge_port}/",
            "user": SCRAM_USER.name,
            "database": site.postgres.database,
            "auth": "password",
        },
        {
            "id": "dsql",
            "label": "Aurora DSQL (wss://, IAM token)",
            "url": site.dsql.endpoint.websocket_url,
            "user": "admin",
            "database": "postgres",
            "auth": "token",
        },
    ]
    assert config["wheels"][-1].startswith("pgwire-")


def test_a_token_is_made_for_the_dsql_endpoint_and_never_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for user in ("admin", "reader"):
        status, answer = post_json(site.server, "/api/token", {"user": user})
        assert status == 200
        endpoint = site.dsql.endpoint
        verify_token(
            answer["token"],
            host=endpoint.endpoint,
            user=user,
            region=endpoint.region,
            credentials=TEST_CREDENTIALS,
            now=time.time(),
        )
        assert answer["token"] not in caplog.text
    assert "POST /api/token" in caplog.text


def test_a_token_is_given_only_to_json_requests(site: Site) -> None:
    # A form of another site can send text/plain without a preflight; JSON needs one.
    status, _, body = request(
        site.server, "POST", "/api/token", b'{"user": "admin"}', {"Content-Type": "text/plain"}
    )
    assert (status, json.loads(body)) == (415, {"error": "send JSON"})


def test_a_page_without_dsql_makes_no_token(pyodide_dir: Path) -> None:
    with PageServer(pyodide_dir) as server:
        status, answer = post_json(server, "/api/token", {"user": "admin"})
        assert status == 404
        assert answer == {"error": "this page has no DSQL target (start it with --dsql wss://...)"}
        assert json.loads(request(server, "GET", "/api/config")[2])["targets"] == []


# --------------------------------------------------------------------------------------
# The bridge
# --------------------------------------------------------------------------------------


def _bridge_dsn(site: Site) -> str:
    return f"ws://127.0.0.1:{site.server.bridge_port}/?dbname={site.postgres.database}"


def test_the_blocking_driver_crosses_the_bridge_with_the_pages_origin(site: Site) -> None:
    origin = f"http://127.0.0.1:{site.server.port}"
    with pgwire.connect(
        _bridge_dsn(site),
        user=SCRAM_USER.name,
        password=SCRAM_USER.password,
        websocket_headers=[("Origin", origin)],
    ) as conn:
        assert conn.fetchval("SELECT $1::int + 1", 41) == 42


def test_the_bridge_refuses_a_browser_of_another_origin(site: Site) -> None:
    refused = len(site.server.bridge.refusals) if site.server.bridge else 0
    with pytest.raises(OperationalError, match="403"):
        pgwire.connect(
            _bridge_dsn(site),
            user=SCRAM_USER.name,
            password=SCRAM_USER.password,
            websocket_headers=[("Origin", "https://evil.example")],
        )
    assert site.server.bridge is not None
    assert site.server.bridge.refusals[refused:] == ["origin https://evil.example is not allowed"]


def test_the_bridge_closes_with_the_reason_when_the_database_is_unreachable(
    pyodide_dir: Path,
) -> None:
    port = closed_port()
    with (
        PageServer(pyodide_dir, postgres=PostgresTarget("127.0.0.1", port)) as server,
        pytest.raises(OperationalError) as caught,
    ):
        pgwire.connect(f"ws://127.0.0.1:{server.bridge_port}/", user="x", connect_timeout=10)
    assert f"the bridge could not reach PostgreSQL at 127.0.0.1:{port}" in str(caught.value)
    assert "1011" in str(caught.value)


# --------------------------------------------------------------------------------------
# The page's Python, on CPython
# --------------------------------------------------------------------------------------


def test_the_pages_session_connects_runs_and_reports_errors_as_json(site: Site) -> None:
    async def scenario() -> list[dict[str, Any]]:
        session = PageSession()
        request = {
            "url": f"ws://127.0.0.1:{site.server.bridge_port}/",
            "user": SCRAM_USER.name,
            "database": site.postgres.database,
            "password": SCRAM_USER.password,
            "auth": "password",
        }
        replies = [json.loads(await session.connect(json.dumps(request)))]
        replies.append(json.loads(await session.run("SELECT $1::text AS t, NULL AS n", '["a"]')))
        replies.append(json.loads(await session.run("SELECT 1; SELECT 2 AS two")))
        replies.append(json.loads(await session.run("SELECT nope")))
        replies.append(json.loads(await session.cancel()))
        replies.append(json.loads(await session.close()))
        replies.append(json.loads(await session.run("SELECT 1")))
        return replies

    connected, one, several, failed, cancel, closed, after = anyio.run(scenario)
    assert connected["ok"] and connected["server_version"].startswith("18")
    assert (one["columns"], one["rows"], one["tags"]) == (["t", "n"], [["a", None]], ["SELECT 1"])
    assert (several["columns"], several["rows"], several["tags"]) == (
        ["two"],
        [["2"]],
        ["SELECT 1", "SELECT 1"],
    )
    assert failed == {
        "ok": False,
        "connected": True,
        "error": {
            "class": "UndefinedColumn",
            "text": 'column "nope" does not exist (SQLSTATE 42703)',
            "sqlstate": "42703",
            "message": 'column "nope" does not exist',
            "detail": None,
            "hint": None,
            "position": 8,
        },
    }
    assert cancel["error"]["text"] == "no query is running"
    assert closed == {"ok": True}
    assert after["error"]["text"] == "not connected: connect first"


def test_the_pages_session_refuses_a_url_that_is_not_a_websocket() -> None:
    url = "postgresql://app:secret@db.example/app"
    reply = json.loads(anyio.run(PageSession().connect, json.dumps({"url": url})))
    assert reply["error"] == {
        "class": "InterfaceError",
        "text": "expected a ws:// or wss:// URL, got 'postgresql'",
    }


# --------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------


def test_the_command_serves_the_page_until_interrupted(
    pyodide_dir: Path, pg_server: PostgresServer
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgwire",
            "browser",
            "--dsn",
            pg_server.dsn(SCRAM_USER.name),
            "--port",
            "0",
            "--pyodide",
            str(pyodide_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("pgwire browser page: http://127.0.0.1:"), first
        url = first.split(": ", 1)[1].strip()
        lines = [process.stdout.readline() for _ in range(2)]
        assert f"PostgreSQL {pg_server.host}:{pg_server.port} through the bridge" in lines[0]
        assert lines[1] == "Ctrl-C stops it.\n"
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=15)
        assert process.returncode == 0, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            ["--pyodide", "/nonexistent"],
            "no Pyodide found (looked for pyodide.mjs in /nonexistent)",
        ),
        (["--dsql", "https://x.example/"], "expected a wss://<endpoint>/ URL for DSQL"),
    ],
)
def test_the_command_explains_what_is_wrong(
    pyodide_dir: Path, arguments: list[str], says: str
) -> None:
    if "--pyodide" not in arguments:
        arguments = [*arguments, "--pyodide", str(pyodide_dir)]
    result = subprocess.run(
        [sys.executable, "-m", "pgwire", "browser", "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert says in result.stdout


def test_the_command_saves_the_wheels_for_a_page_of_ones_own(
    tmp_path: Path, pyodide_dir: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pgwire",
            "browser",
            "--save-wheels",
            str(tmp_path),
            "--pyodide",
            str(pyodide_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wheels = browser_wheels(downloaded_wheels(pyodide_dir))
    assert result.stdout.splitlines() == [str(tmp_path / wheel.filename) for wheel in wheels]
    for wheel in wheels:
        assert (tmp_path / wheel.filename).read_bytes() == wheel.data
