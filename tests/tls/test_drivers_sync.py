# GENERATED from tests/tls/test_drivers_async.py by scripts/gen_sync.py: do not edit.
"""What each driver's own I/O does over TLS, against real PostgreSQL 18 and 15 servers, on
the blocking driver and on asyncio, uvloop and trio (one source, ``test_drivers_async.py``,
for both drivers): the handshake and verification, SCRAM-SHA-256-PLUS bound to the channel,
direct TLS refused clearly by a server without it, and cancel requests sent over TLS.

The sslmode matrix and the other connection rules are decided by the shared connect flows
and are tested once, on the blocking driver, in ``test_tls.py`` and ``test_pg15.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.concurrency_sync import running, sleep
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.tls.conftest import Pki


def _connect(
    server: PostgresServer, user: str, password: str | None = None, **extra: Any
) -> Connection:
    extra.setdefault("host", "localhost")
    return pgwire.connect(server.dsn(user, password, **extra))


def _uses_tls(conn: Connection) -> bool:
    return bool(conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))


def _cancel_running_query(conn: Connection) -> None:
    def cancel_soon() -> None:
        sleep(0.3)
        conn.cancel()

    with running(cancel_soon), pytest.raises(errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(30)")
    assert conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_channel_binding_require_succeeds_over_verified_tls_with_scram_plus(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    def token() -> str:
        sleep(0)
        assert SCRAM_USER.password is not None
        return SCRAM_USER.password

    dsn = tls_server.dsn(
        SCRAM_USER.name,
        host="localhost",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslnegotiation=negotiation,
        channel_binding="require",
        max_protocol_version="3.2",
    )
    with pgwire.connect(dsn, password=token) as conn:
        assert _uses_tls(conn)
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]
        assert conn._core.channel_bound


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_wrong_ca_says_the_certificate_could_not_be_verified(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    with pytest.raises(
        errors.OperationalError, match="certificate could not be verified"
    ) as caught:
        _connect(
            tls_server,
            TRUST_USER.name,
            sslmode="verify-full",
            sslnegotiation=negotiation,
            sslrootcert=pki.other_ca_file,
        )
    # The server sends its whole chain, whose root the client does not trust.
    assert "self-signed certificate in certificate chain" in str(caught.value)


def test_direct_tls_against_a_server_without_it_is_a_clear_error(
    pg15_server: PostgresServer,
) -> None:
    with pytest.raises(errors.OperationalError) as caught:
        _connect(pg15_server, TRUST_USER.name, sslmode="require", sslnegotiation="direct")
    message = str(caught.value)
    assert "may not support direct TLS" in message
    assert "sslnegotiation=postgres" in message


@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_cancel_over_tls_with_a_protocol_3_2_key(
    tls_server: PostgresServer, pki: Pki, negotiation: str
) -> None:
    with _connect(
        tls_server,
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslnegotiation=negotiation,
        max_protocol_version="3.2",
    ) as conn:
        _cancel_running_query(conn)


def test_cancel_over_tls_after_a_protocol_downgrade(pg15_server: PostgresServer) -> None:
    with _connect(
        pg15_server, TRUST_USER.name, sslmode="require", max_protocol_version="latest"
    ) as conn:
        _cancel_running_query(conn)
