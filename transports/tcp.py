"""Blocking TCP and Unix-domain socket streams, with TLS.

Only moves bytes: it opens the socket (resolving the host, trying each address in turn),
disables Nagle's algorithm so that small protocol messages leave at once, runs TLS
handshakes with the context it is given, and maps nothing to PostgreSQL concepts.  Errors
are ``OSError`` subclasses (``TimeoutError`` for timeouts, ``ssl.SSLError`` for TLS); the
driver turns them into its own exceptions.
"""

from __future__ import annotations

import random
import socket
import ssl

from pgwire.transports.base import TLSInfo

__all__ = ["SocketStream", "connect_tcp", "connect_unix"]


class SocketStream:
    """A connected blocking socket (TLS-wrapped once ``start_tls`` has run)."""

    __slots__ = ("_closed", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        tls = " tls" if isinstance(self.sock, ssl.SSLSocket) else ""
        return f"<SocketStream {state}{tls} fd={self.sock.fileno()}>"

    def send_all(self, data: bytes) -> None:
        """Write all of ``data``."""
        self.sock.sendall(data)

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes``; ``b""`` means the peer closed."""
        try:
            return self.sock.recv(max_bytes)
        except ssl.SSLZeroReturnError:
            return b""

    def set_timeout(self, seconds: float | None) -> None:
        """Bound later sends and receives."""
        self.sock.settimeout(seconds)

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run the TLS handshake (SNI is sent for host names, never for IP addresses)."""
        tls = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock = tls
        return TLSInfo(
            tls.getpeercert(binary_form=True), tls.selected_alpn_protocol(), tls.version()
        )

    def close(self) -> None:
        """Close the socket."""
        if not self._closed:
            self._closed = True
            self.sock.close()


def connect_tcp(
    host: str, port: int, *, timeout: float | None = None, shuffle: bool = False
) -> SocketStream:
    """Connect to ``host:port``, trying every resolved address (IPv6 and IPv4) in order, or
    in random order with ``shuffle``."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if shuffle:
        random.shuffle(addresses)
    error: OSError | None = None
    for family, kind, proto, _name, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return SocketStream(sock)
    assert error is not None  # getaddrinfo returns at least one address or raises
    raise error


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
