# GENERATED from src/pgwire/_transaction_async.py by scripts/gen_sync.py: do not edit.
"""Transactions of the async driver: :class:`Transaction`, what
``conn.transaction()`` returns.

``with conn.transaction():`` opens a transaction block (or, nested, a savepoint),
commits it when the block ends normally and rolls it back when it raises. This is the async
source; ``scripts/gen_sync.py`` generates ``_transaction_sync.py``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from pgwire import _compat_sync as _io
from pgwire.errors import InFailedSqlTransaction, InterfaceError

if TYPE_CHECKING:
    from pgwire.sync import Connection

__all__ = ["Transaction"]

_ISOLATION_LEVELS = ("serializable", "repeatable read", "read committed", "read uncommitted")


class Transaction:
    """One ``with conn.transaction(isolation):`` block: ``BEGIN`` (with the isolation
    level) on entry, or ``SAVEPOINT`` when the connection is already in one of these blocks;
    ``COMMIT``/``RELEASE SAVEPOINT`` on a normal exit, ``ROLLBACK`` (to the savepoint) when
    the block raises. Entering the block gives the connection. Each object serves once."""

    def __init__(self, conn: Connection, isolation: str | None = None) -> None:
        self._conn = conn
        self._begin = "BEGIN"
        if isolation:
            level = isolation.lower().replace("_", " ")
            if level not in _ISOLATION_LEVELS:
                raise InterfaceError(f"unknown isolation level {isolation!r}")
            self._begin += f" ISOLATION LEVEL {level.upper()}"
        self._isolation = isolation
        #: The nesting depth of this block (0: the transaction itself), once entered.
        self._depth: int | None = None

    def __enter__(self) -> Connection:
        if self._depth is not None:
            raise InterfaceError("a transaction() block can be entered only once")
        conn = self._conn
        depth = conn._transaction_depth
        if depth == 0:
            was_idle = conn.transaction_status == "I"
            try:
                conn.execute(self._begin)
            except BaseException:
                # A cancellation may land after the server ran the BEGIN: undo it.
                if was_idle and not conn.closed and conn.transaction_status != "I":
                    with _io.shield():
                        conn.execute("ROLLBACK")
                raise
        else:
            if self._isolation:
                raise InterfaceError("a nested transaction cannot set an isolation level")
            conn.execute(f"SAVEPOINT _pgwire_sp_{depth}")
        self._depth = depth
        conn._transaction_depth += 1
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, depth = self._conn, self._depth
        assert depth is not None
        conn._transaction_depth -= 1
        if exc_type is not None:
            if not conn.closed:
                with _io.shield():
                    if depth == 0:
                        conn.execute("ROLLBACK")
                    else:
                        conn.execute(f"ROLLBACK TO SAVEPOINT _pgwire_sp_{depth}")
            return
        if depth > 0:
            conn.execute(f"RELEASE SAVEPOINT _pgwire_sp_{depth}")
        elif conn.transaction_status == "E":
            # The server would turn COMMIT into ROLLBACK without an error: a statement
            # failed and its exception was caught inside the block.
            conn.execute("ROLLBACK")
            raise InFailedSqlTransaction(
                "the transaction was rolled back, not committed: a statement in it failed "
                "and its error was caught inside the transaction() block"
            )
        else:
            conn.execute("COMMIT")
