"""Notices (RAISE NOTICE) and notifications (LISTEN/NOTIFY), against the real PostgreSQL 18,
on the blocking driver and on asyncio, uvloop and trio (one source, ``test_notify_async.py``,
for both drivers)."""

from __future__ import annotations

import logging
import time

import anyio
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection, Notification
from pgwire.errors import PostgresNotice
from tests.concurrency_async import running, sleep

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

# --------------------------------------------------------------------------------------
# Notices
# --------------------------------------------------------------------------------------


async def test_notice_reaches_the_handler(aconn: AsyncConnection) -> None:
    notices: list[PostgresNotice] = []
    aconn.add_notice_handler(notices.append)
    assert await aconn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$") == "DO"
    assert [(n.severity, n.message, n.sqlstate) for n in notices] == [
        ("NOTICE", "hello 42", "00000")
    ]


async def test_notice_during_a_prepared_statement_reaches_the_handler(
    aconn: AsyncConnection,
) -> None:
    notices: list[PostgresNotice] = []
    aconn.add_notice_handler(notices.append)
    await aconn.execute("CREATE TEMP TABLE items (id int)")
    await aconn.execute("DROP TABLE IF EXISTS no_such_table")
    assert await aconn.fetchval("SELECT $1::int", 5) == 5
    assert [notice.message for notice in notices] == [
        'table "no_such_table" does not exist, skipping'
    ]


async def test_warning_reaches_the_handler_with_its_severity(aconn: AsyncConnection) -> None:
    notices: list[PostgresNotice] = []
    aconn.add_notice_handler(notices.append)
    await aconn.execute("DO $$ BEGIN RAISE WARNING 'careful' USING HINT = 'slow down'; END $$")
    assert [(n.severity, n.message, n.hint) for n in notices] == [
        ("WARNING", "careful", "slow down")
    ]


async def test_notice_between_rows_reaches_the_handler_and_the_rows_arrive(
    aconn: AsyncConnection,
) -> None:
    notices: list[str | None] = []
    aconn.add_notice_handler(lambda notice: notices.append(notice.message))
    await aconn.execute(
        "CREATE FUNCTION pg_temp.noisy(n int) RETURNS int LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"
    )
    rows = await aconn.fetch("SELECT pg_temp.noisy(n) FROM generate_series(1, 3) AS n")
    assert rows == [(1,), (2,), (3,)]
    assert notices == ["row 1", "row 2", "row 3"]


