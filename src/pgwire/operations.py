"""Driver logic shared by the blocking and the async drivers, with no I/O.

An *operation* is one Sync-delimited request: the messages to send, and a ``feed()``
that consumes the server's events up to the batch's ReadyForQuery and builds the result
(rows, a command tag, a prepared statement) or the error.  The drivers only pump bytes:
they send ``operation.messages``, read events from the protocol core and ``feed`` them
until the operation is done.  Several operations sent back to back form a pipeline.

Also here: prepared statements (with their parameter encoders and row decoder, built
once) and the LRU statement cache.
"""

from __future__ import annotations

import datetime
import re
import struct
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pgwire.errors import (
    DataError,
    Error,
    FeatureNotSupported,
    InterfaceError,
    InvalidSqlStatementName,
    PostgresError,
    ProgrammingError,
    ProtocolError,
    error_from_fields,
)
from pgwire.protocol.client import ClientConnection
from pgwire.protocol.framing import RowParser
from pgwire.protocol.messages import (
    BackendMessage,
    Bind,
    BindComplete,
    BindTemplate,
    Close,
    CloseComplete,
    CommandComplete,
    CopyData,
    CopyDone,
    CopyFail,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    Describe,
    EmptyQueryResponse,
    ErrorResponse,
    Execute,
    FrontendMessage,
    NoData,
    ParameterDescription,
    Parse,
    ParseComplete,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    Sync,
)
from pgwire.record import Record, RecordShape
from pgwire.types import RowDecoder, TypeRegistry, oids
from pgwire.types.base import ENCODE_ERRORS, compile_maker

__all__ = [
    "CopyIn",
    "CopyOut",
    "ExecutePortal",
    "ExecuteStatement",
    "ExecuteUnprepared",
    "Notification",
    "Operation",
    "PipelineResult",
    "PrepareStatement",
    "PreparedStatement",
    "SimpleQuery",
    "StatementCache",
    "StatementResult",
    "infer_type_oid",
    "is_stale",
]

#: Messages are immutable: the common ones are built once.
_SYNC = Sync()
_EXECUTE_ALL = Execute("", 0)


