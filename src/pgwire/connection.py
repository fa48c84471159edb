"""The async driver: :func:`connect_async` and :class:`AsyncConnection`, on anyio (so it runs
on asyncio, uvloop and trio).

It opens a transport stream with the flows of :mod:`pgwire.flows`, and turns API calls
into the operations of :mod:`pgwire.operations`, pumping bytes between the stream and the
protocol core. Parameters always travel out of band (extended protocol, ``$1, $2, ...``),
results come in binary format wherever a codec exists, and statements are prepared once
and cached.

This file is the single source of both drivers: ``scripts/gen_sync.py`` turns it into
``sync.py`` (the blocking driver) by dropping ``async``/``await`` and renaming, so a fix
made here reaches both. Edit this file, never ``sync.py``.

One connection serves one task at a time: a second task using it while an operation is
in flight gets a clear :class:`~pgwire.errors.InterfaceError` (use a pool for concurrency).
A cancelled task (or an expired ``timeout``) cancels its query on the server, reads the
rest of the reply, and leaves the connection usable.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from types import TracebackType
from typing import IO, Any

from pgwire import _async_compat as _io
from pgwire._async_io import run_flow
from pgwire.conninfo import ConnectInfo, resolve, wants_iam
from pgwire.copy import (
    BINARY_HEADER,
    BINARY_TRAILER,
    BinaryCopyEncoder,
    copy_query_statement,
    copy_statement,
    qualified_name,
    quote_identifier,
)
from pgwire.errors import (
    InFailedSqlTransaction,
    InterfaceError,
    OperationalError,
    ProtocolError,
    error_from_fields,
    notice_from_fields,
)
from pgwire.errors import PostgresNotice as Notice
from pgwire.flows import cancel_flow, connect_flow
from pgwire.operations import (
    CloseStatements,
    CopyIn,
    CopyOut,
    ExecuteStatement,
    ExecuteUnprepared,
    Notification,
    Operation,
    PipelineResult,
    PreparedStatement,
    PrepareStatement,
    SimpleQuery,
    StatementCache,
    StatementResult,
    is_stale,
)
from pgwire.protocol import (
    NEED_DATA,
    BackendMessage,
    Bind,
    BindComplete,
    ClientConnection,
    CloseComplete,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    CopyData,
    CopyDone,
    CopyFail,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
    Execute,
    FrontendMessage,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    ParseComplete,
    PortalSuspended,
    ReadyForQuery,
    RowDescription,
    Sync,
    Terminate,
)
from pgwire.record import Record
from pgwire.transports.async_tcp import AsyncStream
from pgwire.types import TypeRegistry, default_registry
from pgwire.types.introspect import IntrospectTypes

__all__ = [
    "AsyncConnection",
    "AsyncPipeline",
    "Notice",
    "Notification",
    "PipelineResult",
    "connect_async",
]

logger = logging.getLogger("pgwire")

#: How long a cancelled query may take to wind down before the connection is closed.
DEFAULT_CANCEL_TIMEOUT = 10.0
#: While a cancelled query winds down, how long it may stay silent before it is cancelled
#: again (and a later statement of a pipeline cancelled too).
_STATEMENT_GRACE = 0.1
#: At most this many records per encode_many call in copy_records_to_table (500 to 2,000
#: measured best for 7 columns), and about this many bytes per CopyData.
_COPY_BATCH = 1000
_COPY_CHUNK = 256 << 10
_ISOLATION_LEVELS = ("serializable", "repeatable read", "read committed", "read uncommitted")


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
        from pgwire.dsql import connection_params

        params = connection_params(dsn, for_async=_io.ASYNC, **params)
        dsn = None
    info = resolve(dsn, **params)
    conn = await AsyncConnection._open(info, registry or default_registry(), statement_cache_size)
    conn.command_timeout = command_timeout
    conn.cancel_timeout = cancel_timeout
    return conn


class AsyncConnection:
    """A connection to PostgreSQL. Use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        stream: AsyncStream,
        core: ClientConnection,
        info: ConnectInfo,
        registry: TypeRegistry,
        statement_cache_size: int = 256,
    ) -> None:
        self._stream = stream
        #: The stream hands every byte of a send to its transport before it first waits
        #: (asyncio's): a cancellation cannot cut a write short (see _write).
        self._atomic_send: bool = getattr(stream, "atomic_send", False)
        self._core = core
        self._info = info
        self.registry = registry
        self.command_timeout: float | None = None
        self.cancel_timeout: float = DEFAULT_CANCEL_TIMEOUT
        self._cache = StatementCache(statement_cache_size)
        self._closed = False
        self._transaction_depth = 0
        self._portal_counter = 0
        #: Cursors left early whose generators were finalized elsewhere: (own transaction,
        #: portal), ended before the next operation.
        self._deferred_cursors: list[tuple[bool, str]] = []
        self._owner: object = None
        self._use_depth = 0
        #: Notifications received and not yet taken (when no listener took them).
        self.pending_notifications: deque[Notification] = deque()
        self._notice_handlers: list[Callable[[Notice], object]] = []
        self._listeners: dict[str, list[Callable[[Notification], object]]] = {}

    # ----------------------------------------------------------------------------------
    # Opening and closing
    # ----------------------------------------------------------------------------------

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

    async def cancel(self) -> None:
        """Ask the server to cancel the query running on this connection.

        It opens a separate connection for the CancelRequest, as the protocol requires, so
        another task (or thread) may call it. The cancelled query raises ``QueryCanceled``
        (57014); the connection stays usable.
        """
        await run_flow(cancel_flow(self._info, self._core.cancel_request().encode()))

    async def _abort(self) -> None:
        self._closed = True
        with _io.shield():
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

    # ----------------------------------------------------------------------------------
    # Session facts
    # ----------------------------------------------------------------------------------

    @property
    def server_version(self) -> str:
        """The server's version string (``server_version`` parameter)."""
        return self._core.parameters.get("server_version", "")

    @property
    def parameters(self) -> dict[str, str]:
        """Run-time parameters the server reported."""
        return dict(self._core.parameters)

    @property
    def transaction_status(self) -> str:
        """``I`` idle, ``T`` in a transaction block, ``E`` in a failed one."""
        return self._core.transaction_status

    @property
    def backend_pid(self) -> int | None:
        """The server process id serving this connection."""
        key = self._core.backend_key
        return None if key is None else key.process_id

    # ----------------------------------------------------------------------------------
    # Byte pump
    # ----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def _in_use(self) -> _InUse:
        """Mark the connection as used by the current task (or thread) for the block."""
        return _InUse(self)

    async def _write(self, data: bytes, interruptible: bool = False) -> None:
        """Write ``data``, which the core has already counted as sent.

        A cancellation must not stop the write before or halfway, or the server and the
        core fall out of step: the write is shielded, and the cancellation takes effect at
        the next read instead, which cancels what was sent.  Except when the stream hands
        every byte over before it first waits (``atomic_send``) and the caller recovers
        from a cancellation in the write as in a read (``interruptible``): then no shield
        (a cancel scope per query) is needed.
        """
        try:
            if interruptible and self._atomic_send:
                await self._stream.send_all(data)
            else:
                with _io.shield():
                    await self._stream.send_all(data)
        except OSError as exc:
            await self._abort()
            raise OperationalError(f"could not send data to the server: {exc}") from None

    async def _read_event(self, timeout: float | None = None) -> BackendMessage:
        """The next event from the server.  A read timeout raises ``TimeoutError`` and
        leaves the connection open (the bytes read so far stay buffered in the core); any
        other failure closes it."""
        core = self._core
        while True:
            try:
                event = core.next_event()
            except ProtocolError:
                await self._abort()
                raise
            if event is NEED_DATA:
                await self._receive(timeout)
                continue
            if isinstance(event, ConnectionClosed):
                await self._abort()
                raise _closed_by_server()
            assert isinstance(event, BackendMessage)
            return event

    async def _receive(self, timeout: float | None) -> None:
        """Read what the server sent into the core (see :meth:`_read_event`)."""
        try:
            data = await _io.receive(self._stream, timeout)
        except (TimeoutError, BlockingIOError):
            raise TimeoutError("timed out waiting for the server") from None
        except OSError as exc:
            await self._abort()
            raise OperationalError(f"could not receive data from the server: {exc}") from None
        self._core.receive_data(data)

    async def _send(self, messages: Sequence[FrontendMessage]) -> None:
        await self._write(self._core.send(*messages))

    def _dispatch_async_message(self, event: BackendMessage) -> bool:
        """Handle a message that may arrive at any time; True if ``event`` was one."""
        if isinstance(event, NotificationResponse):
            self._on_notification(event)
            return True
        if isinstance(event, NoticeResponse):
            self._on_notice(event)
            return True
        # ParameterStatus (e.g. after SET TimeZone) is kept by the core in .parameters.
        return isinstance(event, ParameterStatus)

    async def _drain(
        self,
        operation: Operation,
        timeout: float | None = None,
        sink: Callable[[bytes], Any] | None = None,
    ) -> None:
        """Feed events to ``operation`` until its ReadyForQuery."""
        # The hottest loop of the driver: _read_event and _dispatch_async_message inlined.
        core = self._core
        takes_rows = operation.takes_rows
        takes_tags = operation.takes_tags
        while not operation.done:
            try:
                if takes_tags:
                    # BindComplete and CommandComplete, without an event each.
                    tags = core.next_completions()
                    if tags:
                        operation.take_tags(tags)
                        continue
                if takes_rows:
                    # The fast paths: whole batches of rows straight from the receive
                    # buffer, made into Records by the statement's row parser, or else
                    # decoded by the operation.
                    parser = operation.row_parser
                    records = None if parser is None else core.next_rows(parser)
                    if records:
                        operation.take_records(records)
                        continue
                    # Without a parser, or for a row it declined (not when no row is due).
                    if parser is None or records is not None:
                        rows = core.next_data_rows()
                        if rows:
                            operation.feed_rows(rows)
                            continue
                event = core.next_event()
            except ProtocolError:
                await self._abort()
                raise
            kind = type(event)
            if kind not in _OPERATION_EVENTS:
                if event is NEED_DATA:
                    await self._receive(timeout)
                    continue
                if kind is ConnectionClosed:
                    await self._abort()
                    raise _closed_by_server()
                if self._dispatch_async_message(event):  # type: ignore[arg-type]
                    continue
                if kind is ErrorResponse and core.state is ConnectionState.FAILED:
                    await self._abort()
                    raise error_from_fields(event.fields)  # type: ignore[union-attr]
            try:
                operation.feed(event)  # type: ignore[arg-type]
            except ProtocolError:
                await self._abort()
                raise
            if operation.reply:
                await self._send(operation.reply)
                operation.reply = []
            if sink is not None and isinstance(operation, CopyOut) and operation.chunks:
                await self._deliver(operation, sink)

    async def _deliver(self, operation: CopyOut, sink: Callable[[bytes], Any]) -> None:
        chunks, operation.chunks = operation.chunks, []
        if operation.misuse is not None:
            return
        for chunk in chunks:
            try:
                await _io.call(sink, chunk)
            except Exception as exc:
                # The server sends the rest of the COPY regardless: it is read and dropped.
                operation.misuse = exc
                return

    async def _exchange(
        self,
        operations: Sequence[Operation],
        timeout: float | None = None,
        sink: Callable[[bytes], Any] | None = None,
    ) -> None:
        """Send the operations' messages together and read every reply.

        If the task is cancelled (or ``timeout`` expires) meanwhile, the query is cancelled
        on the server and the rest of the replies are read, so the connection stays in
        step; only if that fails within ``cancel_timeout`` is the connection closed.
        """
        self._check_open()
        if self._deferred_cursors:
            await self._end_deferred_cursors()
        if timeout is None:
            timeout = self.command_timeout
        with _io.fail_after(timeout if _io.ASYNC else None):
            core = self._core
            if len(operations) == 1:
                data = operations[0].send(core)
            elif all(op.sends_binds_only for op in operations):
                # Each op.send() counts its messages as sent: none may fail after the first.
                for op in operations:
                    op.check_size()
                data = b"".join([op.send(core) for op in operations])
            else:
                # One call: the core refuses the whole batch or takes it all.
                data = core.send(*[m for op in operations for m in op.messages])
            pending = list(operations)
            try:
                await self._write(data, interruptible=True)
                while pending:
                    await self._drain(pending[0], None if _io.ASYNC else timeout, sink)
                    pending.pop(0)
            except BaseException as exc:
                if pending and (_io.is_cancellation(exc) or isinstance(exc, TimeoutError)):
                    with _io.shield():
                        await self._recover(pending)
                raise

    async def _recover(self, pending: Sequence[Operation]) -> None:
        """After an interrupted exchange: cancel on the server and read the rest."""
        if self._closed:
            return
        deadline = time.monotonic() + self.cancel_timeout
        try:
            with _io.fail_after(self.cancel_timeout):
                await self.cancel()
                # A statement that stays silent for a grace period is cancelled again: a
                # cancel that reached the server while it was still reading the request
                # (a large write under way) was ignored; and each later statement of a
                # pipeline is a batch of its own, started once the one before has ended.
                for operation in pending:
                    grace = _STATEMENT_GRACE
                    while True:
                        try:
                            await self._drain(operation, grace)
                            break
                        except TimeoutError:
                            if time.monotonic() > deadline:
                                raise
                            await self.cancel()
                            grace = min(grace * 2, 1.0)
        except BaseException as exc:
            logger.warning("closing the connection: the cancelled query did not end: %r", exc)
            await self._abort()

    async def _run(self, operation: Operation, timeout: float | None = None) -> None:
        with self._in_use():
            await self._exchange([operation], timeout)
            if isinstance(operation, ExecuteStatement):
                await self._forget_if_stale(operation)
            operation.check()

    async def _forget_if_stale(self, operation: ExecuteStatement) -> None:
        """Drop a statement the server refused as stale from the cache, so that the next
        use prepares it again instead of failing the same way forever."""
        if not is_stale(operation.error):
            return
        statement = operation.statement
        if self._cache.get(statement.sql) is statement:
            self._cache.discard(statement.sql)
        if statement.name and not statement.closed:
            await self._close_statements([statement])

    async def _close_statements(self, statements: Sequence[PreparedStatement]) -> None:
        named = [s for s in statements if s.name and not s.closed]
        if named:
            for statement in named:
                statement.closed = True
            await self._run(CloseStatements(s.name for s in named))

    # ----------------------------------------------------------------------------------
    # Notices and notifications
    # ----------------------------------------------------------------------------------

    def add_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Call ``handler(notice)`` for every NOTICE/WARNING the server sends."""
        self._notice_handlers.append(handler)

    def remove_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Stop calling ``handler`` for notices."""
        self._notice_handlers.remove(handler)

    async def add_listener(self, channel: str, callback: Callable[[Notification], object]) -> None:
        """``LISTEN`` on ``channel`` and call ``callback(notification)`` for each NOTIFY.

        Callbacks run while the connection reads (during any query, or while waiting in
        :meth:`wait_for_notification`); they must not use this connection.
        """
        if channel not in self._listeners:
            await self.execute(f"LISTEN {quote_identifier(channel)}")
            self._listeners[channel] = []
        self._listeners[channel].append(callback)

    async def remove_listener(
        self, channel: str, callback: Callable[[Notification], object]
    ) -> None:
        """Stop calling ``callback``; ``UNLISTEN`` when it was the channel's last one."""
        callbacks = self._listeners.get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks and channel in self._listeners:
            del self._listeners[channel]
            await self.execute(f"UNLISTEN {quote_identifier(channel)}")

    def _on_notice(self, event: NoticeResponse) -> None:
        notice = notice_from_fields(event.fields)
        logger.info("server %s: %s", notice.severity or "NOTICE", notice.message)
        for handler in list(self._notice_handlers):
            # Handlers run in the middle of reading a reply: an exception escaping here
            # would leave the rest of the reply unread and the connection out of step.
            try:
                handler(notice)
            except Exception:
                logger.exception("notice handler %r failed", handler)

    def _on_notification(self, event: NotificationResponse) -> None:
        notification = Notification(event.process_id, event.channel, event.payload)
        callbacks = self._listeners.get(event.channel)
        if not callbacks:
            self.pending_notifications.append(notification)
            return
        for callback in list(callbacks):
            try:
                callback(notification)
            except Exception:
                logger.exception("notification callback %r failed", callback)

    async def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        """The next NOTIFY not taken by a listener, waiting (while idle) up to ``timeout``
        seconds; ``None`` if none came."""
        self._check_open()
        if self.pending_notifications:
            return self.pending_notifications.popleft()
        with self._in_use():
            if self._core.in_flight:
                raise InterfaceError("cannot wait for notifications while a query is in flight")
            while not self.pending_notifications:
                try:
                    event = await self._read_event(timeout)
                except TimeoutError:
                    return None
                if isinstance(event, ErrorResponse):
                    await self._abort()
                    raise error_from_fields(event.fields)
                self._dispatch_async_message(event)
        return self.pending_notifications.popleft()

    async def notifications(self) -> AsyncIterator[Notification]:
        """Every NOTIFY not taken by a listener, forever: ``async for n in conn.notifications()``.

        Waiting reads the connection, so give the loop a connection of its own.
        """
        while True:
            notification = await self.wait_for_notification()
            if notification is not None:
                yield notification

    # ----------------------------------------------------------------------------------
    # Statements
    # ----------------------------------------------------------------------------------

    async def prepare(self, sql: str) -> PreparedStatement:
        """Prepare ``sql`` (or take it from the statement cache)."""
        statement = self._cache.get(sql)
        if statement is not None:
            return statement
        return (await self._prepare_many([sql]))[0]

    async def _prepare_many(self, sqls: Sequence[str]) -> list[PreparedStatement]:
        """Prepare several statements in one round trip."""
        if self._cache.capacity <= 0 and len(sqls) == 1:
            # Without a cache the unnamed statement serves: the next Parse replaces it, so
            # there is nothing to close (closing it now would break the caller's execute).
            names = [""]
        else:
            names = [self._cache.next_name() for _ in sqls]
        pairs = zip(names, sqls, strict=True)
        operations = [PrepareStatement(name, sql, self.registry) for name, sql in pairs]
        with self._in_use():
            await self._exchange(operations)
            statements = []
            for op in operations:
                op.check()
                assert op.statement is not None
                statements.append(op.statement)
            statements = await self._with_types(statements)
        evicted: list[PreparedStatement] = []
        for statement in statements:
            if statement.name:
                evicted.extend(self._cache.put(statement))
        await self._close_statements(evicted)
        return statements

    async def _with_types(self, statements: list[PreparedStatement]) -> list[PreparedStatement]:
        """Look up, once per type, the types the registry does not know yet (enums,
        domains, composites, user ranges, ...), then rebuild the statements using them."""
        missing = self.registry.unknown({o for s in statements for o in s.type_oids()})
        if not missing:
            return statements
        await self._run(IntrospectTypes(missing, self.registry))
        return [s.rebuilt(self.registry) if s.type_oids() & missing else s for s in statements]

    async def _execute_prepared(
        self, sql: str, args: Sequence[Any], *, max_rows: int = 0, timeout: float | None = None
    ) -> ExecuteStatement:
        with self._in_use():
            if self._cache.capacity <= 0:
                unprepared = ExecuteUnprepared(sql, [args], self.registry, max_rows=max_rows)
                await self._run(unprepared, timeout)
                return unprepared
            statement = self._cache.get(sql)  # prepare(), without a coroutine when cached
            if statement is None:
                statement = (await self._prepare_many([sql]))[0]
            operation = ExecuteStatement(statement, [args], max_rows=max_rows)
            try:
                await self._run(operation, timeout)
            except Exception:
                if not (is_stale(operation.error) and self.transaction_status == "I"):
                    raise
                # The cached statement went stale (a table changed under it) and nothing
                # ran: prepare it again and retry once.
                statement = await self.prepare(sql)
                operation = ExecuteStatement(statement, [args], max_rows=max_rows)
                await self._run(operation, timeout)
            return operation

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        """Run ``sql``; return the command tag of its (last) statement, e.g. ``INSERT 0 1``.

        Without arguments the simple protocol is used, so ``sql`` may hold several
        statements separated by semicolons.
        """
        if not args:
            operation = SimpleQuery(sql, self.registry, keep_rows=False)
            await self._run(operation, timeout)
            tags = [r.tag for r in operation.results if r.tag is not None]
            return tags[-1] if tags else ""
        return (await self._execute_prepared(sql, args, timeout=timeout)).tag or ""

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """Run ``sql`` with ``args`` bound to ``$1, $2, ...``; return all rows."""
        return (await self._execute_prepared(sql, args, timeout=timeout)).rows

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Record | None:
        """The first row, or ``None``."""
        rows = (await self._execute_prepared(sql, args, max_rows=1, timeout=timeout)).rows
        return rows[0] if rows else None

    async def fetchval(
        self, sql: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """The value of ``column`` in the first row, or ``None`` if there is no row."""
        rows = (await self._execute_prepared(sql, args, max_rows=1, timeout=timeout)).rows
        return rows[0][column] if rows else None

    async def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``sql`` once per argument tuple, pipelined in one round trip, atomically:
        if one fails, none of them takes effect (they share one implicit transaction)."""
        with self._in_use():
            if self._cache.capacity <= 0:
                operation: ExecuteStatement = ExecuteUnprepared(sql, args, self.registry)
                if len(operation.messages) > 3:
                    await self._run(operation, timeout)
                return
            statement = await self.prepare(sql)
            operation = ExecuteStatement(statement, args)
            if operation.param_rows:
                await self._run(operation, timeout)

    async def cursor(
        self, sql: str, *args: Any, batch_size: int = 1000
    ) -> AsyncGenerator[Record, None]:
        """Iterate over the rows of ``sql`` in batches of ``batch_size``, with bounded memory.

        The rows come from a portal read ``batch_size`` rows at a time, which needs a
        transaction: outside one, a transaction is opened for the duration of the loop.
        """
        own_transaction = self.transaction_status == "I"
        self._portal_counter += 1
        portal = f"_pgwire_cursor_{self._portal_counter}"
        owner = _io.current_owner()
        try:
            if own_transaction:
                # Inside the try: a cancellation may land after the server ran the BEGIN.
                await self.execute("BEGIN")
            statement = await self.prepare(sql)
            batch = ExecuteStatement(statement, [], sync=False)
            params = statement.encode(args)
            bind = Bind(
                portal, statement.name, statement.param_formats, params, statement.result_formats
            )
            batch.messages = [bind, Execute(portal, batch_size), Sync()]
            await self._run(batch)
            for row in batch.rows:
                yield row
            while batch.suspended:
                batch = ExecuteStatement(statement, [], sync=False)
                batch.messages = [Execute(portal, batch_size), Sync()]
                await self._run(batch)
                for row in batch.rows:
                    yield row
        finally:
            if _io.current_owner() != owner:
                # A loop left early (``break`` without ``aclosing``) leaves the generator to
                # be finalized later, in a task of the event loop's, maybe while the
                # connection is busy: end the cursor before its next operation instead.
                self._deferred_cursors.append((own_transaction, portal))
            else:
                with _io.shield():
                    await self._end_cursor(own_transaction, portal)

    async def _end_cursor(self, own_transaction: bool, portal: str) -> None:
        if self._closed:
            return
        if own_transaction:
            if self.transaction_status != "I":
                await self.execute("COMMIT" if self.transaction_status == "T" else "ROLLBACK")
        elif self.transaction_status == "T":
            # A portal lives until the transaction ends: close it, or the caller's
            # transaction keeps its resources (and its name) to the end.
            await self._run(CloseStatements([portal], kind="P"))

    async def _end_deferred_cursors(self) -> None:
        deferred, self._deferred_cursors = self._deferred_cursors, []
        for own_transaction, portal in deferred:
            await self._end_cursor(own_transaction, portal)

    # ----------------------------------------------------------------------------------
    # Transactions
    # ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, isolation: str | None = None) -> AsyncIterator[AsyncConnection]:
        """``async with conn.transaction():`` commits on success, rolls back on an exception.

        Nested blocks use savepoints.  ``isolation`` may be ``serializable``,
        ``repeatable read``, ``read committed`` or ``read uncommitted``.
        """
        depth = self._transaction_depth
        if depth == 0:
            begin = "BEGIN"
            if isolation:
                level = isolation.lower().replace("_", " ")
                if level not in _ISOLATION_LEVELS:
                    raise InterfaceError(f"unknown isolation level {isolation!r}")
                begin += f" ISOLATION LEVEL {level.upper()}"
            was_idle = self.transaction_status == "I"
            try:
                await self.execute(begin)
            except BaseException:
                # A cancellation may land after the server ran the BEGIN: undo it.
                if was_idle and not self._closed and self.transaction_status != "I":
                    with _io.shield():
                        await self.execute("ROLLBACK")
                raise
        else:
            if isolation:
                raise InterfaceError("a nested transaction cannot set an isolation level")
            await self.execute(f"SAVEPOINT _pgwire_sp_{depth}")
        self._transaction_depth += 1
        try:
            yield self
        except BaseException:
            self._transaction_depth -= 1
            if not self._closed:
                with _io.shield():
                    if depth == 0:
                        await self.execute("ROLLBACK")
                    else:
                        await self.execute(f"ROLLBACK TO SAVEPOINT _pgwire_sp_{depth}")
            raise
        self._transaction_depth -= 1
        if depth == 0:
            if self.transaction_status == "E":
                # The server would turn COMMIT into ROLLBACK without an error: a statement
                # failed and its exception was caught inside the block.
                await self.execute("ROLLBACK")
                raise InFailedSqlTransaction(
                    "the transaction was rolled back, not committed: a statement in it failed "
                    "and its error was caught inside the transaction() block"
                )
            await self.execute("COMMIT")
        else:
            await self.execute(f"RELEASE SAVEPOINT _pgwire_sp_{depth}")

    # ----------------------------------------------------------------------------------
    # Pipelines
    # ----------------------------------------------------------------------------------

    def pipeline(self) -> AsyncPipeline:
        """Queue statements and run them all in one round trip; see :class:`AsyncPipeline`."""
        return AsyncPipeline(self)

    # ----------------------------------------------------------------------------------
    # Whole results, for layers built on the driver (pgwire.dbapi)
    # ----------------------------------------------------------------------------------

    async def execute_results(
        self,
        sql: str,
        arg_rows: Sequence[Sequence[Any]] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[StatementResult]:
        """Run ``sql`` and return what it produced, whole: for each result its ``columns``
        (the RowDescription's fields, ``None`` for a statement that returns no rows), its
        ``rows`` and its command ``tag``.

        Without ``arg_rows`` the simple protocol runs ``sql``, which may hold several
        statements: one result each, values in text format.  With ``arg_rows``, ``sql`` is
        one statement, run once per argument sequence as :meth:`fetch` runs it (one
        sequence) or as :meth:`executemany` does (several: one round trip, atomically):
        one result per run, with its tag; the rows are kept for a single run only.
        """
        if arg_rows is None:
            simple = SimpleQuery(sql, self.registry)
            await self._run(simple, timeout)
            return simple.results
        if len(arg_rows) == 1:
            one = await self._execute_prepared(sql, arg_rows[0], timeout=timeout)
            return [StatementResult(one.tag, one.rows, one.statement.columns)]
        with self._in_use():
            if self._cache.capacity <= 0:
                many: ExecuteStatement = ExecuteUnprepared(sql, arg_rows, self.registry)
            else:
                many = ExecuteStatement(await self.prepare(sql), arg_rows)
            if many.param_rows:
                await self._run(many, timeout)
        return [StatementResult(tag, [], many.statement.columns) for tag in many.tags]

    # ----------------------------------------------------------------------------------
    # COPY
    # ----------------------------------------------------------------------------------

    async def copy_out(
        self,
        sql: str,
        sink: Callable[[bytes], object] | IO[bytes] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Run ``COPY ... TO STDOUT``.

        With no ``sink`` return all the data as bytes; otherwise hand each chunk to
        ``sink`` (a callable, sync or async, or a binary file) as it arrives and return the
        command tag, so memory stays bounded however large the data.
        """
        chunks: list[bytes] = []
        if sink is None:
            write: Callable[[bytes], Any] = chunks.append
        elif callable(sink):
            write = sink
        else:
            write = sink.write
        operation = CopyOut(sql)
        with self._in_use():
            await self._exchange([operation], timeout, write)
            operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_out() expects COPY ... TO STDOUT, but the statement ran as "
                f"{operation.tag or 'no command'!r}"
            )
        return b"".join(chunks) if sink is None else operation.tag

    async def copy_in(self, sql: str, source: Any) -> str:
        """Run ``COPY ... FROM STDIN`` with data from ``source``: bytes, str, a file, or an
        iterable (or async iterable) of chunks; return the command tag, e.g. ``COPY 3``.

        If ``source`` raises, the COPY is aborted with CopyFail, the exception propagates
        and the connection stays usable.
        """
        self._check_open()
        operation = CopyIn(sql)
        with self._in_use():
            await self._send(operation.messages)
            try:
                while not operation.started and not operation.done:
                    await self._step(operation)
                if operation.started:
                    async for chunk in _io.chunks(source):
                        if chunk:
                            await self._write(self._core.send(CopyData(chunk)))
                        if not self._core.copy_in_active:
                            break
                    if not self._closed:
                        await self._write(self._core.send(CopyDone()))
                await self._drain(operation)
            except BaseException as exc:
                # The source raised, or the task was cancelled at any step of the COPY.
                if not self._closed and not operation.done:
                    with _io.shield():
                        reason = f"client error: {type(exc).__name__}"
                        await self._abandon_copy_in(operation, reason)
                raise
        operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_in() expects COPY ... FROM STDIN, but the statement ran as "
                f"{operation.tag or 'no command'!r} and took none of the data"
            )
        return operation.tag or ""

    async def _abandon_copy_in(self, operation: CopyIn, reason: str) -> None:
        """Stop an interrupted COPY ... FROM STDIN wherever it stands, and read to its
        ReadyForQuery: CopyFail while the server takes data, a CancelRequest while it works
        (on the statement before the data starts, or on the data after CopyDone). If it
        does not end within ``cancel_timeout``, close the connection."""
        try:
            with _io.fail_after(self.cancel_timeout):
                if not self._core.copy_in_active:
                    await self.cancel()
                while not operation.done:
                    if self._core.copy_in_active:
                        await self._write(self._core.send(CopyFail(reason)))
                    await self._step(operation)
        except BaseException as exc:
            logger.warning("closing the connection: the interrupted COPY did not end: %r", exc)
            await self._abort()

    @asynccontextmanager
    async def copy_out_stream(self, sql: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Run ``COPY ... TO STDOUT`` and read its data chunk by chunk as it arrives::

            async with conn.copy_out_stream(sql) as chunks:
                async for chunk in chunks:
                    ...

        Leaving the block early reads the rest of the data and drops it, so the
        connection stays usable.
        """
        self._check_open()
        operation = CopyOut(sql)
        with self._in_use():
            await self._send(operation.messages)
            try:
                yield self._copy_chunks(operation)
            finally:
                if not operation.done and not self._closed:
                    operation.misuse = InterfaceError("the COPY output was abandoned")
                    with _io.shield():
                        await self._drain(operation)
                    operation.misuse = None
        operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_out_stream() expects COPY ... TO STDOUT, but the statement ran as "
                f"{operation.tag or 'no command'!r}"
            )

    async def _copy_chunks(self, operation: CopyOut) -> AsyncIterator[bytes]:
        while not operation.done:
            await self._step(operation)
            while operation.chunks and operation.misuse is None:
                yield operation.chunks.pop(0)

    async def copy_to_table(
        self,
        table: str,
        *,
        source: Any,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
        format: str | None = None,
        **options: Any,
    ) -> str:
        """Load ``source`` (bytes, str, a file, or an iterable or async iterable of chunks) into
        ``table`` with COPY; ``format`` is ``text`` (default), ``csv`` or ``binary`` and
        ``options`` are COPY's (``delimiter``, ``null``, ``header``, ``quote``, ...)."""
        sql = copy_statement(
            table, "FROM STDIN", columns=columns, schema=schema, format=format, **options
        )
        return await self.copy_in(sql, source)

    async def copy_records_to_table(
        self,
        table: str,
        *,
        records: Any,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
    ) -> str:
        """Load Python records (an iterable or async iterable of sequences) into ``table``
        with binary COPY, each value encoded by its column's codec; return the tag."""
        target = qualified_name(table, schema)
        selected = ", ".join(quote_identifier(c) for c in columns) if columns else "*"
        probe = await self.prepare(f"SELECT {selected} FROM {target} LIMIT 0")
        assert probe.columns is not None
        encoder = BinaryCopyEncoder([c.type_oid for c in probe.columns], self.registry)
        if columns is None:
            columns = [c.name for c in probe.columns]
        sql = copy_statement(table, "FROM STDIN", columns=columns, schema=schema, format="binary")
        return await self.copy_in(sql, _binary_copy_data(encoder, records))

    async def copy_from_table(
        self,
        table: str,
        *,
        output: Callable[[bytes], object] | IO[bytes] | None = None,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
        format: str | None = None,
        **options: Any,
    ) -> Any:
        """COPY ``table`` out to ``output`` (a callable, sync or async, or a binary file),
        returning the tag; without ``output`` return the data as bytes."""
        sql = copy_statement(
            table, "TO STDOUT", columns=columns, schema=schema, format=format, **options
        )
        return await self.copy_out(sql, output)

    async def copy_from_query(
        self,
        query: str,
        *,
        output: Callable[[bytes], object] | IO[bytes] | None = None,
        format: str | None = None,
        **options: Any,
    ) -> Any:
        """COPY the result of ``query`` out to ``output`` (as :meth:`copy_from_table`).

        COPY takes no parameters: ``query`` must be complete SQL.
        """
        return await self.copy_out(copy_query_statement(query, format=format, **options), output)

    async def _step(self, operation: Operation) -> None:
        event = await self._read_event()
        if not self._dispatch_async_message(event):
            operation.feed(event)
            if operation.reply:
                await self._send(operation.reply)
                operation.reply = []


def _closed_by_server() -> OperationalError:
    return OperationalError(
        "the server closed the connection unexpectedly; it probably terminated "
        "abnormally before or while processing the request"
    )


#: Server messages that go straight to the operation in flight (the others may be
#: notices, notifications, a fatal error, or the end of the stream).
_OPERATION_EVENTS: frozenset[type] = frozenset(
    {
        BindComplete,
        CloseComplete,
        CommandComplete,
        CopyData,
        CopyDone,
        CopyInResponse,
        CopyOutResponse,
        DataRow,
        EmptyQueryResponse,
        NoData,
        ParameterDescription,
        ParseComplete,
        PortalSuspended,
        ReadyForQuery,
        RowDescription,
    }
)


class _InUse:
    """The guard of :meth:`AsyncConnection._in_use` (a class: it runs on every query)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        conn = self._conn
        owner = _io.current_owner()
        if conn._use_depth and conn._owner != owner:
            raise InterfaceError(
                "another task is using this connection (an operation is in progress); "
                "use one connection per task, or a pool"
            )
        conn._owner = owner
        conn._use_depth += 1

    def __exit__(self, *exc_info: object) -> None:
        conn = self._conn
        conn._use_depth -= 1
        if not conn._use_depth:
            conn._owner = None


async def _binary_copy_data(encoder: BinaryCopyEncoder, records: Any) -> AsyncIterator[bytes]:
    """Binary COPY data for ``records`` (a sync or async iterable), encoded in batches:
    one record first, then as many as make about :data:`_COPY_CHUNK` bytes (at most
    :data:`_COPY_BATCH`), so that one CopyData stays small however wide the records."""
    yield BINARY_HEADER
    size = 1
    if hasattr(records, "__aiter__"):
        batch: list[Any] = []
        async for record in records:
            batch.append(record)
            if len(batch) >= size:
                data = encoder.encode_many(batch)
                yield data
                size = _next_batch_size(len(batch), len(data))
                batch = []
        if batch:
            yield encoder.encode_many(batch)
    else:
        iterator = iter(records)
        while True:
            batch = list(islice(iterator, size))
            if not batch:
                break
            data = encoder.encode_many(batch)
            yield data
            size = _next_batch_size(len(batch), len(data))
    yield BINARY_TRAILER


def _next_batch_size(records: int, size: int) -> int:
    """Records per batch for about _COPY_CHUNK bytes, from the last batch's size."""
    return max(1, min(_COPY_BATCH, _COPY_CHUNK * records // max(size, 1)))


class AsyncPipeline:
    """Statements queued with ``execute``/``fetch``/``fetchrow``/``fetchval`` run together
    when the ``async with`` block ends (or on :meth:`run`): statements not yet prepared are
    prepared in one round trip, then all run in a second one (one, if all were cached).

    Each statement is its own Sync batch: outside a transaction block, an error fails that
    statement only; inside one, the statements after it fail too (the transaction is
    aborted).  Leaving the block raises the first error; every result stays available
    through its :class:`PipelineResult`.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._queue: list[PipelineResult] = []

    def _add(self, kind: str, sql: str, args: tuple[Any, ...]) -> PipelineResult:
        result = PipelineResult(sql, args, kind)
        self._queue.append(result)
        return result

    def execute(self, sql: str, *args: Any) -> PipelineResult:
        """Queue a statement; its result is the command tag."""
        return self._add("execute", sql, args)

    def fetch(self, sql: str, *args: Any) -> PipelineResult:
        """Queue a query; its result is the list of rows."""
        return self._add("fetch", sql, args)

    def fetchrow(self, sql: str, *args: Any) -> PipelineResult:
        """Queue a query; its result is the first row or ``None``."""
        return self._add("fetchrow", sql, args)

    def fetchval(self, sql: str, *args: Any) -> PipelineResult:
        """Queue a query; its result is the first value or ``None``."""
        return self._add("fetchval", sql, args)

    async def __aenter__(self) -> AsyncPipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.run()

    async def run(self) -> list[PipelineResult]:
        """Run everything queued; raise the first error after all results are in."""
        conn = self._conn
        queue, self._queue = self._queue, []
        if not queue:
            return queue
        with conn._in_use():
            await self._run(conn, queue)
        for item in queue:
            if item._error is not None:
                raise item._error
        return queue

    @staticmethod
    async def _run(conn: AsyncConnection, queue: list[PipelineResult]) -> None:
        statements: dict[str, PreparedStatement | BaseException] = {}
        evicted: list[PreparedStatement] = []
        missing: list[str] = []
        if conn._cache.capacity <= 0:
            # Without a statement cache every statement is parsed in its own batch.
            unprepared: list[tuple[PipelineResult, ExecuteStatement]] = []
            for item in queue:
                max_rows = 1 if item._kind in ("fetchrow", "fetchval") else 0
                try:
                    single: ExecuteStatement = ExecuteUnprepared(
                        item.sql, [item.args], conn.registry, max_rows=max_rows
                    )
                except Exception as exc:
                    item._error = exc
                    continue
                item._operation = single
                unprepared.append((item, single))
            await AsyncPipeline._collect(conn, unprepared)
            return
        for item in queue:
            if item.sql in statements or item.sql in missing:
                continue
            cached = conn._cache.get(item.sql)
            if cached is not None:
                statements[item.sql] = cached
            else:
                missing.append(item.sql)
        if missing:
            ops = [PrepareStatement(conn._cache.next_name(), sql, conn.registry) for sql in missing]
            await conn._exchange(ops)
            fresh: list[PreparedStatement] = []
            for op in ops:
                failure = op.misuse or op.error
                if failure is not None:
                    statements[op.sql] = failure
                else:
                    assert op.statement is not None
                    fresh.append(op.statement)
            for statement in await conn._with_types(fresh):
                statements[statement.sql] = statement
                # Statements evicted now may still run below: close them afterwards.
                evicted.extend(conn._cache.put(statement))
        runnable: list[tuple[PipelineResult, ExecuteStatement]] = []
        for item in queue:
            prepared = statements[item.sql]
            if isinstance(prepared, BaseException):
                item._error = prepared
                continue
            try:
                max_rows = 1 if item._kind in ("fetchrow", "fetchval") else 0
                operation = ExecuteStatement(prepared, [item.args], max_rows=max_rows)
            except Exception as exc:
                item._error = exc
                continue
            item._operation = operation
            runnable.append((item, operation))
        await AsyncPipeline._collect(conn, runnable)
        await conn._close_statements(evicted)

    @staticmethod
    async def _collect(
        conn: AsyncConnection, runnable: list[tuple[PipelineResult, ExecuteStatement]]
    ) -> None:
        if not runnable:
            return
        await conn._exchange([op for _, op in runnable])
        for item, execution in runnable:
            failure = execution.misuse or execution.error
            if failure is not None:
                item._error = failure
            item._value_set = True
        for _, execution in runnable:
            await conn._forget_if_stale(execution)
