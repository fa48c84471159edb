"""Notices (RAISE NOTICE) and notifications (LISTEN/NOTIFY) on a blocking connection,
against the real PostgreSQL 18."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import pgwire
from pgwire import errors
from pgwire.errors import PostgresNotice
from pgwire.sync import Connection, Notification

# --------------------------------------------------------------------------------------
# Notices
# --------------------------------------------------------------------------------------


def test_notice_reaches_the_handler(conn: Connection) -> None:
    notices: list[PostgresNotice] = []
    conn.add_notice_handler(notices.append)
    tag = conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
    assert tag == "DO"
    assert len(notices) == 1
    notice = notices[0]
    assert notice.severity == "NOTICE"
    assert notice.message == "hello 42"
    assert notice.sqlstate == "00000"


def test_notice_during_a_prepared_statement_reaches_the_handler(conn: Connection) -> None:
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


def test_notice_is_logged(conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pgwire"):
        conn.execute("DO $$ BEGIN RAISE NOTICE 'logged notice'; END $$")
    assert any(
        record.name == "pgwire" and "logged notice" in record.getMessage()
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
# Notifications
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
        time.sleep(0.2)
        other.execute(f"NOTIFY {channel}, 'while busy'")

    sender = threading.Thread(target=notify_soon)
    sender.start()
    try:
        assert conn.fetchval("SELECT pg_sleep(0.6)::text || 'done'") == "done"
    finally:
        sender.join()
    # The query read the notification; it waits in the queue, no wait needed.
    assert [(n.channel, n.payload, n.process_id) for n in conn.pending_notifications] == [
        (channel, "while busy", pid)
    ]
    started = time.monotonic()
    notification = conn.wait_for_notification(timeout=5)
    assert notification is not None
    assert notification.payload == "while busy"
    assert time.monotonic() - started < 1
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
    started = time.monotonic()
    assert conn.wait_for_notification(timeout=0.2) is None
    assert 0.15 <= time.monotonic() - started < 3


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


def test_wait_for_notification_blocks_until_one_comes(
    conn: Connection, other: Connection, channel: str
) -> None:
    conn.execute(f"LISTEN {channel}")
    sender = threading.Timer(0.2, lambda: other.execute(f"NOTIFY {channel}, 'awaited'"))
    sender.start()
    try:
        notification = conn.wait_for_notification()
    finally:
        sender.join()
    assert notification is not None
    assert notification.payload == "awaited"


def test_listener_receives_instead_of_the_queue(
    conn: Connection, other: Connection, channel: str
) -> None:
    received: list[Notification] = []
    conn.add_listener(channel, received.append)
    other.execute(f"NOTIFY {channel}, 'handled'")
    time.sleep(0.1)
    conn.fetchval("SELECT 1")
    assert [n.payload for n in received] == ["handled"]
    assert not conn.pending_notifications


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
    killer = threading.Timer(0.2, lambda: other.fetchval("SELECT pg_terminate_backend($1)", pid))
    killer.start()
    try:
        with pytest.raises(errors.AdminShutdown):
            conn.wait_for_notification(timeout=10)
    finally:
        killer.join()
    assert conn.closed
    with pytest.raises(pgwire.InterfaceError):
        conn.wait_for_notification(timeout=0.1)
