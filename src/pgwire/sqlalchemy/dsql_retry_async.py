"""Retrying a SQLAlchemy unit of work that lost an optimistic-concurrency conflict on Aurora
DSQL, with asyncio: :func:`run_in_transaction_async`.

DSQL does not lock: of two transactions that change the same row, the second to commit fails
with SQLSTATE 40001 (``OC000``; ``OC001`` when the schema changed). The whole transaction is
to be run again; savepoints, which DSQL lacks, cannot help. This runs ``fn`` in a transaction
begun by ``factory.begin()`` (an ``async_sessionmaker`` gives ``fn`` an ``AsyncSession``, an
``AsyncEngine`` an ``AsyncConnection``; ``fn`` may be a coroutine function) and retries it
with pgwire's retry loop (:func:`pgwire.retry_async.retrying_async`).

This is the async source; ``scripts/gen_sync.py`` turns it into ``dsql_retry_sync.py``.
:mod:`pgwire.sqlalchemy.dsql_aio` exports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pgwire._compat_async import maybe_await
from pgwire.retry_async import (
    DEFAULT_BASE_DELAY,
    DEFAULT_MAX_DELAY,
    is_occ_error,
    retrying_async,
)

__all__ = ["is_conflict", "run_in_transaction_async"]


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` (SQLAlchemy's wrapper, or the driver's error itself) is an
    optimistic-concurrency conflict worth retrying (:func:`pgwire.dsql.is_occ_error`)."""
    orig = getattr(exc, "orig", None)
    return is_occ_error(exc) or (isinstance(orig, BaseException) and is_occ_error(orig))


async def run_in_transaction_async(
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

    async def attempt() -> Any:
        async with factory.begin() as unit:
            return await maybe_await(fn(unit))

    return await retrying_async(
        attempt,
        retries=retries,
        base_delay=base_delay,
        max_delay=max_delay,
        retryable=is_conflict,
    )
