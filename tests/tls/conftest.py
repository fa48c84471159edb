"""Servers and certificates for the TLS and authentication tests.

A test CA (trustme) signs the servers' certificates and the client certificates; a second CA
plays the stranger. Two servers with TLS on run for the whole session: PostgreSQL 18 (the npm
build, with OpenSSL and direct TLS) and Debian's PostgreSQL 15 (no direct TLS, protocol 3.0
only). The plaintext-only server is the suite's own ``pg_server``. A third PostgreSQL 18 with
an expired certificate starts only when a test asks for it. Async tests run on asyncio,
uvloop and trio.

pg_hba.conf rules added on top of the harness's roles (see tests/pg.py):

* ``cert_user``: TLS only, ``cert`` authentication (the client certificate's CN is the user);
* ``clientcert_user``: TLS only, SCRAM plus ``clientcert=verify-full``;
* ``sslonly_user``: TLS only (``hostssl``), SCRAM; ``plainonly_user``: plaintext only, trust;
* ``readonly_user``: trust, with ``default_transaction_read_only`` on the PostgreSQL 15 server.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.backends import anyio_backend  # noqa: F401 (a fixture: pytest finds it by name)
from tests.pg import PostgresServer

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
ADDRESSES = ("127.0.0.1/32", "::1/128")
PASSWORD = "pw-tls-tests"


@dataclass(frozen=True)
class Pki:
    """Certificate files for the client side, in a private directory."""

    ca: trustme.CA
    ca_file: str
    other_ca_file: str
    client_cert: str
    client_key: str
    encrypted_key: str
    revoking_crl: str
    empty_crl: str
    server_cert_pem: bytes
    server_key_pem: bytes
    ca_pem: bytes


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    path.chmod(0o600)
    return str(path)


def _crl(ca: trustme.CA, revoked: list[int]) -> bytes:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - datetime.timedelta(days=1))
        .next_update(now + datetime.timedelta(days=30))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(hours=1))
            .build()
        )
    crl = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1", "::1")
    client = ca.issue_cert("cert_user@pgwire.test", common_name="cert_user")
    client_key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    encrypted = client_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-passphrase"),
    )
    server_serial = x509.load_pem_x509_certificate(server.cert_chain_pems[0].bytes()).serial_number
    return Pki(
        ca=ca,
        ca_file=_write(directory / "ca.pem", ca.cert_pem.bytes()),
        other_ca_file=_write(directory / "other-ca.pem", trustme.CA().cert_pem.bytes()),
        client_cert=_write(directory / "client.crt", client.cert_chain_pems[0].bytes()),
        client_key=_write(directory / "client.key", client.private_key_pem.bytes()),
        encrypted_key=_write(directory / "client-encrypted.key", encrypted),
        revoking_crl=_write(directory / "revoking.crl", _crl(ca, [server_serial])),
        empty_crl=_write(directory / "empty.crl", _crl(ca, [])),
        server_cert_pem=b"".join(pem.bytes() for pem in server.cert_chain_pems),
        server_key_pem=server.private_key_pem.bytes(),
        ca_pem=ca.cert_pem.bytes(),
    )


TLS_CONF = [
    "ssl = on",
    "ssl_cert_file = 'server.crt'",
    "ssl_key_file = 'server.key'",
    "ssl_ca_file = 'root.crt'",
]


def _hba() -> list[str]:
    rules = [
        ("hostssl", "cert_user", "cert"),
        ("hostnossl", "cert_user", "reject"),
        ("hostssl", "clientcert_user", "scram-sha-256 clientcert=verify-full"),
        ("hostnossl", "clientcert_user", "reject"),
        ("hostssl", "sslonly_user", "scram-sha-256"),
        ("hostnossl", "sslonly_user", "reject"),
        ("hostnossl", "plainonly_user", "trust"),
        ("hostssl", "plainonly_user", "reject"),
        ("host", "readonly_user", "trust"),
    ]
    return [
        f"{kind} all {user} {address} {method}"
        for kind, user, method in rules
        for address in ADDRESSES
    ]


def _start_tls_server(
    pki: Pki, *, bin_dir: Path | None = None, cert: bytes | None = None, key: bytes | None = None
) -> PostgresServer:
    server = PostgresServer(
        bin_dir=bin_dir,
        conf_lines=TLS_CONF,
        hba_lines=_hba(),
        files={
            "server.crt": cert or pki.server_cert_pem,
            "server.key": key or pki.server_key_pem,
            "root.crt": pki.ca_pem,
        },
    )
    server.start()
    roles = ["cert_user", "clientcert_user", "sslonly_user", "plainonly_user", "readonly_user"]
    statements = [f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'" for role in roles]
    statements.append(f"GRANT ALL ON DATABASE {server.database} TO {', '.join(roles)}")
    server.psql("; ".join(statements))
    return server


@pytest.fixture(scope="session")
def tls_server(pki: Pki) -> Iterator[PostgresServer]:
    """PostgreSQL 18 with TLS on (classic and direct negotiation)."""
    server = _start_tls_server(pki)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg15_server(pki: Pki) -> Iterator[PostgresServer]:
    """Debian's PostgreSQL 15 with TLS on: no direct TLS, no protocol 3.2."""
    if not (PG15_BIN / "postgres").is_file():
        pytest.fail(
            f"PostgreSQL 15 is not installed ({PG15_BIN / 'postgres'} is missing): run "
            "scripts/install-debian-packages (scripts/setup runs it)"
        )
    server = _start_tls_server(pki, bin_dir=PG15_BIN)
    server.psql("ALTER ROLE readonly_user SET default_transaction_read_only = on")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def expired_server(pki: Pki) -> Iterator[PostgresServer]:
    """PostgreSQL 18 presenting a certificate that expired yesterday."""
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = pki.ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    server = _start_tls_server(
        pki,
        cert=b"".join(pem.bytes() for pem in expired.cert_chain_pems),
        key=expired.private_key_pem.bytes(),
    )
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PG* variable and no ~/.postgresql or ~/.pgpass of the real user reach the tests."""
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
