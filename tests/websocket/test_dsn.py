"""ws:// and wss:// DSNs: what they resolve to (unit tests, no server; connecting with them
is in ``test_websockify_async.py``)."""

from __future__ import annotations

import pytest

import pgwire
from pgwire.conninfo import parse_dsn, resolve


def test_a_websocket_dsn_keeps_the_bridge_address_in_the_url() -> None:
    parsed = parse_dsn("wss://app:s3cret@edge.example/v2?address=db:5432&dbname=shop")
    assert parsed["websocket_url"] == "wss://edge.example/v2?address=db:5432"
    assert (parsed["user"], parsed["password"], parsed["dbname"]) == ("app", "s3cret", "shop")


def test_a_websocket_connection_defaults_to_no_postgresql_level_tls() -> None:
    info = resolve("wss://edge.example/?user=app", environ={})
    assert info.websocket is not None
    assert (info.host, info.port, info.sslmode) == ("edge.example", 443, "disable")
    assert "s3cret" not in repr(resolve("ws://u:s3cret@h/", environ={}))


def test_an_invalid_websocket_url_is_refused_by_name() -> None:
    with pytest.raises(pgwire.InterfaceError, match="websocket_url"):
        resolve(websocket_url="http://x/", environ={})
