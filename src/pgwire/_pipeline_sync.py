# GENERATED from src/pgwire/_pipeline_async.py by scripts/gen_sync.py: do not edit.
"""Pipelines of the async driver: :class:`Pipeline` runs queued statements together in
one round trip (two when some must be prepared first).

This is the async source; ``scripts/gen_sync.py`` generates ``_pipeline_sync.py``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from pgwire.operations import (
    ExecuteStatement,
    ExecuteUnprepared,
    PipelineResult,
    PreparedStatement,
)

if TYPE_CHECKING:
    from pgwire.sync import Connection

__all__ = ["Pipeline"]


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
        if not queue:
            return queue
        with conn._in_use():
            self._run(conn, queue)
        for item in queue:
            if item._error is not None:
                raise item._error
        return queue

    @staticmethod
    def _run(conn: Connection, queue: list[PipelineResult]) -> None:
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
            Pipeline._collect(conn, unprepared)
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
            names = [conn._cache.next_name() for _ in missing]
            # Statements evicted now may still run below: close them afterwards.
            results, evicted = conn._prepare_batch(missing, names)
            statements.update(zip(missing, results, strict=True))
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
        Pipeline._collect(conn, runnable)
        conn._close_statements(evicted)

    @staticmethod
    def _collect(conn: Connection, runnable: list[tuple[PipelineResult, ExecuteStatement]]) -> None:
        if not runnable:
            return
        conn._exchange([op for _, op in runnable])
        for item, execution in runnable:
            failure = execution.misuse or execution.error
            if failure is not None:
                item._error = failure
            item._value_set = True
        for _, execution in runnable:
            conn._forget_if_stale(execution)
