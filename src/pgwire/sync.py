"""The blocking driver: :func:`connect` and :class:`Connection`.

It opens a transport stream, runs the protocol core's handshake, and turns API calls into
the operations of :mod:`pgwire.operations`, pumping bytes between the stream and the core.
Parameters always travel out of band (extended protocol, ``$1, $2, ...``), results come in
binary format wherever a codec exists, and statements are prepared once and cached.

A connection is not thread-safe: use one per thread (or a pool).
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any, TypeVar

from pgwire._sync_io import run_flow
from pgwire.conninfo import ConnectInfo, resolve
from pgwire.errors import (
    FeatureNotSupported,
    InFailedSqlTransaction,
    InterfaceError,
    InvalidSqlStatementName,
    OperationalError,
    PostgresError,
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
    Operation,
    PreparedStatement,
    PrepareStatement,
    SimpleQuery,
    StatementCache,
)
from pgwire.protocol import (
    NEED_DATA,
    BackendMessage,
    Bind,
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    CopyData,
    CopyDone,
    CopyFail,
    ErrorResponse,
    Execute,
    FrontendMessage,
    NoticeResponse,
    NotificationResponse,
    ParameterStatus,
    Sync,
    Terminate,
)
from pgwire.record import Record
from pgwire.transports import SyncStream
from pgwire.types import TypeRegistry, default_registry

__all__ = [
    "Connection",
    "Notice",
    "Notification",
    "Pipeline",
    "PipelineResult",
    "connect",
]

logger = logging.getLogger("pgwire")
_T = TypeVar("_T")
_COPY_CHUNK = 1 << 16


class Notification:
    """A NOTIFY received: ``channel``, ``payload`` and the sender's ``process_id``."""

    __slots__ = ("channel", "payload", "process_id")

    def __init__(self, process_id: int, channel: str, payload: str) -> None:
        self.process_id = process_id
        self.channel = channel
        self.payload = payload

    def __repr__(self) -> str:
        return f"<Notification channel={self.channel!r} payload={self.payload!r}>"


def _nonce() -> str:
    return secrets.token_urlsafe(18)


def _is_stale(error: BaseException | None) -> bool:
    """Whether ``error`` says a cached statement can no longer run as prepared: its result
    type changed (e.g. ALTER TABLE under ``SELECT *``) or the server forgot it (DEALLOCATE)."""
    if isinstance(error, FeatureNotSupported):
        return error.source_function == "RevalidateCachedQuery"
    return isinstance(error, InvalidSqlStatementName)


def connect(dsn: str | None = None, **params: Any) -> Connection:
    """Open a blocking connection.

    ``dsn`` is a ``postgresql://`` URI or a ``key=value`` string; keyword arguments
    (``host``, ``port``, ``user``, ``password``, ``dbname``/``database``, ...) override it,
    and the ``PG*`` environment fills in the rest.  ``password`` may be a callable, called
    for each new connection (that is how IAM tokens plug in).
    """
    statement_cache_size = params.pop("statement_cache_size", 256)
    registry = params.pop("registry", None)
    info = resolve(dsn, **params)
    return Connection._open(info, registry or default_registry(), statement_cache_size)


