"""A mock PostgreSQL server: answer real clients' queries from Python handlers or a script.

Built on the server role of the sans-IO core (:class:`pgwire.protocol.ServerConnection`) and
anyio, so it runs on asyncio and trio.  It speaks enough of the protocol for real drivers
(psql/libpq, psycopg and its pipeline mode, asyncpg, pg8000, pgwire): trust, cleartext, MD5
and SCRAM-SHA-256 authentication, SCRAM-SHA-256-PLUS over TLS, TLS after SSLRequest and
direct TLS, the simple and the extended protocol (Parse/Describe answered with
ParameterDescription and RowDescription), text and binary result formats, transaction status
for BEGIN/COMMIT/ROLLBACK, and CancelRequest.

A handler is ``async def handler(query: str, params: tuple) -> result``.  It may return:

* a :class:`Result` (rows, column names and types, command tag);
* a list of tuples or dicts (the rows; columns are text, named from the dict keys);
* a string (a command tag such as ``"CREATE TABLE"``) or ``None`` (no rows);
* or raise (or return) a :class:`pgwire.errors.PostgresError` subclass, which the client
  receives as an ErrorResponse with that class's SQLSTATE.

For a Describe of a prepared statement (before any parameter is bound) the handler is called
with every parameter ``None`` (a :class:`Describing` tuple), only to learn the result's
columns: keep handlers free of side effects, or check for ``Describing``.

This module is driver-layer code: it does I/O.  The protocol rules live in the core.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from pgwire.errors import PostgresError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    Authenticated,
    AuthenticationFailed,
    AuthMethod,
    BackendKeyData,
    BackendMessage,
    Bind,
    BindComplete,
    CancelRequest,
    Close,
    CloseComplete,
    CommandComplete,
    ConnectionClosed,
    DataRow,
    Describe,
    DirectTLSHandshake,
    EmptyQueryResponse,
    EncryptionResponse,
    ErrorResponse,
    Execute,
    FieldDescription,
    Flush,
    FunctionCall,
    GSSENCRequest,
    MD5Auth,
    NoData,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordAuth,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    ScramAuth,
    ScramSecret,
    ServerConnection,
    ServerEvent,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
    TrustAuth,
    tls_server_end_point,
)
from pgwire.types import BINARY, TypeRegistry, default_registry, encode_unknown
from pgwire.types import oids as _oids

__all__ = [
    "Column",
    "Describing",
    "Handler",
    "MockServer",
    "ReplayStream",
    "Result",
    "Script",
]

Handler = Callable[[str, tuple[Any, ...]], Awaitable[Any] | Any]
AuthName = Literal["trust", "password", "md5", "scram-sha-256"]

#: Type names a column or parameter may be given by, with PostgreSQL's usual aliases.
TYPE_OIDS: dict[str, int] = {
    name.lower(): value for name, value in vars(_oids).items() if name.isupper()
}
TYPE_OIDS.update(
    {
        "int": _oids.INT4,
        "integer": _oids.INT4,
        "smallint": _oids.INT2,
        "bigint": _oids.INT8,
        "boolean": _oids.BOOL,
        "real": _oids.FLOAT4,
        "float": _oids.FLOAT8,
        "double precision": _oids.FLOAT8,
        "decimal": _oids.NUMERIC,
        "character varying": _oids.VARCHAR,
    }
)
_TYPE_SIZES = {
    _oids.BOOL: 1,
    _oids.INT2: 2,
    _oids.INT4: 4,
    _oids.INT8: 8,
    _oids.OID: 4,
    _oids.FLOAT4: 4,
    _oids.FLOAT8: 8,
    _oids.DATE: 4,
    _oids.TIME: 8,
    _oids.TIMESTAMP: 8,
    _oids.TIMESTAMPTZ: 8,
    _oids.TIMETZ: 12,
    _oids.INTERVAL: 16,
    _oids.UUID: 16,
}
_TEXT_LIKE = frozenset({_oids.TEXT, _oids.VARCHAR, _oids.BPCHAR, _oids.NAME, _oids.UNKNOWN})
_PARAM = re.compile(r"\$(\d+)(?:\s*::\s*([A-Za-z_][A-Za-z0-9_]*))?")
DEFAULT_PARAMETERS: Mapping[str, str] = {
    "server_version": "18.0",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "is_superuser": "off",
}


def type_oid(type_: str | int) -> int:
    """The OID of a type given by OID or by name (``int4``, ``integer``, ``text``, ...)."""
    if isinstance(type_, int):
        return type_
    try:
        return TYPE_OIDS[type_.lower()]
    except KeyError:
        raise ValueError(f"unknown type name {type_!r}; give its OID instead") from None


@dataclass(frozen=True)
class Column:
    """A result column: its name and type (a name such as ``int4``, or an OID)."""

    name: str
    type: str | int = "text"

    @property
    def oid(self) -> int:
        """The type OID."""
        return type_oid(self.type)


ColumnSpec = str | tuple[str, str | int] | Column


@dataclass
class Result:
    """What a query returns: rows, their columns, and the command tag.

    ``columns`` may be names (type text), ``(name, type)`` pairs, :class:`Column` objects,
    or a mapping of name to type; when left out, dict rows name them (as text) and tuple
    rows get ``?column?``.  ``tag`` defaults to ``SELECT <number of rows>``.
    """

    rows: Sequence[Sequence[Any] | Mapping[str, Any]] = ()
    columns: Sequence[ColumnSpec] | Mapping[str, str | int] | None = None
    tag: str | None = None
    _columns: tuple[Column, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._columns = _columns(self.columns, self.rows)

    @property
    def described(self) -> tuple[Column, ...]:
        """The columns, normalized."""
        return self._columns

    def tuples(self) -> Iterator[Sequence[Any]]:
        """The rows as sequences in column order."""
        names = [c.name for c in self._columns]
        for row in self.rows:
            yield [row.get(n) for n in names] if isinstance(row, Mapping) else row

    @property
    def command_tag(self) -> str:
        """The CommandComplete tag."""
        return self.tag if self.tag is not None else f"SELECT {len(self.rows)}"


def _columns(
    spec: Sequence[ColumnSpec] | Mapping[str, str | int] | None,
    rows: Sequence[Sequence[Any] | Mapping[str, Any]],
) -> tuple[Column, ...]:
    if isinstance(spec, Mapping):
        return tuple(Column(name, type_) for name, type_ in spec.items())
    if spec is not None:
        return tuple(
            c if isinstance(c, Column) else Column(c) if isinstance(c, str) else Column(*c)
            for c in spec
        )
    if not rows:
        return ()
    first = rows[0]
    if isinstance(first, Mapping):
        return tuple(Column(str(name)) for name in first)
    return tuple(Column("?column?") for _ in first)


class Describing(tuple[Any, ...]):
    """The parameters a handler gets when called only to describe a prepared statement's
    result: all ``None``, before the client bound any value."""


@dataclass
class _Command:
    """A handler's answer that is only a command tag."""

    tag: str


