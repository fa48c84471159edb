# GENERATED from src/pgwire/connection.py by scripts/gen_sync.py: do not edit.
"""The blocking driver: :func:`connect` and :class:`Connection`.

Everything the async driver's docstring (``connection.py``) says holds here, with threads
in place of tasks and Ctrl-C (KeyboardInterrupt) in place of task cancellation: an
interrupted query is cancelled on the server and the connection stays usable.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from pgwire import _compat_sync as _io
from pgwire._copy_sync import Copy
from pgwire._cursor_sync import Cursors
from pgwire._io_sync import run_flow
from pgwire._notify_sync import Notifications
from pgwire._pipeline_sync import Pipeline
from pgwire._pump_sync import DEFAULT_CANCEL_TIMEOUT
from pgwire._transaction_sync import Transaction
from pgwire.conninfo import ConnectInfo, resolve, wants_iam
from pgwire.errors import PostgresNotice as Notice
from pgwire.flows import connect_flow
from pgwire.operations import Notification, PipelineResult
from pgwire.protocol import ConnectionState, Terminate
from pgwire.types import TypeRegistry, default_registry

logger = logging.getLogger("pgwire")

__all__ = [
    "Connection",
    "Notice",
    "Notification",
    "Pipeline",
    "PipelineResult",
    "Transaction",
    "connect",
]


def connect(dsn: str | None = None, **params: Any) -> Connection:
    """Open a connection.

    ``dsn`` is a ``postgresql://`` URI or a ``key=value`` string; keyword arguments
    (``host``, ``port``, ``user``, ``password``, ``dbname``/``database``, ...) override it,
    and the ``PG*`` environment fills in the rest.  ``password`` may be a callable (sync or
    async), called for each new connection: that is how IAM tokens plug in.  A ``dsql://``
    DSN, or ``iam=dsql`` / ``iam=rds``, connects with IAM tokens (see :mod:`pgwire.dsql`).

    Driver options: ``statement_cache_size`` (default 256; 0 turns the cache off),
    ``registry`` (a :class:`~pgwire.types.TypeRegistry`), ``command_timeout`` (seconds, the
    default ``timeout`` of every query), ``cancel_timeout`` (seconds a cancelled query may
    take to wind down before the connection is closed).
    """
    statement_cache_size = params.pop("statement_cache_size", 256)
    registry = params.pop("registry", None)
    command_timeout = params.pop("command_timeout", None)
    cancel_timeout = params.pop("cancel_timeout", DEFAULT_CANCEL_TIMEOUT)
    if wants_iam(dsn, params):
        # dsql:// DSNs and iam=dsql|rds: IAM tokens as passwords, and DSQL's (or RDS's)
        # defaults (verify-full TLS, direct negotiation, ...).
        from pgwire.iam_params import connection_params

        params = connection_params(dsn, for_async=False, **params)
        dsn = None
    info = resolve(dsn, **params)
    conn = Connection._open(info, registry or default_registry(), statement_cache_size)
    conn.command_timeout = command_timeout
    conn.cancel_timeout = cancel_timeout
    return conn


class Connection(Copy, Cursors, Notifications):
    """A connection to PostgreSQL. Use it as a context manager, or ``close()`` it.

    Queries (``execute``, ``fetch``, ...) come from :class:`~pgwire._queries_async.Queries`,
    ``cursor`` from :class:`~pgwire._cursor_async.Cursors`, COPY from
    :class:`~pgwire._copy_async.Copy`, notices and notifications from
    :class:`~pgwire._notify_async.Notifications`.
    """

    @classmethod
    def _open(
        cls, info: ConnectInfo, registry: TypeRegistry, statement_cache_size: int
    ) -> Connection:
        # The flow tries each host in turn; connect_timeout bounds each attempt as a whole
        # (DNS, TCP, TLS and authentication), and a password callable is called for each.
        stream, session = run_flow(connect_flow(info))
        assert stream is not None
        _io.settle(stream)
        conn = cls(stream, session.core, session.info, registry, statement_cache_size)
        for notice in session.notices:
            conn._on_notice(notice)
        if session.dropped_notices:
            logger.warning(
                "the server sent %d more notices while the session started; they were "
                "dropped (the first %d were kept)",
                session.dropped_notices,
                len(session.notices),
            )
        return conn

    def close(self) -> None:
        """Say goodbye to the server and close the stream. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        with _io.shield():
            try:
                if self._core.state is ConnectionState.READY:
                    self._stream.send_all(self._core.send(Terminate()))
            except OSError:
                pass
            finally:
                self._stream.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by ``close()`` or by a failure)."""
        return self._closed

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self._core.state.value
        info = self._info
        where = info.host if info.is_unix_socket else f"{info.host}:{info.port}"
        return f"<pgwire.{type(self).__name__} {state} {info.user}@{where}/{info.dbname}>"

    @property
    def server_version(self) -> str:
        """The server's version string (``server_version`` parameter)."""
        return self._core.parameters.get("server_version", "")

    @property
    def parameters(self) -> dict[str, str]:
        """Run-time parameters the server reported."""
        return dict(self._core.parameters)

    @property
    def backend_pid(self) -> int | None:
        """The server process id serving this connection."""
        key = self._core.backend_key
        return None if key is None else key.process_id

    def transaction(self, isolation: str | None = None) -> Transaction:
        """``with conn.transaction():`` commits on success, rolls back on an exception.

        Nested blocks use savepoints.  ``isolation`` may be ``serializable``,
        ``repeatable read``, ``read committed`` or ``read uncommitted``.
        """
        return Transaction(self, isolation)

    def pipeline(self) -> Pipeline:
        """Queue statements and run them all in one round trip; see :class:`Pipeline`."""
        return Pipeline(self)