class Connection:
    """A blocking connection to PostgreSQL. Use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        stream: SyncStream,
        core: ClientConnection,
        info: ConnectInfo,
        registry: TypeRegistry,
        statement_cache_size: int = 256,
    ) -> None:
        self._stream = stream
        self._core = core
        self._info = info
        self.registry = registry
        self._cache = StatementCache(statement_cache_size)
        self._closed = False
        self._transaction_depth = 0
        self._portal_counter = 0
        self.notifications: deque[Notification] = deque()
        self._notice_handlers: list[Callable[[Notice], object]] = []
        self._notification_handlers: list[Callable[[Notification], object]] = []

    # ----------------------------------------------------------------------------------
    # Opening and closing
    # ----------------------------------------------------------------------------------

    @classmethod
    def _open(
        cls, info: ConnectInfo, registry: TypeRegistry, statement_cache_size: int
    ) -> Connection:
        password = info.password
        if callable(password):
            password = password()
        stream, session = run_flow(connect_flow(info, password))
        assert stream is not None
        stream.set_timeout(None)
        conn = cls(stream, session.core, info, registry, statement_cache_size)
        for notice in session.notices:
            conn._on_notice(notice)
        return conn

    def close(self) -> None:
        """Say goodbye to the server and close the stream. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._core.state is ConnectionState.READY:
                self._stream.send_all(self._core.send(Terminate()))
        except OSError:
            pass
        finally:
            self._stream.close()

    def cancel(self) -> None:
        """Ask the server to cancel the query running on this connection.

        Safe to call from another thread: it opens a separate connection for the
        CancelRequest, as the protocol requires. The cancelled query raises
        ``QueryCanceled`` (57014); the connection stays usable.
        """
        run_flow(cancel_flow(self._info, self._core.cancel_request().encode()))

    def _abort(self) -> None:
        self._closed = True
        self._stream.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by ``close()`` or by a failure)."""
        return self._closed

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._core.state.value
        info = self._info
        where = info.host if info.is_unix_socket else f"{info.host}:{info.port}"
        return f"<pgwire.Connection {state} {info.user}@{where}/{info.dbname}>"

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

    def _write(self, data: bytes) -> None:
        try:
            self._stream.send_all(data)
        except OSError as exc:
            self._abort()
            raise OperationalError(f"could not send data to the server: {exc}") from None

    def _read_event(self, *, timeout_ok: bool = False) -> BackendMessage:
        """The next event from the server.  With ``timeout_ok``, a read timeout is raised
        as ``TimeoutError`` and leaves the connection open (nothing was lost: the bytes
        read so far stay buffered in the core); any other failure closes it."""
        core = self._core
        while True:
            try:
                event = core.next_event()
            except ProtocolError:
                self._abort()
                raise
            if event is NEED_DATA:
                try:
                    data = self._stream.receive_some()
                except (TimeoutError, BlockingIOError):
                    if timeout_ok:
                        raise
                    self._abort()
                    raise OperationalError("timed out waiting for the server") from None
                except OSError as exc:
                    self._abort()
                    raise OperationalError(
                        f"could not receive data from the server: {exc}"
                    ) from None
                core.receive_data(data)
                continue
            if isinstance(event, ConnectionClosed):
                self._abort()
                raise OperationalError(
                    "the server closed the connection unexpectedly; it probably terminated "
                    "abnormally before or while processing the request"
                )
            assert isinstance(event, BackendMessage)
            return event

    def _send(self, messages: Sequence[FrontendMessage]) -> None:
        try:
            data = self._core.send(*messages)
        except InterfaceError:
            raise
        self._write(data)

    def _drain(self, operation: Operation) -> None:
        """Feed events to ``operation`` until its ReadyForQuery."""
        while not operation.done:
            event = self._read_event()
            if isinstance(event, NotificationResponse):
                self._on_notification(event)
                continue
            if isinstance(event, NoticeResponse):
                self._on_notice(event)
                continue
            if isinstance(event, ParameterStatus):
                continue  # e.g. after SET TimeZone; the core keeps it in .parameters
            if isinstance(event, ErrorResponse) and self._core.state is ConnectionState.FAILED:
                self._abort()
                raise error_from_fields(event.fields)
            try:
                operation.feed(event)
            except ProtocolError:
                self._abort()
                raise
            if operation.reply:
                self._send(operation.reply)
                operation.reply = []

    def _run(self, operation: Operation) -> None:
        self._check_open()
        self._send(operation.messages)
        self._drain(operation)
        if isinstance(operation, ExecuteStatement):
            self._forget_if_stale(operation)
        operation.check()

    def _forget_if_stale(self, operation: ExecuteStatement) -> None:
        """Drop a statement the server refused as stale from the cache, so that the next
        use prepares it again instead of failing the same way forever."""
        if not _is_stale(operation.error):
            return
        statement = operation.statement
        if self._cache.get(statement.sql) is statement:
            self._cache.discard(statement.sql)
        if statement.name and not statement.closed:
            self._close_statements([statement])

    def _close_statements(self, statements: Sequence[PreparedStatement]) -> None:
        named = [s for s in statements if s.name and not s.closed]
        if named:
            for statement in named:
                statement.closed = True
            self._run(CloseStatements(s.name for s in named))

    # ----------------------------------------------------------------------------------
    # Notices and notifications
    # ----------------------------------------------------------------------------------

    def add_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Call ``handler(notice)`` for every NOTICE/WARNING the server sends."""
        self._notice_handlers.append(handler)

    def remove_notice_handler(self, handler: Callable[[Notice], object]) -> None:
        """Stop calling ``handler`` for notices."""
        self._notice_handlers.remove(handler)

    def add_notification_handler(self, handler: Callable[[Notification], object]) -> None:
        """Call ``handler(notification)`` for every NOTIFY received (instead of queueing)."""
        self._notification_handlers.append(handler)

    def remove_notification_handler(self, handler: Callable[[Notification], object]) -> None:
        """Stop calling ``handler`` for notifications."""
        self._notification_handlers.remove(handler)

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
        if not self._notification_handlers:
            self.notifications.append(notification)
        for handler in list(self._notification_handlers):
            try:
                handler(notification)
            except Exception:
                logger.exception("notification handler %r failed", handler)

    def wait_for_notification(self, timeout: float | None = None) -> Notification | None:
        """Wait (while idle) for the next NOTIFY; ``None`` if ``timeout`` seconds pass first."""
        self._check_open()
        if self.notifications:
            return self.notifications.popleft()
        if self._core.in_flight:
            raise InterfaceError("cannot wait for notifications while a query is in flight")
        self._stream.set_timeout(timeout)
        try:
            while not self.notifications:
                try:
                    event = self._read_event(timeout_ok=True)
                except (TimeoutError, BlockingIOError):
                    return None
                if isinstance(event, NotificationResponse):
                    self._on_notification(event)
                elif isinstance(event, NoticeResponse):
                    self._on_notice(event)
                elif isinstance(event, ErrorResponse):
                    self._abort()
                    raise error_from_fields(event.fields)
        finally:
            if not self._closed:
                self._stream.set_timeout(None)
        return self.notifications.popleft()

    # ----------------------------------------------------------------------------------
    # Statements
    # ----------------------------------------------------------------------------------

    def prepare(self, sql: str) -> PreparedStatement:
        """Prepare ``sql`` (or take it from the statement cache)."""
        statement = self._cache.get(sql)
        if statement is not None:
            return statement
        return self._prepare_many([sql])[0]

    def _prepare_many(self, sqls: Sequence[str]) -> list[PreparedStatement]:
        """Prepare several statements in one round trip."""
        self._check_open()
        if self._cache.capacity <= 0 and len(sqls) == 1:
            # Without a cache the unnamed statement serves: the next Parse replaces it, so
            # there is nothing to close (closing it now would break the caller's execute).
            names = [""]
        else:
            names = [self._cache.next_name() for _ in sqls]
        pairs = zip(names, sqls, strict=True)
        operations = [PrepareStatement(name, sql, self.registry) for name, sql in pairs]
        self._send([m for op in operations for m in op.messages])
        for op in operations:
            self._drain(op)
        statements = []
        evicted: list[PreparedStatement] = []
        for op in operations:
            op.check()
            assert op.statement is not None
            statements.append(op.statement)
            evicted.extend(self._cache.put(op.statement))
        self._close_statements(evicted)
        return statements

    def _execute_prepared(
        self, sql: str, args: Sequence[Any], *, max_rows: int = 0
    ) -> ExecuteStatement:
        statement = self.prepare(sql)
        operation = ExecuteStatement(statement, [args], max_rows=max_rows)
        try:
            self._run(operation)
        except PostgresError as exc:
            # Outside a transaction block nothing ran (the server refuses a stale statement
            # at Bind), so preparing again and retrying once is safe.
            if exc is operation.error and _is_stale(exc) and self.transaction_status == "I":
                operation = ExecuteStatement(self.prepare(sql), [args], max_rows=max_rows)
                self._run(operation)
            else:
                raise
        return operation

    def execute(self, sql: str, *args: Any) -> str:
        """Run ``sql``; return the command tag of its (last) statement, e.g. ``INSERT 0 1``.

        Without arguments the simple protocol is used, so ``sql`` may hold several
        statements separated by semicolons.
        """
        if not args:
            operation = SimpleQuery(sql, self.registry, keep_rows=False)
            self._run(operation)
            tags = [r.tag for r in operation.results if r.tag is not None]
            return tags[-1] if tags else ""
        return self._execute_prepared(sql, args).tag or ""

    def fetch(self, sql: str, *args: Any) -> list[Record]:
        """Run ``sql`` with ``args`` bound to ``$1, $2, ...``; return all rows."""
        return self._execute_prepared(sql, args).rows

    def fetchrow(self, sql: str, *args: Any) -> Record | None:
        """The first row, or ``None``."""
        rows = self._execute_prepared(sql, args, max_rows=1).rows
        return rows[0] if rows else None

    def fetchval(self, sql: str, *args: Any, column: int = 0) -> Any:
        """The value of ``column`` in the first row, or ``None`` if there is no row."""
        row = self.fetchrow(sql, *args)
        return None if row is None else row[column]

    def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        """Run ``sql`` once per argument tuple, pipelined in one round trip, atomically:
        if one fails, none of them takes effect (they share one implicit transaction)."""
        statement = self.prepare(sql)
        operation = ExecuteStatement(statement, args)
        if len(operation.messages) > 1:
            self._run(operation)

    def cursor(self, sql: str, *args: Any, batch_size: int = 1000) -> Iterator[Record]:
        """Iterate over the rows of ``sql`` in batches of ``batch_size``, with bounded memory.

        The rows come from a portal read ``batch_size`` rows at a time, which needs a
        transaction: outside one, a transaction is opened for the duration of the loop.
        """
        own_transaction = self.transaction_status == "I"
        if own_transaction:
            self.execute("BEGIN")
        self._portal_counter += 1
        portal = f"_pgwire_cursor_{self._portal_counter}"
        try:
            statement = self.prepare(sql)
            first = ExecuteStatement(statement, [], sync=False)
            params = statement.encode(args)
            bind = Bind(
                portal, statement.name, statement.param_formats, params, statement.result_formats
            )
            first.messages = [bind, Execute(portal, batch_size), Sync()]
            self._run(first)
            yield from first.rows
            while first.suspended:
                more = ExecuteStatement(statement, [], sync=False)
                more.messages = [Execute(portal, batch_size), Sync()]
                self._run(more)
                yield from more.rows
                first = more
        finally:
            if own_transaction and not self._closed:
                self.execute("COMMIT" if self.transaction_status == "T" else "ROLLBACK")
            elif not self._closed and self.transaction_status == "T":
                # A portal lives until the transaction ends: close it, or the caller's
                # transaction keeps its resources (and its name) to the end.
                self._run(CloseStatements([portal], kind="P"))

    # ----------------------------------------------------------------------------------
    # Transactions
    # ----------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, isolation: str | None = None) -> Iterator[Connection]:
        """``with conn.transaction():`` commits on success and rolls back on an exception.

        Nested blocks use savepoints.  ``isolation`` may be ``serializable``,
        ``repeatable read``, ``read committed`` or ``read uncommitted``.
        """
        depth = self._transaction_depth
        if depth == 0:
            begin = "BEGIN"
            if isolation:
                level = isolation.lower().replace("_", " ")
                if level not in (
                    "serializable",
                    "repeatable read",
                    "read committed",
                    "read uncommitted",
                ):
                    raise InterfaceError(f"unknown isolation level {isolation!r}")
                begin += f" ISOLATION LEVEL {level.upper()}"
            self.execute(begin)
        else:
            if isolation:
                raise InterfaceError("a nested transaction cannot set an isolation level")
            self.execute(f"SAVEPOINT _pgwire_sp_{depth}")
        self._transaction_depth += 1
        try:
            yield self
        except BaseException:
            self._transaction_depth -= 1
            if not self._closed:
                if depth == 0:
                    self.execute("ROLLBACK")
                else:
                    self.execute(f"ROLLBACK TO SAVEPOINT _pgwire_sp_{depth}")
            raise
        self._transaction_depth -= 1
        if depth == 0:
            if self.transaction_status == "E":
                # The server would turn COMMIT into ROLLBACK without an error: a statement
                # failed and its exception was caught inside the block.
                self.execute("ROLLBACK")
                raise InFailedSqlTransaction(
                    "the transaction was rolled back, not committed: a statement in it failed "
                    "and its error was caught inside the transaction() block"
                )
            self.execute("COMMIT")
        else:
            self.execute(f"RELEASE SAVEPOINT _pgwire_sp_{depth}")

    # ----------------------------------------------------------------------------------
    # Pipelines
    # ----------------------------------------------------------------------------------

    def pipeline(self) -> Pipeline:
        """Queue statements and run them all in one round trip; see :class:`Pipeline`."""
        return Pipeline(self)

    # ----------------------------------------------------------------------------------
    # COPY
    # ----------------------------------------------------------------------------------

    def copy_out(self, sql: str, sink: Callable[[bytes], object] | IO[bytes] | None = None) -> Any:
        """Run ``COPY ... TO STDOUT``.

        With no ``sink`` return all the data as bytes; otherwise hand each chunk to
        ``sink`` (a callable or a binary file) and return the command tag, so memory stays
        bounded however large the data.
        """
        chunks: list[bytes] = []
        if sink is None:
            write: Callable[[bytes], object] = chunks.append
        elif callable(sink):
            write = sink
        else:
            write = sink.write
        operation = CopyOut(sql, write)
        self._run(operation)
        if not operation.started:
            raise InterfaceError(
                f"copy_out() expects COPY ... TO STDOUT, but the statement ran as "
                f"{operation.tag or 'no command'!r}"
            )
        return b"".join(chunks) if sink is None else operation.tag

    def copy_in(
        self, sql: str, source: bytes | str | Iterable[bytes | str] | IO[bytes] | IO[str]
    ) -> str:
        """Run ``COPY ... FROM STDIN`` with data from ``source`` (bytes, str, a file, or an
        iterable of chunks); return the command tag, e.g. ``COPY 3``."""
        self._check_open()
        operation = CopyIn(sql)
        self._send(operation.messages)
        while not operation.started and not operation.done:
            self._step(operation)
        if operation.started:
            try:
                for chunk in _chunks(source):
                    if chunk:
                        self._write(self._core.send(CopyData(chunk)))
                    if self._core.copy_in_active is False:
                        break
            except BaseException as exc:
                if not self._closed:
                    self._write(self._core.send(CopyFail(f"client error: {type(exc).__name__}")))
                    self._drain(operation)
                raise
            if not self._closed:
                self._write(self._core.send(CopyDone()))
        self._drain(operation)
        operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_in() expects COPY ... FROM STDIN, but the statement ran as "
                f"{operation.tag or 'no command'!r} and took none of the data"
            )
        return operation.tag or ""

    def _step(self, operation: Operation) -> None:
        event = self._read_event()
        if isinstance(event, NotificationResponse):
            self._on_notification(event)
        elif isinstance(event, NoticeResponse):
            self._on_notice(event)
        elif not isinstance(event, ParameterStatus):
            operation.feed(event)
            if operation.reply:
                self._send(operation.reply)
                operation.reply = []


