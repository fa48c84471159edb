# GENERATED from src/pgwire/sqlalchemy/dsql_retry_async.py by scripts/gen_sync.py: do not edit.
"""Retrying a SQLAlchemy unit of work that lost an
optimistic-concurrency conflict on Aurora DSQL: :func:`run_in_transaction`.

DSQL does not lock: of two transactions that change the same row, the second to commit fails
with SQLSTATE 40001 (``OC000``; ``OC001`` when the schema changed). The whole transaction is
to be run again; savepoints, which DSQL lacks, cannot help. This runs ``fn`` in a transaction
begun by ``factory.begin()`` (a ``sessionmaker`` gives ``fn`` a ``Session``, an ``Engine`` a
``Connection``) and retries it with pgwire's backoff (:mod:`pgwire.retry_sync`).
:mod:`pgwire.sqlalchemy.dsql` exports it; the asyncio twin is ``dsql_retry_async.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgwire._compat_sync import maybe_await
from pgwire.retry_sync import DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY, is_occ_error, retrying

__all__ = ["is_conflict", "run_in_transaction"]


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` (SQLAlchemy's wrapper, or the driver's error itself) is an
    optimistic-concurrency conflict worth retrying (:func:`pgwire.dsql.is_occ_error`)."""
    orig = getattr(exc, "orig", None)
    return is_occ_error(exc) or (isinstance(orig, BaseException) and is_occ_error(orig))


def run_in_transaction(
    factory: Any,
    fn: Callable[[Any], Any],
    *,
    retries: int = 3,
    base_delay: float = DEFAULT_BASE_DELAY,
    max_delay: float = DEFAULT_MAX_DELAY,
) -> Any:
    """Run ``fn(unit)`` in a transaction of ``factory.begin()`` and return what it returned;
    when it or the commit loses an optimistic-concurrency conflict, wait (exponential backoff
    with full jitter) and run it again in a new transaction, up to ``retries`` more times.
    Other errors pass through at once.

    ``fn`` gets a fresh session (or connection) each attempt, so it must not keep state
    between attempts; objects loaded in it are expired once the transaction commits: return
    plain values.
    """

    def attempt() -> Any:
        with factory.begin() as unit:
            return maybe_await(fn(unit))

    return retrying(
        attempt,
        retries=retries,
        base_delay=base_delay,
        max_delay=max_delay,
        retryable=is_conflict,
    )