@dataclass(eq=False)
class PreparedStatement:
    """A statement the server has parsed, with everything needed to run it fast."""

    name: str
    sql: str
    param_oids: tuple[int, ...]
    columns: tuple[Any, ...] | None
    param_formats: tuple[int, ...] = ()
    param_encoders: tuple[Callable[[Any], bytes], ...] = ()
    result_formats: tuple[int, ...] = ()
    shape: RecordShape | None = None
    decode_row: RowDecoder | None = None
    #: Framing and decoding fused (see pgwire.types.rows); None for no result columns.
    parse_rows: RowParser | None = None
    closed: bool = field(default=False)
    #: The registry's names of the parameter types, for error messages.
    param_type_names: tuple[str, ...] = ()
    _bind: BindTemplate | None = field(default=None, repr=False)
    #: All parameters encoded in one generated function (see _args_encoder_factory).
    _encode_args: Callable[[Sequence[Any]], tuple[bytes | None, ...]] | None = field(
        default=None, repr=False
    )

    def bind_template(self) -> BindTemplate:
        """Its Bind messages (unnamed portal), pre-encoded around the parameters."""
        bind = self._bind
        if (
            bind is None
            or bind.param_formats is not self.param_formats
            or bind.result_formats is not self.result_formats
        ):
            bind = self._bind = BindTemplate(self.name, self.param_formats, self.result_formats)
        return bind

    @classmethod
    def build(
        cls,
        name: str,
        sql: str,
        param_oids: tuple[int, ...],
        description: RowDescription | None,
        registry: TypeRegistry,
    ) -> PreparedStatement:
        """Build the encoders and the row decoder once, from the server's description."""
        formats: list[int] = []
        encoders: list[Callable[[Any], bytes]] = []
        for oid in param_oids:
            fmt, encoder = registry.encoder(oid)
            formats.append(fmt)
            encoders.append(encoder)
        statement = cls(name, sql, param_oids, None, tuple(formats), tuple(encoders))
        if len(encoders) <= _MAX_GENERATED_PARAMS:  # compiling costs ~50 us per parameter
            statement._encode_args = _args_encoder_factory(len(encoders))(*encoders)
        statement.param_type_names = tuple(registry.type_name(oid) for oid in param_oids)
        if description is not None:
            fields = description.fields
            result_formats = tuple(1 if registry.has_binary(f.type_oid) else 0 for f in fields)
            statement.columns = fields
            statement.result_formats = result_formats
            statement.shape, statement.decode_row, statement.parse_rows = _row_readers(
                registry, fields, result_formats
            )
        return statement

    def type_oids(self) -> set[int]:
        """The types of the parameters and of the result columns."""
        used = set(self.param_oids)
        if self.columns is not None:
            used.update(column.type_oid for column in self.columns)
        return used

    def rebuilt(self, registry: TypeRegistry) -> PreparedStatement:
        """The same server statement with encoders and decoder built anew from ``registry``
        (after it learnt new types)."""
        description = RowDescription(tuple(self.columns)) if self.columns is not None else None
        return PreparedStatement.build(self.name, self.sql, self.param_oids, description, registry)

    def encode(self, args: Sequence[Any]) -> tuple[bytes | None, ...]:
        """Encode ``args`` for a Bind, or raise naming the parameter at fault."""
        fast = self._encode_args
        if fast is not None and (type(args) is tuple or type(args) is list):
            try:
                return fast(args)
            except ENCODE_ERRORS:  # a wrong count or value: the careful path explains it
                pass
        return self._encode_carefully(args)

    def _encode_carefully(self, args: Sequence[Any]) -> tuple[bytes | None, ...]:
        if len(args) != len(self.param_oids):
            raise ProgrammingError(
                f"the statement expects {len(self.param_oids)} parameter(s) and got "
                f"{len(args)}: {self.sql[:80]!r}"
            )
        values: list[bytes | None] = []
        for position, (value, encoder) in enumerate(zip(args, self.param_encoders, strict=True), 1):
            if value is None:
                values.append(None)
                continue
            try:
                values.append(encoder(value))
            except DataError as exc:
                raise DataError(self._explain(position, value, str(exc))) from None
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataError(
                    self._explain(position, value, f"cannot encode {type(value).__name__}: {exc}")
                ) from None
        return tuple(values)

    def _explain(self, position: int, value: Any, problem: str) -> str:
        # Name the parameter, its server type and the Python type, each once.
        names = self.param_type_names
        server_type = names[position - 1] if names else f"oid {self.param_oids[position - 1]}"
        python_type = type(value).__name__
        context = []
        if not re.search(rf"(?<!\w){re.escape(server_type)}(?!\w)", problem):
            context.append(f"server type {server_type}")
        if not re.search(rf"(?<!\w){re.escape(python_type)}(?!\w)", problem):
            context.append(f"Python {python_type}")
        where = f"parameter ${position}" + (f" ({', '.join(context)})" if context else "")
        return f"{where}: {problem}"


def _row_readers(
    registry: TypeRegistry, fields: Sequence[Any], formats: Sequence[int]
) -> tuple[RecordShape, RowDecoder, RowParser | None]:
    """The shape, row decoder and row parser of result columns ``fields`` (a
    RowDescription's) in ``formats``."""
    shape = RecordShape(tuple(f.name for f in fields))
    columns = [(f.type_oid, fmt) for f, fmt in zip(fields, formats, strict=True)]
    return shape, registry.row_decoder(columns), registry.row_parser(columns, shape)


_MAX_GENERATED_PARAMS = 100


@lru_cache(maxsize=64)
def _args_encoder_factory(count: int) -> Callable[..., Callable[[Sequence[Any]], Any]]:
    """Compile a maker of parameter encoders for ``count`` parameters (once per count).

    For two parameters the encoder is::

        def encode(args):
            a0, a1, = args
            return (None if a0 is None else e0(a0), None if a1 is None else e1(a1), )

    Anything unusual (a wrong number of arguments, a value an encoder refuses) raises, and
    :meth:`PreparedStatement.encode` then takes its careful path, which explains it.
    """
    params = "".join(f"e{i}, " for i in range(count))
    unpack = "".join(f"a{i}, " for i in range(count)) + "= args" if count else "if args: 0 / 0"
    values = "".join(f"None if a{i} is None else e{i}(a{i}), " for i in range(count))
    source = (
        f"def make({params}):\n"
        "    def encode(args):\n"
        f"        {unpack}\n"
        f"        return ({values})\n"
        "    return encode\n"
    )
    maker: Callable[..., Callable[[Sequence[Any]], Any]] = compile_maker(
        source, f"<pgwire parameter encoder {count}>"
    )
    return maker


