# GENERATED from src/pgwire/_queries_async.py by scripts/gen_sync.py: do not edit.
"""Statements: preparing (with the statement cache), ``execute``, ``fetch``, ``fetchrow``,
``fetchval`` and ``executemany`` of the async driver, on :class:`~pgwire._pump_async.Pump`.

This is the async source; ``scripts/gen_sync.py`` generates ``_queries_sync.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pgwire._pump_sync import Pump
from pgwire.operations import (
    ExecuteStatement,
    ExecuteUnprepared,
    PreparedStatement,
    PrepareStatement,
    SimpleQuery,
    StatementResult,
    is_stale,
)
from pgwire.record import Record
from pgwire.types.introspect import IntrospectTypes

__all__ = ["Queries"]


class Queries(Pump):
    """Prepared statements and the one-shot query methods."""

    def prepare(self, sql: str) -> PreparedStatement:
        """Prepare ``sql`` (or take it from the statement cache)."""
        statement = self._cache.get(sql)
        if statement is not None:
            return statement
        return (self._prepare_many([sql]))[0]

    def clear_statement_cache(self) -> None:
        """Forget the cached prepared statements and close them on the server, so that each
        is prepared afresh at its next use: after DDL changed what they return, instead of
        failing once with ``cached plan must not change result type``."""
        with self._in_use():
            self._close_statements(self._cache.clear())

    def _prepare_many(self, sqls: Sequence[str]) -> list[PreparedStatement]:
        """Prepare several statements in one round trip."""
        if self._cache.capacity <= 0 and len(sqls) == 1:
            # Without a cache the unnamed statement serves: the next Parse replaces it, so
            # there is nothing to close (closing it now would break the caller's execute).
            names = [""]
        else:
            names = [self._cache.next_name() for _ in sqls]
        with self._in_use():
            results, evicted = self._prepare_batch(sqls, names)
        self._close_statements(evicted)
        statements = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            statements.append(result)
        return statements

    def _prepare_batch(
        self, sqls: Sequence[str], names: Sequence[str]
    ) -> tuple[list[PreparedStatement | BaseException], list[PreparedStatement]]:
        """Prepare ``sqls`` under ``names`` in one round trip, look up the types the registry
        does not know yet, and cache the named statements. Return each statement (or the
        error that refused it), in order, and the statements the cache evicted: the caller
        closes those once nothing it is about to run needs them."""
        pairs = zip(names, sqls, strict=True)
        operations = [PrepareStatement(name, sql, self.registry) for name, sql in pairs]
        self._exchange(operations)
        fresh = [
            op.statement
            for op in operations
            if op.statement is not None and op.misuse is None and op.error is None
        ]
        typed = iter(self._with_types(fresh))
        results: list[PreparedStatement | BaseException] = []
        evicted: list[PreparedStatement] = []
        for op in operations:
            failure = op.misuse or op.error
            if failure is not None:
                results.append(failure)
                continue
            statement = next(typed)
            results.append(statement)
            if statement.name:
                evicted.extend(self._cache.put(statement))
        return results, evicted

    def _with_types(self, statements: list[PreparedStatement]) -> list[PreparedStatement]:
        """Look up, once per type, the types the registry does not know yet (enums,
        domains, composites, user ranges, ...), then rebuild the statements using them."""
        missing = self.registry.unknown({o for s in statements for o in s.type_oids()})
        if not missing:
            return statements
        self._run(IntrospectTypes(missing, self.registry))
        return [s.rebuilt(self.registry) if s.type_oids() & missing else s for s in statements]

    def _execute_prepared(
        self, sql: str, args: Sequence[Any], *, max_rows: int = 0, timeout: float | None = None
    ) -> ExecuteStatement:
        with self._guard:  # _in_use(), without the call
            if self._cache.capacity <= 0:
                unprepared = ExecuteUnprepared(sql, [args], self.registry, max_rows=max_rows)
                self._run(unprepared, timeout)
                return unprepared
            statement = self._cache.get(sql)  # prepare(), without a coroutine when cached
            if statement is None:
                statement = (self._prepare_many([sql]))[0]
            operation = ExecuteStatement(statement, [args], max_rows=max_rows)
            try:
                # _run, without its coroutine layer and a second _in_use.
                self._exchange([operation], timeout)
                if operation.error is not None:
                    self._forget_if_stale(operation)
                operation.check()
            except Exception:
                if not (is_stale(operation.error) and self.transaction_status == "I"):
                    raise
                # The cached statement went stale (a table changed under it) and nothing
                # ran: prepare it again and retry once.
                statement = self.prepare(sql)
                operation = ExecuteStatement(statement, [args], max_rows=max_rows)
                self._run(operation, timeout)
            return operation

    def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        """Run ``sql``; return the command tag of its (last) statement, e.g. ``INSERT 0 1``.

        Without arguments the simple protocol is used, so ``sql`` may hold several
        statements separated by semicolons.
        """
        if not args:
            operation = SimpleQuery(sql, self.registry, keep_rows=False)
            self._run(operation, timeout)
            tags = operation.tags
            return tags[-1] if tags else ""
        return (self._execute_prepared(sql, args, timeout=timeout)).tag or ""

    def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """Run ``sql`` with ``args`` bound to ``$1, $2, ...``; return all rows."""
        return (self._execute_prepared(sql, args, timeout=timeout)).rows

    def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Record | None:
        """The first row, or ``None``."""
        rows = (self._execute_prepared(sql, args, max_rows=1, timeout=timeout)).rows
        return rows[0] if rows else None

    def fetchval(self, sql: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        """The value of ``column`` in the first row, or ``None`` if there is no row."""
        rows = (self._execute_prepared(sql, args, max_rows=1, timeout=timeout)).rows
        return rows[0][column] if rows else None

    def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``sql`` once per argument tuple, pipelined in one round trip, atomically:
        if one fails, none of them takes effect (they share one implicit transaction)."""
        with self._in_use():
            if self._cache.capacity <= 0:
                operation: ExecuteStatement = ExecuteUnprepared(sql, args, self.registry)
                if len(operation.messages) > 3:
                    self._run(operation, timeout)
                return
            statement = self.prepare(sql)
            operation = ExecuteStatement(statement, args)
            if operation.param_rows:
                self._run(operation, timeout)

    def execute_results(
        self,
        sql: str,
        arg_rows: Sequence[Sequence[Any]] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[StatementResult]:
        """Run ``sql`` and return what it produced, whole: for each result its ``columns``
        (the RowDescription's fields, ``None`` for a statement that returns no rows), its
        ``rows`` and its command ``tag``. For layers built on the driver (``pgwire.dbapi``).

        Without ``arg_rows`` the simple protocol runs ``sql``, which may hold several
        statements: one result each, values in text format.  With ``arg_rows``, ``sql`` is
        one statement, run once per argument sequence as :meth:`fetch` runs it (one
        sequence) or as :meth:`executemany` does (several: one round trip, atomically):
        one result per run, with its tag; the rows are kept for a single run only.
        """
        if arg_rows is None:
            simple = SimpleQuery(sql, self.registry)
            self._run(simple, timeout)
            return simple.results
        if len(arg_rows) == 1:
            one = self._execute_prepared(sql, arg_rows[0], timeout=timeout)
            return [StatementResult(one.tag, one.rows, one.statement.columns)]
        with self._in_use():
            if self._cache.capacity <= 0:
                many: ExecuteStatement = ExecuteUnprepared(sql, arg_rows, self.registry)
            else:
                many = ExecuteStatement(self.prepare(sql), arg_rows)
            if many.param_rows:
                self._run(many, timeout)
        return [StatementResult(tag, [], many.statement.columns) for tag in many.tags]
