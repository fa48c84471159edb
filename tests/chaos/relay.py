"""A TCP relay in front of the real PostgreSQL that breaks the server-to-client stream on
purpose, for the chaos tests: plain sockets and threads, so that it serves the blocking
driver and every event loop alike, and shares no code with pgwire.

Each connection it accepts takes the next armed :class:`Cut` or :class:`Flip` (or none, and
is relayed untouched): a cut forwards the first ``offset`` bytes the server sends and then
closes both sides; a flip XORs the byte at ``offset`` with ``mask``.  The client-to-server
direction is always relayed as is.  The bytes the server sent to a faulted connection are
kept (``Fault.original``), to tell afterwards where in the conversation the fault fell.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class Cut:
    """Forward the first ``offset`` bytes the server sends, then close both sides."""

    offset: int
    original: bytearray = field(default_factory=bytearray, repr=False)
    #: Whether the stream reached the offset (a shorter conversation is left whole).
    fired: bool = False


@dataclass
class Flip:
    """XOR the server's byte at ``offset`` with ``mask`` (1 to 255)."""

    offset: int
    mask: int
    original: bytearray = field(default_factory=bytearray, repr=False)
    fired: bool = False


Fault = Cut | Flip


class ChaosRelay:
    """Relays ``127.0.0.1:port`` to ``upstream`` until closed (a context manager)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._armed: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, fault: Fault) -> Fault:
        """Apply ``fault`` to the next connection accepted; returns it."""
        with self._lock:
            self._armed.append(fault)
        return fault

    def disarm(self) -> None:
        """Drop the faults no connection took."""
        with self._lock:
            self._armed.clear()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> ChaosRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                fault = self._armed.popleft() if self._armed else None
                self._sockets += [client, server]
            threading.Thread(target=self._forward, args=(client, server), daemon=True).start()
            threading.Thread(
                target=self._backward, args=(server, client, fault), daemon=True
            ).start()

    @staticmethod
    def _end(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _forward(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                server.sendall(data)
        except OSError:
            pass
        self._end(client, server)

    def _backward(self, server: socket.socket, client: socket.socket, fault: Fault | None) -> None:
        sent = 0
        try:
            while data := server.recv(65536):
                if fault is not None:
                    fault.original += data
                    data = self._apply(fault, sent, data)
                if data:
                    client.sendall(data)
                sent += len(data)
                if isinstance(fault, Cut) and fault.fired:
                    break
        except OSError:
            pass
        self._end(client, server)

    @staticmethod
    def _apply(fault: Fault, sent: int, data: bytes) -> bytes:
        """``data`` (the bytes from ``sent`` on) after the fault."""
        position = fault.offset - sent
        if not 0 <= position < len(data):
            return data
        fault.fired = True
        if isinstance(fault, Cut):
            return data[:position]
        broken = bytearray(data)
        broken[position] ^= fault.mask
        return bytes(broken)
