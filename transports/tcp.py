"""Blocking TCP and Unix-domain socket streams.

Only moves bytes: it opens the socket (resolving the host, trying each address in turn),
disables Nagle's algorithm so that small protocol messages leave at once, and maps
nothing to PostgreSQL concepts.  Errors are ``OSError`` subclasses (``TimeoutError``
for timeouts); the driver turns them into its own exceptions.
"""

from __future__ import annotations

import socket

__all__ = ["SocketStream", "connect_tcp", "connect_unix"]


class SocketStream:
    """A connected blocking socket."""

    __slots__ = ("_closed", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SocketStream {state} fd={self.sock.fileno()}>"

    def send_all(self, data: bytes) -> None:
        """Write all of ``data``."""
        self.sock.sendall(data)

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes``; ``b""`` means the peer closed."""
        return self.sock.recv(max_bytes)

    def set_timeout(self, seconds: float | None) -> None:
        """Bound later sends and receives."""
        self.sock.settimeout(seconds)

    def close(self) -> None:
        """Close the socket."""
        if not self._closed:
            self._closed = True
            self.sock.close()


def connect_tcp(host: str, port: int, *, timeout: float | None = None) -> SocketStream:
    """Connect to ``host:port``, trying every resolved address (IPv6 and IPv4) in order."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        sock.close()
        raise
    return SocketStream(sock)


def connect_unix(path: str, *, timeout: float | None = None) -> SocketStream:
    """Connect to the Unix-domain socket at ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return SocketStream(sock)
