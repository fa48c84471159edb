"""SNI: sent for host names, never for IP addresses (RFC 6066), seen by a TLS server that
answers the SSLRequest and records the name the client sent."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

import pgwire
from pgwire import errors


@pytest.fixture
def sni_server() -> Iterator[tuple[int, list[str | None]]]:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    names: list[str | None] = []

    def remember(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = remember  # type: ignore[assignment]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(8)  # the SSLRequest
            conn.sendall(b"S")
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass  # handshake done: close, the client then fails to start up
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, names
    thread.join(5)
    listener.close()


@pytest.mark.parametrize(("host", "expected"), [("localhost", "localhost"), ("127.0.0.1", None)])
def test_sni_is_sent_for_host_names_only(
    sni_server: tuple[int, list[str | None]], host: str, expected: str | None
) -> None:
    port, names = sni_server
    with pytest.raises(errors.OperationalError):
        pgwire.connect(host=host, port=port, user="u", sslmode="require", connect_timeout=5)
    assert names == [expected]
