"""The async connection pool: :func:`create_pool` and :class:`AsyncPool`, on anyio (so it runs
on asyncio, uvloop and trio).

A pool keeps between ``min_size`` and ``max_size`` connections and lends them out with
``async with pool.acquire() as conn:``. It needs no background task: the upkeep happens when
connections are acquired and released.

- On release a connection is reset (an open or failed transaction rolled back, then
  :data:`DEFAULT_RESET`), so the next borrower finds a fresh session; a broken connection, one
  older than ``max_lifetime``, or one whose reset fails is closed instead of kept.
- On acquire, a connection that sat idle for ``health_check_after`` seconds or more is checked
  with an empty query first; if that fails it is closed and another one is used.
- Idle connections unused for ``max_idle`` seconds are closed at the next acquire or release,
  down to ``min_size``.
- When every connection is lent out, acquirers wait in line: a connection given back (or room
  for a new one) goes straight to the one that has waited longest, so none is overtaken.

This file is the single source of both pools: ``scripts/gen_sync.py`` turns it into
``sync_pool.py`` (the blocking pool, for threads) as it turns connection.py into sync.py.
Edit this file, never ``sync_pool.py``. It must not reach into the protocol core: it only
uses the driver's connections.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from types import TracebackType
from typing import Any, Literal

from pgwire import _compat_async as _io
from pgwire.connection import AsyncConnection, connect_async
from pgwire.errors import InterfaceError, PoolClosed, PoolTimeout
from pgwire.record import Record

__all__ = ["DEFAULT_RESET", "AsyncPool", "PoolClosed", "PoolTimeout", "create_pool"]

logger = logging.getLogger("pgwire.pool")

#: What a released connection runs (after rolling back any transaction) to undo what its
#: borrower changed in the session: advisory locks, open cursors, LISTENs and settings
#: (``SET``). Unlike ``DISCARD ALL`` it keeps prepared statements, so the statement cache
#: stays valid. Temporary tables are kept too: pass ``reset=DEFAULT_RESET + "; DISCARD TEMP"``
#: to drop them.
#: The function is named with its schema: a borrower may have put one of the same name
#: ahead of ``pg_catalog`` on the ``search_path``.
DEFAULT_RESET = "SELECT pg_catalog.pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL"

#: Seconds the reset on release, or a health check, may take; a connection that takes longer
#: is closed (a server that stopped answering must not hang a release or an acquire).
UPKEEP_TIMEOUT = 10.0

if True:  # ASYNC
    import asyncio

    import anyio

    def _expire(future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_result(None)


def _upkeep_scope() -> Any:
    """The scope of the reset on release. In async code it is shielded from the borrower's
    cancellation (a task cancelled while it holds a connection still gives it back clean)
    and ends the reset after UPKEEP_TIMEOUT seconds: one cancel scope for both, as they
    are costly on asyncio. On trio, trio's own scope (anyio's wraps it, and looks up the
    event loop on every call). Blocking reads get the timeout themselves."""
    if True:  # ASYNC
        if asyncio._get_running_loop() is None:  # on trio
            import trio

            return trio.CancelScope(shield=True, deadline=trio.current_time() + UPKEEP_TIMEOUT)
        return anyio.CancelScope(shield=True, deadline=anyio.current_time() + UPKEEP_TIMEOUT)
    else:
        return contextlib.nullcontext()


def _state_lock() -> Any:
    """The lock of the pool's bookkeeping."""
    if True:  # ASYNC
        # Tasks of one event loop change it only between awaits (no block holding the lock
        # awaits anything), so none sees it half done: no lock is needed.
        return contextlib.nullcontext()
    else:
        return threading.Lock()


