"""PEP 249 cursors: :class:`Cursor` (the whole result read at ``execute``) and
:class:`ServerCursor` (a named cursor: rows streamed from a server-side portal in batches
of ``itersize``), and the row factories.

A cursor turns each call into one call of the blocking driver, under the connection's
lock (see :mod:`pgwire.dbapi._connection`); it never speaks the protocol itself.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pgwire.dbapi._placeholders import Query, parse_query
from pgwire.dbapi._types import Column, column_of
from pgwire.errors import (
    DataError,
    InterfaceError,
    NotSupportedError,
    ProgrammingError,
)
from pgwire.record import Record

if TYPE_CHECKING:
    from pgwire.dbapi._connection import Connection

__all__ = [
    "Cursor",
    "RowFactory",
    "RowMaker",
    "ServerCursor",
    "dict_row",
    "record_row",
    "tuple_row",
]

RowMaker = Callable[[Sequence[Any]], Any]
#: psycopg's protocol: called with the cursor once its description is known, it returns
#: the function that makes each row from the row's values.
RowFactory = Callable[["Cursor"], RowMaker]


def tuple_row(cursor: Cursor) -> RowMaker:
    """Rows as plain tuples (the default)."""
    return tuple


def dict_row(cursor: Cursor) -> RowMaker:
    """Rows as dicts from column name to value."""
    names = [column.name for column in cursor.description or ()]

    def make(values: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(names, values, strict=True))

    return make


def record_row(cursor: Cursor) -> RowMaker:
    """Rows as :class:`pgwire.Record` (by index, by name, and as a mapping), as the
    driver makes them: nothing is copied."""
    return _same


def _same(values: Any) -> Any:
    return values


# Command tags that end with a row count.
_COUNTED = frozenset({"INSERT", "UPDATE", "DELETE", "SELECT", "MERGE", "COPY", "FETCH", "MOVE"})
_PARAMETER = re.compile(r"\Aparameter \$(\d+)")

#: Descriptions by the driver's (cached, reused) RowDescription fields.
_DESCRIPTIONS: dict[int, tuple[Any, tuple[Column, ...]]] = {}


def _description(columns: tuple[Any, ...]) -> tuple[Column, ...]:
    cached = _DESCRIPTIONS.get(id(columns))
    if cached is not None and cached[0] is columns:
        return cached[1]
    description = tuple(column_of(field) for field in columns)
    if len(_DESCRIPTIONS) >= 512:
        _DESCRIPTIONS.clear()
    _DESCRIPTIONS[id(columns)] = (columns, description)
    return description


def rowcount_of(tag: str | None) -> int:
    """The row count of a command tag (``INSERT 0 5`` -> 5), or -1 if it has none."""
    if not tag:
        return -1
    words = tag.split()
    if words[0] in _COUNTED and words[-1].isdigit():
        return int(words[-1])
    return -1


def _copy_misuse(query: str) -> ProgrammingError:
    return ProgrammingError(
        "COPY ... FROM STDIN and COPY ... TO STDOUT move data outside the statement: "
        "run them with cursor.copy_expert(sql, file), or with the driver's COPY methods "
        f"(conn.driver_connection.copy_in/copy_out/copy_records_to_table): {query[:80]!r}"
    )


def _parameter_error(exc: DataError, query: Query | None) -> DataError:
    """``exc`` naming the parameter as the caller wrote it (``%(name)s`` or its position)."""
    found = _PARAMETER.match(str(exc))
    if type(exc) is not DataError or found is None:
        return exc
    number = int(found.group(1))
    if query is not None and query.names and number <= len(query.names):
        label = f"parameter %({query.names[number - 1]})s"
    else:
        label = f"parameter {number} (positional %s number {number})"
    return DataError(label + str(exc)[found.end() :])


class Cursor:
    """A client-side cursor: ``execute`` reads the whole result, the fetch methods hand
    it out. Use it as a context manager, or ``close()`` it."""

    #: Rows per fetchmany() without a size (PEP 249's default).
    arraysize: int = 1

    def __init__(self, connection: Connection, row_factory: RowFactory | None = None) -> None:
        self._connection = connection
        self.row_factory: RowFactory = row_factory or connection.row_factory
        self._closed = False
        self._query: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.description: tuple[Column, ...] | None = None
        #: Rows of the last statement (from its command tag), -1 when not known.
        self.rowcount = -1
        #: The last command tag, e.g. ``INSERT 0 1``.
        self.statusmessage: str | None = None
        self._rows: list[Record] | None = None
        self._pos = 0
        self._pending: list[Any] = []
        self._make: RowMaker | None = None

    # ----------------------------------------------------------------------------------
    # Attributes
    # ----------------------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The connection this cursor belongs to (PEP 249's extension)."""
        return self._connection

    @property
    def closed(self) -> bool:
        """Whether the cursor (or its connection) is closed."""
        return self._closed or self._connection.closed

    @property
    def query(self) -> str | None:
        """The SQL last sent, with the ``$n`` placeholders the server saw."""
        return self._query

    @property
    def lastrowid(self) -> None:
        """Always ``None``: PostgreSQL tables have no OIDs; use ``INSERT ... RETURNING``."""
        return None

    @property
    def rownumber(self) -> int | None:
        """The 0-based index of the next row in the result, or ``None`` without one."""
        return None if self._rows is None else self._pos

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored: the server says the parameter types."""
        self._check()

    def setoutputsize(self, size: int, column: int | None = None) -> None:
        """Accepted and ignored: values of any size are read whole."""
        self._check()

    # ----------------------------------------------------------------------------------
    # Running statements
    # ----------------------------------------------------------------------------------

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        """Run ``query`` with ``params`` bound to its ``%s`` / ``%(name)s`` placeholders.

        Without ``params`` the query is sent as written (no ``%`` processing); then it may
        hold several statements, whose results :meth:`nextset` walks through. Returns the
        cursor, so ``cur.execute(...).fetchall()`` reads well.
        """
        connection = self._check()
        parsed = parse_query(query)
        if parsed.copy is not None:
            raise _copy_misuse(query)
        if params is None:
            sql = query
            arg_rows: list[tuple[Any, ...]] | None = None if parsed.statements != 1 else [()]
        else:
            sql, arg_rows = parsed.sql, [parsed.bind(params)]
        try:
            results = connection._run(sql, arg_rows)
        except DataError as exc:
            self._reset()
            raise _parameter_error(exc, parsed) from None
        except BaseException:
            self._reset()  # no result of an earlier statement survives a failed one
            raise
        self._query = sql
        if len(results) == 1:
            self._pending = []
            self._use(results[0])
        else:
            self._take(results)
        return self

    def executemany(
        self, query: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> None:
        """Run ``query`` once per parameter set, all in one round trip and atomically
        (they share one implicit transaction); ``rowcount`` is the total of the rows
        affected. Result rows, if the statement returns any, are not kept."""
        connection = self._check()
        parsed = parse_query(query)
        arg_rows = [parsed.bind(params) for params in params_seq]
        self._reset()
        if not arg_rows:
            self.rowcount = 0
            return
        try:
            results = connection._run(parsed.sql, arg_rows)
        except DataError as exc:
            raise _parameter_error(exc, parsed) from None
        self._query = parsed.sql
        counts = [rowcount_of(result.tag) for result in results]
        self.rowcount = -1 if -1 in counts else sum(counts)
        self.statusmessage = results[-1].tag if results else None

    def callproc(
        self, procname: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Any:
        """Call the function ``procname`` (SQL, not quoted: ``schema.name`` works) as
        ``SELECT * FROM procname(...)``; its rows are the result. Returns ``parameters``
        unchanged (PostgreSQL functions have no OUT arguments to update). A procedure
        needs ``CALL``: run it with :meth:`execute`."""
        name = procname.replace("%", "%%")
        if parameters is None:
            parameters = ()
        if isinstance(parameters, Mapping):
            arguments = ", ".join(f"{key} := %({key})s" for key in parameters)
        else:
            arguments = ", ".join(["%s"] * len(parameters))
        self.execute(f"SELECT * FROM {name}({arguments})", parameters)
        return parameters

    def copy_expert(self, sql: str, file: Any, size: int = 8192) -> None:
        """Run ``COPY ... FROM STDIN`` with data read from ``file`` (a file, text or
        binary, bytes, str, or an iterable of chunks), or ``COPY ... TO STDOUT`` writing
        into ``file`` (a text or binary file, or a callable taking bytes), as psycopg 2's
        ``copy_expert``. ``rowcount`` is the number of rows copied."""
        connection = self._check()
        direction = parse_query(sql).copy
        if direction == "in":
            tag = connection._copy_in(sql, _source(file))
        elif direction == "out":
            tag = connection._copy_out(sql, _sink(file))
        else:
            raise ProgrammingError(
                "copy_expert() runs COPY ... FROM STDIN or COPY ... TO STDOUT; "
                f"this is neither: {sql[:80]!r}"
            )
        self._reset()
        self._query = sql
        self.statusmessage = tag
        self.rowcount = rowcount_of(tag)

    def _take(self, results: list[Any]) -> None:
        self._reset()
        if results:
            self._pending = results[1:]
            self._use(results[0])

    def _use(self, result: Any) -> None:
        columns = result.columns
        self.statusmessage = result.tag
        self.rowcount = rowcount_of(result.tag)
        self._pos = 0
        self._make = None
        if columns is None:
            self.description = None
            self._rows = None
        else:
            self.description = _description(columns)
            self._rows = result.rows

    def nextset(self) -> bool | None:
        """Move to the result of the next statement (after a script run without
        parameters): True, or None when there is none."""
        self._check()
        if not self._pending:
            return None
        self._use(self._pending.pop(0))
        return True

    # ----------------------------------------------------------------------------------
    # Fetching
    # ----------------------------------------------------------------------------------

    def _result_rows(self) -> list[Record]:
        self._check()
        if self._rows is None:
            raise ProgrammingError(
                "no result to fetch from: the last statement returned no rows"
                if self._query is not None
                else "no result to fetch from: nothing was executed on this cursor"
            )
        return self._rows

    def _maker(self) -> RowMaker:
        make = self._make
        if make is None:
            make = self._make = self.row_factory(self)
        return make

    def _made(self, rows: list[Record]) -> list[Any]:
        factory = self.row_factory
        if factory is tuple_row:
            return list(map(tuple, rows))
        if factory is record_row:
            return rows
        return list(map(self._maker(), rows))

    def fetchone(self) -> Any:
        """The next row, or ``None`` at the end."""
        rows = self._rows
        if rows is None or self._closed or self._connection._closed:
            rows = self._result_rows()  # raises
        pos = self._pos
        if pos >= len(rows):
            return None
        self._pos = pos + 1
        make = self._make or self._maker()
        return make(rows[pos])

    def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next ``size`` rows (default :attr:`arraysize`); fewer at the end."""
        rows = self._result_rows()
        pos = self._pos
        end = min(len(rows), pos + (self.arraysize if size is None else size))
        self._pos = max(end, pos)
        return self._made(rows[pos:end])

    def fetchall(self) -> list[Any]:
        """All the remaining rows."""
        rows = self._result_rows()
        pos = self._pos
        self._pos = len(rows)
        return self._made(rows[pos:] if pos else rows)

    def __iter__(self) -> Iterator[Any]:
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    #: PEP 249's optional ``next()``: the next row, StopIteration at the end.
    next = __next__

    def scroll(self, value: int, mode: str = "relative") -> None:
        """Move in the result: by ``value`` rows (``relative``) or to row ``value``
        (``absolute``); IndexError out of range."""
        rows = self._result_rows()
        if mode not in ("relative", "absolute"):
            raise ProgrammingError(f"mode must be 'relative' or 'absolute', not {mode!r}")
        target = self._pos + value if mode == "relative" else value
        if not 0 <= target <= len(rows):
            raise IndexError(f"scroll to row {target} is out of the result's 0..{len(rows)}")
        self._pos = target

    # ----------------------------------------------------------------------------------
    # Closing
    # ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the cursor: any further use raises InterfaceError, closing again too."""
        if self._closed:
            raise InterfaceError("the cursor is already closed")
        self._closed = True
        self._reset()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._closed:
            self.close()

    def _check(self) -> Connection:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        connection = self._connection
        connection._check_open()
        return connection

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgwire.dbapi.{type(self).__name__} {state}>"