class Script:
    """A scripted conversation: the queries expected, in order, and what each returns.

    ``Script([("SELECT 1", Result([(1,)], [("n", "int4")])), ("DROP x", errors.UndefinedTable(
    "no x"))])`` is a handler: each call must bring the next query (compared after collapsing
    whitespace, case kept), else the client gets an error naming both.  ``remaining`` tells
    what was never asked.
    """

    def __init__(self, steps: Sequence[tuple[str, Any]]) -> None:
        self._steps = list(steps)
        self._position = 0

    @property
    def remaining(self) -> list[str]:
        """The queries not asked yet."""
        return [query for query, _ in self._steps[self._position :]]

    async def __call__(self, query: str, params: tuple[Any, ...]) -> Any:
        if isinstance(params, Describing):
            # A Describe before Bind: answer without consuming the step.
            return self._peek(query)
        answer = self._peek(query)
        self._position += 1
        return answer

    def _peek(self, query: str) -> Any:
        if self._position >= len(self._steps):
            raise _mock_error(f"the script is over; unexpected query {query!r}")
        expected, answer = self._steps[self._position]
        if " ".join(expected.split()) != " ".join(query.split()):
            raise _mock_error(f"the script expected {expected!r}, got {query!r}")
        return answer


def _mock_error(message: str, sqlstate: str = "XX000") -> PostgresError:
    return PostgresError({"S": "ERROR", "V": "ERROR", "C": sqlstate, "M": message})


