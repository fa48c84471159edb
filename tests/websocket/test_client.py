"""The WebSocket client protocol with no I/O (``WebSocketClient``), against wsproto's server
role in memory: the handshake, binary payload as a byte stream, pings, close codes, refused
upgrades and the size limits."""

from __future__ import annotations

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from pgwire.transports.websocket import (
    WebSocketClient,
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandshakeError,
    parse_websocket_url,
)


class Peer:
    """wsproto's server role, talking to a ``WebSocketClient`` through memory."""

    def __init__(self, client: WebSocketClient) -> None:
        self.client = client
        self.ws = WSConnection(ConnectionType.SERVER)
        self.ws.receive_data(client.handshake_request())
        events = list(self.ws.events())
        assert len(events) == 1 and isinstance(events[0], Request)
        self.request: Request = events[0]

    def accept(self, subprotocol: str | None = None) -> None:
        self.to_client(AcceptConnection(subprotocol=subprotocol))
        assert self.client.handshake_finished()

    def to_client(self, *events: object) -> None:
        self.client.receive_data(b"".join(self.ws.send(e) for e in events))  # type: ignore[arg-type]

    def from_client(self) -> list[object]:
        self.ws.receive_data(self.client.data_to_send())
        return list(self.ws.events())


def accepted(**options: object) -> Peer:
    peer = Peer(WebSocketClient("db.example:8080", "/v2?address=db:5432", **options))  # type: ignore[arg-type]
    peer.accept()
    return peer


def read_all(client: WebSocketClient, max_bytes: int = 65536) -> bytes:
    data = b""
    while (chunk := client.read(max_bytes)) is not None and chunk:
        data += chunk
    return data


def test_the_upgrade_request_carries_host_path_subprotocols_and_extra_headers() -> None:
    client = WebSocketClient(
        "db.example:8080",
        "/?address=db:5432",
        subprotocols=["binary"],
        headers=[("Authorization", "Bearer t0ken"), (b"X-Trace", b"1")],
    )
    request = Peer(client).request
    assert request.host == "db.example:8080"
    assert request.target == "/?address=db:5432"
    assert request.subprotocols == ["binary"]
    assert (b"authorization", b"Bearer t0ken") in request.extra_headers
    assert (b"x-trace", b"1") in request.extra_headers


def test_the_subprotocol_the_server_chose_is_reported() -> None:
    peer = Peer(WebSocketClient("h", subprotocols=["binary"]))
    peer.accept("binary")
    assert peer.client.subprotocol == "binary"


def test_a_refused_upgrade_names_the_http_status_and_body() -> None:
    peer = Peer(WebSocketClient("h", "/v2"))
    body = b"token expired"
    peer.to_client(
        RejectConnection(
            status_code=403, headers=[(b"content-length", b"%d" % len(body))], has_body=True
        ),
        RejectData(data=body),
    )
    with pytest.raises(WebSocketHandshakeError, match="HTTP status 403: token expired") as info:
        peer.client.handshake_finished()
    assert info.value.status_code == 403
    assert isinstance(info.value, ConnectionRefusedError)


def test_a_peer_that_closes_during_the_upgrade_is_a_handshake_error() -> None:
    client = WebSocketClient("h")
    client.handshake_request()
    client.receive_data(b"")
    with pytest.raises(WebSocketHandshakeError, match="closed the connection during"):
        client.handshake_finished()


def test_a_peer_that_does_not_speak_http_is_a_handshake_error() -> None:
    client = WebSocketClient("h")
    client.handshake_request()
    with pytest.raises(WebSocketHandshakeError, match="invalid response"):
        client.receive_data(b"\x00\x00\x00\x08\x04\xd2\x16/garbage\r\n\r\n")


def test_each_write_is_one_binary_frame() -> None:
    peer = accepted()
    peer.ws.receive_data(peer.client.frame(b"abc") + peer.client.frame(b"defg"))
    events = list(peer.ws.events())
    assert [(type(e), e.data) for e in events] == [  # type: ignore[attr-defined]
        (BytesMessage, b"abc"),
        (BytesMessage, b"defg"),
    ]


def test_frames_are_read_as_one_byte_stream_cut_anywhere() -> None:
    peer = accepted()
    payload = bytes(range(256)) * 3
    pieces = [payload[:1], payload[1:2], payload[2:500], payload[500:]]
    peer.to_client(*(Message(data=p, message_finished=i == 3) for i, p in enumerate(pieces)))
    assert read_all(peer.client) == payload


