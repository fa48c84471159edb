"""The pool under trouble: ``pool_pre_ping`` after the server restarts (both dialects), and
asyncio tasks cancelled or timed out inside an async session, which must leave the pooled
connection usable or invalidated, never broken (SQLAlchemy issue 12099 is the case)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.pg import TRUST_USER, PostgresServer
from tests.sqlalchemy.conftest import url


@pytest.fixture(scope="module")
def restartable() -> Iterator[PostgresServer]:
    """A server of this module's own, since the tests restart it."""
    with PostgresServer() as server:
        yield server


def _pids(server: PostgresServer) -> set[int]:
    rows = server.psql(f"SELECT pid FROM pg_stat_activity WHERE usename = '{TRUST_USER.name}'")
    return {pid for (pid,) in rows}


def test_pool_pre_ping_recovers_after_a_server_restart(restartable: PostgresServer) -> None:
    engine = sa.create_engine(url(restartable), pool_pre_ping=True, pool_size=2)
    with engine.connect() as first, engine.connect() as second:
        before = {c.scalar(sa.text("SELECT pg_backend_pid()")) for c in (first, second)}
    restartable.restart()
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_backend_pid()")) not in before
    engine.dispose()


def test_without_pre_ping_the_dead_connection_is_invalidated_and_replaced(
    restartable: PostgresServer,
) -> None:
    engine = sa.create_engine(url(restartable), pool_size=1)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    restartable.restart()
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as caught:
        conn.execute(sa.text("SELECT 1"))
    assert caught.value.connection_invalidated
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    engine.dispose()


@pytest.mark.anyio
async def test_async_pool_pre_ping_recovers_after_a_server_restart(
    restartable: PostgresServer,
) -> None:
    engine = create_async_engine(url(restartable, "pgwire_async"), pool_pre_ping=True)
    async with engine.connect() as conn:
        before = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
    await asyncio.to_thread(restartable.restart)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) != before
    await engine.dispose()


# ----------------------------------------------------------------------------------------
# Cancellation
# ----------------------------------------------------------------------------------------


@pytest.fixture
async def one_connection(pg_server: PostgresServer, schema: str) -> AsyncEngine:
    """An async engine whose pool holds a single connection, and a table ``tally``."""
    from tests.sqlalchemy.conftest import schema_url

    engine = create_async_engine(
        schema_url(pg_server, schema, "pgwire_async"), pool_size=1, max_overflow=0
    )
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE tally (n int)"))
    return engine


async def _assert_pool_healthy(engine: AsyncEngine) -> None:
    """The pooled connection answers, is outside any transaction, and no earlier statement
    still runs for it on the server."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert raw.dbapi_connection is not None
        assert raw.dbapi_connection.transaction_status == "I"
        assert await conn.scalar(sa.text("SELECT 41 + 1")) == 42
        busy = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
        )
        assert busy == 0


@pytest.mark.anyio
async def test_a_timed_out_query_leaves_the_pool_usable(one_connection: AsyncEngine) -> None:
    engine = one_connection
    async with AsyncSession(engine) as session:
        with pytest.raises(asyncio.TimeoutError):  # TimeoutError itself from 3.11 on
            await asyncio.wait_for(session.execute(sa.text("SELECT pg_sleep(30)")), 0.3)
    await _assert_pool_healthy(engine)
    await engine.dispose()


@pytest.mark.anyio
async def test_tasks_cancelled_anywhere_in_a_session_never_break_the_pool(
    one_connection: AsyncEngine,
) -> None:
    engine = one_connection

    async def work() -> None:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(sa.text("INSERT INTO tally VALUES (1)"))
            await session.execute(sa.text("SELECT pg_sleep(0.02)"))
            await session.execute(sa.text("INSERT INTO tally VALUES (2)"))

    # Cancel after a growing delay: before BEGIN, inside a statement, between statements,
    # during COMMIT, and after the work has finished.
    finished = 0
    for step in range(40):
        task = asyncio.ensure_future(work())
        await asyncio.sleep(step * 0.001)
        task.cancel()
        try:
            await task
            finished += 1
        except asyncio.CancelledError:
            pass
        await _assert_pool_healthy(engine)
    async with engine.connect() as conn:
        counts = dict(
            (await conn.execute(sa.text("SELECT n, count(*) FROM tally GROUP BY n"))).all()
        )
    # Every transaction committed whole or not at all.
    assert counts.get(1, 0) == counts.get(2, 0)
    assert finished < 40  # the first task is cancelled before it starts
    await engine.dispose()
