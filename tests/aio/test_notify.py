"""Notices (RAISE NOTICE) and notifications (LISTEN/NOTIFY) on an async connection, against
the real PostgreSQL 18, on asyncio, uvloop and trio."""

from __future__ import annotations

import logging
import time

import anyio
import pytest

from pgwire.connection import AsyncConnection, Notification
from pgwire.errors import PostgresNotice

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------
# Notices
# --------------------------------------------------------------------------------------


async def test_notice_reaches_the_handler(conn: AsyncConnection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    assert await conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$") == "DO"
    assert [(n.severity, n.message, n.sqlstate) for n in notices] == [
        ("NOTICE", "hello 42", "00000")
    ]


async def test_notice_between_rows_reaches_the_handler_and_the_rows_arrive(
    conn: AsyncConnection,
) -> None:
    notices: list[str | None] = []
    conn.add_notice_handler(lambda notice: notices.append(notice.message))
    await conn.execute(
        "CREATE FUNCTION pg_temp.noisy(n int) RETURNS int LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"
    )
    rows = await conn.fetch("SELECT pg_temp.noisy(n) FROM generate_series(1, 3) AS n")
    assert rows == [(1,), (2,), (3,)]
    assert notices == ["row 1", "row 2", "row 3"]


async def test_notice_is_logged(conn: AsyncConnection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pgwire"):
        await conn.execute("DO $$ BEGIN RAISE WARNING 'logged warning'; END $$")
    assert any(
        record.name == "pgwire" and "logged warning" in record.getMessage()
        for record in caplog.records
    )


async def test_removed_notice_handler_is_not_called(conn: AsyncConnection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    conn.remove_notice_handler(notices.append)
    await conn.execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$")
    assert notices == []


# --------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------


async def _listening(conn: AsyncConnection) -> list[str]:
    rows = await conn.fetch("SELECT pg_listening_channels()")
    return [row[0] for row in rows]


async def test_add_listener_listens_and_calls_back(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    received: list[Notification] = []
    await conn.add_listener(channel, received.append)
    assert await _listening(conn) == [channel]
    await other.execute(f"NOTIFY {channel}, 'handled'")
    assert await conn.wait_for_notification(timeout=0.3) is None  # the listener took it
    assert [(n.channel, n.payload, n.process_id) for n in received] == [
        (channel, "handled", other.backend_pid)
    ]
    assert not conn.pending_notifications


async def test_remove_listener_unlistens_after_the_last_callback(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    first: list[Notification] = []
    second: list[Notification] = []
    await conn.add_listener(channel, first.append)
    await conn.add_listener(channel, second.append)
    await conn.remove_listener(channel, first.append)
    assert await _listening(conn) == [channel]
    await other.execute(f"NOTIFY {channel}, 'one'")
    await conn.wait_for_notification(timeout=0.2)
    assert ([n.payload for n in first], [n.payload for n in second]) == ([], ["one"])
    await conn.remove_listener(channel, second.append)
    assert await _listening(conn) == []
    await other.execute(f"NOTIFY {channel}, 'two'")
    assert await conn.wait_for_notification(timeout=0.2) is None
    assert [n.payload for n in second] == ["one"]


async def test_listener_receives_all_10000_notifications_sent_while_it_is_busy(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    received: list[str] = []
    await conn.add_listener(channel, lambda n: received.append(n.payload))
    queries = 0

    async def stay_busy() -> None:
        nonlocal queries
        with anyio.fail_after(20):
            while len(received) < 10000:
                assert await conn.fetchval("SELECT $1::int + 1", queries) == queries + 1
                queries += 1

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(stay_busy)
        await anyio.sleep(0.05)
        # Payloads differ: the server folds identical notifications of one transaction.
        await other.execute(
            f"SELECT pg_notify('{channel}', n::text) FROM generate_series(1, 10000) AS n"
        )
    assert received == [str(n) for n in range(1, 10001)]
    assert queries > 1
    assert not conn.pending_notifications


# --------------------------------------------------------------------------------------
# Waiting for notifications
# --------------------------------------------------------------------------------------


async def test_async_for_over_notifications_receives_them_in_order(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")
    payloads: list[str] = []

    async def send() -> None:
        for n in range(5):
            await anyio.sleep(0.01)
            await other.execute(f"NOTIFY {channel}, '{n}'")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(send)
            async for notification in conn.notifications():
                payloads.append(notification.payload)
                if len(payloads) == 5:
                    break
    assert payloads == ["0", "1", "2", "3", "4"]
    assert await conn.fetchval("SELECT 1") == 1


async def test_notifications_loop_ends_cleanly_when_its_task_is_cancelled(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")
    payloads: list[str] = []

    async def listen() -> None:
        async for notification in conn.notifications():
            payloads.append(notification.payload)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(listen)
        await other.execute(f"NOTIFY {channel}, 'first'")
        with anyio.fail_after(5):
            while not payloads:
                await anyio.sleep(0.01)
        tasks.cancel_scope.cancel()
    assert payloads == ["first"]
    assert await conn.fetchval("SELECT 1") == 1
    await other.execute(f"NOTIFY {channel}, 'second'")
    notification = await conn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "second"


async def test_wait_for_notification_times_out_with_none(
    conn: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")
    started = time.monotonic()
    assert await conn.wait_for_notification(timeout=0.2) is None
    assert 0.15 <= time.monotonic() - started < 3
    assert not conn.closed
    assert await conn.fetchval("SELECT 1") == 1


async def test_wait_for_notification_returns_one_sent_while_waiting(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")

    async def notify_soon() -> None:
        await anyio.sleep(0.1)
        await other.fetchval("SELECT pg_notify($1, $2)", channel, "it's data; not SQL")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(notify_soon)
        notification = await conn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "it's data; not SQL"


async def test_notification_arriving_during_a_query_is_queued(
    conn: AsyncConnection, other: AsyncConnection, channel: str
) -> None:
    await conn.execute(f"LISTEN {channel}")

    async def notify_soon() -> None:
        await anyio.sleep(0.1)
        await other.execute(f"NOTIFY {channel}, 'while busy'")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(notify_soon)
        assert await conn.fetchval("SELECT pg_sleep(0.3)::text || 'done'") == "done"
    assert [n.payload for n in conn.pending_notifications] == ["while busy"]
    notification = await conn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "while busy"


async def test_wait_for_notification_with_zero_timeout_returns_one_waiting_unread(
    conn: AsyncConnection,
    other: AsyncConnection,
    channel: str,
) -> None:
    await conn.execute(f"LISTEN {channel}")
    await other.execute(f"NOTIFY {channel}, 'waiting'")
    await anyio.sleep(0.2)  # the notification is in the socket, not read yet
    notification = await conn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "waiting"
