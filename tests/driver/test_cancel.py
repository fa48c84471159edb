"""Cancelling a running query from another thread, with a real CancelRequest."""

from __future__ import annotations

import threading
import time

import pytest

import pgwire
from pgwire import errors


def test_cancel_from_another_thread_raises_query_canceled_and_keeps_the_connection(pg_server):  # type: ignore[no-untyped-def]
    with pgwire.connect(pg_server.dsn("scram_user", "pw-scram")) as conn:

        def cancel_soon() -> None:
            time.sleep(0.3)
            conn.cancel()

        thread = threading.Thread(target=cancel_soon)
        thread.start()
        with pytest.raises(errors.QueryCanceled) as caught:
            conn.execute("SELECT pg_sleep(30)")
        thread.join()
        assert caught.value.sqlstate == "57014"
        assert conn.fetchval("SELECT $1::int", 7) == 7


def test_cancel_when_idle_is_harmless(pg_server):  # type: ignore[no-untyped-def]
    with pgwire.connect(pg_server.dsn("trust_user")) as conn:
        conn.cancel()
        assert conn.fetchval("SELECT 1") == 1
