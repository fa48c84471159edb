"""DSQL's SQL and transaction rules for one session of the local endpoint, without I/O.

:class:`DsqlSession` sits in the relay between the client and PostgreSQL, one whole message
at a time.  :meth:`~DsqlSession.from_client` classifies each statement (simple Query, Parse,
and the Bind/Execute that run it, pipelined or not) and returns what PostgreSQL is to get:

* a statement DSQL refuses never reaches PostgreSQL: a statement that fails there instead
  (``SELECT`` of a function that does not exist, or ``Execute`` of a portal that does not
  exist) keeps PostgreSQL's transaction state as DSQL's would be, and its error is replaced
  by DSQL's (the rules' SQLSTATE, message and HINT);
* DSQL's own statements are rewritten onto the ``sys`` schema of
  :mod:`pgwire.dsql_local.sysschema`: ``CREATE INDEX ASYNC`` (which answers a ``job_id``
  row), a plain ``CREATE INDEX`` (refused on a table with rows);
* each DML statement is followed by the endpoint's hidden guard, which fails it when the
  transaction goes over DSQL's row or byte limit; a COMMIT after the transaction time limit,
  or after another session changed the schema, becomes a ROLLBACK answered with DSQL's error;
* the transaction rules (one DDL statement per transaction, no DDL with DML) are checked
  against the transaction as the client's messages describe it.

:meth:`~DsqlSession.from_server` follows PostgreSQL's answers with a queue of what each
request is to be answered by, so that it can drop the answers to the endpoint's own hidden
messages, put DSQL's errors and command tags in place of PostgreSQL's, and turn lock
timeouts and serialization failures into DSQL's optimistic-concurrency errors (``OC000``, or
``OC001`` for DDL).  A committed DDL statement moves the endpoint's schema version, which
fails the transactions that were open then (``OC001``), as DSQL does.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pgwire.dsql_local.rules import LIMITS, Limits, Rule, rule
from pgwire.dsql_local.statements import Statement, classify
from pgwire.dsql_local.sysschema import (
    GUARD,
    HIDDEN_PORTAL,
    HIDDEN_STATEMENTS,
    MISSING_PORTAL,
    ROLLBACK,
)
from pgwire.protocol import (
    BackendMessage,
    Bind,
    BindComplete,
    Close,
    CloseComplete,
    CommandComplete,
    CopyData,
    CopyDone,
    CopyFail,
    Describe,
    EmptyQueryResponse,
    ErrorResponse,
    Execute,
    Flush,
    FrontendMessage,
    FunctionCall,
    FunctionCallResponse,
    NoData,
    Parse,
    ParseComplete,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    Sync,
    Terminate,
)

__all__ = ["DsqlSession", "SchemaClock", "dsql_error"]

#: A statement that fails on PostgreSQL when it is analysed (at Parse, or at its turn in a
#: simple query): where a refused statement goes instead.
REFUSED_SQL = "SELECT pgwire_dsql_local_refused()"
#: PostgreSQL's errors that mean two transactions met: lock timeout (the endpoint's sessions
#: never wait for a lock), serialization failure, deadlock.
_CONFLICTS = frozenset({"55P03", "40001", "40P01"})
#: PostgreSQL's message for a cancelled query; also what a lock timeout reports when the
#: lock is granted as the timeout fires.
_USER_CANCEL = "canceling statement due to user request"
#: Fields of PostgreSQL's errors that point into SQL the client did not send.
_INTERNAL_FIELDS = frozenset({"P", "p", "q", "W", "F", "L", "R"})

Expecting = Literal["parse", "bind", "describe", "execute", "close", "ready", "statement", "call"]


def dsql_error(r: Rule, detail: str | None = None) -> ErrorResponse:
    """DSQL's error for breaking rule ``r``."""
    fields = {"S": "ERROR", "V": "ERROR", "C": r.sqlstate, "M": r.message, "H": r.instead}
    if detail:
        fields["D"] = detail
    return ErrorResponse(fields)


