"""The byte pump of the async driver: :class:`AsyncPump`, the base of :class:`AsyncConnection`.

It owns the stream and the protocol core, sends what an operation of
:mod:`pgwire.operations` says, feeds it what the server answers (by the fastest way the
operation allows: see :class:`~pgwire.operations.Operation`), delivers notices and
notifications that arrive in between, and recovers from a cancelled task or an expired
timeout by cancelling on the server and reading the rest of the reply. Every feature of
the connection (queries, cursors, COPY, notifications, pipelines, transactions) runs its
operations through :meth:`AsyncPump._exchange` or :meth:`AsyncPump._run`.

This is the async source; ``scripts/gen_sync.py`` generates ``_pump_sync.py``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from pgwire import _compat_async as _io
from pgwire._io_async import run_flow
from pgwire.conninfo import ConnectInfo
from pgwire.errors import (
    InterfaceError,
    OperationalError,
    ProtocolError,
    error_from_fields,
    notice_from_fields,
)
from pgwire.errors import PostgresNotice as Notice
from pgwire.flows import cancel_flow
from pgwire.operations import (
    CloseStatements,
    CopyOut,
    ExecuteStatement,
    Notification,
    Operation,
    PreparedStatement,
    SimpleQuery,
    StatementCache,
    is_stale,
)
from pgwire.protocol import (
    NEED_DATA,
    BackendMessage,
    BindComplete,
    ClientConnection,
    CloseComplete,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    CopyData,
    CopyDone,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    EmptyQueryResponse,
    ErrorResponse,
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
)
from pgwire.transports.async_tcp import AsyncStream
from pgwire.types import TypeRegistry

__all__ = ["DEFAULT_CANCEL_TIMEOUT", "AsyncPump"]

logger = logging.getLogger("pgwire")

#: How long a cancelled query may take to wind down before the connection is closed.
DEFAULT_CANCEL_TIMEOUT = 10.0

#: While a cancelled query winds down, how long it may stay silent before it is cancelled
#: again (and a later statement of a pipeline cancelled too).
_STATEMENT_GRACE = 0.1


class AsyncPump:
    """The stream, the core and the state every feature of a connection shares."""

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
        #: Who is running now (the task, or the thread): asked on every query.
        self._owner_lookup = _io.owner_lookup()
        self._use_depth = 0
        #: The guard of _in_use: one per connection (it keeps no state of its own).
        self._guard = _InUse(self)
        #: Notifications received and not yet taken (when no listener took them).
        self.pending_notifications: deque[Notification] = deque()
        self._notice_handlers: list[Callable[[Notice], object]] = []
        self._listeners: dict[str, list[Callable[[Notification], object]]] = {}

    @property
    def transaction_status(self) -> str:
        """``I`` idle, ``T`` in a transaction block, ``E`` in a failed one."""
        return self._core.transaction_status

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def _in_use(self) -> _InUse:
        """Mark the connection as used by the current task (or thread) for the block."""
        return self._guard

    async def _abort(self) -> None:
        self._closed = True
        with _io.shield():
            await self._stream.close()

    async def cancel(self) -> None:
        """Ask the server to cancel the query running on this connection.

        It opens a separate connection for the CancelRequest, as the protocol requires, so
        another task (or thread) may call it. The cancelled query raises ``QueryCanceled``
        (57014); the connection stays usable.
        """
        await run_flow(cancel_flow(self._info, self._core.cancel_request().encode()))

    async def _write(self, data: bytes) -> None:
        """Write ``data``, which the core has already counted as sent.

        A cancellation must not stop the write before or halfway, or the server and the
        core fall out of step: the write is shielded, and the cancellation takes effect at
        the next read instead, which cancels what was sent.  (:meth:`_exchange` skips the
        shield, a cancel scope per query, when the stream hands every byte over before it
        first waits, ``atomic_send``: it recovers from a cancellation there as in a read.)
        """
        try:
            with _io.shield():
                await self._stream.send_all(data)
        except OSError as exc:
            await self._write_failed(exc)

    async def _write_failed(self, exc: OSError) -> NoReturn:
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
        except OSError as exc:
            await self._receive_failed(exc)
        self._core.receive_data(data)

    async def _receive_failed(self, exc: OSError) -> NoReturn:
        if isinstance(exc, TimeoutError | BlockingIOError):
            raise TimeoutError("timed out waiting for the server") from None
        await self._abort()
        raise OperationalError(f"could not receive data from the server: {exc}") from None

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

    async def _drain(
        self,
        operation: Operation,
        timeout: float | None = None,
        sink: Callable[[bytes], Any] | None = None,
    ) -> None:
        """Feed events to ``operation`` until its ReadyForQuery."""
        # The hottest loop of the driver: _read_event and _dispatch_async_message inlined.
        core = self._core
        stream = self._stream
        takes_rows = operation.takes_rows
        takes_tags = operation.takes_tags
        takes_answers = operation.takes_answers
        while not operation.done:
            try:
                if takes_answers:
                    # A simple query's tags and ReadyForQuery, rows dropped unread.
                    answers = core.next_query_answers()
                    if answers is not None:
                        operation.take_answers(*answers)
                        continue
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
                    if timeout is None:
                        # _receive without its two coroutine layers: once per reply.
                        try:
                            data = await stream.receive_some()
                        except OSError as exc:
                            await self._receive_failed(exc)
                        core.receive_data(data)
                    else:
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
        if True:  # ASYNC
            read_timeout = None  # the whole exchange runs under fail_after(timeout)
        else:
            read_timeout = timeout  # each read waits up to timeout
        with _io.fail_after(timeout):
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
                if self._atomic_send:
                    # _write without its coroutine layer (nothing to shield: see there).
                    try:
                        await self._stream.send_all(data)
                    except OSError as exc:
                        await self._write_failed(exc)
                else:
                    await self._write(data)
                while pending:
                    await self._drain(pending[0], read_timeout, sink)
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
            if operation.error is not None and isinstance(operation, ExecuteStatement):
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

    async def _step(self, operation: Operation) -> None:
        event = await self._read_event()
        if not self._dispatch_async_message(event):
            operation.feed(event)
            if operation.reply:
                await self._send(operation.reply)
                operation.reply = []

    async def _end_cursor(self, own_transaction: bool, portal: str) -> None:
        """End a cursor's portal (and the transaction it opened for itself). A loop left
        early may leave this to the pump, before its next exchange (``_deferred_cursors``)."""
        if self._closed:
            return
        if own_transaction:
            if self.transaction_status != "I":
                end = "COMMIT" if self.transaction_status == "T" else "ROLLBACK"
                await self._run(SimpleQuery(end, self.registry, keep_rows=False))
        elif self.transaction_status == "T":
            # A portal lives until the transaction ends: close it, or the caller's
            # transaction keeps its resources (and its name) to the end.
            await self._run(CloseStatements([portal], kind="P"))

    async def _end_deferred_cursors(self) -> None:
        deferred, self._deferred_cursors = self._deferred_cursors, []
        for own_transaction, portal in deferred:
            await self._end_cursor(own_transaction, portal)


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
    """The guard of :meth:`AsyncPump._in_use` (a class: it runs on every query). Blocks
    may nest: the depth and the owner live on the connection."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncPump) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        conn = self._conn
        owner = conn._owner_lookup()
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