_COPY_BLOCK = 1 << 16


def _source(file: Any) -> Any:
    """COPY data for the driver: an iterable of (often line-sized) chunks is gathered
    into blocks of about 64 kB, one CopyData each; anything else goes as it is."""
    if isinstance(file, str | bytes | bytearray | memoryview) or hasattr(file, "read"):
        return file
    return _blocks(file)


def _blocks(chunks: Iterable[Any]) -> Iterator[bytes]:
    block: list[bytes] = []
    size = 0
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        block.append(data)
        size += len(data)
        if size >= _COPY_BLOCK:
            yield b"".join(block)
            block, size = [], 0
    if block:
        yield b"".join(block)


def _sink(file: Any) -> Callable[[bytes], object]:
    if isinstance(file, io.TextIOBase):
        return lambda chunk: file.write(chunk.decode())
    if callable(file):
        return file  # type: ignore[no-any-return]
    write: Callable[[bytes], object] = file.write
    return write


_END: Any = object()


class ServerCursor(Cursor):
    """A named cursor: ``execute`` opens a server-side portal inside the current
    transaction (or, in autocommit mode, a transaction of its own until the cursor is
    closed or read to its end), and the rows come ``itersize`` at a time as they are
    fetched, so memory stays flat however big the result."""

    #: Rows per round trip while fetching.
    itersize: int = 2000

    def __init__(
        self, connection: Connection, name: str, row_factory: RowFactory | None = None
    ) -> None:
        super().__init__(connection, row_factory)
        self.name = name
        self._stream: Generator[Record, None, None] | None = None
        self._ahead: Any = _END
        self._fetched = 0

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        """Open the portal for ``query`` (one statement) and read its first batch."""
        connection = self._check()
        parsed = parse_query(query)
        if parsed.copy is not None:
            raise _copy_misuse(query)
        sql, args = (query, ()) if params is None else (parsed.sql, parsed.bind(params))
        self._end_stream()
        self._reset()
        try:
            columns, stream, first = connection._stream(sql, args, self.itersize)
        except DataError as exc:
            raise _parameter_error(exc, parsed) from None
        self._query = sql
        self._stream, self._ahead, self._fetched = stream, first, 0
        self.description = None if columns is None else _description(columns)
        self._rows = []
        return self

    def executemany(
        self, query: str, params_seq: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> None:
        """Not for named cursors (they hold one query's rows): use an unnamed cursor."""
        raise ProgrammingError("executemany() is not possible on a named cursor")

    def _take_rows(self, count: int | None) -> list[Record]:
        self._result_rows()
        stream, ahead = self._stream, self._ahead
        if ahead is _END or stream is None or count == 0:
            return []
        with self._connection._lock:
            rest = stream if count is None else islice(stream, count - 1)
            rows = [ahead, *rest]
            self._ahead = next(stream, _END)
        self._fetched += len(rows)
        self.rowcount = self._fetched
        return rows

    def fetchone(self) -> Any:
        rows = self._take_rows(1)
        return self._maker()(rows[0]) if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._made(self._take_rows(self.arraysize if size is None else size))

    def fetchall(self) -> list[Any]:
        return self._made(self._take_rows(None))

    def __iter__(self) -> Iterator[Any]:
        while True:
            rows = self._take_rows(self.itersize)
            if not rows:
                return
            factory = self.row_factory
            if factory is tuple_row:
                yield from map(tuple, rows)
            elif factory is record_row:
                yield from rows
            else:
                yield from map(self._maker(), rows)

    @property
    def rownumber(self) -> int | None:
        return None if self._rows is None else self._fetched

    def scroll(self, value: int, mode: str = "relative") -> None:
        """Skip ``value`` rows forward; a named cursor cannot move back."""
        if mode != "relative" or value < 0:
            raise NotSupportedError(
                "a named cursor only moves forward: scroll(n) with n >= 0, mode 'relative'"
            )
        while value > 0:
            value -= len(self._take_rows(min(value, self.itersize))) or value

    def nextset(self) -> bool | None:
        self._check()
        return None

    def _end_stream(self) -> None:
        stream, self._stream, self._ahead = self._stream, None, _END
        if stream is not None:
            with self._connection._lock:
                stream.close()

    def close(self) -> None:
        """Close the portal (and the transaction it opened in autocommit mode)."""
        if self._closed:
            raise InterfaceError("the cursor is already closed")
        try:
            if not self._connection.closed:
                self._end_stream()
        finally:
            super().close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgwire.dbapi.ServerCursor {self.name!r} {state}>"