class StatementCache:
    """Named prepared statements by SQL text, least recently used evicted first."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._statements: OrderedDict[str, PreparedStatement] = OrderedDict()
        self._counter = 0

    def __len__(self) -> int:
        return len(self._statements)

    def get(self, sql: str) -> PreparedStatement | None:
        """The cached statement for ``sql``, marked as recently used."""
        statement = self._statements.get(sql)
        if statement is not None:
            self._statements.move_to_end(sql)
        return statement

    def next_name(self) -> str:
        """A fresh statement name for this connection."""
        self._counter += 1
        return f"_pgwire_{self._counter}"

    def put(self, statement: PreparedStatement) -> list[PreparedStatement]:
        """Cache ``statement``; return the statements evicted (the caller closes them)."""
        if self.capacity <= 0:
            return [statement]
        self._statements[statement.sql] = statement
        evicted = []
        while len(self._statements) > self.capacity:
            _, old = self._statements.popitem(last=False)
            evicted.append(old)
        return evicted

    def discard(self, sql: str) -> None:
        """Forget the statement for ``sql`` (e.g. after the server dropped it)."""
        self._statements.pop(sql, None)

    def clear(self) -> list[PreparedStatement]:
        """Forget every statement; return them."""
        statements = list(self._statements.values())
        self._statements.clear()
        return statements


class Operation:
    """One Sync-delimited request and the assembly of its result: the interface between the
    driver's byte pump (``_pump_async.py``) and everything an operation knows.

    The pump sends :meth:`send`'s bytes, then hands the operation what the server answers
    until :attr:`done`, by the fastest way the operation allows, and sends :attr:`reply`
    whenever it is not empty. Every hook, in the order the pump consults them:

    - :attr:`sends_binds_only`: :meth:`send` can only fail if the core refuses
      extended-query messages now, so several such operations may be sent one after the
      other (after :meth:`check_size`) instead of through one ``core.send``.
    - :attr:`takes_tags`: the pump may hand the command tags of Bind/Execute requests in
      batches to :meth:`take_tags` (the core's ``next_completions``), instead of
      BindComplete and CommandComplete events.
    - :attr:`takes_answers`: a simple Query whose rows are not kept: the pump may hand its
      command tags and ReadyForQuery in batches to :meth:`take_answers` (the core's
      ``next_query_answers``, which drops RowDescription and DataRow messages).
    - :attr:`takes_rows`: the operation reads result rows. Then, if :attr:`row_parser` is
      set, the pump makes Records straight from the receive buffer (``next_rows``) and
      hands them to :meth:`take_records`; otherwise (or for a row the parser declined) it
      hands batches of raw values (``next_data_rows``) to :meth:`feed_rows`.
    - :meth:`feed`: every other event. ErrorResponse and ReadyForQuery are handled here;
      the rest goes to :meth:`on_event`, which subclasses implement.
    - :attr:`reply`: messages to send at once in reaction to the last event (CopyFail).
    - :meth:`check`: after :attr:`done`, raise the client-side or server error, if any.
    """

    #: See the class docstring: the pump's fast paths this operation allows.
    sends_binds_only = False
    takes_tags = False
    takes_answers = False
    takes_rows = False
    row_parser: RowParser | None = None

    def __init__(self) -> None:
        self.done = False
        self.error: PostgresError | None = None
        #: A client-side failure found while reading the answer (COPY in execute(), a value
        #: that cannot be decoded, a COPY sink that raised); raised in preference to the
        #: server's error once the batch is drained, so the connection stays in step.
        self.misuse: Exception | None = None
        #: Messages the driver must send now, in reaction to the last event.
        self.reply: list[FrontendMessage] = []
        self.transaction_status = "I"

    _messages: list[FrontendMessage]

    @property
    def messages(self) -> list[FrontendMessage]:
        """The messages :meth:`send` sends, as message objects."""
        return self._messages

    def send(self, core: ClientConnection) -> bytes:
        """Record this operation's messages in ``core`` and return their bytes."""
        return core.send(*self.messages)

    def check_size(self) -> None:
        """Raise if :meth:`send` would fail for the size of a message (nothing to check
        here; see ExecuteStatement)."""

    def feed(self, event: BackendMessage) -> None:
        """Consume one server event belonging to this operation."""
        if isinstance(event, ErrorResponse):
            if self.error is None:
                self.error = error_from_fields(event.fields)
        elif isinstance(event, ReadyForQuery):
            self.done = True
            self.transaction_status = event.status
        else:
            self.on_event(event)

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        """Consume the values of DataRow messages, in order (when :attr:`takes_rows`)."""
        raise ProtocolError(f"unexpected DataRow for {type(self).__name__}")

    def take_tags(self, tags: list[str]) -> None:
        """Consume the command tags of Execute requests, in order (when :attr:`takes_tags`)."""
        raise ProtocolError(f"unexpected CommandComplete for {type(self).__name__}")

    def take_records(self, records: list[Record]) -> None:
        """Consume rows already made into Records by :attr:`row_parser`, in order."""
        raise ProtocolError(f"unexpected DataRow for {type(self).__name__}")

    def take_answers(self, tags: list[str | None], status: str) -> None:
        """Consume the command tags of a simple Query's statements (``None`` for an empty
        one), in order, and its ReadyForQuery's ``status`` once it came (when
        :attr:`takes_answers`)."""
        raise ProtocolError(f"unexpected CommandComplete for {type(self).__name__}")

    def decode_rows(
        self, shape: RecordShape, decode: RowDecoder, rows: list[tuple[bytes | None, ...]]
    ) -> list[Record]:
        """The rows as Records; a value that cannot be decoded becomes ``misuse`` (and no
        rows), so that the reply is still read to its end and the connection stays in step."""
        try:
            cls, new = shape.record_class, tuple.__new__
            return [new(cls, decode(values)) for values in rows]
        except Error as exc:
            self.misuse = exc
            return []

    def on_event(self, event: BackendMessage) -> None:
        """Handle a server event other than ErrorResponse and ReadyForQuery."""
        raise ProtocolError(f"unexpected {type(event).__name__} for {type(self).__name__}")

    def check(self) -> None:
        """Raise the client-side or server error for this operation, if any."""
        if self.misuse is not None:
            raise self.misuse
        if self.error is not None:
            raise self.error

    def refuse_copy(self, event: BackendMessage, what: str) -> bool:
        """Handle a COPY this operation did not ask for; True if ``event`` was COPY traffic."""
        if isinstance(event, CopyInResponse):
            self.misuse = InterfaceError(f"{what} cannot run COPY FROM STDIN; use copy_in()")
            self.reply = [CopyFail("COPY FROM STDIN is not possible here; use copy_in()")]
            return True
        if isinstance(event, CopyOutResponse):
            self.misuse = InterfaceError(f"{what} cannot run COPY TO STDOUT; use copy_out()")
            return True
        return isinstance(event, CopyData | CopyDone)


@dataclass
class StatementResult:
    """What one statement produced."""

    tag: str | None = None
    rows: list[Record] = field(default_factory=list)
    #: The RowDescription's fields; None for a statement that returns no rows.
    columns: tuple[Any, ...] | None = None


class SimpleQuery(Operation):
    """A simple-protocol Query (several statements allowed; text results).

    With ``keep_rows=False`` only the command tags are kept, in :attr:`tags` (``results``
    stays empty): rows are dropped undecoded, as a caller that wants only the tags must not
    fail on a value it would never see, and the pump reads the reply on the core's fast
    path (``next_query_answers``), without an event per message.
    """

    def __init__(self, sql: str, registry: TypeRegistry, *, keep_rows: bool = True) -> None:
        super().__init__()
        self._messages = [Query(sql)]
        self.registry = registry
        self.keep_rows = keep_rows
        self.results: list[StatementResult] = []
        #: The command tags of the statements, in order (an empty query gives none).
        self.tags: list[str] = []
        self._current = StatementResult()
        self._shape: RecordShape | None = None
        self._decode: RowDecoder | None = None
        if not keep_rows:
            self.takes_answers = True
            self.takes_rows = False

    takes_rows = True

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        if self.misuse is not None or not self.keep_rows:
            return
        decode, shape = self._decode, self._shape
        if decode is None or shape is None:
            raise ProtocolError("DataRow before RowDescription in a simple query")
        self._current.rows.extend(self.decode_rows(shape, decode, rows))

    def take_records(self, records: list[Record]) -> None:
        if self.misuse is None:
            self._current.rows.extend(records)

    def take_answers(self, tags: list[str | None], status: str) -> None:
        for tag in tags:
            if tag is not None:
                self.tags.append(tag)
        if status:
            self.done = True
            self.transaction_status = status

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, DataRow):
            self.feed_rows([event.values])
        elif isinstance(event, RowDescription):
            if self.keep_rows:
                self._current.columns = event.fields
                formats = [f.format for f in event.fields]
                self._shape, self._decode, self.row_parser = _row_readers(
                    self.registry, event.fields, formats
                )
        elif isinstance(event, CommandComplete | EmptyQueryResponse):
            self.row_parser = None
            if isinstance(event, CommandComplete):
                self.tags.append(event.tag)
                self._current.tag = event.tag
            if self.keep_rows:
                self.results.append(self._current)
                self._current = StatementResult()
        elif not self.refuse_copy(event, "execute()"):
            super().on_event(event)