def split_statements(sql: str) -> list[str]:
    """Cut a simple-query string at top-level semicolons (quotes, comments, $$ respected)."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:
                end = sql.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif ch == "$" and (tag := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            end = sql.find(tag.group(), i + len(tag.group()))
            i = n if end == -1 else end + len(tag.group())
        elif ch == ";":
            statements.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:])
    return [s for s in statements if _strip_comments(s)]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL).strip()


def _text(value: Any, oid: int) -> bytes:
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"\\x" + bytes(value).hex().encode()
    if oid in (_oids.JSON, _oids.JSONB) and not isinstance(value, str):
        return json.dumps(value).encode()
    if isinstance(value, datetime):
        return value.isoformat(" ").encode()
    if isinstance(value, (date, time)):
        return value.isoformat().encode()
    return encode_unknown(value)


@dataclass
class _Portal:
    sql: str
    params: tuple[Any, ...]
    formats: tuple[int, ...]
    result: Result | _Command | None = None
    position: int = 0


@dataclass
class _Statement:
    sql: str
    param_oids: tuple[int, ...]


class ReplayStream(anyio.abc.ByteStream):
    """A byte stream that first returns bytes already read (a direct-TLS ClientHello)."""

    def __init__(self, stream: anyio.abc.ByteStream, data: bytes) -> None:
        self._stream = stream
        self._data = data

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._data:
            data, self._data = self._data, b""
            return data
        return await self._stream.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._stream.send(item)

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._stream.extra_attributes


class MockServer:
    """A PostgreSQL server whose answers come from ``handler`` (a function or a `Script`).

    ``users`` maps user names to passwords (``"*"`` matches any user); without it every user
    is trusted.  ``auth`` picks the password method.  ``certfile``/``keyfile`` turn on TLS
    (after SSLRequest, and direct TLS with ALPN ``postgresql``); SCRAM-SHA-256-PLUS is then
    offered on TLS connections.  ``parameters`` are reported with ParameterStatus, on top of
    `DEFAULT_PARAMETERS`.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        users: Mapping[str, str] | None = None,
        auth: AuthName = "scram-sha-256",
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        parameters: Mapping[str, str] | None = None,
        registry: TypeRegistry | None = None,
    ) -> None:
        self.handler = handler
        self.users = users
        self.auth = auth
        self.parameters = {**DEFAULT_PARAMETERS, **(parameters or {})}
        self.registry = registry or default_registry()
        self.ssl_context: ssl.SSLContext | None = None
        self.channel_binding: bytes | None = None
        if certfile is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certfile, keyfile)
            context.set_alpn_protocols(["postgresql"])
            self.ssl_context = context
            pem = Path(certfile).read_text()
            first = pem[pem.index("-----BEGIN CERTIFICATE-----") :]
            end = "-----END CERTIFICATE-----"
            der = ssl.PEM_cert_to_DER_cert(first[: first.index(end) + len(end)])
            self.channel_binding = tls_server_end_point(der)
        self._sessions: dict[tuple[int, bytes], _Session] = {}
        self._next_pid = 1000
        #: How many connections were served, and how many are open.
        self.connections = 0

    # ----------------------------------------------------------------------------------
    # Serving
    # ----------------------------------------------------------------------------------

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        """Serve on ``host:port`` until cancelled."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        await listener.serve(self.handle)

    async def serve_unix(self, path: str | Path) -> None:
        """Serve on the Unix socket ``path`` until cancelled."""
        listener = await anyio.create_unix_listener(path)
        await listener.serve(self.handle)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
        """Serve on ``host:port`` (0: a free port) for the ``async with`` block; yield the port."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        bound = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self.handle)
            yield bound
            group.cancel_scope.cancel()

    @asynccontextmanager
    async def running_unix(self, path: str | Path) -> AsyncIterator[str]:
        """Serve on the Unix socket ``path`` for the ``async with`` block; yield the path."""
        listener = await anyio.create_unix_listener(path)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self.handle)
            yield str(path)
            group.cancel_scope.cancel()

    @contextmanager
    def running_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Iterator[int]:
        """Serve from a background thread for the ``with`` block (for blocking code); yield the
        port."""
        from anyio.from_thread import start_blocking_portal

        with (
            start_blocking_portal(backend) as portal,
            portal.wrap_async_context_manager(self.running(host, port)) as bound,
        ):
            yield bound

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        """Serve one client connection on ``stream`` until it ends."""
        self.connections += 1
        session = _Session(self, stream)
        try:
            await session.run()
        except ProtocolError as exc:
            await session.fail(str(exc))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError, OSError):
            pass
        finally:
            self._sessions.pop(session.key, None)
            await session.stream.aclose()

    def _register(self, session: _Session) -> BackendKeyData:
        self._next_pid += 1
        size = 32 if session.conn.protocol_version >= (3, 2) else 4
        key = BackendKeyData(self._next_pid, os.urandom(size))
        session.key = (key.process_id, key.secret_key)
        self._sessions[session.key] = session
        return key

    def _cancel(self, request: CancelRequest) -> None:
        session = self._sessions.get((request.process_id, request.secret_key))
        if session is not None and session.running is not None:
            session.cancelled = True
            session.running.cancel()

    def _auth_for(self, user: str, tls: bool) -> AuthMethod | None:
        if self.users is None or self.auth == "trust":
            return TrustAuth()
        password = self.users.get(user, self.users.get("*"))
        if password is None:
            return None
        if self.auth == "password":
            return PasswordAuth(password)
        if self.auth == "md5":
            return MD5Auth(password, os.urandom(4))
        secret = ScramSecret.from_password(password, os.urandom(16))
        binding = self.channel_binding if tls else None
        return ScramAuth(secret, secrets.token_urlsafe(18), binding)


