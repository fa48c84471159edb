"""The connection flows driven by hand, without a server: the I/O requests they make."""

from __future__ import annotations

import random

from pgwire.conninfo import resolve
from pgwire.flows import CloseStream, OpenStream, Receive, Send, StartTLS, cancel_flow, connect_flow

NO_ENV: dict[str, str] = {}


def test_load_balance_hosts_random_tries_hosts_in_the_rng_order() -> None:
    info = resolve(
        "postgresql://u@h1,h2,h3,h4/d?load_balance_hosts=random&sslmode=disable", environ=NO_ENV
    )
    flow = connect_flow(info, rng=random.Random(7))
    tried = []
    request = next(flow)
    while True:
        assert isinstance(request, OpenStream)
        assert request.shuffle_addresses
        tried.append(request.host)
        try:
            request = flow.throw(ConnectionRefusedError("refused"))
        except Exception as exc:  # the last host failed too
            assert "could not connect to any of 4 hosts" in str(exc)
            break
    expected = ["h1", "h2", "h3", "h4"]
    random.Random(7).shuffle(expected)
    assert tried == expected


def test_hosts_are_tried_in_order_by_default() -> None:
    info = resolve("host=a,b port=1,2 user=u sslmode=disable", environ=NO_ENV)
    flow = connect_flow(info)
    first = next(flow)
    second = flow.throw(ConnectionRefusedError("refused"))
    assert (first.host, first.port, second.host, second.port) == ("a", 1, "b", 2)  # type: ignore[union-attr]


def test_hostaddr_is_connected_to_and_host_names_the_server() -> None:
    info = resolve("host=db.example hostaddr=192.0.2.7 user=u sslmode=require", environ=NO_ENV)
    flow = connect_flow(info)
    opened = next(flow)
    assert isinstance(opened, OpenStream)
    assert opened.host == "192.0.2.7"
    assert isinstance(flow.send(None), Send)  # the SSLRequest
    assert isinstance(flow.send(None), Receive)
    tls = flow.send(b"S")
    assert isinstance(tls, StartTLS)
    assert tls.server_hostname == "db.example"


def test_sslsni_0_sends_no_server_name() -> None:
    info = resolve("host=db.example user=u sslmode=require sslsni=0", environ=NO_ENV)
    flow = connect_flow(info)
    next(flow), flow.send(None), flow.send(None)
    tls = flow.send(b"S")
    assert isinstance(tls, StartTLS)
    assert tls.server_hostname is None


def test_direct_tls_starts_with_the_handshake() -> None:
    info = resolve("host=db.example user=u sslmode=require sslnegotiation=direct", environ=NO_ENV)
    flow = connect_flow(info)
    assert isinstance(next(flow), OpenStream)
    assert isinstance(flow.send(None), StartTLS)


def test_cancel_goes_over_tls_when_the_session_did() -> None:
    info = resolve("host=db.example user=u sslmode=require sslnegotiation=direct", environ=NO_ENV)
    session_info = info.connected(info.hosts[0], "tls")
    flow = cancel_flow(session_info, b"cancel-request")
    assert isinstance(next(flow), OpenStream)
    assert isinstance(flow.send(None), StartTLS)


def test_cancel_of_a_plaintext_session_stays_plaintext() -> None:
    info = resolve("host=db.example user=u sslmode=prefer", environ=NO_ENV)
    flow = cancel_flow(info.connected(info.hosts[0], "plain"), b"cancel-request")
    assert isinstance(next(flow), OpenStream)
    sent = flow.send(None)
    assert isinstance(sent, Send)
    assert sent.data == b"cancel-request"
    assert isinstance(flow.send(None), Receive)
    assert isinstance(flow.send(b""), CloseStream)