@dataclass
class SchemaClock:
    """The schema version shared by an endpoint's sessions: each committed DDL moves it."""

    version: int = 0


@dataclass
class _Expected:
    """What PostgreSQL answers one request with, and what the client gets instead."""

    kind: Expecting
    #: The endpoint's own message: its answer is dropped.
    hidden: bool = False
    #: The error the client gets instead of PostgreSQL's answer (error or not).
    replace: ErrorResponse | None = None
    #: The command tag the client gets instead of PostgreSQL's.
    tag: str | None = None
    statement: Statement | None = None
    #: Hold the answer until the hidden guard after it has passed.
    guarded: bool = False
    #: The statement was rewritten: PostgreSQL's error positions mean nothing to the client.
    rewritten: bool = False


@dataclass
class _Transaction:
    """The client's transaction, as its messages describe it."""

    explicit: bool
    started: float
    schema_version: int
    ddl: int = 0
    dml: bool = False
    written: int = 0
    failed: bool = False


@dataclass
class _Portal:
    statement: Statement | None
    size: int
    commit_error: ErrorResponse | None = None


@dataclass
class DsqlSession:
    """DSQL's rules for one session (see the module's docstring)."""

    schema: SchemaClock = field(default_factory=SchemaClock)
    limits: Limits = LIMITS
    clock: Callable[[], float] = time.monotonic
    #: Whether the client asked to cancel the running query (consumes the request).
    cancelled: Callable[[], bool] = lambda: False
    _expected: deque[_Expected] = field(default_factory=deque)
    _transaction: _Transaction | None = None
    _statements: dict[str, Statement | None] = field(default_factory=dict)
    _portals: dict[str, _Portal] = field(default_factory=dict)
    #: A batch of the extended protocol failed on a refusal: the rest, up to Sync, is skipped.
    _skipping: bool = False
    #: PostgreSQL failed a batch whose Sync is still to come: it ignores what comes before.
    _ignored: bool = False
    #: Whether the endpoint's own prepared statements exist (DISCARD ALL drops them).
    _hidden_prepared: bool = True
    #: The answer held until the guard after it passes.
    _held: BackendMessage | None = None
    #: What PostgreSQL's current transaction did: DDL, and whether it failed.
    _server_ddl: bool = False
    _server_failed: bool = False

    # ----------------------------------------------------------------------------------
    # From the client
    # ----------------------------------------------------------------------------------

    def from_client(self, message: FrontendMessage) -> list[FrontendMessage]:
        """What PostgreSQL gets for ``message``."""
        if self._ignored and not isinstance(message, Sync):
            # PostgreSQL skips it: no answer to wait for, nothing to check.
            return [message]
        if isinstance(message, Query):
            return [self._query(message.sql)]
        if isinstance(message, Parse):
            return [self._parse(message)]
        if isinstance(message, Bind):
            return self._bind(message)
        if isinstance(message, Execute):
            return self._execute(message)
        if isinstance(message, Describe):
            self._expect("describe")
            return [message]
        if isinstance(message, Close):
            (self._statements if message.kind == "S" else self._portals).pop(message.name, None)
            self._expect("close")
            return [message]
        if isinstance(message, Sync):
            self._expect("ready")
            self._skipping = self._ignored = False
            self._end_implicit()
            return [message]
        if isinstance(message, FunctionCall):
            self._expect("call")
            self._expect("ready")
            return [message]
        if isinstance(message, CopyData | CopyDone | CopyFail | Flush | Terminate):
            return [message]
        return [message]

    def _expect(self, kind: Expecting, **options: object) -> _Expected:
        expected = _Expected(kind, **options)  # type: ignore[arg-type]
        self._expected.append(expected)
        return expected

    def _query(self, sql: str) -> Query:
        parts: list[str] = []
        for statement in classify(sql):
            refusal, commit_error = self._check(statement, len(statement.sql.encode()))
            if refusal is not None:
                parts.append(REFUSED_SQL)
                self._expect("statement", replace=refusal, statement=statement, rewritten=True)
                # PostgreSQL skips the rest of the string after an error.
                break
            if commit_error is not None:
                parts.append("ROLLBACK")
                self._expect("statement", replace=commit_error, statement=statement)
                continue
            if statement.kind == "discard":
                self._hidden_prepared = False
            text, tag = _rewrite(statement)
            parts.append(text)
            guarded = statement.kind == "dml"
            self._expect(
                "statement",
                tag=tag,
                statement=statement,
                guarded=guarded,
                rewritten=text != statement.sql,
            )
            if guarded:
                parts.append(self._guard_sql())
                self._expect("statement", hidden=True, rewritten=True)
        self._expect("ready")
        self._end_implicit()
        return Query(";\n".join(parts))

    def _guard_sql(self) -> str:
        assert self._transaction is not None
        written = self._transaction.written
        return (
            f"CALL sys.pgwire_guard({written}, {self.limits.transaction_rows}, "
            f"{self.limits.transaction_bytes})"
        )

    def _parse(self, message: Parse) -> Parse:
        statements = classify(message.sql)
        if len(statements) != 1:
            # PostgreSQL refuses several statements in one Parse itself.
            self._statements[message.name] = None
            self._expect("parse")
            return message
        statement = statements[0]
        if statement.refused is not None:
            self._statements.pop(message.name, None)
            self._skipping = True
            self._expect("parse", replace=dsql_error(statement.refused), rewritten=True)
            return Parse(message.name, REFUSED_SQL)
        self._statements[message.name] = statement
        if statement.kind == "discard":
            self._hidden_prepared = False
        text, _tag = _rewrite(statement)
        self._expect("parse", rewritten=text != statement.sql)
        return Parse(message.name, text, message.param_oids) if text != statement.sql else message

    def _bind(self, message: Bind) -> list[FrontendMessage]:
        statement = self._statements.get(message.statement)
        size = sum(len(value) for value in message.params if value is not None)
        portal = _Portal(statement, size)
        self._portals[message.portal] = portal
        self._expect("bind")
        if statement is not None and statement.kind == "commit" and not self._skipping:
            _refusal, portal.commit_error = self._check(statement, 0, predict=False)
            if portal.commit_error is not None:
                rollback = Bind(message.portal, ROLLBACK, (), (), message.result_formats)
                return [*self._prepare_hidden(), rollback]
        return [message]

    def _execute(self, message: Execute) -> list[FrontendMessage]:
        portal = self._portals.get(message.portal)
        statement = portal.statement if portal is not None else None
        if statement is None or self._skipping:
            self._expect("execute")
            return [message]
        if portal is not None and portal.commit_error is not None:
            self._check(statement, 0)
            self._expect("execute", replace=portal.commit_error, statement=statement)
            return [message]
        assert portal is not None
        refusal, _commit_error = self._check(statement, portal.size + len(statement.sql.encode()))
        if refusal is not None:
            self._skipping = True
            self._expect("execute", replace=refusal, statement=statement, rewritten=True)
            return [Execute(MISSING_PORTAL)]
        _text, tag = _rewrite(statement)
        guarded = statement.kind == "dml"
        self._expect("execute", tag=tag, statement=statement, guarded=guarded)
        if not guarded:
            return [message]
        assert self._transaction is not None
        params = (
            str(self._transaction.written).encode(),
            str(self.limits.transaction_rows).encode(),
            str(self.limits.transaction_bytes).encode(),
        )
        hidden = self._prepare_hidden()
        self._expect("bind", hidden=True)
        self._expect("execute", hidden=True, rewritten=True)
        # A named portal outlives the batch inside a transaction block: close it.
        self._expect("close", hidden=True)
        guard = Bind(HIDDEN_PORTAL, GUARD, (0,), params, ())
        return [message, *hidden, guard, Execute(HIDDEN_PORTAL), Close("P", HIDDEN_PORTAL)]

    def _prepare_hidden(self) -> list[FrontendMessage]:
        """Parse the endpoint's own statements again if DISCARD ALL dropped them."""
        if self._hidden_prepared:
            return []
        self._hidden_prepared = True
        parses: list[FrontendMessage] = []
        for name, sql in HIDDEN_STATEMENTS.items():
            parses.append(Parse(name, sql))
            self._expect("parse", hidden=True)
        return parses

    # ----------------------------------------------------------------------------------
    # The transaction rules
    # ----------------------------------------------------------------------------------

    def _check(
        self, statement: Statement, size: int, *, predict: bool = True
    ) -> tuple[ErrorResponse | None, ErrorResponse | None]:
        """DSQL's verdict on running ``statement`` now: the error refusing it, or the error a
        COMMIT fails with (it becomes a ROLLBACK).  ``predict``: follow the statement into
        the predicted transaction state."""
        if statement.refused is not None:
            self._fail_transaction(predict)
            return dsql_error(statement.refused), None
        kind = statement.kind
        transaction = self._transaction
        if kind == "begin":
            if predict and (transaction is None or not transaction.explicit):
                self._transaction = _Transaction(True, self.clock(), self.schema.version)
            return None, None
        if kind in ("commit", "rollback"):
            if predict:
                self._transaction = None
            if kind == "rollback" or transaction is None or not transaction.explicit:
                return None, None
            if transaction.failed:
                return None, None
            if self.clock() - transaction.started > self.limits.transaction_seconds:
                return None, dsql_error(rule("transaction-age"))
            if transaction.schema_version != self.schema.version:
                return None, dsql_error(rule("occ-schema"))
            return None, None
        if transaction is None:
            transaction = _Transaction(False, self.clock(), self.schema.version)
            if predict:
                self._transaction = transaction
        if transaction.failed:
            return None, None
        if transaction.explicit and transaction.schema_version != self.schema.version:
            self._fail_transaction(predict)
            return dsql_error(rule("occ-schema")), None
        if kind == "ddl":
            if transaction.ddl:
                self._fail_transaction(predict)
                return dsql_error(rule("one-ddl")), None
            if transaction.dml:
                self._fail_transaction(predict)
                return dsql_error(rule("ddl-and-dml")), None
            if predict:
                transaction.ddl += 1
        elif kind == "dml":
            if transaction.ddl:
                self._fail_transaction(predict)
                return dsql_error(rule("ddl-and-dml")), None
            if predict:
                transaction.dml = True
                transaction.written += size
        return None, None

    def _fail_transaction(self, predict: bool) -> None:
        if predict and self._transaction is not None:
            if self._transaction.explicit:
                self._transaction.failed = True
            else:
                self._transaction = None

    def _end_implicit(self) -> None:
        if self._transaction is not None and not self._transaction.explicit:
            self._transaction = None

    # ----------------------------------------------------------------------------------
    # From the server
    # ----------------------------------------------------------------------------------

    def from_server(self, message: BackendMessage) -> list[BackendMessage]:
        """What the client gets for PostgreSQL's ``message``."""
        if isinstance(message, ErrorResponse):
            return self._error(message)
        if isinstance(message, ReadyForQuery):
            return self._ready(message)
        head = self._expected[0] if self._expected else None
        if head is None or not _answers(head.kind, message):
            return [message]
        self._expected.popleft()
        return self._answer(head, message)

    def _answer(self, expected: _Expected, message: BackendMessage) -> list[BackendMessage]:
        if expected.kind in ("statement", "execute") and isinstance(message, CommandComplete):
            self._follow_server(expected.statement, message.tag)
        if expected.hidden:
            if expected.kind in ("statement", "execute"):
                return self._release()
            return []
        if expected.replace is not None:
            return [expected.replace]
        if expected.tag is not None and isinstance(message, CommandComplete):
            message = CommandComplete(expected.tag)
        if expected.guarded:
            self._held = message
            return []
        return [message]

    def _release(self) -> list[BackendMessage]:
        held, self._held = self._held, None
        return [held] if held is not None else []

    def _next_kind(self) -> Expecting | None:
        return self._expected[0].kind if self._expected else None

    def _error(self, message: ErrorResponse) -> list[BackendMessage]:
        self._server_failed = True
        # The held answer belonged to a statement that failed after all (the guard).
        self._held = None
        if self._next_kind() in (None, "ready"):
            return [message]
        failed = self._expected.popleft()
        # PostgreSQL skips everything up to the request's ReadyForQuery, and ignores what the
        # client sends before the Sync that is still to come.
        while self._next_kind() not in (None, "ready"):
            self._expected.popleft()
        if not self._expected:
            self._ignored = True
        if failed.replace is not None:
            return [failed.replace]
        fields = dict(message.fields)
        if fields.get("C") in _CONFLICTS or (
            fields.get("C") == "57014" and fields.get("M") == _USER_CANCEL and not self.cancelled()
        ):
            ddl = failed.statement is not None and failed.statement.kind == "ddl"
            return [dsql_error(rule("occ-schema" if ddl else "occ-data"))]
        if failed.rewritten or failed.hidden:
            fields = {key: value for key, value in fields.items() if key not in _INTERNAL_FIELDS}
            return [ErrorResponse(fields)]
        return [message]

    def _ready(self, message: ReadyForQuery) -> list[BackendMessage]:
        while self._expected:
            if self._expected.popleft().kind == "ready":
                break
        if message.status == "I":
            if self._server_ddl and not self._server_failed:
                self.schema.version += 1
            self._server_ddl = self._server_failed = False
        elif message.status == "E":
            self._server_failed = True
        if not self._expected:
            # Nothing more in flight: the server's word on the transaction is the last.
            self._reconcile(message.status)
        return [message]

    def _reconcile(self, status: str) -> None:
        if status == "I":
            self._transaction = None
        elif self._transaction is None:
            self._transaction = _Transaction(True, self.clock(), self.schema.version)
        if status == "E" and self._transaction is not None:
            self._transaction.failed = True

    def _follow_server(self, statement: Statement | None, tag: str) -> None:
        if statement is None:
            return
        if statement.kind == "ddl":
            self._server_ddl = True
        elif statement.kind == "commit" and tag == "ROLLBACK":
            self._server_failed = True