async def test_notice_is_logged(aconn: AsyncConnection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pgwire"):
        await aconn.execute("DO $$ BEGIN RAISE WARNING 'logged warning'; END $$")
    assert any(
        record.name == "pgwire" and "logged warning" in record.getMessage()
        for record in caplog.records
    )


async def test_removed_notice_handler_is_not_called(aconn: AsyncConnection) -> None:
    notices: list[PostgresNotice] = []
    aconn.add_notice_handler(notices.append)
    aconn.remove_notice_handler(notices.append)
    await aconn.execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$")
    assert notices == []


async def test_failing_notice_handler_does_not_break_the_query(
    aconn: AsyncConnection, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(notice: PostgresNotice) -> None:
        raise RuntimeError("handler bug")

    seen: list[str | None] = []
    aconn.add_notice_handler(broken)
    aconn.add_notice_handler(lambda notice: seen.append(notice.message))
    await aconn.execute(
        "CREATE FUNCTION pg_temp.noisy(n int) RETURNS int LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"
    )
    with caplog.at_level(logging.ERROR, logger="pgwire"):
        # The notices come between the rows: the rest of the reply must still be read.
        rows = await aconn.fetch("SELECT pg_temp.noisy(n) FROM generate_series(1, 3) AS n")
    assert rows == [(1,), (2,), (3,)]
    assert seen == ["row 1", "row 2", "row 3"]
    assert "handler bug" in caplog.text
    assert await aconn.fetchval("SELECT 1") == 1


# --------------------------------------------------------------------------------------
# Notifications and wait_for_notification()
# --------------------------------------------------------------------------------------


async def test_notification_from_another_connection_is_received(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    await aother.execute(f"NOTIFY {channel}, 'payload ✓'")
    notification = await aconn.wait_for_notification(timeout=5)
    assert isinstance(notification, Notification)
    assert notification.channel == channel
    assert notification.payload == "payload ✓"
    assert notification.process_id == aother.backend_pid


async def test_notification_sent_with_pg_notify_and_parameters(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    await aother.fetchval("SELECT pg_notify($1, $2)", channel, "it's data; not SQL")
    notification = await aconn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "it's data; not SQL"


async def test_notification_arriving_during_a_query_is_queued(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    pid = aother.backend_pid

    async def notify_soon() -> None:
        await sleep(0.1)
        await aother.execute(f"NOTIFY {channel}, 'while busy'")

    async with running(notify_soon):
        assert await aconn.fetchval("SELECT pg_sleep(0.5)::text || 'done'") == "done"
    # The query read the notification; it waits in the queue, no wait needed.
    assert [(n.channel, n.payload, n.process_id) for n in aconn.pending_notifications] == [
        (channel, "while busy", pid)
    ]
    notification = await aconn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "while busy"
    assert not aconn.pending_notifications


async def test_notifications_keep_their_order(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    for n in range(5):
        await aother.execute(f"NOTIFY {channel}, '{n}'")
    payloads = []
    for _ in range(5):
        notification = await aconn.wait_for_notification(timeout=5)
        assert notification is not None
        payloads.append(notification.payload)
    assert payloads == ["0", "1", "2", "3", "4"]


async def test_wait_for_notification_times_out_with_none(
    aconn: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    assert await aconn.wait_for_notification(timeout=0.2) is None


async def test_connection_stays_usable_after_a_wait_times_out(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    assert await aconn.wait_for_notification(timeout=0.1) is None
    assert not aconn.closed
    assert await aconn.fetchval("SELECT 1") == 1
    await aother.execute(f"NOTIFY {channel}, 'later'")
    notification = await aconn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "later"


async def test_wait_for_notification_with_zero_timeout_polls(
    aconn: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    assert await aconn.wait_for_notification(timeout=0) is None
    assert await aconn.fetchval("SELECT 1") == 1


async def test_wait_for_notification_with_zero_timeout_returns_one_waiting_unread(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    await aother.execute(f"NOTIFY {channel}, 'waiting'")
    await sleep(0.2)  # the notification is in the socket, not read yet
    notification = await aconn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "waiting"


async def test_wait_for_notification_blocks_until_one_comes(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")

    async def notify_soon() -> None:
        await sleep(0.2)
        await aother.execute(f"NOTIFY {channel}, 'awaited'")

    async with running(notify_soon):
        notification = await aconn.wait_for_notification()
    assert notification is not None
    assert notification.payload == "awaited"


async def test_notifications_on_unlistened_channels_do_not_arrive(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    await aother.execute(f"NOTIFY {channel}_other, 'not for us'")
    assert await aconn.wait_for_notification(timeout=0.2) is None


async def test_backend_terminated_while_waiting_raises_admin_shutdown(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    pid = aconn.backend_pid

    async def terminate_soon() -> None:
        await sleep(0.2)
        await aother.fetchval("SELECT pg_terminate_backend($1)", pid)

    async with running(terminate_soon):
        with pytest.raises(errors.AdminShutdown):
            await aconn.wait_for_notification(timeout=10)
    assert aconn.closed
    with pytest.raises(pgwire.InterfaceError):
        await aconn.wait_for_notification(timeout=0.1)


# --------------------------------------------------------------------------------------
# notifications()
# --------------------------------------------------------------------------------------


async def test_iterating_over_notifications_receives_them_in_order(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    await aconn.execute(f"LISTEN {channel}")
    payloads: list[str] = []

    async def send() -> None:
        for n in range(5):
            await sleep(0.01)
            await aother.execute(f"NOTIFY {channel}, '{n}'")

    async with running(send):
        async for notification in aconn.notifications():
            payloads.append(notification.payload)
            if len(payloads) == 5:
                break
    assert payloads == ["0", "1", "2", "3", "4"]
    assert await aconn.fetchval("SELECT 1") == 1


if True:  # ASYNC

    async def test_notifications_loop_ends_cleanly_when_its_task_is_cancelled(
        aconn: AsyncConnection, aother: AsyncConnection, channel: str
    ) -> None:
        await aconn.execute(f"LISTEN {channel}")
        payloads: list[str] = []

        async def listen() -> None:
            async for notification in aconn.notifications():
                payloads.append(notification.payload)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listen)
            await aother.execute(f"NOTIFY {channel}, 'first'")
            with anyio.fail_after(5):
                while not payloads:
                    await anyio.sleep(0.01)
            tasks.cancel_scope.cancel()
        assert payloads == ["first"]
        assert await aconn.fetchval("SELECT 1") == 1
        await aother.execute(f"NOTIFY {channel}, 'second'")
        notification = await aconn.wait_for_notification(timeout=5)
        assert notification is not None
        assert notification.payload == "second"


# --------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------


async def _listening(conn: AsyncConnection) -> list[str]:
    rows = await conn.fetch("SELECT pg_listening_channels()")
    return [row[0] for row in rows]


async def test_add_listener_listens_and_the_callback_receives_instead_of_the_queue(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    received: list[Notification] = []
    await aconn.add_listener(channel, received.append)
    assert await _listening(aconn) == [channel]
    await aother.execute(f"NOTIFY {channel}, 'handled'")
    assert await aconn.wait_for_notification(timeout=0.3) is None  # the listener took it
    assert [(n.channel, n.payload, n.process_id) for n in received] == [
        (channel, "handled", aother.backend_pid)
    ]
    assert not aconn.pending_notifications


async def test_listener_is_called_by_the_next_query(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    received: list[Notification] = []
    await aconn.add_listener(channel, received.append)
    await aother.execute(f"NOTIFY {channel}, 'handled'")
    await sleep(0.1)
    await aconn.fetchval("SELECT 1")
    assert [n.payload for n in received] == ["handled"]
    assert not aconn.pending_notifications


async def test_remove_listener_unlistens_after_the_last_callback(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    first: list[Notification] = []
    second: list[Notification] = []
    await aconn.add_listener(channel, first.append)
    await aconn.add_listener(channel, second.append)
    await aconn.remove_listener(channel, first.append)
    assert await _listening(aconn) == [channel]
    await aother.execute(f"NOTIFY {channel}, 'one'")
    await aconn.wait_for_notification(timeout=0.2)
    assert ([n.payload for n in first], [n.payload for n in second]) == ([], ["one"])
    await aconn.remove_listener(channel, second.append)
    assert await _listening(aconn) == []
    await aother.execute(f"NOTIFY {channel}, 'two'")
    assert await aconn.wait_for_notification(timeout=0.2) is None
    assert [n.payload for n in second] == ["one"]


async def test_listener_receives_all_10000_notifications_sent_while_its_connection_is_busy(
    aconn: AsyncConnection, aother: AsyncConnection, channel: str
) -> None:
    received: list[str] = []
    await aconn.add_listener(channel, lambda n: received.append(n.payload))

    async def notify_all() -> None:
        await sleep(0.05)
        # Payloads differ: the server folds identical notifications of one transaction.
        await aother.execute(
            f"SELECT pg_notify('{channel}', n::text) FROM generate_series(1, 10000) AS n"
        )

    queries = 0
    async with running(notify_all):
        # Busy with queries until every notification arrived (or for 20 s at most).
        deadline = time.monotonic() + 20
        while len(received) < 10000 and time.monotonic() < deadline:
            assert await aconn.fetchval("SELECT $1::int + 1", queries) == queries + 1
            queries += 1
    assert received == [str(n) for n in range(1, 10001)]
    assert queries > 1
    assert not aconn.pending_notifications
