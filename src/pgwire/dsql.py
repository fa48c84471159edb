"""Aurora DSQL: IAM tokens, connecting with DSQL's defaults, and optimistic-concurrency retries.

* :func:`generate_token` makes the token botocore's ``dsql`` client makes
  (``DbConnectAdmin`` for ``admin``, else ``DbConnect``), from cached credentials;
* :func:`connect`, :func:`connect_async`, :func:`create_pool` and
  :func:`create_blocking_pool` take an endpoint or a 26-character cluster id (or a
  ``dsql://admin@<endpoint>/postgres`` DSN, or any DSN with ``iam=dsql``/``iam=rds``) and
  apply DSQL's defaults: user ``admin``, database ``postgres``, port 5432, a fresh (cached)
  token for every physical connection, ``sslmode=verify-full`` with the system trust store,
  direct TLS negotiation, never plaintext, ``application_name`` ``pgwire/<version>``, and
  pools that recycle connections before DSQL's 60-minute limit; ``transport="websocket"``
  goes through DSQL's ``wss://`` endpoint instead;
* :func:`is_occ_error`, :func:`run_transaction` (blocking) and
  :func:`run_transaction_async` retry transactions that lost an optimistic-concurrency
  conflict (SQLSTATE 40001, ``OC000``/``OC001``) with exponential backoff and jitter.

It sits on top of the drivers: the parameters come from :mod:`pgwire.iam_params` (which the
drivers use too, for ``dsql://`` DSNs), the retries from :mod:`pgwire.retry_async` and its
generated twin; no protocol logic here, and botocore is imported only when a token is made.
Tokens never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pgwire.iam_params import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_WEBSOCKET_PORT,
    connection_params,
    endpoint_for,
    generate_token,
    region_from_host,
    token_provider,
)
from pgwire.retry_async import is_occ_error, run_transaction_async
from pgwire.retry_sync import run_transaction

if TYPE_CHECKING:
    from pgwire.connection import AsyncConnection
    from pgwire.pool import AsyncPool
    from pgwire.sync import Connection
    from pgwire.sync_pool import Pool

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_MAX_LIFETIME",
    "DEFAULT_WEBSOCKET_PORT",
    "connect",
    "connect_async",
    "connection_params",
    "create_blocking_pool",
    "create_pool",
    "endpoint_for",
    "generate_token",
    "is_occ_error",
    "region_from_host",
    "run_transaction",
    "run_transaction_async",
    "token_provider",
]

#: Pools recycle connections after this many seconds: DSQL closes them at 60 minutes.
DEFAULT_MAX_LIFETIME = 3300.0


# --------------------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------------------


def connect(dsn: str | None = None, **params: Any) -> Connection:
    """Open a blocking connection to DSQL (or RDS with ``iam="rds"``); see
    :func:`connection_params` for the parameters and defaults."""
    from pgwire.sync import connect as _connect

    return _connect(None, **connection_params(dsn, **params))


async def connect_async(dsn: str | None = None, **params: Any) -> AsyncConnection:
    """Open an async connection to DSQL (asyncio or trio); see :func:`connection_params`."""
    import anyio.to_thread

    from pgwire.connection import connect_async as _connect

    def plan() -> dict[str, Any]:
        return connection_params(dsn, for_async=True, **params)

    # The region may come from botocore's config files: read them off the event loop.
    return await _connect(None, **(await anyio.to_thread.run_sync(plan)))


async def create_pool(
    dsn: str | None = None, *, max_lifetime: float | None = DEFAULT_MAX_LIFETIME, **params: Any
) -> AsyncPool:
    """Open an async pool of DSQL connections, recycled after ``max_lifetime`` seconds
    (default 3300, before DSQL's 60-minute limit); every new connection gets a token from
    one cached provider. Pool options are those of :func:`pgwire.create_pool`."""
    import anyio.to_thread

    from pgwire.pool import create_pool as _create_pool

    def plan() -> dict[str, Any]:
        return connection_params(dsn, for_async=True, **params)

    connect_params = await anyio.to_thread.run_sync(plan)
    return await _create_pool(None, max_lifetime=max_lifetime, **connect_params)


def create_blocking_pool(
    dsn: str | None = None, *, max_lifetime: float | None = DEFAULT_MAX_LIFETIME, **params: Any
) -> Pool:
    """The blocking twin of :func:`create_pool`."""
    from pgwire.sync_pool import create_pool as _create_pool

    return _create_pool(None, max_lifetime=max_lifetime, **connection_params(dsn, **params))