class _Session:
    """One client connection: the core plus the statements, portals and the handler calls."""

    def __init__(self, server: MockServer, stream: anyio.abc.ByteStream) -> None:
        self.server = server
        self.stream: anyio.abc.ByteStream = stream
        self.conn = ServerConnection()
        self.out = bytearray()
        self.tls = False
        self.statements: dict[str, _Statement] = {}
        self.portals: dict[str, _Portal] = {}
        self.key: tuple[int, bytes] = (0, b"")
        self.running: anyio.CancelScope | None = None
        self.cancelled = False
        self.status: Literal["I", "T", "E"] = "I"

    def send(self, *messages: BackendMessage | EncryptionResponse) -> None:
        self.out += self.conn.send(*messages)

    async def flush(self) -> None:
        self.out += self.conn.data_to_send()
        if self.out:
            data = bytes(self.out)
            self.out.clear()
            await self.stream.send(data)

    async def fail(self, message: str) -> None:
        """Report a protocol violation as PostgreSQL does (FATAL 08P01), best effort."""
        error = ErrorResponse({"S": "FATAL", "V": "FATAL", "C": "08P01", "M": message})
        self.out += error.encode()
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self.flush()

    async def run(self) -> None:
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                await self.flush()
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                self.conn.receive_data(data)
                continue
            if not await self.on_event(event):
                await self.flush()
                return

    async def on_event(self, event: ServerEvent) -> bool:
        """Handle one event; ``False`` ends the connection."""
        if isinstance(event, (ConnectionClosed, Terminate, AuthenticationFailed)):
            return False
        if isinstance(event, (SSLRequest, GSSENCRequest)):
            return await self.on_encryption_request(event)
        if isinstance(event, DirectTLSHandshake):
            if self.server.ssl_context is None:
                return False
            await self.start_tls(ReplayStream(self.stream, event.data))
        elif isinstance(event, CancelRequest):
            self.server._cancel(event)
            return False
        elif isinstance(event, StartupMessage):
            return self.on_startup()
        elif isinstance(event, Authenticated):
            key = self.server._register(self)
            params = [ParameterStatus(k, v) for k, v in self.server.parameters.items()]
            user = ParameterStatus("session_authorization", self.conn.user)
            self.send(*params, user, key, ReadyForQuery("I"))
        elif isinstance(event, Query):
            await self.on_query(event.sql)
        elif isinstance(event, Parse):
            self.statements[event.name] = _Statement(event.sql, event.param_oids)
            self.send(ParseComplete())
        elif isinstance(event, Bind):
            self.on_bind(event)
        elif isinstance(event, Describe):
            await self.on_describe(event)
        elif isinstance(event, Execute):
            await self.on_execute(event)
        elif isinstance(event, Close):
            (self.statements if event.kind == "S" else self.portals).pop(event.name, None)
            self.send(CloseComplete())
        elif isinstance(event, Sync):
            self.portals.clear()
            self.send(ReadyForQuery(self.status))
        elif isinstance(event, Flush):
            await self.flush()
        elif isinstance(event, FunctionCall):
            self.send_error(_mock_error("the mock server has no functions", "0A000"))
            self.send(ReadyForQuery(self.status))
        return True

    async def on_encryption_request(self, event: SSLRequest | GSSENCRequest) -> bool:
        accept = isinstance(event, SSLRequest) and self.server.ssl_context is not None
        self.send(EncryptionResponse("ssl" if isinstance(event, SSLRequest) else "gss", accept))
        await self.flush()
        if accept:
            await self.start_tls(self.stream)
        return True

    async def start_tls(self, stream: anyio.abc.ByteStream) -> None:
        assert self.server.ssl_context is not None
        self.stream = await TLSStream.wrap(
            stream, server_side=True, ssl_context=self.server.ssl_context, standard_compatible=False
        )
        self.tls = True

    def on_startup(self) -> bool:
        method = self.server._auth_for(self.conn.user, self.tls)
        if method is None:
            user = self.conn.user
            self.send(
                ErrorResponse(
                    {
                        "S": "FATAL",
                        "V": "FATAL",
                        "C": "28P01",
                        "M": f'password authentication failed for user "{user}"',
                    }
                )
            )
            return False
        self.out += self.conn.authenticate(method)
        return True

    # ----------------------------------------------------------------------------------
    # Queries
    # ----------------------------------------------------------------------------------

    def send_error(self, exc: PostgresError) -> None:
        fields = dict(exc.fields)
        fields.setdefault("S", "ERROR")
        fields.setdefault("V", fields["S"])
        fields.setdefault("C", exc.sqlstate or "XX000")
        fields.setdefault("M", str(exc))
        if self.status == "T":
            self.status = "E"
        self.send(ErrorResponse(fields))

    async def call(self, sql: str, params: tuple[Any, ...]) -> Result | _Command:
        """Run the handler (transaction control is answered here) and normalize its answer."""
        words = _strip_comments(sql).split(None, 2)
        first = words[0].upper() if words else ""
        if first in ("BEGIN", "START"):
            self.status = "T" if self.status == "I" else self.status
            return _Command("BEGIN" if first == "BEGIN" else "START TRANSACTION")
        if first in ("COMMIT", "END", "ROLLBACK", "ABORT") and (
            len(words) < 2 or words[1].upper() in ("WORK", "TRANSACTION")
        ):
            failed = self.status == "E"
            self.status = "I"
            return _Command("ROLLBACK" if failed or first in ("ROLLBACK", "ABORT") else "COMMIT")
        if self.status == "E":
            raise PostgresError(
                {
                    "S": "ERROR",
                    "V": "ERROR",
                    "C": "25P02",
                    "M": "current transaction is aborted, commands ignored until end of "
                    "transaction block",
                }
            )
        self.cancelled = False
        with anyio.CancelScope() as scope:
            self.running = scope
            answer = self.server.handler(sql, params)
            if inspect.isawaitable(answer):
                answer = await answer
        self.running = None
        if scope.cancelled_caught or self.cancelled:
            raise _mock_error("canceling statement due to user request", "57014")
        return _normalize(answer, first)

    async def run_guarded(self, sql: str, params: tuple[Any, ...]) -> Result | _Command | None:
        try:
            return await self.call(sql, params)
        except PostgresError as exc:
            self.send_error(exc)
        except Exception as exc:  # a handler's bug becomes the client's error, not a hang
            self.send_error(_mock_error(f"{type(exc).__name__}: {exc}"))
        return None

    async def on_query(self, sql: str) -> None:
        statements = split_statements(sql)
        if not statements:
            self.send(EmptyQueryResponse())
        for statement in statements:
            result = await self.run_guarded(statement.strip(), ())
            if result is None:
                break
            if isinstance(result, Result):
                self.send(self.row_description(result, ()))
                try:
                    self.send_rows(result, ())
                except PostgresError as exc:
                    self.send_error(exc)
                    break
            self.send(CommandComplete(_tag(result)))
        self.send(ReadyForQuery(self.status))

    def row_description(self, result: Result, formats: tuple[int, ...]) -> RowDescription:
        columns = result.described
        return RowDescription(
            tuple(
                FieldDescription(
                    c.name,
                    type_oid=c.oid,
                    type_size=_TYPE_SIZES.get(c.oid, -1),
                    format=_format(formats, i),
                )
                for i, c in enumerate(columns)
            )
        )

    def send_rows(
        self, result: Result, formats: tuple[int, ...], start: int = 0, limit: int = 0
    ) -> int:
        """Send the rows from ``start`` (at most ``limit``, 0: all); return how many."""
        columns = result.described
        oids = [c.oid for c in columns]
        encoders: list[Callable[[Any], bytes]] = []
        for i, oid in enumerate(oids):
            if _format(formats, i) == BINARY and oid not in _TEXT_LIKE:
                fmt, encode = self.server.registry.encoder(oid)
                if fmt != BINARY:
                    raise _mock_error(f"no binary output for type oid {oid}", "0A000")
                encoders.append(encode)
            else:
                # Text types read the same in both formats.
                encoders.append(partial(_text, oid=oid))
        rows = list(result.tuples())[start:]
        sent = 0
        for row in rows[:limit] if limit > 0 else rows:
            if len(row) != len(columns):
                raise _mock_error(f"a row has {len(row)} values for {len(columns)} columns")
            try:
                values = tuple(
                    None if value is None else encode(value)
                    for value, encode in zip(row, encoders, strict=True)
                )
            except Exception as exc:  # a value the column's type cannot hold
                raise _mock_error(f"cannot send a row: {exc}", "22000") from None
            self.send(DataRow(values))
            sent += 1
        return sent

    def on_bind(self, event: Bind) -> None:
        statement = self.statements.get(event.statement)
        if statement is None:
            message = f'prepared statement "{event.statement}" does not exist'
            self.send_error(_mock_error(message, "26000"))
            return
        oids = _param_oids(statement)
        try:
            params = tuple(
                None
                if value is None
                else self.server.registry.decoder(
                    oids[i] if i < len(oids) else 0, _format(event.param_formats, i)
                )(value)
                for i, value in enumerate(event.params)
            )
        except Exception as exc:  # a codec refusing the client's bytes
            self.send_error(_mock_error(f"invalid parameter: {exc}", "22P02"))
            return
        self.portals[event.portal] = _Portal(statement.sql, params, event.result_formats)
        self.send(BindComplete())

    async def on_describe(self, event: Describe) -> None:
        if event.kind == "S":
            statement = self.statements.get(event.name)
            if statement is None:
                message = f'prepared statement "{event.name}" does not exist'
                self.send_error(_mock_error(message, "26000"))
                return
            oids = _param_oids(statement)
            result = await self.run_guarded(statement.sql, Describing((None,) * len(oids)))
            if result is None:
                return
            self.send(ParameterDescription(oids))
            self.describe_result(result, ())
            return
        portal = self.portals.get(event.name)
        if portal is None:
            self.send_error(_mock_error(f'portal "{event.name}" does not exist', "34000"))
            return
        portal.result = await self.run_guarded(portal.sql, portal.params)
        if portal.result is not None:
            self.describe_result(portal.result, portal.formats)

    def describe_result(self, result: Result | _Command, formats: tuple[int, ...]) -> None:
        if isinstance(result, Result):
            self.send(self.row_description(result, formats))
        else:
            self.send(NoData())

    async def on_execute(self, event: Execute) -> None:
        portal = self.portals.get(event.portal)
        if portal is None:
            self.send_error(_mock_error(f'portal "{event.portal}" does not exist', "34000"))
            return
        if portal.result is None:
            portal.result = await self.run_guarded(portal.sql, portal.params)
            if portal.result is None:
                return
        result = portal.result
        if isinstance(result, Result):
            try:
                portal.position += self.send_rows(
                    result, portal.formats, portal.position, event.max_rows
                )
            except PostgresError as exc:
                self.send_error(exc)
                return
            if portal.position < len(result.rows):
                self.send(PortalSuspended())
                return
        self.send(CommandComplete(_tag(result)))


