"""The page's server: static files, Pyodide, the wheels, the page's settings and IAM tokens.

:class:`PageServer` listens on localhost (plain HTTP, one thread per request) and serves:

* ``/`` the page (``static/``): a SQL box, parameters, a results table, messages;
* ``/pyodide/<file>`` Pyodide itself, from the npm package ``pyodide`` installed here
  (``scripts/install-pyodide``): the page loads nothing from the network;
* ``/wheels/<file>`` pgwire and its pure-Python dependencies (:mod:`pgwire.browser.wheels`);
* ``GET /api/config`` the targets the page may connect to: PostgreSQL through the page's own
  WebSocket bridge (:mod:`pgwire.browser.bridge`), and a DSQL ``wss://`` endpoint;
* ``POST /api/token`` a fresh DSQL IAM token for the page's DSQL target, made here with the
  server's AWS credentials (the page never sees them). A token travels in a response body
  marked ``no-store``, never in a URL, and is never logged.

Files carry an ETag and are revalidated on every load (``no-cache``); answers of the API are
never stored.

Requests are accepted only with a ``Host`` header naming this server (a page of another site
cannot reach it through a DNS name pointed at 127.0.0.1), and the bridge accepts WebSocket
upgrades from this server's origin only.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pgwire.browser.bridge import Bridge
from pgwire.browser.wheels import Wheel, browser_wheels
from pgwire.iam import CredentialsSpec
from pgwire.listener import in_thread, running_tcp

__all__ = ["DsqlTarget", "PageServer", "PostgresTarget", "downloaded_wheels", "find_pyodide"]

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".png": "image/png",
}
#: The page's scripts are its own files; Pyodide compiles WebAssembly; connections go to
#: the WebSocket endpoints the user picks.
_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; "
    "style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_STATIC = ("index.html", "app.js", "style.css")
_MAX_BODY = 4096


def find_pyodide(explicit: str | None = None) -> Path:
    """The folder of the npm package ``pyodide`` (it holds ``pyodide.mjs``): ``explicit``,
    else ``$PGWIRE_PYODIDE``, else where ``scripts/install-pyodide`` puts it
    (``.cache/pyodide-node``, or ``$PGWIRE_PYODIDE_CACHE``) in the current folder or in
    the pgwire checkout this module runs from."""
    import os

    import pgwire

    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get("PGWIRE_PYODIDE"):
        candidates.append(Path(os.environ["PGWIRE_PYODIDE"]))
    else:
        caches = [Path(".cache/pyodide-node")]
        if os.environ.get("PGWIRE_PYODIDE_CACHE"):
            caches.insert(0, Path(os.environ["PGWIRE_PYODIDE_CACHE"]))
        checkout = Path(pgwire.__file__).resolve().parent.parent.parent
        caches.append(checkout / ".cache" / "pyodide-node")
        candidates += [cache / "node_modules" / "pyodide" for cache in caches]
    for folder in candidates:
        if (folder / "pyodide.mjs").is_file():
            return folder.resolve()
    tried = ", ".join(str(folder) for folder in candidates)
    raise FileNotFoundError(
        f"no Pyodide found (looked for pyodide.mjs in {tried}): run scripts/install-pyodide "
        "in a pgwire checkout, or npm install pyodide and pass --pyodide "
        "node_modules/pyodide"
    )


def downloaded_wheels(pyodide: Path) -> Path | None:
    """The wheels ``scripts/install-pyodide`` downloaded for Pyodide's Python, beside the
    npm package (``<cache>/wheels``), if there are any."""
    folder = Path(pyodide).resolve().parent.parent / "wheels"
    return folder if folder.is_dir() else None


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL server the page reaches through the bridge; ``user`` and ``database``
    prefill the page's form (the password is typed there)."""

    host: str
    port: int
    user: str = "postgres"
    database: str = "postgres"