class PrepareStatement(Operation):
    """Parse + Describe statement + Sync: learns parameter and result types."""

    def __init__(self, name: str, sql: str, registry: TypeRegistry) -> None:
        super().__init__()
        self.name = name
        self.sql = sql
        self.registry = registry
        self._messages = [Parse(name, sql, ()), Describe("S", name), Sync()]
        self._param_oids: tuple[int, ...] = ()
        self._description: RowDescription | None = None
        self.statement: PreparedStatement | None = None

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, ParseComplete | NoData):
            return
        if isinstance(event, ParameterDescription):
            self._param_oids = event.type_oids
        elif isinstance(event, RowDescription):
            self._description = event
        else:
            super().on_event(event)

    def feed(self, event: BackendMessage) -> None:
        super().feed(event)
        if self.done and self.error is None:
            self.statement = PreparedStatement.build(
                self.name, self.sql, self._param_oids, self._description, self.registry
            )


class ExecuteStatement(Operation):
    """Bind + Execute (+ Sync) for one or many argument tuples of a prepared statement.

    Its messages go out through the core's ``send_binds``, from the statement's
    pre-encoded :class:`~pgwire.protocol.messages.BindTemplate`; ``messages`` (built on
    demand) serves the general path. A subclass that sends other messages (a named portal,
    a Parse of its own) sets ``sends_binds_only = False`` and overrides ``messages``: then
    :meth:`send` sends those.
    """

    sends_binds_only = True
    takes_tags = True

    def __init__(
        self,
        statement: PreparedStatement,
        arg_rows: Iterable[Sequence[Any]],
        *,
        max_rows: int = 0,
        sync: bool = True,
    ) -> None:
        super().__init__()
        self.statement = statement
        self.rows: list[Record] = []
        self.tags: list[str] = []
        self.suspended = False
        self.max_rows = max_rows
        self.sync = sync
        encode = statement.encode
        self.param_rows = [encode(args) for args in arg_rows]
        self._decode = statement.decode_row
        self._shape = statement.shape
        self.row_parser = statement.parse_rows
        # A statement without result columns reads no rows: no fast path to try per event.
        self.takes_rows = statement.columns is not None

    @property
    def tag(self) -> str | None:
        """The last command tag."""
        return self.tags[-1] if self.tags else None

    @property
    def messages(self) -> list[FrontendMessage]:
        """The messages :meth:`send` sends, as message objects (for the general path)."""
        bind = self.statement.bind_template()
        execute = _EXECUTE_ALL if self.max_rows == 0 else Execute("", self.max_rows)
        messages: list[FrontendMessage] = []
        for params in self.param_rows:
            messages += (bind.message(params), execute)
        if self.sync:
            messages.append(_SYNC)
        return messages

    def send(self, core: ClientConnection) -> bytes:
        try:
            if not self.sends_binds_only:
                return core.send(*self.messages)
            return core.send_binds(
                self.statement.bind_template(), self.param_rows, self.max_rows, self.sync
            )
        except (ValueError, struct.error) as exc:  # a message too large: nothing was counted
            raise DataError(f"cannot send the statement: {exc}") from None

    def check_size(self) -> None:
        """Raise DataError if a Bind would exceed PostgreSQL's 1 GB message limit (before
        a pipeline sends anything: a later operation failing to encode must not leave the
        earlier ones counted as sent)."""
        template = self.statement.bind_template()
        for params in self.param_rows:
            try:
                template.check_size(params)
            except ValueError as exc:
                raise DataError(f"cannot send the statement: {exc}") from None

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        decode, shape = self._decode, self._shape
        if decode is None or shape is None:
            raise ProtocolError("DataRow for a statement described as returning no rows")
        if self.misuse is not None:
            return
        self.rows.extend(self.decode_rows(shape, decode, rows))

    def take_records(self, records: list[Record]) -> None:
        if self.misuse is None:
            self.rows.extend(records)

    def take_tags(self, tags: list[str]) -> None:
        self.tags.extend(tags)

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, DataRow):
            self.feed_rows([event.values])
        elif isinstance(event, BindComplete):
            return
        elif isinstance(event, CommandComplete):
            self.tags.append(event.tag)
        elif isinstance(event, EmptyQueryResponse):
            self.tags.append("")
        elif isinstance(event, PortalSuspended):
            self.suspended = True
        elif not self.refuse_copy(event, "a prepared statement"):
            super().on_event(event)


