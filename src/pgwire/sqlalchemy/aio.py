"""``postgresql+pgwire_async://``: the SQLAlchemy dialect for ``create_async_engine``, on
:class:`pgwire.AsyncConnection`.

SQLAlchemy's async layer runs the blocking-style dialect in a greenlet and awaits the
driver where a PEP 249 call would block (``sqlalchemy.connectors.asyncio``). The thin
``AsyncAdapt_pgwire_*`` classes here are that PEP 249 face, in the shape of SQLAlchemy's
own asyncpg dialect: SQLAlchemy renders ``$1, $2, ...`` (``numeric_dollar``), so a statement
goes to the driver as it is, prepared once and cached per connection by the driver
(``statement_cache_size``, 0 for PgBouncer's transaction mode). The adapted connection
has the attributes of a :mod:`pgwire.dbapi` connection (``autocommit``,
``isolation_level``, ``read_only``, ``deferrable``, ``tpc_*``, ``transaction_status``),
so the dialect is the blocking one's with only the differences below.

SQLAlchemy's async layer needs asyncio (or uvloop); pgwire's driver also runs on trio,
but SQLAlchemy's does not (see docs/sqlalchemy.md for what to do there).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sqlalchemy.connectors.asyncio import (
    AsyncAdapt_dbapi_connection,
    AsyncAdapt_dbapi_cursor,
    AsyncAdapt_dbapi_ss_cursor,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_only, in_greenlet

import pgwire
from pgwire import errors
from pgwire.dbapi import Xid
from pgwire.sqlalchemy.base import PGDialect_pgwire, PGExecutionContext_pgwire

__all__ = ["AsyncAdapt_pgwire_connection", "AsyncAdapt_pgwire_dbapi", "PGDialectAsync_pgwire"]

#: Rows a server-side cursor reads per round trip.
_SS_BATCH = 1000

_COUNTED = frozenset({"INSERT", "UPDATE", "DELETE", "SELECT", "MERGE", "COPY", "FETCH", "MOVE"})

#: Descriptions by the driver's (cached, reused) RowDescription fields.
_DESCRIPTIONS: dict[int, tuple[Any, list[tuple[Any, ...]]]] = {}


def _description(columns: tuple[Any, ...] | None) -> list[tuple[Any, ...]] | None:
    if columns is None:
        return None
    cached = _DESCRIPTIONS.get(id(columns))
    if cached is not None and cached[0] is columns:
        return cached[1]
    description = [(f.name, f.type_oid, None, None, None, None, None) for f in columns]
    if len(_DESCRIPTIONS) >= 512:
        _DESCRIPTIONS.clear()
    _DESCRIPTIONS[id(columns)] = (columns, description)
    return description


def _rowcount(tag: str | None) -> int:
    if not tag:
        return -1
    words = tag.split()
    return int(words[-1]) if words[0] in _COUNTED and words[-1].isdigit() else -1


class AsyncAdapt_pgwire_cursor(AsyncAdapt_dbapi_cursor):
    """A client-side cursor: the whole result is read at ``execute``."""

    __slots__ = ("_arraysize", "_description", "_pg", "_rowcount")

    _adapt_connection: AsyncAdapt_pgwire_connection
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_pgwire_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._pg = adapt_connection._pg
        self._cursor = None  # type: ignore[assignment]  # no driver cursor underneath
        self._soft_closed_memoized = EMPTY_DICT
        self._rows: deque[Any] = deque()
        self._description: list[tuple[Any, ...]] | None = None
        self._rowcount = -1
        self._arraysize = 1

    @property
    def connection(self) -> AsyncAdapt_pgwire_connection:
        return self._adapt_connection

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def lastrowid(self) -> Any:
        return None

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_only(self._execute_async(operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_only(self._executemany_async(operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            await adapt._begin_if_needed()
            # Without parameters (SQLAlchemy's no_parameters) the simple protocol runs the
            # text as written, several statements allowed.
            arg_rows = None if parameters is None else [parameters]
            results = await self._pg.execute_results(operation, arg_rows)
        if results:
            result = results[0]
            self._description = _description(result.columns)
            self._rowcount = _rowcount(result.tag)
            self._rows = deque(result.rows)
        else:
            self._description, self._rowcount, self._rows = None, -1, deque()

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        adapt = self._adapt_connection
        arg_rows = list(seq_of_parameters)
        self._description, self._rows = None, deque()
        async with adapt._execute_mutex:
            await adapt._begin_if_needed()
            results = await self._pg.execute_results(operation, arg_rows)
        counts = [_rowcount(result.tag) for result in results]
        self._rowcount = -1 if -1 in counts else sum(counts)

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass


class AsyncAdapt_pgwire_ss_cursor(AsyncAdapt_dbapi_ss_cursor, AsyncAdapt_pgwire_cursor):
    """A server-side cursor (``stream_results``, ``yield_per``): the driver's ``cursor()``
    reads a portal in batches, so memory stays flat however big the result."""

    __slots__ = ("_buffer", "_stream")

    def __init__(self, adapt_connection: AsyncAdapt_pgwire_connection) -> None:
        super().__init__(adapt_connection)
        self._stream: AsyncGenerator[Any, None] | None = None
        self._buffer: deque[Any] = deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapt = self._adapt_connection
        args: Sequence[Any] = parameters or ()
        await self._end_stream()
        async with adapt._execute_mutex:
            await adapt._begin_if_needed()
            statement = await self._pg.prepare(operation)
            stream = self._pg.cursor(operation, *args, batch_size=_SS_BATCH)
            self._description = _description(statement.columns)
            self._rowcount = -1
            try:
                # Open the portal now, so that errors surface from execute().
                self._buffer = deque(await self._take(stream, 1))
            except BaseException:
                await stream.aclose()
                raise
            self._stream = stream

    @staticmethod
    async def _take(stream: AsyncGenerator[Any, None], count: int | None) -> list[Any]:
        rows = []
        async for row in stream:
            rows.append(row)
            if count is not None and len(rows) >= count:
                break
        return rows

    async def _fetch(self, count: int | None) -> list[Any]:
        buffer, stream = self._buffer, self._stream
        rows = [
            buffer.popleft()
            for _ in range(len(buffer) if count is None else min(count, len(buffer)))
        ]
        if stream is not None and (count is None or len(rows) < count):
            more = None if count is None else count - len(rows)
            async with self._adapt_connection._execute_mutex:
                rows += await self._take(stream, more)
        return rows

    async def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._buffer.clear()
        if stream is not None and not self._pg.closed:
            await stream.aclose()

    def _run(self, coroutine: Any) -> Any:
        try:
            return await_only(coroutine)
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def fetchone(self) -> Any:
        rows = self._run(self._fetch(1))
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> Any:
        return self._run(self._fetch(self._arraysize if size is None else size))

    def fetchall(self) -> Any:
        return self._run(self._fetch(None))

    def __iter__(self) -> Any:
        while True:
            rows = self.fetchmany(_SS_BATCH)
            if not rows:
                return
            yield from rows

    def close(self) -> None:
        if self._stream is not None:
            self._run(self._end_stream())
        self._buffer.clear()

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        raise errors.ProgrammingError("executemany() is not possible on a server-side cursor")


class AsyncAdapt_pgwire_connection(AsyncAdapt_dbapi_connection):
    """A :class:`pgwire.AsyncConnection` with the PEP 249 transaction behaviour of
    :mod:`pgwire.dbapi`: unless ``autocommit``, the first statement opens a transaction
    (with the isolation level, read-only and deferrable settings), ``commit()`` and
    ``rollback()`` end it."""

    _cursor_cls = AsyncAdapt_pgwire_cursor  # type: ignore[assignment]
    _ss_cursor_cls = AsyncAdapt_pgwire_ss_cursor  # type: ignore[assignment]

    __slots__ = ("_pg", "_tpc", "autocommit", "deferrable", "isolation_level", "read_only")

    def __init__(self, dbapi: Any, connection: pgwire.AsyncConnection) -> None:
        super().__init__(dbapi, connection)  # type: ignore[arg-type]
        #: The driver's connection (``_connection`` as SQLAlchemy types it).
        self._pg = connection
        self.autocommit = False
        self.isolation_level: str | None = None
        self.read_only: bool | None = None
        self.deferrable: bool | None = None
        #: The two-phase transaction in progress: (its xid, whether it is prepared).
        self._tpc: tuple[Xid, bool] | None = None

    @property
    def driver_connection(self) -> pgwire.AsyncConnection:
        return self._pg

    @property
    def closed(self) -> bool:
        return self._pg.closed

    @property
    def transaction_status(self) -> str:
        return self._pg.transaction_status

    def _begin_sql(self) -> str:
        parts = ["BEGIN"]
        if self.isolation_level is not None:
            parts.append(f"ISOLATION LEVEL {self.isolation_level}")
        if self.read_only is not None:
            parts.append("READ ONLY" if self.read_only else "READ WRITE")
        if self.deferrable is not None:
            parts.append("DEFERRABLE" if self.deferrable else "NOT DEFERRABLE")
        return " ".join(parts)

    async def _begin_if_needed(self) -> None:
        if self._tpc is not None and self._tpc[1]:
            raise errors.ProgrammingError(
                "the two-phase transaction is prepared: end it with tpc_commit() or "
                "tpc_rollback() before running anything else"
            )
        if not self.autocommit and self._pg.transaction_status == "I":
            await self._pg.execute(self._begin_sql())

    def _await(self, coroutine: Any) -> Any:
        try:
            return await_only(coroutine)
        except Exception as error:
            self._handle_exception(error)

    async def _end(self, verb: str) -> str:
        async with self._execute_mutex:
            if self._pg.transaction_status == "I":
                return ""
            return await self._pg.execute(verb)

    def commit(self) -> None:
        self._no_tpc("commit")
        if self._await(self._end("COMMIT")) == "ROLLBACK":
            raise errors.InFailedSqlTransaction(
                "the transaction was rolled back, not committed: a statement in it failed "
                "(and its error was caught)"
            )

    def rollback(self) -> None:
        self._no_tpc("rollback")
        if not self._pg.closed:
            self._await(self._end("ROLLBACK"))

    def close(self) -> None:
        self._await(self._pg.close())

    def clear_statement_cache(self) -> None:
        self._await(self._pg.clear_statement_cache())

    def ping(self) -> None:
        # An empty simple query: no transaction begun (also behind PgBouncer).
        self._await(self._pg.execute(";"))

    def terminate(self) -> None:
        if in_greenlet():
            try:
                # The connection may be in the middle of a cancelled query: close it in a
                # task of its own that the caller's cancellation cannot cut short.
                await_only(asyncio.shield(self._pg.close()))
            except asyncio.CancelledError:
                self._force_close()
                raise
            except (OSError, errors.Error, asyncio.TimeoutError):
                self._force_close()
        else:
            self._force_close()

    def _force_close(self) -> None:
        """Close without waiting (garbage collection, a cancelled close): pgwire's close
        writes Terminate and closes the transport without suspending on asyncio, so one
        step of its coroutine finishes it; where that is impossible (no event loop), the
        socket is left to the garbage collector."""
        closing = self._pg.close()
        try:
            closing.send(None)
        except StopIteration:
            return
        except Exception:  # best effort: there is nobody to report to
            return
        closing.close()

    # --------------------------------------------------------------------------------
    # Two-phase commit: pgwire.dbapi's semantics
    # --------------------------------------------------------------------------------

    def _no_tpc(self, what: str) -> None:
        if self._tpc is not None:
            raise errors.ProgrammingError(
                f"{what}() cannot end a two-phase transaction: use tpc_{what}()"
            )

    def tpc_begin(self, xid: Xid | str) -> None:
        xid = xid if isinstance(xid, Xid) else Xid.from_name(xid)
        if self._tpc is not None or self.transaction_status != "I":
            raise errors.ProgrammingError("tpc_begin() must start the transaction")
        self._await(self._pg.execute(self._begin_sql()))
        self._tpc = (xid, False)

    def tpc_prepare(self) -> None:
        if self._tpc is None:
            raise errors.ProgrammingError("tpc_prepare() needs a transaction of tpc_begin()")
        xid = self._tpc[0]
        self._await(self._pg.execute(f"PREPARE TRANSACTION {_literal(xid.name)}"))
        self._tpc = (xid, True)

    def tpc_commit(self, xid: Xid | str | None = None) -> None:
        self._tpc_end("COMMIT", xid)

    def tpc_rollback(self, xid: Xid | str | None = None) -> None:
        self._tpc_end("ROLLBACK", xid)

    def _tpc_end(self, verb: str, xid: Xid | str | None) -> None:
        if xid is None:
            if self._tpc is None:
                raise errors.ProgrammingError(f"tpc_{verb.lower()}() needs a tpc_begin()")
            current, prepared = self._tpc
            self._tpc = None
            sql = f"{verb} PREPARED {_literal(current.name)}" if prepared else verb
        else:
            sql = f"{verb} PREPARED {_literal(str(xid))}"
        self._await(self._pg.execute(sql))

    def tpc_recover(self) -> list[Xid]:
        rows = self._await(self._pg.fetch("SELECT gid FROM pg_catalog.pg_prepared_xacts"))
        return [Xid.from_name(gid) for (gid,) in rows]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class AsyncAdapt_pgwire_dbapi:
    """The module-like object SQLAlchemy takes for the DB-API: pgwire's exception classes
    (already PEP 249's) and a ``connect`` that opens an :class:`pgwire.AsyncConnection`."""

    paramstyle = "numeric_dollar"
    apilevel = "2.0"
    threadsafety = 1

    Warning = errors.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self) -> None:
        import pgwire.dbapi

        # The PEP 249 type objects and constructors, for code that looks for them.
        for name in ("STRING", "NUMBER", "DATETIME", "BINARY", "ROWID", "Binary"):
            setattr(self, name, getattr(pgwire.dbapi, name))
        self.driver = pgwire

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_pgwire_connection:
        creator = kwargs.pop("async_creator_fn", pgwire.connect_async)
        return AsyncAdapt_pgwire_connection(self, await_only(creator(*args, **kwargs)))