def _chunks(source: Any) -> Iterator[bytes]:
    if isinstance(source, str):
        source = source.encode()
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), _COPY_CHUNK):
            yield bytes(view[start : start + _COPY_CHUNK])
        return
    read = getattr(source, "read", None)
    if read is not None:
        while True:
            chunk = read(_COPY_CHUNK)
            if not chunk:
                return
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    for chunk in source:
        yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


class PipelineResult:
    """The future result of one statement queued in a :class:`Pipeline`."""

    __slots__ = ("_error", "_kind", "_operation", "_value_set", "args", "sql")

    def __init__(self, sql: str, args: tuple[Any, ...], kind: str) -> None:
        self.sql = sql
        self.args = args
        self._kind = kind
        self._operation: ExecuteStatement | None = None
        self._error: BaseException | None = None
        self._value_set = False

    def result(self) -> Any:
        """The statement's result (as ``execute``/``fetch``/``fetchrow``/``fetchval`` give it),
        or its error raised."""
        if self._error is not None:
            raise self._error
        if self._operation is None or not self._value_set:
            raise InterfaceError("the pipeline has not run yet; leave its with-block first")
        op = self._operation
        if self._kind == "execute":
            return op.tag or ""
        if self._kind == "fetch":
            return op.rows
        row = op.rows[0] if op.rows else None
        if self._kind == "fetchrow":
            return row
        return None if row is None else row[0]

    def __repr__(self) -> str:
        state = "error" if self._error else ("done" if self._value_set else "queued")
        return f"<PipelineResult {state} {self.sql[:40]!r}>"


