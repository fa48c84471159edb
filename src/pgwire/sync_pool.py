# GENERATED from src/pgwire/pool.py by scripts/gen_sync.py: do not edit.
"""The blocking connection pool, for threads: :func:`create_pool` (exported as
``pgwire.create_blocking_pool``) and :class:`Pool`.

Everything the async pool's docstring (``pool.py``) says holds here, with threads in place
of tasks: ``with pool.acquire() as conn:`` lends a connection to the calling thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pgwire import _compat_sync as _io
from pgwire.errors import InterfaceError, PoolClosed, PoolTimeout
from pgwire.record import Record
from pgwire.sync import Connection, connect

__all__ = ["DEFAULT_RESET", "Pool", "PoolClosed", "PoolTimeout", "create_pool"]

logger = logging.getLogger("pgwire.pool")

#: What a released connection runs (after rolling back any transaction) to undo what its
#: borrower changed in the session: advisory locks, open cursors, LISTENs and settings
#: (``SET``). Unlike ``DISCARD ALL`` it keeps prepared statements, so the statement cache
#: stays valid. Temporary tables are kept too: pass ``reset="DISCARD TEMP; ..."`` to drop them.
DEFAULT_RESET = "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL"

#: Seconds the reset on release, or a health check, may take; a connection that takes longer
#: is closed (a server that stopped answering must not hang a release or an acquire).
UPKEEP_TIMEOUT = 10.0


def create_pool(dsn: str | None = None, **options: Any) -> Pool:
    """Open a pool with ``min_size`` connections and return it. ``options`` are the pool's
    (``min_size``, ``max_size``, ``timeout``, ...; see :class:`Pool`, the one place
    they are defined) and the connection parameters, as :class:`Pool` takes them."""
    pool = Pool(dsn, **options)
    pool.open()
    return pool


@dataclass
class _Slot:
    """A pooled connection and the facts the pool keeps about it."""

    conn: Connection
    created: float
    idle_since: float
    command_timeout: float | None


class Pool:
    """A pool of connections to one database.

    ``dsn`` and ``connect_params`` are what :func:`~pgwire.connect` takes (a password
    callable runs for every new connection, so IAM tokens stay fresh).

    - ``min_size`` connections are opened by :meth:`open` and never closed for being idle;
      at most ``max_size`` exist at once (those lent out included).
    - ``timeout``: seconds :meth:`acquire` waits for a connection before it raises
      :class:`~pgwire.errors.PoolTimeout` (a ``TimeoutError``); ``None`` waits for ever.
    - ``max_lifetime``: seconds after which a connection is closed (when next released or
      acquired) and replaced; ``max_idle``: seconds an idle connection beyond ``min_size``
      is kept; ``health_check_after``: seconds of idleness after which a connection is
      checked with an empty query before being lent out (0: always, ``None``: never).
    - ``reset``: SQL run on release (default :data:`DEFAULT_RESET`), or a callable
      ``reset(conn)`` (sync or async), or ``None`` for none (only a rollback).
    - ``init(conn)`` runs once for each new connection, ``setup(conn)`` each time one is
      lent out; both may be sync or async.

    Use it as ``with pool:`` (opened on entry if need be, closed on exit), or call
    :meth:`open` and :meth:`close` yourself.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float | None = 30.0,
        max_lifetime: float | None = 3600.0,
        max_idle: float | None = 300.0,
        health_check_after: float | None = 5.0,
        reset: str | Callable[[Connection], Any] | None = DEFAULT_RESET,
        init: Callable[[Connection], Any] | None = None,
        setup: Callable[[Connection], Any] | None = None,
        **connect_params: Any,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        if not 0 <= min_size <= max_size:
            raise ValueError(
                f"min_size must be between 0 and max_size ({max_size}), got {min_size}"
            )
        self._dsn = dsn
        self._connect_params = connect_params
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._max_lifetime = max_lifetime
        self._max_idle = max_idle
        self._health_check_after = health_check_after
        self._reset = reset
        self._init = init
        self._setup = setup
        self._cond = _io.Condition()
        #: Idle connections, most recently released last (lent out first, so the oldest age
        #: out under ``max_idle``).
        self._idle: deque[_Slot] = deque()
        self._lent: dict[Connection, _Slot] = {}
        #: Every connection the pool holds: idle, lent out, or being opened.
        self._size = 0
        self._opened = False
        self._closing = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "closing" if self._closing else "open"
        return (
            f"<pgwire.{type(self).__name__} {state} size={self._size} idle={len(self._idle)} "
            f"min_size={self._min_size} max_size={self._max_size}>"
        )

    # ----------------------------------------------------------------------------------
    # Opening and closing
    # ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Open ``min_size`` connections (once; later calls do nothing). If one fails to
        open, the pool is terminated and the error raised."""
        if self._opened:
            return
        self._opened = True
        try:
            while True:
                with self._cond:
                    if self._closing or self._size >= self._min_size:
                        return
                    self._size += 1
                slot = self._connect()
                self._keep(slot)
        except BaseException:
            self.terminate()
            raise

    def close(self) -> None:
        """Stop lending, wait until every connection lent out is released, close them all.

        Tasks (or threads) waiting in :meth:`acquire` get :class:`~pgwire.errors.PoolClosed`.
        """
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
            while self._size > len(self._idle):
                _io.wait_condition(self._cond, None)
            idle = self._take_all_idle()
            self._closed = True
        self._close_connections(idle)

    def terminate(self) -> None:
        """Close every connection now, even those lent out (their borrowers' next query
        fails with an error); do not wait for anything."""
        with self._cond:
            self._closing = self._closed = True
            self._cond.notify_all()
            doomed = self._take_all_idle() + [slot.conn for slot in self._lent.values()]
        self._close_connections(doomed)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` or :meth:`terminate` was called (or is under way)."""
        return self._closing

    def __enter__(self) -> Pool:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------------------------
    # Sizes
    # ----------------------------------------------------------------------------------

    def get_size(self) -> int:
        """How many connections the pool holds: idle, lent out and being opened."""
        return self._size

    def get_idle_size(self) -> int:
        """How many connections sit idle in the pool."""
        return len(self._idle)

    def get_min_size(self) -> int:
        """The ``min_size`` the pool was made with."""
        return self._min_size

    def get_max_size(self) -> int:
        """The ``max_size`` the pool was made with."""
        return self._max_size

    # ----------------------------------------------------------------------------------
    # Lending
    # ----------------------------------------------------------------------------------

    def acquire(self, *, timeout: float | None = None) -> _Acquire:
        """``with pool.acquire() as conn:`` lends a connection for the block.

        ``timeout`` overrides the pool's for this call. With no idle connection and
        ``max_size`` reached, it waits for a release; if none comes in time it raises
        :class:`~pgwire.errors.PoolTimeout`.
        """
        return _Acquire(self, self._timeout if timeout is None else timeout)

    def release(self, conn: Connection) -> None:
        """Give back a connection: reset it and keep it for the next borrower, or close it
        (broken, too old, reset failed, or the pool is closing)."""
        with _io.shield():
            with self._cond:
                slot = self._lent.pop(conn, None)
            if slot is None:
                raise InterfaceError(
                    f"{conn!r} is not lent out by this pool: it came from elsewhere, or it "
                    "was released already"
                )
            if self._reset_session(slot):
                self._keep(slot)
            else:
                self._discard(slot)

    def _acquire(self, timeout: float | None) -> Connection:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slot, expired = self._take(deadline)
            self._close_connections(expired)
            if slot is None:
                slot = self._connect()
                with _io.shield(), self._cond:
                    self._lent[slot.conn] = slot
            elif not self._healthy(slot):
                continue
            if self._setup is not None:
                try:
                    _io.call(self._setup, slot.conn)
                except BaseException:
                    self._discard(slot)
                    raise
            return slot.conn

    def _take(self, deadline: float | None) -> tuple[_Slot | None, list[Connection]]:
        """Take an idle connection, or reserve room for a new one (``None``), waiting until
        ``deadline`` for either; also return the idle connections to close for ``max_idle``."""
        with self._cond:
            while True:
                if self._closing:
                    raise PoolClosed("the pool is closed: it lends no more connections")
                if self._idle:
                    slot = self._idle.pop()
                    self._lent[slot.conn] = slot
                    return slot, self._trim_idle()
                if self._size < self._max_size:
                    self._size += 1
                    return None, []
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise PoolTimeout(
                        f"no connection became free in time: all {self._max_size} are lent "
                        "out (max_size); release connections sooner, raise max_size, or "
                        "give acquire() a longer timeout"
                    )
                _io.wait_condition(self._cond, remaining)

    def _connect(self) -> _Slot:
        """Open a connection for room already reserved in ``_size`` (freed if this fails)."""
        try:
            conn = connect(self._dsn, **self._connect_params)
            try:
                if self._init is not None:
                    _io.call(self._init, conn)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            with _io.shield(), self._cond:
                self._size -= 1
                self._wake()
            raise
        now = time.monotonic()
        return _Slot(conn, now, now, conn.command_timeout)

    def _healthy(self, slot: _Slot) -> bool:
        """Whether an idle connection just taken may be lent out; if not, it is closed."""
        conn = slot.conn
        now = time.monotonic()
        healthy = not conn.closed and not self._too_old(slot, now)
        check = self._health_check_after
        if healthy and check is not None and now - slot.idle_since >= check:
            try:
                conn.execute("", timeout=UPKEEP_TIMEOUT)
            except Exception as exc:
                logger.info("closing a pooled connection that failed its health check: %r", exc)
                healthy = False
            except BaseException:
                self._discard(slot)
                raise
        if not healthy:
            self._discard(slot)
        return healthy

    def _reset_session(self, slot: _Slot) -> bool:
        """Undo the borrower's changes to the session; False if the connection must go."""
        conn = slot.conn
        if conn.closed or self._closing or self._too_old(slot, time.monotonic()):
            return False
        # The borrower's callbacks must not fire for the next borrower.
        conn.clear_handlers()
        conn.command_timeout = slot.command_timeout
        try:
            with _io.fail_after(UPKEEP_TIMEOUT):
                if conn.transaction_status != "I":
                    conn.execute("ROLLBACK", timeout=UPKEEP_TIMEOUT)
                if isinstance(self._reset, str):
                    conn.execute(self._reset, timeout=UPKEEP_TIMEOUT)
                elif self._reset is not None:
                    _io.call(self._reset, conn)
        except Exception as exc:
            logger.warning("closing a pooled connection whose reset failed: %r", exc)
            return False
        return not conn.closed and conn.transaction_status == "I"

    def _too_old(self, slot: _Slot, now: float) -> bool:
        return self._max_lifetime is not None and now - slot.created >= self._max_lifetime

    def _keep(self, slot: _Slot) -> None:
        """Put a healthy connection (counted in ``_size``) among the idle ones."""
        with _io.shield():
            with self._cond:
                if self._closing:
                    self._size -= 1
                    expired = [slot.conn]
                else:
                    slot.idle_since = time.monotonic()
                    self._idle.append(slot)
                    expired = self._trim_idle()
                self._wake()
            self._close_connections(expired)

    def _discard(self, slot: _Slot) -> None:
        """Close a connection taken out of the pool and free its room."""
        with _io.shield():
            with self._cond:
                self._lent.pop(slot.conn, None)
                self._size -= 1
                self._wake()
            self._close_connections([slot.conn])

    def _wake(self) -> None:
        """Tell a waiter (holding ``_cond``) that a connection or room came free; all of them
        while closing, so that :meth:`close` learns of each release."""
        if self._closing:
            self._cond.notify_all()
        else:
            self._cond.notify()

    def _trim_idle(self) -> list[Connection]:
        """Take out (holding ``_cond``) the idle connections unused for ``max_idle``, as long
        as more than ``min_size`` remain; the caller closes them."""
        if self._max_idle is None:
            return []
        expired = []
        cutoff = time.monotonic() - self._max_idle
        while self._idle and self._size > self._min_size and self._idle[0].idle_since <= cutoff:
            expired.append(self._idle.popleft().conn)
            self._size -= 1
        return expired

    def _take_all_idle(self) -> list[Connection]:
        idle = [slot.conn for slot in self._idle]
        self._idle.clear()
        self._size -= len(idle)
        return idle

    @staticmethod
    def _close_connections(connections: Sequence[Connection]) -> None:
        with _io.shield():
            for conn in connections:
                try:
                    conn.close()
                except Exception as exc:
                    logger.debug("error closing a pooled connection: %r", exc)

    # ----------------------------------------------------------------------------------
    # Shortcuts: one statement on a connection borrowed for it
    # ----------------------------------------------------------------------------------

    def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        """:meth:`Connection.execute` on a borrowed connection."""
        with self.acquire() as conn:
            return conn.execute(sql, *args, timeout=timeout)

    def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """:meth:`Connection.executemany` on a borrowed connection."""
        with self.acquire() as conn:
            conn.executemany(sql, args, timeout=timeout)

    def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """:meth:`Connection.fetch` on a borrowed connection."""
        with self.acquire() as conn:
            return conn.fetch(sql, *args, timeout=timeout)

    def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Record | None:
        """:meth:`Connection.fetchrow` on a borrowed connection."""
        with self.acquire() as conn:
            return conn.fetchrow(sql, *args, timeout=timeout)

    def fetchval(self, sql: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        """:meth:`Connection.fetchval` on a borrowed connection."""
        with self.acquire() as conn:
            return conn.fetchval(sql, *args, column=column, timeout=timeout)


class _Acquire:
    """What :meth:`Pool.acquire` returns: a context manager lending a connection."""

    __slots__ = ("_conn", "_pool", "_timeout")

    def __init__(self, pool: Pool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: Connection | None = None

    def __enter__(self) -> Connection:
        self._conn = self._pool._acquire(self._timeout)
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        self._pool.release(conn)
