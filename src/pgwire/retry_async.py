"""Retrying transactions that lose an optimistic-concurrency conflict (Aurora DSQL's OCC, or
any serialization failure): :func:`run_transaction_async` and :func:`is_occ_error`.

This is the async source; ``scripts/gen_sync.py`` turns it into ``retry_sync.py`` (whose
``run_transaction`` is the blocking twin). Both are exported by :mod:`pgwire.dsql`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from pgwire._compat_async import maybe_await

if TYPE_CHECKING:
    from pgwire.connection import AsyncConnection
    from pgwire.pool import AsyncPool

__all__ = [
    "DEFAULT_BASE_DELAY",
    "DEFAULT_MAX_DELAY",
    "is_occ_error",
    "retrying_async",
    "run_transaction_async",
]

logger = logging.getLogger("pgwire.dsql")

DEFAULT_BASE_DELAY = 0.05
DEFAULT_MAX_DELAY = 2.0
_OCC_SQLSTATE = "40001"
_OCC_CODES = ("OC000", "OC001")


def is_occ_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a DSQL optimistic-concurrency conflict: SQLSTATE 40001, or
    ``OC000`` (data conflict) / ``OC001`` (schema changed) in its message."""
    if getattr(exc, "sqlstate", None) == _OCC_SQLSTATE:
        return True
    message = str(getattr(exc, "message", None) or exc)
    return any(code in message for code in _OCC_CODES)


def backoff(attempt: int, base_delay: float, max_delay: float) -> float:
    """Full jitter: uniform in [0, min(max_delay, base_delay * 2**attempt)]."""
    return random.uniform(0, min(max_delay, base_delay * (2**attempt)))


async def retrying_async(
    attempt: Callable[[], Any],
    *,
    retries: int = 3,
    base_delay: float = DEFAULT_BASE_DELAY,
    max_delay: float = DEFAULT_MAX_DELAY,
    retryable: Callable[[BaseException], bool] = is_occ_error,
) -> Any:
    """Run ``attempt()`` and return its result; when it raises an error ``retryable`` accepts,
    wait (exponential backoff with full jitter) and run it again, up to ``retries`` more
    times. Other errors pass through at once. The loop of :func:`run_transaction_async` and
    of the DSQL SQLAlchemy dialect's ``run_in_transaction``."""
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("base_delay and max_delay must not be negative")
    tries = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if tries >= retries or not retryable(exc):
                raise
            delay = backoff(tries, base_delay, max_delay)
            logger.info(
                "transaction lost an optimistic-concurrency conflict (SQLSTATE %s); retry %d "
                "of %d in %.3f s",
                getattr(exc, "sqlstate", None) or "OCC",
                tries + 1,
                retries,
                delay,
            )
            tries += 1
        if True:  # ASYNC
            await anyio.sleep(delay)
        else:
            time.sleep(delay)


async def run_transaction_async(
    conn_or_pool: AsyncConnection | AsyncPool,
    fn: Callable[[AsyncConnection], Any],
    *,
    retries: int = 3,
    base_delay: float = DEFAULT_BASE_DELAY,
    max_delay: float = DEFAULT_MAX_DELAY,
) -> Any:
    """Run ``fn(conn)`` (sync or async) in a transaction; when it or the commit loses an
    optimistic-concurrency conflict, roll back, wait (exponential backoff with full jitter)
    and run it again, up to ``retries`` more times. Other errors pass through at once.

    With a pool, each attempt borrows a connection. Returns what ``fn`` returned.
    """

    async def attempt() -> Any:
        if hasattr(conn_or_pool, "acquire"):
            async with conn_or_pool.acquire() as conn:
                return await _attempt_async(conn, fn)
        return await _attempt_async(conn_or_pool, fn)

    return await retrying_async(
        attempt, retries=retries, base_delay=base_delay, max_delay=max_delay
    )


async def _attempt_async(conn: AsyncConnection, fn: Callable[[AsyncConnection], Any]) -> Any:
    async with conn.transaction():
        result = await maybe_await(fn(conn))
    return result
