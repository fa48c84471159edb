"""The mock server itself: listening, authentication, and the session of each client.

:class:`MockServer` holds what every connection shares (the handler, users and passwords,
TLS, the sessions open, for CancelRequest); ``_Session`` serves one client on the core's
server role (:class:`~pgwire.protocol.ServerConnection`): startup and TLS, then the simple
and the extended protocol, calling the handler for each statement and turning its answer
(:mod:`pgwire.mockserver.results`) into RowDescription, DataRow and CommandComplete.

This is driver-layer code: it does I/O.  The protocol rules live in the core.
"""

from __future__ import annotations

import inspect
import json
import os
import secrets
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.abc

from pgwire.errors import PostgresError, ProtocolError
from pgwire.listener import (
    CONNECTION_LOST,
    accept_tls,
    in_thread,
    running_tcp,
    running_unix,
    serve_tcp,
    serve_unix,
)
from pgwire.mockserver.results import (
    Command,
    Describing,
    Handler,
    Result,
    command_tag,
    mock_error,
    normalize,
)
from pgwire.mockserver.sql import param_oids, split_statements, strip_comments
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

__all__ = ["DEFAULT_PARAMETERS", "AuthName", "MockServer"]

AuthName = Literal["trust", "password", "md5", "scram-sha-256"]
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
#: What the mock server reports with ParameterStatus, unless told otherwise.
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
    result: Result | Command | None = None
    position: int = 0


@dataclass
class _Statement:
    sql: str
    param_oids: tuple[int, ...]

    @property
    def param_types(self) -> tuple[int, ...]:
        """The parameter types: the client's, else a ``$n::type`` cast, else text."""
        return param_oids(self.sql, self.param_oids)


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
        await serve_tcp(self.handle, host, port)

    async def serve_unix(self, path: str | Path) -> None:
        """Serve on the Unix socket ``path`` until cancelled."""
        await serve_unix(self.handle, path)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
        """Serve on ``host:port`` (0: a free port) for the ``async with`` block; yield the port."""
        async with running_tcp(self.handle, host, port) as bound:
            yield bound

    @asynccontextmanager
    async def running_unix(self, path: str | Path) -> AsyncIterator[str]:
        """Serve on the Unix socket ``path`` for the ``async with`` block; yield the path."""
        async with running_unix(self.handle, path) as bound:
            yield bound

    @contextmanager
    def running_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Iterator[int]:
        """Serve from a background thread for the ``with`` block (for blocking code); yield the
        port."""
        with in_thread(self.running(host, port), backend) as bound:
            yield bound

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        """Serve one client connection on ``stream`` until it ends."""
        self.connections += 1
        session = _Session(self, stream)
        try:
            await session.run()
        except ProtocolError as exc:
            await session.fail(str(exc))
        except CONNECTION_LOST:
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
            await self.start_tls(event.data)
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
            self.send_error(mock_error("the mock server has no functions", "0A000"))
            self.send(ReadyForQuery(self.status))
        return True

    async def on_encryption_request(self, event: SSLRequest | GSSENCRequest) -> bool:
        accept = isinstance(event, SSLRequest) and self.server.ssl_context is not None
        self.send(EncryptionResponse("ssl" if isinstance(event, SSLRequest) else "gss", accept))
        await self.flush()
        if accept:
            await self.start_tls()
        return True

    async def start_tls(self, already_read: bytes = b"") -> None:
        """Turn the stream to TLS; ``already_read``: a direct-TLS ClientHello."""
        assert self.server.ssl_context is not None
        self.stream = await accept_tls(self.stream, self.server.ssl_context, already_read)
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

    async def call(self, sql: str, params: tuple[Any, ...]) -> Result | Command:
        """Run the handler (transaction control is answered here) and normalize its answer."""
        words = strip_comments(sql).split(None, 2)
        first = words[0].upper() if words else ""
        if first in ("BEGIN", "START"):
            self.status = "T" if self.status == "I" else self.status
            return Command("BEGIN" if first == "BEGIN" else "START TRANSACTION")
        if first in ("COMMIT", "END", "ROLLBACK", "ABORT") and (
            len(words) < 2 or words[1].upper() in ("WORK", "TRANSACTION")
        ):
            failed = self.status == "E"
            self.status = "I"
            return Command("ROLLBACK" if failed or first in ("ROLLBACK", "ABORT") else "COMMIT")
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
            raise mock_error("canceling statement due to user request", "57014")
        return normalize(answer, first)

    async def run_guarded(self, sql: str, params: tuple[Any, ...]) -> Result | Command | None:
        try:
            return await self.call(sql, params)
        except PostgresError as exc:
            self.send_error(exc)
        except Exception as exc:  # a handler's bug becomes the client's error, not a hang
            self.send_error(mock_error(f"{type(exc).__name__}: {exc}"))
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
            self.send(CommandComplete(command_tag(result)))
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
                    raise mock_error(f"no binary output for type oid {oid}", "0A000")
                encoders.append(encode)
            else:
                # Text types read the same in both formats.
                encoders.append(partial(_text, oid=oid))
        rows = list(result.tuples())[start:]
        sent = 0
        for row in rows[:limit] if limit > 0 else rows:
            if len(row) != len(columns):
                raise mock_error(f"a row has {len(row)} values for {len(columns)} columns")
            try:
                values = tuple(
                    None if value is None else encode(value)
                    for value, encode in zip(row, encoders, strict=True)
                )
            except Exception as exc:  # a value the column's type cannot hold
                raise mock_error(f"cannot send a row: {exc}", "22000") from None
            self.send(DataRow(values))
            sent += 1
        return sent

    def on_bind(self, event: Bind) -> None:
        statement = self.statements.get(event.statement)
        if statement is None:
            message = f'prepared statement "{event.statement}" does not exist'
            self.send_error(mock_error(message, "26000"))
            return
        oids = statement.param_types
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
            self.send_error(mock_error(f"invalid parameter: {exc}", "22P02"))
            return
        self.portals[event.portal] = _Portal(statement.sql, params, event.result_formats)
        self.send(BindComplete())

    async def on_describe(self, event: Describe) -> None:
        if event.kind == "S":
            statement = self.statements.get(event.name)
            if statement is None:
                message = f'prepared statement "{event.name}" does not exist'
                self.send_error(mock_error(message, "26000"))
                return
            oids = statement.param_types
            result = await self.run_guarded(statement.sql, Describing((None,) * len(oids)))
            if result is None:
                return
            self.send(ParameterDescription(oids))
            self.describe_result(result, ())
            return
        portal = self.portals.get(event.name)
        if portal is None:
            self.send_error(mock_error(f'portal "{event.name}" does not exist', "34000"))
            return
        portal.result = await self.run_guarded(portal.sql, portal.params)
        if portal.result is not None:
            self.describe_result(portal.result, portal.formats)

    def describe_result(self, result: Result | Command, formats: tuple[int, ...]) -> None:
        if isinstance(result, Result):
            self.send(self.row_description(result, formats))
        else:
            self.send(NoData())

    async def on_execute(self, event: Execute) -> None:
        portal = self.portals.get(event.portal)
        if portal is None:
            self.send_error(mock_error(f'portal "{event.portal}" does not exist', "34000"))
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
        self.send(CommandComplete(command_tag(result)))


def _format(formats: tuple[int, ...], index: int) -> int:
    if not formats:
        return 0
    return formats[0] if len(formats) == 1 else formats[index]