class ExecutePortal(ExecuteStatement):
    """One batch of a cursor: at most ``max_rows`` rows from the named ``portal`` of a
    prepared statement, then Sync (the portal lives on in the open transaction). With
    ``args``, the portal is bound first (the first batch); without, the portal bound
    earlier goes on. ``suspended`` says whether rows are left."""

    sends_binds_only = False

    def __init__(
        self,
        statement: PreparedStatement,
        portal: str,
        max_rows: int,
        args: Sequence[Any] | None = None,
    ) -> None:
        super().__init__(statement, [] if args is None else [args], max_rows=max_rows)
        self.portal = portal

    @property
    def messages(self) -> list[FrontendMessage]:
        statement = self.statement
        execute = Execute(self.portal, self.max_rows)
        if not self.param_rows:
            return [execute, _SYNC]
        bind = Bind(
            self.portal,
            statement.name,
            statement.param_formats,
            self.param_rows[0],
            statement.result_formats,
        )
        return [bind, execute, _SYNC]


def infer_type_oid(value: Any) -> int:
    """The server type to announce for a parameter when no statement was described:
    the smallest integer type that holds an int (as psycopg does), the obvious type for
    other values, and 0 ("unknown", sent as text for the server to infer) for str and
    anything else."""
    if value is None or isinstance(value, str):
        return 0
    kind = type(value)
    if kind is bool:
        return oids.BOOL
    if kind is int:
        if -(1 << 15) <= value < (1 << 15):
            return oids.INT2
        if -(1 << 31) <= value < (1 << 31):
            return oids.INT4
        return oids.INT8 if -(1 << 63) <= value < (1 << 63) else oids.NUMERIC
    if kind is float:
        return oids.FLOAT8
    if isinstance(value, Decimal):
        return oids.NUMERIC
    if isinstance(value, bytes | bytearray | memoryview):
        return oids.BYTEA
    if isinstance(value, datetime.datetime):
        return oids.TIMESTAMP if value.tzinfo is None else oids.TIMESTAMPTZ
    if isinstance(value, datetime.date):
        return oids.DATE
    if isinstance(value, datetime.time):
        return oids.TIME if value.tzinfo is None else oids.TIMETZ
    if isinstance(value, datetime.timedelta):
        return oids.INTERVAL
    if isinstance(value, uuid.UUID):
        return oids.UUID
    if isinstance(value, dict):
        return oids.JSONB
    return 0


