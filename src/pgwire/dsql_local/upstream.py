"""The real PostgreSQL behind the local DSQL endpoint, and how the endpoint logs in there.

The client's own authentication (an IAM token) ends at the endpoint: :meth:`Upstream.log_in`
opens a new session to the real server as the configured user, with the core's client role
(:class:`~pgwire.protocol.ClientConnection`), and returns the stream with the messages that
started the session (ParameterStatus, BackendKeyData, ReadyForQuery), for the endpoint to
pass on to its client.  The server's cancel key goes to the client, so a CancelRequest is
simply forwarded (:meth:`Upstream.cancel`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio
import anyio.abc

from pgwire.conninfo import resolve
from pgwire.dsql_local.sysschema import HIDDEN_STATEMENTS, setup_sql
from pgwire.errors import Error
from pgwire.listener import CONNECTION_LOST
from pgwire.protocol import (
    NEED_DATA,
    PROTOCOL_3_0,
    BackendKeyData,
    BackendMessage,
    CancelRequest,
    ClientConnection,
    ConnectionState,
    ErrorResponse,
    NoticeResponse,
    ParameterStatus,
    Parse,
    Query,
    ReadyForQuery,
    ReceiveBuffer,
    StartupMessage,
    Sync,
    decode_backend,
)

__all__ = ["Installed", "LoginFailed", "Upstream"]

#: How logging in may fail besides an ErrorResponse: the server breaks the protocol (a pgwire
#: Error from the client role) or the connection.
_LOGIN_BROKEN: tuple[type[BaseException], ...] = (Error, *CONNECTION_LOST)
#: What a new session's start brings that the endpoint's client must see too.
_SESSION_START = (ParameterStatus, BackendKeyData, NoticeResponse, ReadyForQuery)


@dataclass
class Installed:
    """The databases in which an endpoint installed its ``sys`` schema (once each)."""

    databases: set[str] = field(default_factory=set)
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class LoginFailed(Exception):
    """The endpoint could not start a session on its PostgreSQL; ``sqlstate`` says why."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class Upstream:
    """The real PostgreSQL the endpoint relays to, and how the endpoint logs in there."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = field(default=None, repr=False)
    #: The database to use there (``None``: the one the client asked for).
    database: str | None = None

    @classmethod
    def from_dsn(cls, dsn: str) -> Upstream:
        """Read host, port, user, password and database from a ``postgresql://`` DSN."""
        info = resolve(dsn)
        password = info.password if isinstance(info.password, str) else None
        return cls(info.host, info.port, info.user, password, info.dbname)

    async def open(self) -> anyio.abc.SocketStream:
        """A stream to the server: TCP, or its Unix socket when ``host`` is a directory."""
        if self.host.startswith("/"):
            return await anyio.connect_unix(os.path.join(self.host, f".s.PGSQL.{self.port}"))
        return await anyio.connect_tcp(self.host, self.port)

    async def log_in(
        self,
        params: Mapping[str, str],
        database: str,
        settings: Mapping[str, str] | None = None,
    ) -> tuple[anyio.abc.ByteStream, list[BackendMessage]]:
        """Start a session with the client's startup ``params`` (but this upstream's user, and
        its database or else ``database``), and the server ``settings`` of the endpoint's own;
        return the stream and the messages to pass on.  Raises :class:`LoginFailed`."""
        try:
            stream = await self.open()
        except OSError as exc:
            raise LoginFailed(
                "08006", f"the local endpoint cannot reach its PostgreSQL: {exc}"
            ) from None
        startup = {k: v for k, v in params.items() if k not in ("user", "database")}
        startup["user"] = self.user
        startup["database"] = self.database or database
        startup.update(settings or {})
        try:
            return stream, await self._start_session(stream, startup)
        except LoginFailed:
            await stream.aclose()
            raise
        except _LOGIN_BROKEN as exc:
            await stream.aclose()
            raise LoginFailed(
                "08006", f"the local endpoint could not log in to its PostgreSQL: {exc}"
            ) from None
        except BaseException:
            await stream.aclose()
            raise

    async def _start_session(
        self, stream: anyio.abc.ByteStream, startup: dict[str, str]
    ) -> list[BackendMessage]:
        core = ClientConnection(
            password=self.password, nonce_source=lambda: secrets.token_urlsafe(18)
        )
        # Protocol 3.0, as the endpoint speaks with its client: the cancel key fits both.
        await stream.send(core.send(StartupMessage(startup, PROTOCOL_3_0)))
        started: list[BackendMessage] = []
        while core.state is not ConnectionState.READY:
            event = core.next_event()
            if event is NEED_DATA:
                core.receive_data(await stream.receive())
                continue
            pending = core.data_to_send()
            if pending:
                await stream.send(pending)
            if isinstance(event, ErrorResponse):
                raise LoginFailed(
                    event.fields.get("C", "08006"),
                    "the local endpoint could not log in to its PostgreSQL: "
                    + event.fields.get("M", ""),
                )
            if isinstance(event, _SESSION_START):
                started.append(event)
        return started

    async def prepare_for_dsql(
        self, stream: anyio.abc.ByteStream, database: str, installed: Installed
    ) -> None:
        """Install the ``sys`` schema in ``database`` (unless done), and prepare the
        endpoint's own statements in this session (:mod:`pgwire.dsql_local.sysschema`)."""
        async with installed.lock:
            if database not in installed.databases:
                await self.exchange(stream, Query(setup_sql()).encode())
                installed.databases.add(database)
        parses = b"".join(Parse(name, sql).encode() for name, sql in HIDDEN_STATEMENTS.items())
        await self.exchange(stream, parses + Sync().encode())

    async def exchange(self, stream: anyio.abc.ByteStream, messages: bytes) -> None:
        """Send ``messages`` (ending with a Query or a Sync) on a session of the endpoint's
        own, and read the answers up to ReadyForQuery.  An error raises :class:`LoginFailed`."""
        await stream.send(messages)
        buffer = ReceiveBuffer()
        error: ErrorResponse | None = None
        try:
            while True:
                frame = buffer.next_message()
                if frame is None:
                    buffer.feed(await stream.receive())
                    continue
                message = decode_backend(*frame)
                if isinstance(message, ErrorResponse) and error is None:
                    error = message
                if isinstance(message, ReadyForQuery):
                    break
        except _LOGIN_BROKEN as exc:
            raise LoginFailed("08006", f"the local endpoint lost its PostgreSQL: {exc}") from None
        if error is not None:
            raise LoginFailed(
                error.fields.get("C", "XX000"),
                "the local endpoint could not prepare its PostgreSQL session: "
                + error.fields.get("M", ""),
            )

    async def cancel(self, request: CancelRequest) -> None:
        """Forward a client's CancelRequest; a server out of reach leaves it undone."""
        with contextlib.suppress(*CONNECTION_LOST):
            stream = await self.open()
            async with stream:
                await stream.send(request.encode())
                # The server closes the connection once it has read the request.
                with contextlib.suppress(anyio.EndOfStream):
                    await stream.receive()
