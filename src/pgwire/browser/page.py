"""What the browser page runs inside Pyodide: one connection, its queries, their cancellation.

The page's JavaScript makes one :class:`PageSession` and calls its coroutines with JSON
strings, and gets JSON strings back (no Python object crosses to JavaScript, so none leaks):
:meth:`~PageSession.connect`, :meth:`~PageSession.run`, :meth:`~PageSession.cancel` and
:meth:`~PageSession.close`. Every failure comes back as ``{"ok": false, "error": {...}}``
with the error's class, SQLSTATE, message, detail and hint, never as an exception, so the
page always has something to show.

The connection is pgwire's async driver over the browser's WebSocket (the driver picks
:mod:`pgwire.transports.pyodide` under Pyodide). For DSQL the password is a callable that
asks the page's server for a fresh IAM token on every physical connection (``POST
api/token``), or the token the user pasted. Passwords and tokens are never logged, returned
or put in an error message. The module imports on any Python (the page's server and the
tests use :func:`display`); ``pyodide`` is imported only when a token is fetched.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pgwire.connection import AsyncConnection, connect_async
from pgwire.errors import Error, InterfaceError, OperationalError, PostgresError

__all__ = ["MAX_ROWS", "PageSession", "display"]

#: Rows shown at most; the rest are counted.
MAX_ROWS = 1000
_ERROR_FIELDS = ("sqlstate", "message", "detail", "hint", "position")


def display(value: Any) -> str | None:
    """A value as the results table shows it (``None`` for SQL NULL): PostgreSQL's
    spelling for booleans, bytes and timestamps, JSON for JSON values, ``str`` else."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _error(exc: BaseException) -> dict[str, Any]:
    """What the page shows of a failure: the class and the server's fields, or the text."""
    described: dict[str, Any] = {"class": type(exc).__name__, "text": str(exc)}
    if isinstance(exc, PostgresError):
        for name in _ERROR_FIELDS:
            described[name] = getattr(exc, name)
    return {"ok": False, "error": described}


def _reply(value: dict[str, Any]) -> str:
    return json.dumps(value)


async def _server_token(user: str) -> str:
    """A DSQL IAM token for ``user`` from the page's server (``POST api/token``)."""
    from pyodide.http import pyfetch

    response = await pyfetch(
        "api/token",
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"user": user}),
        cache="no-store",
    )
    answer = await response.json()
    if not response.ok:
        raise InterfaceError(
            f"the page's server made no IAM token (HTTP {response.status}): "
            f"{answer.get('error', 'no reason given')}"
        )
    token: str = answer["token"]
    return token


class PageSession:
    """The page's connection. ``token_source(user)`` makes DSQL tokens (default: ask the
    page's server); the tests of the module give their own."""

    def __init__(self, token_source: Callable[[str], Awaitable[str]] = _server_token) -> None:
        self._token_source = token_source
        self.conn: AsyncConnection | None = None
        self._running = False

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<pgwire.browser.page.PageSession {state}>"

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.closed

    async def connect(self, request: str) -> str:
        """Connect as ``request`` (JSON) says: ``url`` (``ws://`` or ``wss://``), ``user``,
        ``database``, ``auth`` (``password`` or ``token``), ``password`` (or the token; empty
        with ``auth: token``: ask the page's server), ``subprotocols``."""
        try:
            options = json.loads(request)
            await self.close()
            started = time.perf_counter()
            self.conn = await connect_async(None, **self._params(options))
            return _reply(
                {
                    "ok": True,
                    "server_version": self.conn.server_version,
                    "backend_pid": self.conn.backend_pid,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
        except Exception as exc:
            return _reply(_error(exc))

    def _params(self, options: dict[str, Any]) -> dict[str, Any]:
        url = str(options.get("url") or "").strip()
        if not url.startswith(("ws://", "wss://")):
            # Only the scheme is named: a mistyped URL may hold a password.
            scheme = url.partition("://")[0][:20] if "://" in url else "no scheme"
            raise InterfaceError(f"expected a ws:// or wss:// URL, got {scheme!r}")
        user = str(options.get("user") or "")
        password: str | Callable[[], Awaitable[str]] | None = options.get("password") or None
        if password is None and options.get("auth") == "token":
            source = self._token_source

            def password() -> Awaitable[str]:
                return source(user)

        return {
            "websocket_url": url,
            "websocket_subprotocols": list(options.get("subprotocols") or ()),
            "user": user,
            "dbname": str(options.get("database") or "") or None,
            "password": password,
            # Over wss:// the browser runs TLS; over a ws:// bridge PostgreSQL's own TLS
            # would need Pyodide's ssl package.
            "sslmode": "disable",
            "connect_timeout": float(options.get("timeout") or 15),
            "application_name": "pgwire browser page",
        }

    async def run(self, sql: str, params: str = "") -> str:
        """Run ``sql`` with ``params`` (a JSON array, bound to ``$1, $2, ...``; empty: none,
        and the SQL may hold several statements). The reply has the last result that has
        columns (``columns``, ``rows`` as display strings, ``row_count``), every command
        tag, and the time the query took."""
        try:
            values = json.loads(params) if params.strip() else []
            if not isinstance(values, list):
                raise InterfaceError(
                    f'parameters must be a JSON array such as [1, "text"], got {params[:60]!r}'
                )
            if self.conn is None or self.conn.closed:
                raise InterfaceError("not connected: connect first")
            self._running = True
            started = time.perf_counter()
            try:
                if values:
                    results = await self.conn.execute_results(sql, [values])
                else:
                    results = await self.conn.execute_results(sql)
            finally:
                self._running = False
            elapsed = round((time.perf_counter() - started) * 1000, 1)
        except Error as exc:
            return _reply({**_error(exc), "connected": self.connected})
        except Exception as exc:
            return _reply(_error(exc))
        shown = next((r for r in reversed(results) if r.columns is not None), None)
        reply: dict[str, Any] = {
            "ok": True,
            "tags": [r.tag for r in results if r.tag],
            "ms": elapsed,
            "columns": None,
        }
        if shown is not None and shown.columns is not None:
            reply["columns"] = [column.name for column in shown.columns]
            reply["rows"] = [[display(v) for v in row] for row in shown.rows[:MAX_ROWS]]
            reply["row_count"] = len(shown.rows)
        return _reply(reply)

    async def cancel(self) -> str:
        """Ask the server to cancel the running query (a CancelRequest on a WebSocket of
        its own); the query then fails with QueryCanceled (57014) and the connection stays."""
        try:
            if self.conn is None or not self._running:
                raise InterfaceError("no query is running")
            await self.conn.cancel()
            return _reply({"ok": True})
        except Exception as exc:
            return _reply(_error(exc))

    async def close(self) -> str:
        """Close the connection, if any."""
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except (OperationalError, OSError) as exc:
                return _reply(_error(exc))
        return _reply({"ok": True})