class ExecuteUnprepared(ExecuteStatement):
    """Parse + Bind + Describe portal + Execute (+ more Bind/Execute) + Sync in one batch,
    on the unnamed statement.

    Nothing outlives the batch, so this works behind a pooler in transaction mode
    (PgBouncer), where consecutive batches may reach different server sessions. Parameter
    types come from the Python values (:func:`infer_type_oid`) and results come in text
    format, since their types are learnt only from the same batch's RowDescription.
    """

    def __init__(
        self,
        sql: str,
        arg_rows: Iterable[Sequence[Any]],
        registry: TypeRegistry,
        *,
        max_rows: int = 0,
    ) -> None:
        rows = [tuple(args) for args in arg_rows]
        first = rows[0] if rows else ()
        param_oids = tuple(infer_type_oid(value) for value in first)
        statement = PreparedStatement.build("", sql, param_oids, None, registry)
        statement.result_formats = (0,)
        super().__init__(statement, rows, max_rows=max_rows)
        self.takes_rows = True  # the columns are learnt from the batch's RowDescription
        self.registry = registry
        body = super().messages
        self._unprepared = [Parse("", sql, param_oids), *body[:1], Describe("P", ""), *body[1:]]

    sends_binds_only = False

    @property
    def messages(self) -> list[FrontendMessage]:
        return self._unprepared

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, RowDescription):
            self.statement.columns = event.fields
            formats = [f.format for f in event.fields]
            self._shape, self._decode, self.row_parser = _row_readers(
                self.registry, event.fields, formats
            )
        elif not isinstance(event, ParseComplete | NoData):
            super().on_event(event)


