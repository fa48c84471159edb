"""An in-test WebSocket-to-TCP bridge (wsproto, threads) that misbehaves on purpose.

Like websockify it relays binary frames to a TCP target (the URL's ``?address=host:port``
when given, else its default target), but it can re-cut the server's byte stream at random
points (down to one byte per frame, and messages split into continuation frames), ping the
client, drop the connection without a close frame or close it with an error code when a
client frame contains a marker, answer with a text frame, or refuse the upgrade. It records
what it sent, so tests can check that the premise they test actually happened.

Threads, not an event loop, so the same bridge serves the blocking driver, asyncio and trio.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from types import TracebackType

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
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

#: The states in which a close frame has gone one way or both: the closing handshake.
_CLOSING = frozenset(
    {ConnectionState.REMOTE_CLOSING, ConnectionState.LOCAL_CLOSING, ConnectionState.CLOSED}
)


@dataclass
class Behaviour:
    """How the bridge treats each connection."""

    #: "whole": one frame per read from the server; "random": random cuts and fragments.
    cut: str = "whole"
    seed: int = 0
    #: Send a ping before every n-th frame to the client (0: never).
    ping_every: int = 0
    #: Drop both connections (no close frame) once a client frame contains this.
    drop_on: bytes | None = None
    #: Close with (code, reason) once a client frame contains ``close_on``.
    close_on: bytes | None = None
    close_code: tuple[int, str] = (1011, "the bridge lost its database")
    #: Answer a client frame containing this with a text frame.
    text_on: bytes | None = None
    #: Refuse the upgrade with (HTTP status, body).
    reject: tuple[int, bytes] | None = None


@dataclass
class Record:
    """What the bridge saw and did, over all its connections."""

    frames_to_client: list[bytes] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    pings: int = 0
    pongs: int = 0
    targets: list[tuple[str, int]] = field(default_factory=list)


class Bridge:
    """Listens on 127.0.0.1; use as a context manager. ``url`` is its ``ws://`` address
    (``wss://localhost`` with ``ssl_context``, a server context: then it terminates TLS)."""

    def __init__(
        self,
        target: tuple[str, int],
        behaviour: Behaviour | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.target = target
        self.ssl_context = ssl_context
        self.behaviour = behaviour or Behaviour()
        self.record = Record()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._serving: list[threading.Thread] = []
        self._lock = threading.Lock()
        # accept() polls, so that __exit__ can stop it (closing a socket does not wake
        # a thread blocked in accept()).
        self._listener.settimeout(0.05)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        if self.ssl_context is not None:
            return f"wss://localhost:{self.port}/"
        return f"ws://127.0.0.1:{self.port}/"

    def __enter__(self) -> Bridge:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            serving = list(self._serving)
        # Wait for the connections' threads too, so that an error in one is reported in
        # the test that made it, not in whichever test runs when the thread gets to it.
        deadline = time.monotonic() + 5
        for thread in serving:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._sockets.append(client)
                self._serving.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            if self.ssl_context is not None:
                client = self.ssl_context.wrap_socket(client, server_side=True)
            _Session(self, client).run()
        except OSError:
            pass
        finally:
            _close(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Session:
    """One client connection and its TCP connection to the target."""

    def __init__(self, bridge: Bridge, client: socket.socket) -> None:
        self.bridge = bridge
        self.behaviour = bridge.behaviour
        self.client = client
        self.server: socket.socket | None = None
        self.ws = WSConnection(ConnectionType.SERVER)
        # Two threads use ``ws``: the client thread feeds it what the client sends (a close
        # frame changes its state) and answers pings and close frames, the pump thread sends
        # the server's bytes and a close frame once the server closes. ``send_lock`` keeps
        # what they write to the client in order; ``state_lock`` (taken inside it, never
        # across socket I/O) makes each check of the state and the change that follows one
        # step.
        self.send_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.rng = random.Random(self.behaviour.seed)
        self.frames = 0
        self.done = False

    def run(self) -> None:
        if not self._handshake():
            return
        assert self.server is not None
        pump = threading.Thread(target=self._server_to_client, daemon=True)
        pump.start()
        try:
            self._client_to_server()
        finally:
            self.done = True
            _close(self.server)
            pump.join(5)

    def _send(self, *events: object) -> None:
        with self.send_lock:
            with self.state_lock:
                data = b"".join(self.ws.send(event) for event in events)  # type: ignore[arg-type]
            self.client.sendall(data)

    def _send_while_open(self, *events: object) -> bool:
        """Send ``events`` (messages, pings, pongs) unless the closing handshake has begun
        (then False: wsproto allows none of them any more)."""
        with self.send_lock:
            with self.state_lock:
                if self.ws.state in _CLOSING:
                    return False
                data = b"".join(self.ws.send(event) for event in events)  # type: ignore[arg-type]
            self.client.sendall(data)
            return True

    def _send_close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake, or answer the client's close frame; nothing if this
        side has sent its close frame already (the other thread did, and the client's
        close frame may be the answer to it)."""
        with self.send_lock:
            with self.state_lock:
                if self.ws.state in (ConnectionState.LOCAL_CLOSING, ConnectionState.CLOSED):
                    return
                data = self.ws.send(CloseConnection(code=code, reason=reason))
            self.client.sendall(data)

    def _receive(self, data: bytes) -> list[object]:
        """Feed ``data`` from the client to ``ws``; the events it makes (taking a close
        frame off ``ws`` changes its state, so this is one step under ``state_lock``)."""
        with self.state_lock:
            self.ws.receive_data(data)
            return list(self.ws.events())

    def _handshake(self) -> bool:
        while True:
            data = self.client.recv(65536)
            if not data:
                return False
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, Request):
                    return self._answer(event)

    def _answer(self, request: Request) -> bool:
        record = self.bridge.record
        record.requests.append(request.target)
        record.headers.append(
            {name.decode().lower(): value.decode() for name, value in request.extra_headers}
        )
        if self.behaviour.reject is not None:
            status, body = self.behaviour.reject
            headers = [(b"content-length", str(len(body)).encode())]
            self._send(
                RejectConnection(status_code=status, headers=headers, has_body=True),
                RejectData(data=body),
            )
            return False
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.target).query)
        target = self.bridge.target
        if "address" in query:
            host, _, port = query["address"][0].rpartition(":")
            target = (host, int(port))
        record.targets.append(target)
        self.server = socket.create_connection(target)
        subprotocol = "binary" if "binary" in request.subprotocols else None
        self._send(AcceptConnection(subprotocol=subprotocol))
        return True

    def _client_to_server(self) -> None:
        assert self.server is not None
        while True:
            data = self.client.recv(65536)
            if not data:
                return
            for event in self._receive(data):
                if isinstance(event, BytesMessage):
                    if not self._on_client_data(bytes(event.data)):
                        return
                elif isinstance(event, Ping):
                    # No pong once the pump has sent its close frame.
                    self._send_while_open(event.response())
                elif isinstance(event, Pong):
                    self.bridge.record.pongs += 1
                elif isinstance(event, CloseConnection):
                    # Echo the client's close frame, unless it is the answer to the one
                    # the pump sent when the target closed (the handshake is over then).
                    self._send_close(event.code, event.reason or "")
                    return

    def _on_client_data(self, data: bytes) -> bool:
        """Relay a client frame; False once the session must end."""
        assert self.server is not None
        behaviour = self.behaviour
        self.server.sendall(data)
        if behaviour.drop_on is not None and behaviour.drop_on in data:
            _close(self.client)
            return False
        if behaviour.close_on is not None and behaviour.close_on in data:
            code, reason = behaviour.close_code
            self._send_close(code, reason)
            return False
        if behaviour.text_on is not None and behaviour.text_on in data:
            self._send_while_open(TextMessage(data="hello from a chat server"))
        return True

    def _server_to_client(self) -> None:
        assert self.server is not None
        while not self.done:
            try:
                data = self.server.recv(65536)
            except OSError:
                return
            if not data:
                # The client may have closed (or dropped) the connection first.
                with contextlib.suppress(OSError):
                    self._send_close(1000, "target closed")
                return
            try:
                if not self._relay(data):
                    return
            except OSError:  # the client's socket is gone
                return

    def _relay(self, data: bytes) -> bool:
        """Send ``data`` from the server to the client; False once the connection closes."""
        events: list[object] = []
        pieces: list[bytes] = []
        pings = 0
        for piece, message_finished in self._pieces(data):
            self.frames += 1
            if self.behaviour.ping_every and self.frames % self.behaviour.ping_every == 0:
                events.append(Ping(payload=b"bridge-ping"))
                pings += 1
            events.append(Message(data=piece, message_finished=message_finished))
            pieces.append(piece)
        with self.send_lock:
            with self.state_lock:
                if self.ws.state in _CLOSING:
                    return False  # a close frame has gone one way or both: no more data
                payload = b"".join(self.ws.send(event) for event in events)  # type: ignore[arg-type]
            # Recorded before the client can see it, and only what it is sent.
            record = self.bridge.record
            record.pings += pings
            record.frames_to_client.extend(pieces)
            self.client.sendall(payload)
        return True

    def _pieces(self, data: bytes) -> list[tuple[bytes, bool]]:
        """The frames to send ``data`` in, each with whether it ends a WebSocket message."""
        if self.behaviour.cut == "whole":
            return [(data, True)]
        rng = self.rng
        pieces: list[tuple[bytes, bool]] = []
        start = 0
        while start < len(data):
            size = rng.choice([1, 1, rng.randint(1, 7), rng.randint(1, max(1, len(data)))])
            end = min(len(data), start + size)
            # Sometimes continue the same WebSocket message in a continuation frame.
            pieces.append((data[start:end], end == len(data) or rng.random() < 0.5))
            start = end
        return pieces