@dataclass(frozen=True)
class DsqlTarget:
    """A DSQL ``wss://`` endpoint (``url``: ``wss://<endpoint>[:port]/``) for which the
    server makes IAM tokens with ``credentials`` (default: botocore's chain for
    ``profile``) in ``region`` (default: from the endpoint's name)."""

    url: str
    region: str | None = None
    credentials: CredentialsSpec = field(default=None, repr=False)
    profile: str | None = None
    user: str = "admin"
    database: str = "postgres"

    @property
    def hostname(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "wss" or not parts.hostname:
            raise ValueError(f"expected a wss://<endpoint>/ URL for DSQL, got {self.url!r}")
        return parts.hostname

    def token(self, user: str) -> str:
        """A fresh IAM token for ``user`` (``admin``: DbConnectAdmin)."""
        from pgwire.iam_params import generate_token

        return generate_token(
            self.hostname,
            region=self.region,
            admin=user == "admin",
            credentials=self.credentials,
            profile=self.profile,
        )


class PageServer:
    """The page, served on ``host:port`` (0: a free port) for the ``with`` block (or
    :meth:`start` and :meth:`stop`), with a bridge to ``postgres`` and tokens for ``dsql``.

    The page installs ``wheels`` (default: :func:`~pgwire.browser.wheels.browser_wheels`
    with the wheels of ``wheel_dir``, or else those downloaded beside ``pyodide``)."""

    def __init__(
        self,
        pyodide: Path,
        *,
        postgres: PostgresTarget | None = None,
        dsql: DsqlTarget | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        wheels: list[Wheel] | None = None,
        wheel_dir: Path | None = None,
    ) -> None:
        if dsql is not None:
            _ = dsql.hostname  # a wrong URL fails here, not at the first token
        self.pyodide = Path(pyodide)
        self.postgres = postgres
        self.dsql = dsql
        if wheels is None:
            wheels = browser_wheels(wheel_dir or downloaded_wheels(self.pyodide))
        self.wheels = {wheel.filename: wheel for wheel in wheels}
        self._http = _HTTPServer((host, port), _Handler)
        self._http.page = self
        self.host = host
        self.port: int = self._http.server_address[1]
        self.bridge: Bridge | None = None
        if postgres is not None:
            self.bridge = Bridge((postgres.host, postgres.port), self.origins)
        self.bridge_port: int | None = None
        #: How many IAM tokens were handed out.
        self.tokens_made = 0
        self._stack = contextlib.ExitStack()

    def __repr__(self) -> str:
        return f"<pgwire.browser.PageServer {self.url}>"

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{self.host}:{self.port}/"

    @property
    def origins(self) -> frozenset[str]:
        """The origins the page is served from."""
        names = {self.host, "localhost"} if self.host == "127.0.0.1" else {self.host}
        return frozenset(f"http://{name}:{self.port}" for name in names)

    def config(self) -> dict[str, Any]:
        """What ``GET /api/config`` answers: the targets and the wheels to install."""
        targets: list[dict[str, Any]] = []
        if self.postgres is not None and self.bridge_port is not None:
            targets.append(
                {
                    "id": "postgres",
                    "label": "PostgreSQL (through the local WebSocket bridge)",
                    "url": f"ws://{self.host}:{self.bridge_port}/",
                    "user": self.postgres.user,
                    "database": self.postgres.database,
                    "auth": "password",
                }
            )
        if self.dsql is not None:
            targets.append(
                {
                    "id": "dsql",
                    "label": "Aurora DSQL (wss://, IAM token)",
                    "url": self.dsql.url,
                    "user": self.dsql.user,
                    "database": self.dsql.database,
                    "auth": "token",
                }
            )
        return {"targets": targets, "wheels": list(self.wheels)}

    def start(self) -> PageServer:
        """Start the bridge and the HTTP server in background threads."""
        if self.bridge is not None:
            self.bridge_port = self._stack.enter_context(
                in_thread(running_tcp(self.bridge.handle, self.host, 0))
            )
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        self._stack.callback(thread.join, 5)
        self._stack.callback(self._http.shutdown)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._stack.close()
        self._http.server_close()

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------
    # What each path answers
    # ----------------------------------------------------------------------------------

    def static_file(self, path: str) -> StaticFile | None:
        """The file at ``path`` (a URL path), or ``None``."""
        folder, _, name = path.lstrip("/").rpartition("/")
        if folder == "" and name == "":
            name = "index.html"
        if name in ("", ".", "..") or "\\" in name:
            return None
        content: bytes | None = None
        if folder == "" and name in _STATIC:
            content = (importlib.resources.files("pgwire.browser") / "static" / name).read_bytes()
        elif folder == "pyodide" and (self.pyodide / name).is_file():
            content = (self.pyodide / name).read_bytes()
        elif folder == "wheels" and name in self.wheels:
            content = self.wheels[name].data
        if content is None:
            return None
        return StaticFile(content, _content_type(name), f'"{hashlib.sha256(content).hexdigest()}"')

    def token(self, body: dict[str, Any]) -> str:
        """A token for the user ``body`` names (raises ``LookupError`` without DSQL)."""
        if self.dsql is None:
            raise LookupError("this page has no DSQL target (start it with --dsql wss://...)")
        user = str(body.get("user") or self.dsql.user)
        token = self.dsql.token(user)
        self.tokens_made += 1
        return token


@dataclass(frozen=True)
class StaticFile:
    """A file the server sends, its type and its ETag (its hash): the browser keeps it and
    asks again with If-None-Match, so a page loaded again reuses Pyodide (and the
    WebAssembly compiled from it) instead of fetching it again."""

    content: bytes = field(repr=False)
    content_type: str
    etag: str


def _content_type(name: str) -> str:
    return _CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    page: PageServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "pgwire-browser"
    # Keep-alive, and responses the browser caches (every answer has a Content-Length).
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Paths only: the query string is dropped, and tokens never travel in either.
        logger.debug("%s %s", self.command, self.path.partition("?")[0])

    def _host_allowed(self) -> bool:
        page = self.server.page
        allowed = {origin.partition("//")[2] for origin in page.origins}
        if self.headers.get("Host", "") in allowed:
            return True
        self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unknown Host", "text/plain")
        return False

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, etag: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag is None:
            self.send_header("Cache-Control", "no-store")
        else:
            self.send_header("Cache-Control", "no-cache")
            self.send_header("ETag", etag)
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: HTTPStatus, value: dict[str, Any]) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        if not self._host_allowed():
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/api/config":
            self._send_json(HTTPStatus.OK, self.server.page.config())
            return
        found = self.server.page.static_file(path)
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, f"no file at {path}".encode(), "text/plain")
            return
        if found.etag in self.headers.get("If-None-Match", ""):
            self._send(HTTPStatus.NOT_MODIFIED, b"", found.content_type, found.etag)
            return
        self._send(HTTPStatus.OK, found.content, found.content_type, found.etag)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._host_allowed():
            return
        path = urllib.parse.urlsplit(self.path).path
        if path != "/api/token":
            self._send(HTTPStatus.NOT_FOUND, f"nothing to POST at {path}".encode(), "text/plain")
            return
        # A form of another site can POST here too (no preflight for text/plain): only
        # JSON requests of the page itself are answered.
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._send_json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            token = self.server.page.token(body)
        except LookupError as exc:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": str(exc)})
            return
        except Exception as exc:
            # The message of pgwire's token errors names what is missing, never a secret.
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"{type(exc).__name__}: {exc}"})
            return
        self._send_json(HTTPStatus.OK, {"token": token})