class CloseStatements(Operation):
    """Close the named statements (or, with ``kind="P"``, portals) + Sync."""

    def __init__(self, names: Iterable[str], kind: Literal["S", "P"] = "S") -> None:
        super().__init__()
        self._messages = [*(Close(kind, name) for name in names), Sync()]

    def on_event(self, event: BackendMessage) -> None:
        if not isinstance(event, CloseComplete):
            super().on_event(event)


class CopyOut(Operation):
    """COPY ... TO STDOUT by simple query; the driver hands each chunk in ``chunks`` to its
    sink as it arrives (and sets ``misuse`` if the sink fails: the rest is then dropped)."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self._messages = [Query(sql)]
        self.chunks: list[bytes] = []
        self.tag: str | None = None
        self.started = False

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, CopyData):
            if self.misuse is None:
                self.chunks.append(event.data)
        elif isinstance(event, CopyOutResponse):
            self.started = True
        elif isinstance(event, CommandComplete):
            self.tag = event.tag
        elif isinstance(event, CopyDone | RowDescription | DataRow | EmptyQueryResponse):
            return
        elif not self.refuse_copy(event, "copy_out()"):
            super().on_event(event)


class CopyIn(Operation):
    """COPY ... FROM STDIN by simple query; the driver streams data after ``started``."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self._messages = [Query(sql)]
        self.tag: str | None = None
        self.started = False

    def on_event(self, event: BackendMessage) -> None:
        if isinstance(event, CopyInResponse):
            self.started = True
        elif isinstance(event, CommandComplete):
            self.tag = event.tag
        elif isinstance(event, RowDescription | DataRow | EmptyQueryResponse):
            return
        elif not self.refuse_copy(event, "copy_in()"):
            super().on_event(event)


class Notification:
    """A NOTIFY received: ``channel``, ``payload`` and the sender's ``process_id``."""

    __slots__ = ("channel", "payload", "process_id")

    def __init__(self, process_id: int, channel: str, payload: str) -> None:
        self.process_id = process_id
        self.channel = channel
        self.payload = payload

    def __repr__(self) -> str:
        return f"<Notification channel={self.channel!r} payload={self.payload!r}>"


class PipelineResult:
    """The future result of one statement queued in a pipeline."""

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


def is_stale(error: BaseException | None) -> bool:
    """Whether ``error`` says a cached statement can no longer run as prepared: its result
    type changed (e.g. ALTER TABLE under ``SELECT *``) or the server forgot it (DEALLOCATE)."""
    if isinstance(error, FeatureNotSupported):
        return error.source_function == "RevalidateCachedQuery"
    return isinstance(error, InvalidSqlStatementName)
