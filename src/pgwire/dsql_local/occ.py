"""Optimistic-concurrency conflicts injected by the local DSQL endpoint, as proxy faults.

DSQL checks for conflicts when a transaction commits: the loser's COMMIT fails with SQLSTATE
40001 and a message naming ``OC000`` (a row changed) or ``OC001`` (the schema changed), and
its transaction is gone.  :func:`occ_fault` makes the next COMMITs of any session do that,
as a ``fail`` :class:`~pgwire.proxy.Fault` of the relay: a COMMIT sent with the simple
protocol (what ``transaction()`` blocks send) inside a transaction block is replaced by a
ROLLBACK on the real server, and the client gets the conflict instead of ROLLBACK's
CommandComplete.  :func:`random_occ_fault` fails each COMMIT with a given probability, for
chaos tests.  (The conflicts that happen for real, under DSQL's rules, are the session's:
:mod:`pgwire.dsql_local.session`.)
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

from pgwire.protocol import ErrorResponse, Message, Query
from pgwire.proxy import Fault

__all__ = ["OCC_MESSAGES", "is_commit", "occ_fault", "random_occ_fault"]

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


def random_occ_fault(
    probability: float, code: str = "OC000", random: Callable[[], float] | None = None
) -> Fault:
    """A fault failing each COMMIT with the conflict ``code`` with ``probability``;
    ``random`` draws numbers in [0, 1) (default: :func:`random.random`)."""
    if not 0 <= probability <= 1:
        raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
    fault = occ_fault(code)
    draw = random or _random.random

    def chance(message: Message) -> bool:
        return is_commit(message) and draw() < probability

    fault.when = chance
    fault.times = None
    return fault