def test_reads_return_at_most_max_bytes() -> None:
    peer = accepted()
    peer.to_client(Message(data=b"0123456789"))
    assert peer.client.read(4) == b"0123"
    assert peer.client.read(100) == b"456789"
    assert peer.client.read(100) is None


def test_a_ping_is_answered_with_a_pong_carrying_its_payload() -> None:
    peer = accepted()
    peer.to_client(Ping(payload=b"are you there"), Message(data=b"x"))
    assert peer.from_client() == [Pong(payload=b"are you there")]
    assert peer.client.read(10) == b"x"


def test_a_normal_close_ends_the_stream_after_the_data_before_it() -> None:
    peer = accepted()
    peer.to_client(Message(data=b"last words"), CloseConnection(code=1000))
    assert peer.client.read(100) == b"last words"
    assert peer.client.read(100) == b""
    assert peer.from_client() == [CloseConnection(code=1000, reason="")]


def test_a_close_with_an_error_code_raises_with_the_code_and_reason() -> None:
    peer = accepted()
    peer.to_client(Message(data=b"partial"), CloseConnection(code=1011, reason="backend died"))
    assert peer.client.read(100) == b"partial"
    with pytest.raises(WebSocketClosedError, match=r"code 1011 \(internal error\): backend died"):
        peer.client.read(100)
    assert isinstance(peer.from_client()[0], CloseConnection)


def test_a_lost_connection_without_a_close_frame_raises_1006() -> None:
    peer = accepted()
    peer.client.receive_data(b"")
    with pytest.raises(WebSocketClosedError, match="lost without a close frame") as info:
        peer.client.read(100)
    assert info.value.code == 1006
    assert isinstance(info.value, ConnectionResetError)


def test_a_text_frame_is_refused_with_close_code_1003() -> None:
    peer = accepted()
    peer.to_client(TextMessage(data="hello"))
    with pytest.raises(WebSocketError, match="text frame"):
        peer.client.read(100)
    events = peer.from_client()
    assert isinstance(events[0], CloseConnection) and events[0].code == 1003


def test_a_frame_over_max_frame_size_is_refused_with_1009() -> None:
    peer = accepted(max_frame_size=100)
    peer.to_client(Message(data=b"x" * 100))
    assert len(read_all(peer.client)) == 100
    peer.to_client(Message(data=b"x" * 101))
    with pytest.raises(WebSocketError, match="max_frame_size=100"):
        peer.client.read(1000)
    events = peer.from_client()
    assert isinstance(events[0], CloseConnection) and events[0].code == 1009


def test_a_message_over_max_message_size_is_refused_even_in_small_frames() -> None:
    peer = accepted(max_message_size=10)
    peer.to_client(*(Message(data=b"abcd", message_finished=False) for _ in range(3)))
    with pytest.raises(WebSocketError, match="max_message_size=10"):
        read_all(peer.client)


def test_writing_after_a_close_is_an_error() -> None:
    peer = accepted()
    peer.to_client(CloseConnection(code=1001, reason="going away"))
    with pytest.raises(WebSocketClosedError, match="1001"):
        peer.client.frame(b"x")


def test_close_sends_one_normal_close_frame() -> None:
    peer = accepted()
    peer.ws.receive_data(peer.client.close())
    assert list(peer.ws.events()) == [CloseConnection(code=1000, reason="")]
    assert peer.client.close() == b""
    assert peer.client.read(10) == b""


@pytest.mark.parametrize(
    ("url", "secure", "host", "port", "target", "host_header"),
    [
        ("ws://bridge/", False, "bridge", 80, "/", "bridge"),
        ("ws://bridge:8080", False, "bridge", 8080, "/", "bridge:8080"),
        ("wss://c.dsql.us-east-1.on.aws", True, "c.dsql.us-east-1.on.aws", 443, "/", None),
        ("wss://neon.example/v2", True, "neon.example", 443, "/v2", "neon.example"),
        ("ws://b:81/?address=db:5432", False, "b", 81, "/?address=db:5432", "b:81"),
        ("ws://[::1]:9000/x", False, "::1", 9000, "/x", "[::1]:9000"),
    ],
)
def test_websocket_urls_are_parsed(
    url: str, secure: bool, host: str, port: int, target: str, host_header: str | None
) -> None:
    parsed = parse_websocket_url(url)
    assert (parsed.secure, parsed.host, parsed.port, parsed.target) == (secure, host, port, target)
    assert parsed.host_header == (host_header or host)


@pytest.mark.parametrize(
    "url", ["http://bridge/", "ws:///path", "ws://user:pw@bridge/", "ws://bridge:99999/"]
)
def test_invalid_websocket_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="WebSocket URL"):
        parse_websocket_url(url)