def _format(formats: tuple[int, ...], index: int) -> int:
    if not formats:
        return 0
    return formats[0] if len(formats) == 1 else formats[index]


def _param_oids(statement: _Statement) -> tuple[int, ...]:
    """The parameter types: the client's, else a ``$n::type`` cast, else text."""
    found: dict[int, int] = {}
    for match in _PARAM.finditer(statement.sql):
        number = int(match.group(1))
        cast = match.group(2)
        oid = TYPE_OIDS.get(cast.lower(), _oids.TEXT) if cast else _oids.TEXT
        if found.get(number, _oids.TEXT) == _oids.TEXT:
            found[number] = oid
    count = max([len(statement.param_oids), *found])
    given = statement.param_oids
    return tuple(
        given[i] if i < len(given) and given[i] else found.get(i + 1, _oids.TEXT)
        for i in range(count)
    )


def _tag(result: Result | _Command) -> str:
    return result.command_tag if isinstance(result, Result) else result.tag


def _normalize(answer: Any, first_word: str) -> Result | _Command:
    if isinstance(answer, BaseException):
        raise answer
    if isinstance(answer, Result):
        return answer
    if isinstance(answer, str):
        return _Command(answer)
    if answer is None:
        return _Command(first_word or "SELECT 0")
    return Result(list(answer))