class _Signal:
    """Wakes one waiting task (or thread), once: how a connection is handed to the first
    in line. On asyncio (and uvloop) a bare future and a timer handle, far cheaper than a
    cancel scope; on trio the waiting task parked and rescheduled by hand (a cancel scope
    only when there is a timeout); in blocking code a lock held until set."""

    def __init__(self) -> None:
        if True:  # ASYNC
            loop = asyncio._get_running_loop()
            #: On asyncio: what set() completes. None on trio.
            self._future: asyncio.Future[None] | None = None
            if loop is not None:
                self._future = loop.create_future()
            #: On trio: whether set() ran, and the task parked in wait() (None if none).
            self._set = False
            self._task: Any = None
        else:
            self._lock = threading.Lock()
            self._lock.acquire()

    def set(self) -> None:
        if True:  # ASYNC
            future = self._future
            if future is not None:
                if not future.done():
                    future.set_result(None)
            elif not self._set:
                self._set = True
                task = self._task
                if task is not None:
                    # Only a task still parked is woken: an aborted wait left _task None.
                    self._task = None
                    import trio

                    trio.lowlevel.reschedule(task)
        else:
            self._lock.release()

    async def wait(self, timeout: float | None) -> None:
        """Until :meth:`set`, or ``timeout`` seconds (the caller tells which happened)."""
        if True:  # ASYNC
            future = self._future
            if future is None:
                if self._set:
                    return
                if timeout is None:
                    await self._park()
                    return
                import trio

                with trio.move_on_after(timeout):
                    await self._park()
                return
            if timeout is None:
                await future
                return
            timer = future.get_loop().call_later(timeout, _expire, future)
            try:
                await future
            finally:
                timer.cancel()
        else:
            self._lock.acquire(timeout=-1 if timeout is None else timeout)

    if True:  # ASYNC

        async def _park(self) -> None:
            """On trio: sleep until set() reschedules this task; a cancellation (or the
            timeout's) takes it off first, so a later set() does not wake it."""
            import trio

            self._task = trio.lowlevel.current_task()

            def abort(_: Any) -> Any:
                self._task = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)


async def create_pool(dsn: str | None = None, **options: Any) -> AsyncPool:
    """Open a pool with ``min_size`` connections and return it. ``options`` are the pool's
    (``min_size``, ``max_size``, ``timeout``, ...; see :class:`AsyncPool`, the one place
    they are defined) and the connection parameters, as :class:`AsyncPool` takes them."""
    pool = AsyncPool(dsn, **options)
    await pool.open()
    return pool


class _Slot:
    """A pooled connection and the facts the pool keeps about it."""

    __slots__ = ("command_timeout", "conn", "created", "idle_since")

    def __init__(self, conn: AsyncConnection, now: float) -> None:
        self.conn = conn
        self.created = now
        #: When it was last given back (or opened): what ``health_check_after`` measures.
        self.idle_since = now
        self.command_timeout = conn.command_timeout


#: What a task in line is handed: a connection, room to open one, or the news that the
#: pool closed.
_Grant = _Slot | Literal["room", "closed"]


class _Waiter:
    """A task (or thread) waiting in :meth:`AsyncPool.acquire`. Whoever takes it out of
    the line sets ``grant`` and wakes it; one that gives up takes itself out."""

    __slots__ = ("grant", "signal")

    def __init__(self) -> None:
        self.grant: _Grant | None = None
        self.signal = _Signal()