def _answers(kind: Expecting, message: BackendMessage) -> bool:
    """Whether ``message`` is the (last) answer to a request of this kind."""
    if kind == "parse":
        return isinstance(message, ParseComplete)
    if kind == "bind":
        return isinstance(message, BindComplete)
    if kind == "close":
        return isinstance(message, CloseComplete)
    if kind == "describe":
        return isinstance(message, RowDescription | NoData)
    if kind == "call":
        return isinstance(message, FunctionCallResponse)
    if kind in ("statement", "execute"):
        return isinstance(message, CommandComplete | EmptyQueryResponse | PortalSuspended)
    # ReadyForQuery is followed apart.
    return False


def _rewrite(statement: Statement) -> tuple[str, str | None]:
    """The SQL PostgreSQL gets for ``statement``, and the command tag the client gets (None:
    PostgreSQL's)."""
    if statement.index_table is None:
        return statement.sql, None
    quoted = _dollar_quote(statement.sql)
    table = "'" + statement.index_table.replace("'", "''") + "'"
    if statement.async_index:
        return f"SELECT job_id FROM sys.pgwire_create_index_async({quoted}, {table})", None
    return f"CALL sys.pgwire_create_index({quoted}, {table})", "CREATE INDEX"


def _dollar_quote(text: str) -> str:
    tag = "pgwire"
    number = 0
    while f"${tag}$" in text:
        number += 1
        tag = f"pgwire{number}"
    return f"${tag}${text}${tag}$"
