# GENERATED from tests/driver/test_notify_async.py by scripts/gen_sync.py: do not edit.
"""Notices (RAISE NOTICE) and notifications (LISTEN/NOTIFY), against the real PostgreSQL 18,
on the blocking driver and on asyncio, uvloop and trio (one source, ``test_notify_async.py``,
for both drivers)."""

from __future__ import annotations

import logging
import time

import pytest

import pgwire
from pgwire import errors
from pgwire.errors import PostgresNotice
from pgwire.sync import Connection, Notification
from tests.concurrency_sync import running, sleep

# --------------------------------------------------------------------------------------
# Notices
# --------------------------------------------------------------------------------------


def test_notice_reaches_the_handler(conn: Connection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    assert conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$") == "DO"
    assert [(n.severity, n.message, n.sqlstate) for n in notices] == [
        ("NOTICE", "hello 42", "00000")
    ]


def test_notice_during_a_prepared_statement_reaches_the_handler(
    conn: Connection,
) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    conn.execute("CREATE TEMP TABLE items (id int)")
    conn.execute("DROP TABLE IF EXISTS no_such_table")
    assert conn.fetchval("SELECT $1::int", 5) == 5
    assert [notice.message for notice in notices] == [
        'table "no_such_table" does not exist, skipping'
    ]


def test_warning_reaches_the_handler_with_its_severity(conn: Connection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    conn.execute("DO $$ BEGIN RAISE WARNING 'careful' USING HINT = 'slow down'; END $$")
    assert [(n.severity, n.message, n.hint) for n in notices] == [
        ("WARNING", "careful", "slow down")
    ]


def test_notice_between_rows_reaches_the_handler_and_the_rows_arrive(
    conn: Connection,
) -> None:
    notices: list[str | None] = []
    conn.add_notice_handler(lambda notice: notices.append(notice.message))
    conn.execute(
        "CREATE FUNCTION pg_temp.noisy(n int) RETURNS int LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"
    )
    rows = conn.fetch("SELECT pg_temp.noisy(n) FROM generate_series(1, 3) AS n")
    assert rows == [(1,), (2,), (3,)]
    assert notices == ["row 1", "row 2", "row 3"]


def test_notice_is_logged(conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pgwire"):
        conn.execute("DO $$ BEGIN RAISE WARNING 'logged warning'; END $$")
    assert any(
        record.name == "pgwire" and "logged warning" in record.getMessage()
        for record in caplog.records
    )


def test_removed_notice_handler_is_not_called(conn: Connection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    conn.remove_notice_handler(notices.append)
    conn.execute("DO $$ BEGIN RAISE NOTICE 'unheard'; END $$")
    assert notices == []


def test_failing_notice_handler_does_not_break_the_query(
    conn: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(notice: PostgresNotice) -> None:
        raise RuntimeError("handler bug")

    seen: list[str | None] = []
    conn.add_notice_handler(broken)
    conn.add_notice_handler(lambda notice: seen.append(notice.message))
    conn.execute(
        "CREATE FUNCTION pg_temp.noisy(n int) RETURNS int LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE NOTICE 'row %', n; RETURN n; END $$"
    )
    with caplog.at_level(logging.ERROR, logger="pgwire"):
        # The notices come between the rows: the rest of the reply must still be read.
        rows = conn.fetch("SELECT pg_temp.noisy(n) FROM generate_series(1, 3) AS n")
    assert rows == [(1,), (2,), (3,)]
    assert seen == ["row 1", "row 2", "row 3"]
    assert "handler bug" in caplog.text
    assert conn.fetchval("SELECT 1") == 1


# --------------------------------------------------------------------------------------
# Notifications and wait_for_notification()
# --------------------------------------------------------------------------------------


def test_notification_from_another_connection_is_received(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    other.execute(f"NOTIFY {channel}, 'payload ✓'")
    notification = conn.wait_for_notification(timeout=5)
    assert isinstance(notification, Notification)
    assert notification.channel == channel
    assert notification.payload == "payload ✓"
    assert notification.process_id == other.backend_pid


def test_notification_sent_with_pg_notify_and_parameters(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    other.fetchval("SELECT pg_notify($1, $2)", channel, "it's data; not SQL")
    notification = conn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "it's data; not SQL"


def test_notification_arriving_during_a_query_is_queued(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    pid = other.backend_pid

    def notify_soon() -> None:
        sleep(0.1)
        other.execute(f"NOTIFY {channel}, 'while busy'")

    with running(notify_soon):
        assert conn.fetchval("SELECT pg_sleep(0.5)::text || 'done'") == "done"
    # The query read the notification; it waits in the queue, no wait needed.
    assert [(n.channel, n.payload, n.process_id) for n in conn.pending_notifications] == [
        (channel, "while busy", pid)
    ]
    notification = conn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "while busy"
    assert not conn.pending_notifications


def test_notifications_keep_their_order(conn: Connection, other: Connection, channel: str) -> None:
    conn.execute(f"LISTEN {channel}")
    for n in range(5):
        other.execute(f"NOTIFY {channel}, '{n}'")
    payloads = []
    for _ in range(5):
        notification = conn.wait_for_notification(timeout=5)
        assert notification is not None
        payloads.append(notification.payload)
    assert payloads == ["0", "1", "2", "3", "4"]


def test_wait_for_notification_times_out_with_none(conn: Connection, channel: str) -> None:
    conn.execute(f"LISTEN {channel}")
    assert conn.wait_for_notification(timeout=0.2) is None


def test_connection_stays_usable_after_a_wait_times_out(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    assert conn.wait_for_notification(timeout=0.1) is None
    assert not conn.closed
    assert conn.fetchval("SELECT 1") == 1
    other.execute(f"NOTIFY {channel}, 'later'")
    notification = conn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "later"


def test_wait_for_notification_with_zero_timeout_polls(conn: Connection, channel: str) -> None:
    conn.execute(f"LISTEN {channel}")
    assert conn.wait_for_notification(timeout=0) is None
    assert conn.fetchval("SELECT 1") == 1


def test_wait_for_notification_with_zero_timeout_returns_one_waiting_unread(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    other.execute(f"NOTIFY {channel}, 'waiting'")
    sleep(0.2)  # the notification is in the socket, not read yet
    notification = conn.wait_for_notification(timeout=0)
    assert notification is not None
    assert notification.payload == "waiting"


def test_wait_for_notification_blocks_until_one_comes(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")

    def notify_soon() -> None:
        sleep(0.2)
        other.execute(f"NOTIFY {channel}, 'awaited'")

    with running(notify_soon):
        notification = conn.wait_for_notification()
    assert notification is not None
    assert notification.payload == "awaited"


def test_notifications_on_unlistened_channels_do_not_arrive(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    other.execute(f"NOTIFY {channel}_other, 'not for us'")
    assert conn.wait_for_notification(timeout=0.2) is None


def test_backend_terminated_while_waiting_raises_admin_shutdown(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    pid = conn.backend_pid

    def terminate_soon() -> None:
        sleep(0.2)
        other.fetchval("SELECT pg_terminate_backend($1)", pid)

    with running(terminate_soon), pytest.raises(errors.AdminShutdown):
        conn.wait_for_notification(timeout=10)
    assert conn.closed
    with pytest.raises(pgwire.InterfaceError):
        conn.wait_for_notification(timeout=0.1)


# --------------------------------------------------------------------------------------
# notifications()
# --------------------------------------------------------------------------------------


def test_iterating_over_notifications_receives_them_in_order(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    payloads: list[str] = []

    def send() -> None:
        for n in range(5):
            sleep(0.01)
            other.execute(f"NOTIFY {channel}, '{n}'")

    with running(send):
        for notification in conn.notifications():
            payloads.append(notification.payload)
            if len(payloads) == 5:
                break
    assert payloads == ["0", "1", "2", "3", "4"]
    assert conn.fetchval("SELECT 1") == 1


# --------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------


def _listening(conn: Connection) -> list[str]:
    rows = conn.fetch("SELECT pg_listening_channels()")
    return [row[0] for row in rows]


def test_add_listener_listens_and_the_callback_receives_instead_of_the_queue(
    conn: Connection, other: Connection, channel: str
) -> None:
    received: list[Notification] = []
    conn.add_listener(channel, received.append)
    assert _listening(conn) == [channel]
    other.execute(f"NOTIFY {channel}, 'handled'")
    assert conn.wait_for_notification(timeout=0.3) is None  # the listener took it
    assert [(n.channel, n.payload, n.process_id) for n in received] == [
        (channel, "handled", other.backend_pid)
    ]
    assert not conn.pending_notifications


def test_listener_is_called_by_the_next_query(
    conn: Connection, other: Connection, channel: str
) -> None:
    received: list[Notification] = []
    conn.add_listener(channel, received.append)
    other.execute(f"NOTIFY {channel}, 'handled'")
    sleep(0.1)
    conn.fetchval("SELECT 1")
    assert [n.payload for n in received] == ["handled"]
    assert not conn.pending_notifications


def test_remove_listener_unlistens_after_the_last_callback(
    conn: Connection, other: Connection, channel: str
) -> None:
    first: list[Notification] = []
    second: list[Notification] = []
    conn.add_listener(channel, first.append)
    conn.add_listener(channel, second.append)
    conn.remove_listener(channel, first.append)
    assert _listening(conn) == [channel]
    other.execute(f"NOTIFY {channel}, 'one'")
    conn.wait_for_notification(timeout=0.2)
    assert ([n.payload for n in first], [n.payload for n in second]) == ([], ["one"])
    conn.remove_listener(channel, second.append)
    assert _listening(conn) == []
    other.execute(f"NOTIFY {channel}, 'two'")
    assert conn.wait_for_notification(timeout=0.2) is None
    assert [n.payload for n in second] == ["one"]


def test_listener_receives_all_10000_notifications_sent_while_its_connection_is_busy(
    conn: Connection, other: Connection, channel: str
) -> None:
    received: list[str] = []
    conn.add_listener(channel, lambda n: received.append(n.payload))

    def notify_all() -> None:
        sleep(0.05)
        # Payloads differ: the server folds identical notifications of one transaction.
        other.execute(f"SELECT pg_notify('{channel}', n::text) FROM generate_series(1, 10000) AS n")

    queries = 0
    with running(notify_all):
        # Busy with queries until every notification arrived (or for 20 s at most).
        deadline = time.monotonic() + 20
        while len(received) < 10000 and time.monotonic() < deadline:
            assert conn.fetchval("SELECT $1::int + 1", queries) == queries + 1
            queries += 1
    assert received == [str(n) for n in range(1, 10001)]
    assert queries > 1
    assert not conn.pending_notifications
