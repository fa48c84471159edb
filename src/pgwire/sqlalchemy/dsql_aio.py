"""``auroradsql+pgwire_async://``: the SQLAlchemy dialect for Amazon Aurora DSQL, for
``create_async_engine``.

The ``postgresql+pgwire_async`` dialect with DSQL's rules: the same DDL, transaction and IAM
behaviour as the blocking ``auroradsql+pgwire`` (:mod:`pgwire.sqlalchemy.dsql`, which
describes it), on :class:`pgwire.AsyncConnection`. :func:`run_in_transaction_async` retries
a unit of work of an ``async_sessionmaker`` or an ``AsyncEngine`` that lost an
optimistic-concurrency conflict. Only SQLAlchemy imports this module (entry point
``auroradsql.pgwire_async``).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.util.concurrency import await_only

from pgwire.sqlalchemy.aio import PGDialectAsync_pgwire
from pgwire.sqlalchemy.dsql import DSQLDialectMixin
from pgwire.sqlalchemy.dsql_retry_async import run_in_transaction_async

__all__ = ["DSQLDialectAsync_pgwire", "run_in_transaction_async"]


class DSQLDialectAsync_pgwire(DSQLDialectMixin, PGDialectAsync_pgwire):
    """``auroradsql+pgwire_async://admin@<cluster endpoint>/postgres``: Aurora DSQL through
    pgwire's async driver, for ``create_async_engine``."""

    supports_statement_cache = True

    def _pause(self, seconds: float) -> None:
        await_only(asyncio.sleep(seconds))


dialect = DSQLDialectAsync_pgwire
