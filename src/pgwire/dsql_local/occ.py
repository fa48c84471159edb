"""Optimistic-concurrency conflicts injected by the local DSQL endpoint, as proxy faults.

DSQL checks for conflicts when a transaction commits: the loser's COMMIT fails with SQLSTATE
40001 and a message naming ``OC000`` (a row changed) or ``OC001`` (the schema changed), and
its transaction is gone.  :func:`occ_fault` makes the next COMMITs of any session do that,
as a ``fail`` :class:`~pgwire.proxy.Fault` of the relay: a COMMIT sent with the simple
protocol (what ``transaction()`` blocks send) inside a transaction block is replaced by a
ROLLBACK on the real server, and the client gets the conflict instead of ROLLBACK's
CommandComplete.
"""

from __future__ import annotations

from pgwire.protocol import ErrorResponse, Message, Query
from pgwire.proxy import Fault

__all__ = ["OCC_MESSAGES", "is_commit", "occ_fault"]

#: DSQL's messages for its conflict codes.
OCC_MESSAGES = {
    "OC000": "change conflicts with another transaction, please retry: (OC000)",
    "OC001": "schema has been updated by another transaction, please retry: (OC001)",
}
_COMMITS = frozenset({"COMMIT", "END", "COMMIT WORK", "COMMIT TRANSACTION", "END TRANSACTION"})


def is_commit(message: Message) -> bool:
    """Whether ``message`` is a simple Query that commits the transaction, and only that."""
    if not isinstance(message, Query):
        return False
    sql = message.sql.strip().rstrip(";").strip()
    return " ".join(sql.upper().split()) in _COMMITS


def occ_fault(code: str = "OC000", count: int = 1) -> Fault:
    """A fault failing the next ``count`` COMMITs with the conflict ``code``."""
    if code not in OCC_MESSAGES:
        raise ValueError(f"code must be one of {', '.join(OCC_MESSAGES)}, got {code!r}")
    error = ErrorResponse({"S": "ERROR", "V": "ERROR", "C": "40001", "M": OCC_MESSAGES[code]})
    return Fault("fail", "Query", "F", when=is_commit, status="T", error=error, times=count)
