"""The PEP 249 connection: transactions as PEP 249 wants them, on the blocking driver.

:class:`Connection` wraps one :class:`pgwire.Connection` and holds a lock around every
exchange with the server, so that threads sharing it take turns (``threadsafety = 2``).
Unless ``autocommit`` is on, the first statement after ``commit()``/``rollback()``
opens a transaction (``BEGIN`` with the isolation level, read-only and deferrable
settings); whether one is open is the server's word (its transaction status), so a
``COMMIT`` run by hand is understood too. Two-phase commit runs on ``PREPARE
TRANSACTION``. Everything else goes to the driver's public methods.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import pgwire
from pgwire import errors
from pgwire.dbapi._cursor import _END, Cursor, RowFactory, ServerCursor, tuple_row
from pgwire.dbapi._tpc import Xid, as_xid, quote_literal
from pgwire.errors import (
    InFailedSqlTransaction,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from pgwire.record import Record

__all__ = ["Connection", "IsolationLevel", "connect"]


class IsolationLevel(enum.IntEnum):
    """Transaction isolation levels (psycopg's values)."""

    READ_UNCOMMITTED = 1
    READ_COMMITTED = 2
    REPEATABLE_READ = 3
    SERIALIZABLE = 4


def connect(
    dsn: str | None = None,
    *,
    autocommit: bool = False,
    isolation_level: IsolationLevel | int | str | None = None,
    read_only: bool | None = None,
    deferrable: bool | None = None,
    row_factory: RowFactory | None = None,
    **params: Any,
) -> Connection:
    """Open a connection: ``dsn`` and ``params`` are everything :func:`pgwire.connect`
    takes (URIs, keywords, ``PG*`` variables, ``.pgpass``, TLS options, ``dsql://``,
    ``iam=dsql|rds``, ``ws://``/``wss://``, ``statement_cache_size``, ...)."""
    connection = Connection(pgwire.connect(dsn, **params), row_factory=row_factory)
    connection.autocommit = autocommit
    connection.isolation_level = isolation_level
    connection.read_only = read_only
    connection.deferrable = deferrable
    return connection


class Connection:
    """A PEP 249 connection. ``with connect(...) as conn:`` commits when the block ends
    normally, rolls back when it raises, and closes the connection either way (as
    psycopg 3 does)."""

    # PEP 249's optional extension: the exception classes as attributes.
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

    def __init__(
        self, connection: pgwire.Connection, *, row_factory: RowFactory | None = None
    ) -> None:
        self._driver = connection
        #: Held around every exchange with the server: threads sharing the connection
        #: take turns (a cursor's statement and its reading of the reply are one turn).
        self._lock = threading.RLock()
        #: The row factory of new cursors: tuple_row, dict_row, record_row, or your own.
        self.row_factory: RowFactory = row_factory or tuple_row
        self._autocommit = False
        self._isolation_level: IsolationLevel | None = None
        self._read_only: bool | None = None
        self._deferrable: bool | None = None
        self._closed = False
        self._tpc: Xid | None = None
        self._tpc_prepared = False

    # ----------------------------------------------------------------------------------
    # State
    # ----------------------------------------------------------------------------------

    @property
    def driver_connection(self) -> pgwire.Connection:
        """The :class:`pgwire.Connection` underneath, for the driver's richer API
        (pipelines, COPY from records, notifications, ``$n`` queries). Its statements
        share this connection's transaction; don't use it while another thread uses
        this connection."""
        return self._driver

    @property
    def closed(self) -> bool:
        """Whether the connection is closed: by ``close()``, or lost."""
        return self._closed or self._driver.closed

    @property
    def autocommit(self) -> bool:
        """Off by default: the first statement opens a transaction that ``commit()`` or
        ``rollback()`` ends. On, each statement commits by itself."""
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._check_settable("autocommit")
        self._autocommit = bool(value)

    @property
    def isolation_level(self) -> IsolationLevel | None:
        """The isolation level of the transactions this connection opens (``None``: the
        server's default, ``default_transaction_isolation``)."""
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: IsolationLevel | int | str | None) -> None:
        self._check_settable("isolation_level")
        self._isolation_level = _isolation_level(value)

    @property
    def read_only(self) -> bool | None:
        """Whether the transactions this connection opens are READ ONLY (``None``: the
        server's default)."""
        return self._read_only

    @read_only.setter
    def read_only(self, value: bool | None) -> None:
        self._check_settable("read_only")
        self._read_only = None if value is None else bool(value)

    @property
    def deferrable(self) -> bool | None:
        """Whether the transactions this connection opens are DEFERRABLE (it matters for
        SERIALIZABLE READ ONLY ones; ``None``: the server's default)."""
        return self._deferrable

    @deferrable.setter
    def deferrable(self, value: bool | None) -> None:
        self._check_settable("deferrable")
        self._deferrable = None if value is None else bool(value)

    @property
    def transaction_status(self) -> str:
        """The server's word: ``I`` idle, ``T`` in a transaction, ``E`` in a failed one."""
        return self._driver.transaction_status

    def _check_settable(self, what: str) -> None:
        self._check_open()
        if self._driver.transaction_status != "I":
            raise ProgrammingError(
                f"cannot change {what} inside a transaction: commit() or rollback() first"
            )

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")
        if self._driver.closed:
            raise InterfaceError("the connection is closed: it was lost (see the error before)")

    def _begin_sql(self) -> str:
        parts = ["BEGIN"]
        if self._isolation_level is not None:
            parts.append("ISOLATION LEVEL " + self._isolation_level.name.replace("_", " "))
        if self._read_only is not None:
            parts.append("READ ONLY" if self._read_only else "READ WRITE")
        if self._deferrable is not None:
            parts.append("DEFERRABLE" if self._deferrable else "NOT DEFERRABLE")
        return " ".join(parts)

    def _begin_if_needed(self) -> None:
        if self._tpc_prepared:
            raise ProgrammingError(
                "the two-phase transaction is prepared: end it with tpc_commit() or "
                "tpc_rollback() before running anything else"
            )
        if not self._autocommit and self._driver.transaction_status == "I":
            self._driver.execute(self._begin_sql())

    @contextmanager
    def _turn(self) -> Generator[pgwire.Connection, None, None]:
        """Hold the lock for one exchange with the server; a timeout of the driver's
        (``command_timeout``) becomes OperationalError."""
        with self._lock:
            self._check_open()
            try:
                yield self._driver
            except TimeoutError as exc:
                raise OperationalError(f"the query timed out: {exc}") from None

    # ----------------------------------------------------------------------------------
    # What cursors call
    # ----------------------------------------------------------------------------------

    def _run(self, sql: str, arg_rows: Sequence[Sequence[Any]] | None) -> list[Any]:
        # The path of every execute: _turn() and _begin_if_needed() written out.
        with self._lock:
            driver = self._driver
            if self._closed or driver.closed or self._tpc_prepared:
                self._check_open()
                self._begin_if_needed()
            if not self._autocommit and driver.transaction_status == "I":
                driver.execute(self._begin_sql())
            try:
                return driver.execute_results(sql, arg_rows)
            except TimeoutError as exc:
                raise OperationalError(f"the query timed out: {exc}") from None

    def _stream(
        self, sql: str, args: Sequence[Any], batch_size: int
    ) -> tuple[tuple[Any, ...] | None, Generator[Record, None, None], Any]:
        with self._turn() as driver:
            self._begin_if_needed()
            statement = driver.prepare(sql)
            stream = driver.cursor(sql, *args, batch_size=batch_size)
            first = next(stream, _END)
            return statement.columns, stream, first

    def _copy_in(self, sql: str, source: Any) -> str:
        with self._turn() as driver:
            self._begin_if_needed()
            return driver.copy_in(sql, source)

    def _copy_out(self, sql: str, sink: Any) -> str:
        with self._turn() as driver:
            self._begin_if_needed()
            tag: str = driver.copy_out(sql, sink)
            return tag

    # ----------------------------------------------------------------------------------
    # PEP 249
    # ----------------------------------------------------------------------------------

    def cursor(
        self,
        name: str | None = None,
        *,
        row_factory: RowFactory | None = None,
        scrollable: bool | None = None,
        withhold: bool = False,
    ) -> Any:
        """A new cursor; with a ``name``, a :class:`ServerCursor` that streams its rows.

        Named cursors are forward-only and live inside a transaction: ``scrollable=True``
        and ``withhold=True`` (psycopg's options) are not offered.
        """
        self._check_open()
        if not name:
            return Cursor(self, row_factory)
        if scrollable or withhold:
            raise errors.NotSupportedError(
                "named cursors are forward-only and end with their transaction: "
                "scrollable=True and withhold=True are not offered (DECLARE one in SQL)"
            )
        return ServerCursor(self, name, row_factory)

    def execute(self, query: str, params: Any = None) -> Any:
        """Run ``query`` on a new cursor and return the cursor (psycopg 3's shortcut)."""
        return self.cursor().execute(query, params)

    def commit(self) -> None:
        """Commit the open transaction, if any.

        If a statement failed in it, PostgreSQL rolls it back instead, and this raises
        InFailedSqlTransaction so that the loss cannot go unnoticed.
        """
        with self._turn() as driver:
            self._no_tpc("commit")
            if driver.transaction_status == "I":
                return
            if driver.execute("COMMIT") == "ROLLBACK":
                raise InFailedSqlTransaction(
                    "the transaction was rolled back, not committed: a statement in it "
                    "failed (and its error was caught)"
                )

    def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        with self._turn() as driver:
            self._no_tpc("rollback")
            if driver.transaction_status != "I":
                driver.execute("ROLLBACK")

    def cancel(self) -> None:
        """Ask the server to cancel the statement running on this connection (from
        another thread: it does not wait for the lock). The statement raises
        QueryCanceled; the connection stays usable."""
        self._check_open()
        self._driver.cancel()

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back by the server.
        Closing it again raises InterfaceError (PEP 249: it is unusable)."""
        if self._closed:
            raise InterfaceError("the connection is already closed")
        self._closed = True
        with self._lock:
            self._driver.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.closed:
            if not self._closed:
                self.close()
            return
        try:
            if exc_type is None:
                if self._tpc is not None:
                    self.tpc_commit()
                else:
                    self.commit()
            elif self._tpc is not None:
                self.tpc_rollback()
            else:
                self.rollback()
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"<pgwire.dbapi.Connection {'closed' if self.closed else 'open'} {self._driver!r}>"

    # ----------------------------------------------------------------------------------
    # Two-phase commit
    # ----------------------------------------------------------------------------------

    def xid(self, format_id: int | None, gtrid: str, bqual: str | None) -> Xid:
        """A transaction id for :meth:`tpc_begin`."""
        return Xid(format_id, gtrid, bqual)

    def _no_tpc(self, what: str) -> None:
        if self._tpc is not None:
            raise ProgrammingError(f"{what}() cannot end a two-phase transaction: use tpc_{what}()")

    def tpc_begin(self, xid: Xid | str) -> None:
        """Start a two-phase transaction with id ``xid`` (outside any transaction)."""
        with self._turn() as driver:
            xid = as_xid(xid)
            if self._tpc is not None:
                raise ProgrammingError("a two-phase transaction is already in progress")
            if self._autocommit:
                raise ProgrammingError("two-phase transactions need autocommit off")
            if driver.transaction_status != "I":
                raise ProgrammingError(
                    "tpc_begin() must start the transaction: commit() or rollback() first"
                )
            driver.execute(self._begin_sql())
            self._tpc, self._tpc_prepared = xid, False

    def tpc_prepare(self) -> None:
        """Prepare the two-phase transaction (``PREPARE TRANSACTION``): from now on only
        tpc_commit() or tpc_rollback() may follow."""
        with self._turn() as driver:
            if self._tpc is None:
                raise ProgrammingError("tpc_prepare() needs a transaction started by tpc_begin()")
            if self._tpc_prepared:
                raise ProgrammingError("the two-phase transaction is already prepared")
            tag = driver.execute(f"PREPARE TRANSACTION {quote_literal(self._tpc.name)}")
            if tag == "ROLLBACK":
                self._tpc = None
                raise InFailedSqlTransaction(
                    "the transaction was rolled back, not prepared: a statement in it failed"
                )
            self._tpc_prepared = True

    def tpc_commit(self, xid: Xid | str | None = None) -> None:
        """Commit the two-phase transaction (prepared or not: then in one phase); with
        ``xid``, commit that prepared transaction (recovery), outside any transaction."""
        self._tpc_end("COMMIT", xid)

    def tpc_rollback(self, xid: Xid | str | None = None) -> None:
        """Roll back the two-phase transaction; with ``xid``, roll back that prepared
        transaction (recovery), outside any transaction."""
        self._tpc_end("ROLLBACK", xid)

    def _tpc_end(self, verb: str, xid: Xid | str | None) -> None:
        with self._turn() as driver:
            if xid is None:
                current = self._tpc
                if current is None:
                    raise ProgrammingError(
                        f"tpc_{verb.lower()}() without an xid needs a transaction started "
                        "by tpc_begin()"
                    )
                if self._tpc_prepared:
                    driver.execute(f"{verb} PREPARED {quote_literal(current.name)}")
                else:
                    tag = driver.execute(verb)
                    if verb == "COMMIT" and tag == "ROLLBACK":
                        self._tpc = None
                        raise InFailedSqlTransaction(
                            "the transaction was rolled back, not committed: a statement "
                            "in it failed"
                        )
                self._tpc, self._tpc_prepared = None, False
                return
            if self._tpc is not None or driver.transaction_status != "I":
                raise ProgrammingError(
                    f"tpc_{verb.lower()}(xid) ends a prepared transaction from outside any "
                    "transaction: commit() or rollback() first"
                )
            driver.execute(f"{verb} PREPARED {quote_literal(as_xid(xid).name)}")

    def tpc_recover(self) -> list[Xid]:
        """The transactions prepared on the server and not yet ended (of every
        database; each Xid says its ``database``, ``owner`` and when it was
        ``prepared``)."""
        with self._turn() as driver:
            rows = driver.fetch(
                "SELECT gid, prepared, owner, database FROM pg_catalog.pg_prepared_xacts"
            )
        return [
            Xid.from_name(gid, prepared=prepared, owner=owner, database=database)
            for gid, prepared, owner, database in rows
        ]


def _isolation_level(value: IsolationLevel | int | str | None) -> IsolationLevel | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return IsolationLevel[value.strip().upper().replace(" ", "_")]
        return IsolationLevel(value)
    except (KeyError, ValueError):
        names = ", ".join(level.name for level in IsolationLevel)
        raise ProgrammingError(
            f"unknown isolation level {value!r}: expected None or one of {names}"
        ) from None