class Pipeline:
    """Statements queued with ``execute``/``fetch``/``fetchrow``/``fetchval`` run together
    when the ``with`` block ends (or on :meth:`run`): statements not yet prepared are
    prepared in one round trip, then all run in a second one (one, if all were cached).

    Each statement is its own Sync batch: outside a transaction block, an error fails that
    statement only; inside one, the statements after it fail too (the transaction is
    aborted).  Leaving the block raises the first error; every result stays available
    through its :class:`PipelineResult`.
    """

    def __init__(self, connection: Connection) -> None:
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

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.run()

    def run(self) -> list[PipelineResult]:
        """Run everything queued; raise the first error after all results are in."""
        conn = self._conn
        queue, self._queue = self._queue, []
        if queue:
            conn._check_open()
        statements: dict[str, PreparedStatement | BaseException] = {}
        evicted: list[PreparedStatement] = []
        missing = []
        for item in queue:
            if item.sql in statements:
                continue
            cached = conn._cache.get(item.sql)
            if cached is not None:
                statements[item.sql] = cached
            elif item.sql not in missing:
                missing.append(item.sql)
        if missing:
            ops = [PrepareStatement(conn._cache.next_name(), sql, conn.registry) for sql in missing]
            conn._send([m for op in ops for m in op.messages])
            for op in ops:
                conn._drain(op)
            for op in ops:
                if op.error is not None or op.misuse is not None:
                    statements[op.sql] = op.misuse or op.error  # type: ignore[assignment]
                else:
                    assert op.statement is not None
                    statements[op.sql] = op.statement
                    # Statements evicted now may still run below: close them afterwards.
                    evicted.extend(conn._cache.put(op.statement))
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
        if runnable:
            conn._send([m for _, op in runnable for m in op.messages])
            for item, execution in runnable:
                conn._drain(execution)
                if execution.misuse is not None or execution.error is not None:
                    item._error = execution.misuse or execution.error
                item._value_set = True
            # Only now that every reply is read may more requests go out.
            for _, execution in runnable:
                conn._forget_if_stale(execution)
        conn._close_statements(evicted)
        for item in queue:
            if item._error is not None:
                raise item._error
        return queue