class PGExecutionContextAsync_pgwire(PGExecutionContext_pgwire):
    def create_server_side_cursor(self) -> Any:
        return self._dbapi_connection.cursor(server_side=True)


class PGDialectAsync_pgwire(PGDialect_pgwire):
    """``postgresql+pgwire_async://user:password@host:port/dbname?key=value``, for
    ``create_async_engine``."""

    driver = "pgwire_async"
    is_async = True
    has_terminate = True
    supports_statement_cache = True
    default_paramstyle = "numeric_dollar"
    execution_ctx_cls = PGExecutionContextAsync_pgwire

    @classmethod
    def import_dbapi(cls) -> Any:
        return AsyncAdapt_pgwire_dbapi()

    @classmethod
    def get_pool_class(cls, url: Any) -> Any:
        # SQLAlchemy 2.1 picks this one for async dialects by itself; 2.0 asks.
        from sqlalchemy.pool import AsyncAdaptedQueuePool

        return AsyncAdaptedQueuePool

    def do_ping(self, dbapi_connection: Any) -> bool:
        dbapi_connection.ping()
        return True

    def _clear_statement_cache(self, dbapi_connection: Any) -> None:
        dbapi_connection.clear_statement_cache()

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.terminate()

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._connection


dialect = PGDialectAsync_pgwire
