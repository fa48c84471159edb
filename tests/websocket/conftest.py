"""Fixtures for the WebSocket tests: websockify (the PyPI bridge, run as a subprocess) in front
of the suite's PostgreSQL 18, a PostgreSQL 18 with TLS on (trustme certificates) behind a
second websockify; the async tests run on asyncio, uvloop and trio.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.backends import anyio_backend  # noqa: F401 (a fixture: pytest finds it by name)
from tests.pg import PostgresServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Websockify:
    """A running websockify: ``url`` reaches ``target_port`` on 127.0.0.1."""

    port: int
    target_port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"


def start_websockify(target_port: int, workdir: Path) -> Websockify:
    """Start ``websockify 127.0.0.1:PORT 127.0.0.1:TARGET`` and wait until it listens."""
    for _attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "websockify", f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return Websockify(port, target_port, process)
            except OSError:
                time.sleep(0.05)
        process.kill()
        _, errors = process.communicate()
        if b"Address already in use" not in errors:
            raise RuntimeError(f"websockify did not start:\n{errors.decode(errors='replace')}")
    raise RuntimeError("websockify found no free port in three attempts")


def stop_websockify(bridge: Websockify) -> None:
    bridge.process.terminate()
    try:
        bridge.process.wait(10)
    except subprocess.TimeoutExpired:
        bridge.process.kill()
        bridge.process.wait()


@pytest.fixture(scope="session")
def websockify(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Websockify]:
    """websockify in front of the suite's (plaintext) PostgreSQL 18."""
    bridge = start_websockify(pg_server.port, tmp_path_factory.mktemp("websockify"))
    yield bridge
    stop_websockify(bridge)


@dataclass(frozen=True)
class TLSBackend:
    """A PostgreSQL 18 with ``ssl = on`` behind websockify, and the CA that signed it."""

    server: PostgresServer
    bridge: Websockify
    ca_file: str


@pytest.fixture(scope="session")
def tls_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSBackend]:
    """PostgreSQL with TLS on (a trustme certificate for localhost and 127.0.0.1), reached
    through a plain ``ws://`` websockify that does not terminate TLS."""
    directory = tmp_path_factory.mktemp("websocket-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    server = PostgresServer(
        conf_lines=["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"],
        files={
            "server.crt": b"".join(pem.bytes() for pem in cert.cert_chain_pems),
            "server.key": cert.private_key_pem.bytes(),
        },
    )
    with server:
        bridge = start_websockify(server.port, directory)
        try:
            yield TLSBackend(server, bridge, str(ca_file))
        finally:
            stop_websockify(bridge)