class _Ledger:
    """What a pool holds and who waits for it: the pool's bookkeeping, apart from its I/O.

    Every method runs holding ``lock`` and never waits; those that take connections out
    return the ones the caller is to close once it let go of the lock.
    """

    def __init__(self, min_size: int, max_size: int, max_idle: float | None) -> None:
        self.min_size = min_size
        self.max_size = max_size
        self.max_idle = max_idle
        #: Guards everything below. No block holding it waits for anything.
        self.lock = _state_lock()
        #: Idle connections, most recently released last (lent out first, so the oldest age
        #: out under ``max_idle``). Never non-empty while someone waits in line.
        self.idle: deque[_Slot] = deque()
        #: Acquirers waiting for a connection, first come first served.
        self.waiters: deque[_Waiter] = deque()
        self.lent: dict[AsyncConnection, _Slot] = {}
        #: Every connection the pool holds: idle, lent out, being opened, being reset.
        self.size = 0
        #: close() calls waiting until every connection lent out is back.
        self.drained: list[_Signal] = []
        self.closing = False

    def take(self) -> tuple[_Grant | _Waiter, list[AsyncConnection]]:
        """An idle connection (now lent), room to open one, or else a place in line."""
        if self.idle:
            slot = self.idle.pop()
            self.lent[slot.conn] = slot
            return slot, self.trim_idle()
        if self.size < self.max_size:
            self.size += 1
            return "room", []
        waiter = _Waiter()
        self.waiters.append(waiter)
        return waiter, []

    def give_back(self, slot: _Slot) -> list[AsyncConnection]:
        """Keep a clean connection: hand it to the first task in line, else make it idle."""
        slot.idle_since = time.monotonic()
        if self.closing:
            self.size -= 1
            self.settle()
            return [slot.conn]
        if self.waiters:
            waiter = self.waiters.popleft()
            self.lent[slot.conn] = slot
            waiter.grant = slot
            waiter.signal.set()
            return []
        self.idle.append(slot)
        return self.trim_idle()

    def drop(self, slot: _Slot) -> list[AsyncConnection]:
        """Give up a connection that is neither idle nor lent out."""
        self.free_room()
        return [slot.conn]

    def free_room(self) -> None:
        """A connection counted in ``size`` is gone: hand its room to the first task in
        line (which opens a new one), or shrink."""
        if self.waiters:
            waiter = self.waiters.popleft()
            waiter.grant = "room"
            waiter.signal.set()
        else:
            self.size -= 1
            self.settle()

    def withdraw(self, waiter: _Waiter) -> list[AsyncConnection]:
        """Take a task that gave up out of the line, passing on what it was handed."""
        grant, waiter.grant = waiter.grant, None
        if grant is None:
            self.waiters.remove(waiter)
            return []
        if grant == "room":
            self.free_room()
            return []
        if isinstance(grant, _Slot):
            del self.lent[grant.conn]
            return self.give_back(grant)
        return []

    def turn_away_waiters(self) -> None:
        """Tell everyone in line that the pool closed."""
        while self.waiters:
            waiter = self.waiters.popleft()
            waiter.grant = "closed"
            waiter.signal.set()

    def settle(self) -> None:
        """While closing: tell close() once every connection lent out is back."""
        if self.drained and self.size <= len(self.idle):
            for drained in self.drained:
                drained.set()
            self.drained.clear()

    def trim_idle(self) -> list[AsyncConnection]:
        """Take out the idle connections unused for ``max_idle``, as long as more than
        ``min_size`` remain."""
        if self.max_idle is None or not self.idle:
            return []
        expired = []
        cutoff = time.monotonic() - self.max_idle
        while self.idle and self.size > self.min_size and self.idle[0].idle_since <= cutoff:
            expired.append(self.idle.popleft().conn)
            self.size -= 1
        return expired

    def take_all_idle(self) -> list[AsyncConnection]:
        """Take out every idle connection (to close them)."""
        idle = [slot.conn for slot in self.idle]
        self.idle.clear()
        self.size -= len(idle)
        return idle


