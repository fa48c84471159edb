"""The async driver: :func:`connect_async` and :class:`AsyncConnection`, on anyio (so it runs
on asyncio, uvloop and trio).

It opens a transport stream with the flows of :mod:`pgwire.flows`, and turns API calls
into the operations of :mod:`pgwire.operations`, pumping bytes between the stream and the
protocol core. Parameters always travel out of band (extended protocol, ``$1, $2, ...``),
results come in binary format wherever a codec exists, and statements are prepared once
and cached.

The connection is built from one module per feature, each a small layer on the one below:

    _pump_async.py         AsyncPump: the stream, the core, sending operations and reading
                           their replies, cancellation and recovery
    _queries_async.py      AsyncQueries: the statement cache, execute/fetch*/executemany
    _cursor_async.py       AsyncCursors: cursor(), a portal read in batches
    _notify_async.py       AsyncNotifications: notice handlers, LISTEN/NOTIFY
    _copy_async.py         AsyncCopy: COPY in and out
    _transaction_async.py  AsyncTransaction: the object of ``transaction()``
    _pipeline_async.py     AsyncPipeline: the object of ``pipeline()``
    connection.py          AsyncConnection: opening, closing and session facts

Each of these is the single source of its blocking twin: ``scripts/gen_sync.py`` turns it
into ``*_sync.py`` (this file into ``sync.py``), so a fix made here reaches both drivers.
Edit the async files, never the generated ones.

One connection serves one task at a time: a second task using it while an operation is
in flight gets a clear :class:`~pgwire.errors.InterfaceError` (use a pool for concurrency).
A cancelled task (or an expired ``timeout``) cancels its query on the server, reads the
rest of the reply, and leaves the connection usable.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from pgwire import _compat_async as _io
from pgwire._copy_async import AsyncCopy
from pgwire._cursor_async import AsyncCursors
from pgwire._io_async import run_flow
from pgwire._notify_async import AsyncNotifications
from pgwire._pipeline_async import AsyncPipeline
from pgwire._pump_async import DEFAULT_CANCEL_TIMEOUT
from pgwire._transaction_async import AsyncTransaction
from pgwire.conninfo import ConnectInfo, resolve, wants_iam
from pgwire.errors import PostgresNotice as Notice
from pgwire.flows import connect_flow
from pgwire.operations import Notification, PipelineResult
from pgwire.protocol import ConnectionState, Terminate
from pgwire.types import TypeRegistry, default_registry

logger = logging.getLogger("pgwire")

__all__ = [
    "AsyncConnection",
    "AsyncPipeline",
    "AsyncTransaction",
    "Notice",
    "Notification",
    "PipelineResult",
    "connect_async",
]


async def connect_async(dsn: str | None = None, **params: Any) -> AsyncConnection:
    """Open a connection.

    ``dsn`` is a ``postgresql://`` URI or a ``key=value`` string; keyword arguments
    (``host``, ``port``, ``user``, ``password``, ``dbname``/``database``, ...) override it,
    and the ``PG*`` environment fills in the rest.  ``password`` may be a callable (sync or
    async), called for each new connection: that is how IAM tokens plug in.  A ``dsql://``
    DSN, or ``iam=dsql`` / ``iam=rds``, connects with IAM tokens (see :mod:`pgwire.dsql`).

    Driver options: ``statement_cache_size`` (default 256; 0 turns the cache off),
    ``registry`` (a :class:`~pgwire.types.TypeRegistry`), ``command_timeout`` (seconds, the
    default ``timeout`` of every query), ``cancel_timeout`` (seconds a cancelled query may
    take to wind down before the connection is closed).
    """
    statement_cache_size = params.pop("statement_cache_size", 256)
    registry = params.pop("registry", None)
    command_timeout = params.pop("command_timeout", None)
    cancel_timeout = params.pop("cancel_timeout", DEFAULT_CANCEL_TIMEOUT)
    if wants_iam(dsn, params):
        # dsql:// DSNs and iam=dsql|rds: IAM tokens as passwords, and DSQL's (or RDS's)
        # defaults (verify-full TLS, direct negotiation, ...).
        from pgwire.iam_params import connection_params

        if True:  # ASYNC
            params = connection_params(dsn, for_async=True, **params)
        else:
            params = connection_params(dsn, for_async=False, **params)
        dsn = None
    info = resolve(dsn, **params)
    conn = await AsyncConnection._open(info, registry or default_registry(), statement_cache_size)
    conn.command_timeout = command_timeout
    conn.cancel_timeout = cancel_timeout
    return conn


class AsyncConnection(AsyncCopy, AsyncCursors, AsyncNotifications):
    """A connection to PostgreSQL. Use it as a context manager, or ``close()`` it.

    Queries (``execute``, ``fetch``, ...) come from :class:`~pgwire._queries_async.AsyncQueries`,
    ``cursor`` from :class:`~pgwire._cursor_async.AsyncCursors`, COPY from
    :class:`~pgwire._copy_async.AsyncCopy`, notices and notifications from
    :class:`~pgwire._notify_async.AsyncNotifications`.
    """

    @classmethod
    async def _open(
        cls, info: ConnectInfo, registry: TypeRegistry, statement_cache_size: int
    ) -> AsyncConnection:
        # The flow tries each host in turn; connect_timeout bounds each attempt as a whole
        # (DNS, TCP, TLS and authentication), and a password callable is called for each.
        stream, session = await run_flow(connect_flow(info))
        assert stream is not None
        _io.settle(stream)
        conn = cls(stream, session.core, session.info, registry, statement_cache_size)
        for notice in session.notices:
            conn._on_notice(notice)
        if session.dropped_notices:
            logger.warning(
                "the server sent %d more notices while the session started; they were "
                "dropped (the first %d were kept)",
                session.dropped_notices,
                len(session.notices),
            )
        return conn

    async def close(self) -> None:
        """Say goodbye to the server and close the stream. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        with _io.shield():
            try:
                if self._core.state is ConnectionState.READY:
                    await self._stream.send_all(self._core.send(Terminate()))
            except OSError:
                pass
            finally:
                await self._stream.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by ``close()`` or by a failure)."""
        return self._closed

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._core.state.value
        info = self._info
        where = info.host if info.is_unix_socket else f"{info.host}:{info.port}"
        return f"<pgwire.{type(self).__name__} {state} {info.user}@{where}/{info.dbname}>"

    @property
    def server_version(self) -> str:
        """The server's version string (``server_version`` parameter)."""
        return self._core.parameters.get("server_version", "")

    @property
    def parameters(self) -> dict[str, str]:
        """Run-time parameters the server reported."""
        return dict(self._core.parameters)

    @property
    def backend_pid(self) -> int | None:
        """The server process id serving this connection."""
        key = self._core.backend_key
        return None if key is None else key.process_id

    def transaction(self, isolation: str | None = None) -> AsyncTransaction:
        """``async with conn.transaction():`` commits on success, rolls back on an exception.

        Nested blocks use savepoints.  ``isolation`` may be ``serializable``,
        ``repeatable read``, ``read committed`` or ``read uncommitted``.
        """
        return AsyncTransaction(self, isolation)

    def pipeline(self) -> AsyncPipeline:
        """Queue statements and run them all in one round trip; see :class:`AsyncPipeline`."""
        return AsyncPipeline(self)