class AsyncPool:
    """A pool of connections to one database.

    ``dsn`` and ``connect_params`` are what :func:`~pgwire.connect_async` takes (a password
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

    Use it as ``async with pool:`` (opened on entry if need be, closed on exit), or call
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
        reset: str | Callable[[AsyncConnection], Any] | None = DEFAULT_RESET,
        init: Callable[[AsyncConnection], Any] | None = None,
        setup: Callable[[AsyncConnection], Any] | None = None,
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
        self._ledger = _Ledger(min_size, max_size, max_idle)
        self._opened = False
        self._closed = False

    def __repr__(self) -> str:
        ledger = self._ledger
        state = "closed" if self._closed else "closing" if ledger.closing else "open"
        return (
            f"<pgwire.{type(self).__name__} {state} size={ledger.size} idle={len(ledger.idle)} "
            f"min_size={self._min_size} max_size={self._max_size}>"
        )

    # ----------------------------------------------------------------------------------
    # Opening and closing
    # ----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open ``min_size`` connections (once; later calls do nothing). If one fails to
        open, the pool is terminated and the error raised."""
        if self._opened:
            return
        self._opened = True
        try:
            while True:
                with self._ledger.lock:
                    if self._ledger.closing or self._ledger.size >= self._min_size:
                        return
                    self._ledger.size += 1
                slot = await self._connect()
                with self._ledger.lock:
                    doomed = self._ledger.give_back(slot)
                await self._close_connections(doomed)
        except BaseException:
            await self.terminate()
            raise

    async def close(self) -> None:
        """Stop lending, wait until every connection lent out is released, close them all.

        Tasks (or threads) waiting in :meth:`acquire` get :class:`~pgwire.errors.PoolClosed`.
        """
        while True:
            with self._ledger.lock:
                if self._closed:
                    return
                self._ledger.closing = True
                self._ledger.turn_away_waiters()
                if self._ledger.size <= len(self._ledger.idle):
                    idle = self._ledger.take_all_idle()
                    self._closed = True
                    break
                drained = _Signal()
                self._ledger.drained.append(drained)
            await drained.wait(None)
        await self._close_connections(idle)

    async def terminate(self) -> None:
        """Close every connection now, even those lent out (their borrowers' next query
        fails with an error); do not wait for anything."""
        with self._ledger.lock:
            self._ledger.closing = self._closed = True
            self._ledger.turn_away_waiters()
            doomed = self._ledger.take_all_idle() + [
                slot.conn for slot in self._ledger.lent.values()
            ]
        await self._close_connections(doomed)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` or :meth:`terminate` was called (or is under way)."""
        return self._ledger.closing

    async def __aenter__(self) -> AsyncPool:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------------------------
    # Sizes
    # ----------------------------------------------------------------------------------

    def get_size(self) -> int:
        """How many connections the pool holds: idle, lent out and being opened."""
        return self._ledger.size

    def get_idle_size(self) -> int:
        """How many connections sit idle in the pool."""
        return len(self._ledger.idle)

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
        """``async with pool.acquire() as conn:`` lends a connection for the block.

        ``timeout`` overrides the pool's for this call. With no idle connection and
        ``max_size`` reached, it waits in line for a release; if none comes in time it
        raises :class:`~pgwire.errors.PoolTimeout`.
        """
        return _Acquire(self, self._timeout if timeout is None else timeout)

    async def release(self, conn: AsyncConnection) -> None:
        """Give back a connection: reset it and keep it for the next borrower, or close it
        (broken, too old, reset failed, or the pool is closing)."""
        with self._ledger.lock:
            slot = self._ledger.lent.pop(conn, None)
        if slot is None:
            raise InterfaceError(
                f"{conn!r} is not lent out by this pool: it came from elsewhere, or it "
                "was released already"
            )
        clean = False
        try:
            with _upkeep_scope():
                clean = await self._reset_session(slot)
        finally:
            with self._ledger.lock:
                doomed = self._ledger.give_back(slot) if clean else self._ledger.drop(slot)
            if doomed:
                await self._close_connections(doomed)

    async def _acquire(self, timeout: float | None) -> AsyncConnection:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ledger = self._ledger
            with ledger.lock:
                if ledger.closing:
                    raise PoolClosed("the pool is closed: it lends no more connections")
                taken, doomed = ledger.take()
            if doomed:
                await self._close_connections(doomed)
            grant = await self._wait(taken, deadline) if isinstance(taken, _Waiter) else taken
            if grant == "room":
                slot = await self._connect()
                with self._ledger.lock:
                    self._ledger.lent[slot.conn] = slot
            else:
                assert isinstance(grant, _Slot)
                slot = grant
                if not await self._healthy(slot):
                    continue
            if self._setup is not None:
                try:
                    await _io.call(self._setup, slot.conn)
                except BaseException:
                    await self._discard(slot)
                    raise
            return slot.conn

    async def _wait(self, waiter: _Waiter, deadline: float | None) -> _Grant:
        """Wait in line until handed a connection or room (or turned away), or until
        ``deadline``; whoever hands it over takes ``waiter`` out of the line."""
        try:
            if deadline is None:
                await waiter.signal.wait(None)
            else:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    await waiter.signal.wait(remaining)
        except BaseException:
            # Cancelled (or interrupted): pass on what may have been handed over meanwhile.
            with self._ledger.lock:
                doomed = self._ledger.withdraw(waiter)
            if doomed:
                await self._close_connections(doomed)
            raise
        with self._ledger.lock:
            grant = waiter.grant
            if grant is None:
                self._ledger.waiters.remove(waiter)
        if grant is None:
            raise PoolTimeout(
                f"no connection became free in time: all {self._max_size} are lent "
                "out (max_size); release connections sooner, raise max_size, or "
                "give acquire() a longer timeout"
            )
        if grant == "closed":
            raise PoolClosed("the pool is closed: it lends no more connections")
        return grant

    async def _connect(self) -> _Slot:
        """Open a connection for room already reserved in ``_size`` (freed if this fails)."""
        try:
            conn = await connect_async(self._dsn, **self._connect_params)
            try:
                if self._init is not None:
                    await _io.call(self._init, conn)
            except BaseException:
                await conn.close()
                raise
        except BaseException:
            with self._ledger.lock:
                self._ledger.free_room()
            raise
        return _Slot(conn, time.monotonic())

    async def _healthy(self, slot: _Slot) -> bool:
        """Whether a connection just taken from the idle ones may be lent out; if not, it
        is closed."""
        conn = slot.conn
        now = time.monotonic()
        healthy = not conn.closed and not self._too_old(slot, now)
        check = self._health_check_after
        if healthy and check is not None and now - slot.idle_since >= check:
            try:
                await conn.execute("", timeout=UPKEEP_TIMEOUT)
            except Exception as exc:
                logger.info("closing a pooled connection that failed its health check: %r", exc)
                healthy = False
            except BaseException:
                await self._discard(slot)
                raise
        if not healthy:
            await self._discard(slot)
        return healthy

    async def _reset_session(self, slot: _Slot) -> bool:
        """Undo the borrower's changes to the session; False if the connection must go."""
        conn = slot.conn
        if conn.closed or self._ledger.closing or self._too_old(slot, time.monotonic()):
            return False
        # The borrower's callbacks must not fire for the next borrower.
        conn.clear_handlers()
        conn.command_timeout = slot.command_timeout
        reset = self._reset
        if True:  # ASYNC
            timeout = None  # the caller's upkeep scope has the deadline
        else:
            timeout = UPKEEP_TIMEOUT
        try:
            if conn.transaction_status != "I":
                await conn.execute("ROLLBACK", timeout=timeout)
            if isinstance(reset, str):
                await conn.execute(reset, timeout=timeout)
            elif reset is not None:
                await _io.call(reset, conn)
        except Exception as exc:
            logger.warning("closing a pooled connection whose reset failed: %r", exc)
            return False
        except BaseException as exc:
            # The upkeep deadline passed (or, in blocking code, Ctrl-C): the caller closes it.
            logger.warning("closing a pooled connection whose reset was interrupted: %r", exc)
            raise
        return not conn.closed and conn.transaction_status == "I"

    def _too_old(self, slot: _Slot, now: float) -> bool:
        return self._max_lifetime is not None and now - slot.created >= self._max_lifetime

    async def _discard(self, slot: _Slot) -> None:
        """Close a connection lent out (or being lent) and free its room."""
        with self._ledger.lock:
            self._ledger.lent.pop(slot.conn, None)
            doomed = self._ledger.drop(slot)
        await self._close_connections(doomed)

    @staticmethod
    async def _close_connections(connections: Sequence[AsyncConnection]) -> None:
        with _io.shield():
            for conn in connections:
                try:
                    await conn.close()
                except Exception as exc:
                    logger.debug("error closing a pooled connection: %r", exc)

    # ----------------------------------------------------------------------------------
    # Shortcuts: one statement on a connection borrowed for it
    # ----------------------------------------------------------------------------------

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        """:meth:`AsyncConnection.execute` on a borrowed connection."""
        async with self.acquire() as conn:
            return await conn.execute(sql, *args, timeout=timeout)

    async def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """:meth:`AsyncConnection.executemany` on a borrowed connection."""
        async with self.acquire() as conn:
            await conn.executemany(sql, args, timeout=timeout)

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Record]:
        """:meth:`AsyncConnection.fetch` on a borrowed connection."""
        async with self.acquire() as conn:
            return await conn.fetch(sql, *args, timeout=timeout)

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Record | None:
        """:meth:`AsyncConnection.fetchrow` on a borrowed connection."""
        async with self.acquire() as conn:
            return await conn.fetchrow(sql, *args, timeout=timeout)

    async def fetchval(
        self, sql: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """:meth:`AsyncConnection.fetchval` on a borrowed connection."""
        async with self.acquire() as conn:
            return await conn.fetchval(sql, *args, column=column, timeout=timeout)


class _Acquire:
    """What :meth:`AsyncPool.acquire` returns: a context manager lending a connection."""

    __slots__ = ("_conn", "_pool", "_timeout")

    def __init__(self, pool: AsyncPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        self._conn = await self._pool._acquire(self._timeout)
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        await self._pool.release(conn)

    # async only: begin
    def __await__(self) -> Generator[Any, None, AsyncConnection]:
        """``conn = await pool.acquire()`` (asyncpg's form): give it back with
        ``await pool.release(conn)``."""
        return self._pool._acquire(self._timeout).__await__()

    # async only: end
