"""TLS with libpq's meanings, against real PostgreSQL 18 servers with TLS on and off.

Every connection proves what it got by asking the server (``pg_stat_ssl``), never by trusting
the client's own state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.pg import SCRAM_USER, TRUST_USER, PostgresServer
from tests.tls.conftest import PASSWORD, Pki

SSLMODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def connect(
    server: PostgresServer, user: str, password: str | None = None, **extra: Any
) -> Connection:
    extra.setdefault("host", "localhost")
    return pgwire.connect(server.dsn(user, password, **extra))


def uses_tls(conn: Connection) -> bool:
    return bool(conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))


def tls_version(conn: Connection) -> str:
    return str(conn.fetchval("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))


def _root(pki: Pki, sslmode: str) -> dict[str, str]:
    return {"sslrootcert": pki.ca_file} if sslmode.startswith("verify") else {}


# --------------------------------------------------------------------------------------
# The sslmode matrix
# --------------------------------------------------------------------------------------

EXPECTED_ON_TLS_SERVER = {
    "disable": False,
    "allow": False,  # plaintext first, and the server accepts it
    "prefer": True,
    "require": True,
    "verify-ca": True,
    "verify-full": True,
}


@pytest.mark.parametrize("sslmode", SSLMODES)
def test_sslmode_against_a_server_with_tls_on(
    tls_server: PostgresServer, pki: Pki, sslmode: str
) -> None:
    with connect(tls_server, TRUST_USER.name, sslmode=sslmode, **_root(pki, sslmode)) as conn:
        assert uses_tls(conn) is EXPECTED_ON_TLS_SERVER[sslmode]
        if EXPECTED_ON_TLS_SERVER[sslmode]:
            assert tls_version(conn) in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("sslmode", ["disable", "allow", "prefer"])
def test_sslmode_that_allows_plaintext_connects_to_a_server_with_tls_off(
    pg_server: PostgresServer, sslmode: str
) -> None:
    with connect(pg_server, TRUST_USER.name, sslmode=sslmode) as conn:
        assert not uses_tls(conn)


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
def test_sslmode_that_needs_tls_never_falls_back_to_plaintext(
    pg_server: PostgresServer, pki: Pki, sslmode: str
) -> None:
    with pytest.raises(errors.OperationalError, match="does not support SSL, but SSL was required"):
        connect(pg_server, TRUST_USER.name, sslmode=sslmode, **_root(pki, sslmode))


@pytest.mark.parametrize("sslmode", SSLMODES)
def test_sslmode_against_hostssl_only_rules(
    tls_server: PostgresServer, pki: Pki, sslmode: str
) -> None:
    if sslmode == "disable":
        with pytest.raises(errors.InvalidAuthorizationSpecification, match="no encryption"):
            connect(tls_server, "sslonly_user", PASSWORD, sslmode=sslmode)
        return
    # allow: the plaintext session is rejected, so libpq's rule retries with TLS.
    with connect(
        tls_server, "sslonly_user", PASSWORD, sslmode=sslmode, **_root(pki, sslmode)
    ) as conn:
        assert uses_tls(conn)


@pytest.mark.parametrize("sslmode", ["allow", "prefer"])
def test_sslmode_against_hostnossl_only_rules_falls_back_to_plaintext(
    tls_server: PostgresServer, sslmode: str
) -> None:
    with connect(tls_server, "plainonly_user", sslmode=sslmode) as conn:
        assert not uses_tls(conn)


def test_require_against_hostnossl_only_rules_fails(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.InvalidAuthorizationSpecification, match="SSL encryption"):
        connect(tls_server, "plainonly_user", sslmode="require")


def test_unix_socket_ignores_sslmode_like_libpq(tls_server: PostgresServer) -> None:
    with pgwire.connect(
        tls_server.dsn(TRUST_USER.name, host=tls_server.unix_socket_dir, sslmode="require")
    ) as conn:
        assert not uses_tls(conn)


# --------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------


def test_the_issue_acceptance_uri_connects_with_direct_tls(
    tls_server: PostgresServer, pki: Pki
) -> None:
    uri = (
        f"postgresql://{TRUST_USER.name}@localhost:{tls_server.port}/{tls_server.database}"
        f"?sslmode=verify-full&sslnegotiation=direct&sslrootcert={pki.ca_file}"
    )
    with pgwire.connect(uri) as conn:
        assert conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True


def test_require_with_a_root_certificate_verifies_the_chain_like_verify_ca(
    tls_server: PostgresServer, pki: Pki
) -> None:
    with pytest.raises(errors.OperationalError, match="certificate could not be verified"):
        connect(tls_server, TRUST_USER.name, sslmode="require", sslrootcert=pki.other_ca_file)


def test_require_without_a_root_certificate_does_not_verify(tls_server: PostgresServer) -> None:
    with connect(tls_server, TRUST_USER.name, sslmode="require") as conn:
        assert uses_tls(conn)


def test_default_root_certificate_in_home_makes_require_verify(
    tls_server: PostgresServer, pki: Pki, tmp_path: Any
) -> None:
    (tmp_path / ".postgresql").mkdir()
    (tmp_path / ".postgresql" / "root.crt").write_bytes(Path(pki.other_ca_file).read_bytes())
    with pytest.raises(errors.OperationalError, match="certificate could not be verified"):
        connect(tls_server, TRUST_USER.name, sslmode="require")


def test_verify_full_checks_the_host_name(tls_server: PostgresServer, pki: Pki) -> None:
    dsn = tls_server.dsn(TRUST_USER.name, host="wrong.example", sslmode="verify-full")
    with pytest.raises(errors.OperationalError, match="Hostname mismatch"):
        pgwire.connect(dsn, hostaddr="127.0.0.1", sslrootcert=pki.ca_file)


def test_verify_ca_does_not_check_the_host_name(tls_server: PostgresServer, pki: Pki) -> None:
    dsn = tls_server.dsn(TRUST_USER.name, host="wrong.example", sslmode="verify-ca")
    with pgwire.connect(dsn, hostaddr="127.0.0.1", sslrootcert=pki.ca_file) as conn:
        assert uses_tls(conn)


def test_verify_full_matches_an_ip_address_in_the_certificate(
    tls_server: PostgresServer, pki: Pki
) -> None:
    with connect(
        tls_server,
        TRUST_USER.name,
        host="127.0.0.1",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
    ) as conn:
        assert uses_tls(conn)


def test_expired_certificate_is_refused(expired_server: PostgresServer, pki: Pki) -> None:
    with pytest.raises(errors.OperationalError, match="certificate has expired"):
        connect(expired_server, TRUST_USER.name, sslmode="verify-ca", sslrootcert=pki.ca_file)


def test_verify_ca_without_a_root_certificate_is_a_clear_error(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.OperationalError, match=r"root certificate file .* does not exist"):
        connect(tls_server, TRUST_USER.name, sslmode="verify-ca")


def test_revoked_server_certificate_is_refused(tls_server: PostgresServer, pki: Pki) -> None:
    with pytest.raises(errors.OperationalError, match="certificate revoked"):
        connect(
            tls_server,
            TRUST_USER.name,
            sslmode="verify-full",
            sslrootcert=pki.ca_file,
            sslcrl=pki.revoking_crl,
        )


def test_crl_that_does_not_list_the_server_lets_it_in(tls_server: PostgresServer, pki: Pki) -> None:
    with connect(
        tls_server,
        TRUST_USER.name,
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslcrl=pki.empty_crl,
    ) as conn:
        assert uses_tls(conn)


def test_prefer_falls_back_to_plaintext_when_verification_fails(
    tls_server: PostgresServer, pki: Pki
) -> None:
    # libpq's rule: prefer verifies when a root certificate is given, and a failed TLS
    # handshake is followed by a plaintext attempt.
    with connect(
        tls_server, TRUST_USER.name, sslmode="prefer", sslrootcert=pki.other_ca_file
    ) as conn:
        assert not uses_tls(conn)


def test_tls_1_3_can_be_demanded(tls_server: PostgresServer) -> None:
    with connect(
        tls_server, TRUST_USER.name, sslmode="require", ssl_min_protocol_version="TLSv1.3"
    ) as conn:
        assert tls_version(conn) == "TLSv1.3"


def test_tls_version_range_is_honoured(tls_server: PostgresServer) -> None:
    with connect(
        tls_server, TRUST_USER.name, sslmode="require", ssl_max_protocol_version="TLSv1.2"
    ) as conn:
        assert tls_version(conn) == "TLSv1.2"


# --------------------------------------------------------------------------------------
# Direct TLS
# --------------------------------------------------------------------------------------


def test_direct_tls_negotiates_alpn_postgresql(tls_server: PostgresServer, pki: Pki) -> None:
    with connect(
        tls_server,
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="verify-full",
        sslnegotiation="direct",
        sslrootcert=pki.ca_file,
    ) as conn:
        assert uses_tls(conn)
        assert conn._info.encryption == "tls"


def test_direct_tls_with_a_weak_sslmode_is_refused() -> None:
    with pytest.raises(errors.InterfaceError, match='weak sslmode "prefer" may not be used'):
        pgwire.connect("postgresql://u@localhost/d?sslnegotiation=direct")


# --------------------------------------------------------------------------------------
# SCRAM-SHA-256-PLUS, channel_binding, require_auth
# --------------------------------------------------------------------------------------


def test_scram_over_tls_binds_the_channel_by_default(tls_server: PostgresServer) -> None:
    with connect(tls_server, SCRAM_USER.name, SCRAM_USER.password, sslmode="require") as conn:
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]


def test_channel_binding_disable_uses_plain_scram_over_tls(tls_server: PostgresServer) -> None:
    with connect(
        tls_server,
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="require",
        channel_binding="disable",
    ) as conn:
        assert uses_tls(conn)
        assert conn._core.auth_methods == ["SCRAM-SHA-256"]


def test_channel_binding_require_fails_clearly_without_tls(tls_server: PostgresServer) -> None:
    with pytest.raises(
        errors.OperationalError, match="channel binding is required, but TLS is not in use"
    ):
        connect(
            tls_server,
            SCRAM_USER.name,
            SCRAM_USER.password,
            sslmode="disable",
            channel_binding="require",
        )


def test_channel_binding_require_refuses_a_trust_session(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.OperationalError, match="without channel binding"):
        connect(tls_server, TRUST_USER.name, sslmode="require", channel_binding="require")


def test_require_auth_refuses_a_method_not_listed(tls_server: PostgresServer) -> None:
    with pytest.raises(
        errors.OperationalError, match='requirement "md5,password" failed: server requested SASL'
    ):
        connect(tls_server, SCRAM_USER.name, SCRAM_USER.password, require_auth="md5,password")


def test_require_auth_allows_the_listed_method(tls_server: PostgresServer) -> None:
    with connect(
        tls_server, SCRAM_USER.name, SCRAM_USER.password, require_auth="scram-sha-256"
    ) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_require_auth_refuses_trust_unless_none_is_allowed(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.OperationalError, match="server did not complete authentication"):
        connect(tls_server, TRUST_USER.name, require_auth="scram-sha-256")
    with connect(tls_server, TRUST_USER.name, require_auth="scram-sha-256,none") as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_require_auth_negation(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.OperationalError, match="server requested SASL authentication"):
        connect(tls_server, SCRAM_USER.name, SCRAM_USER.password, require_auth="!scram-sha-256")


# --------------------------------------------------------------------------------------
# Client certificates
# --------------------------------------------------------------------------------------


def test_cert_authentication_logs_in_with_the_client_certificate(
    tls_server: PostgresServer, pki: Pki
) -> None:
    with connect(
        tls_server,
        "cert_user",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslcert=pki.client_cert,
        sslkey=pki.client_key,
    ) as conn:
        assert conn.fetchval("SELECT current_user::text") == "cert_user"
        assert conn.fetchval("SELECT system_user").startswith("cert:CN=cert_user,")


def test_cert_authentication_without_a_certificate_fails(tls_server: PostgresServer) -> None:
    with pytest.raises(errors.InvalidAuthorizationSpecification, match="certificate"):
        connect(tls_server, "cert_user", sslmode="require")


def test_clientcert_verify_full_with_password(tls_server: PostgresServer, pki: Pki) -> None:
    # The rule asks for a certificate whose CN is the user: cert_user's is not clientcert_user's.
    with pytest.raises(errors.InvalidAuthorizationSpecification):
        connect(
            tls_server,
            "clientcert_user",
            PASSWORD,
            sslmode="require",
            sslcert=pki.client_cert,
            sslkey=pki.client_key,
        )


def test_client_certificate_from_the_default_location(
    tls_server: PostgresServer, pki: Pki, tmp_path: Any
) -> None:
    directory = tmp_path / ".postgresql"
    directory.mkdir()
    for source, name in ((pki.client_cert, "postgresql.crt"), (pki.client_key, "postgresql.key")):
        (directory / name).write_bytes(Path(source).read_bytes())
        (directory / name).chmod(0o600)
    with connect(tls_server, "cert_user", sslmode="require") as conn:
        assert conn.fetchval("SELECT system_user").startswith("cert:CN=cert_user,")


def test_encrypted_client_key_is_opened_with_sslpassword(
    tls_server: PostgresServer, pki: Pki
) -> None:
    params = {"sslmode": "require", "sslcert": pki.client_cert, "sslkey": pki.encrypted_key}
    with connect(tls_server, "cert_user", sslpassword="key-passphrase", **params) as conn:
        assert conn.fetchval("SELECT system_user").startswith("cert:CN=cert_user,")
    with pytest.raises(errors.OperationalError, match="wrong or missing sslpassword") as caught:
        connect(tls_server, "cert_user", sslpassword="not-the-passphrase", **params)
    assert "not-the-passphrase" not in str(caught.value)


def test_client_key_readable_by_others_is_refused(
    tls_server: PostgresServer, pki: Pki, tmp_path: Any
) -> None:
    key = tmp_path / "open.key"
    key.write_bytes(Path(pki.client_key).read_bytes())
    key.chmod(0o644)
    with pytest.raises(errors.OperationalError, match="has group or world access"):
        connect(
            tls_server, "cert_user", sslmode="require", sslcert=pki.client_cert, sslkey=str(key)
        )


# --------------------------------------------------------------------------------------
# Protocol 3.2 and cancellation over TLS
# --------------------------------------------------------------------------------------


def test_protocol_3_2_gives_a_long_cancel_key(tls_server: PostgresServer) -> None:
    with connect(tls_server, TRUST_USER.name, max_protocol_version="3.2") as conn:
        assert conn._core.protocol_version == (3, 2)
        assert conn._core.backend_key is not None
        assert len(conn._core.backend_key.secret_key) == 32


def test_protocol_defaults_to_3_0_like_libpq_18(tls_server: PostgresServer) -> None:
    with connect(tls_server, TRUST_USER.name) as conn:
        assert conn._core.protocol_version == (3, 0)


# --------------------------------------------------------------------------------------
# Several hosts, passwords
# --------------------------------------------------------------------------------------


def test_unreachable_hosts_are_skipped(
    tls_server: PostgresServer, pg_server: PostgresServer
) -> None:
    dsn = f"postgresql://{TRUST_USER.name}@127.0.0.1:1,localhost:{tls_server.port}/{tls_server.database}"
    with pgwire.connect(dsn) as conn:
        assert conn._info.port == tls_server.port
        assert repr(conn).endswith(f"@localhost:{tls_server.port}/{tls_server.database}>")


def test_all_hosts_failing_lists_each_failure() -> None:
    with pytest.raises(errors.OperationalError) as caught:
        pgwire.connect("postgresql://u@127.0.0.1:1,127.0.0.1:2/d?connect_timeout=2")
    message = str(caught.value)
    assert "could not connect to any of 2 hosts" in message
    assert "127.0.0.1:1 failed" in message and "127.0.0.1:2 failed" in message


def test_authentication_failure_does_not_try_the_next_host(
    tls_server: PostgresServer, pg_server: PostgresServer
) -> None:
    dsn = (
        f"postgresql://{SCRAM_USER.name}:wrong@localhost:{tls_server.port},"
        f"localhost:{pg_server.port}/{tls_server.database}?sslmode=require"
    )
    with pytest.raises(errors.InvalidPassword):
        pgwire.connect(dsn)


def test_password_callable_is_called_for_each_physical_connection(
    tls_server: PostgresServer,
) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return PASSWORD

    # allow: a plaintext attempt that pg_hba.conf rejects, then a TLS one: two connections.
    dsn = tls_server.dsn("sslonly_user", host="localhost", sslmode="allow")
    with pgwire.connect(dsn, password=token) as conn:
        assert uses_tls(conn)
    assert len(calls) == 2


def test_password_from_the_password_file(tls_server: PostgresServer, tmp_path: Any) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"localhost:{tls_server.port}:*:sslonly_user:{PASSWORD}\n")
    passfile.chmod(0o600)
    with connect(tls_server, "sslonly_user", passfile=str(passfile), sslmode="require") as conn:
        assert conn.fetchval("SELECT current_user::text") == "sslonly_user"


def test_password_file_in_home_is_used_by_default(
    tls_server: PostgresServer, tmp_path: Any
) -> None:
    passfile = tmp_path / ".pgpass"
    passfile.write_text(f"*:*:*:sslonly_user:{PASSWORD}\n")
    os.chmod(passfile, 0o600)
    with connect(tls_server, "sslonly_user", sslmode="require") as conn:
        assert conn.fetchval("SELECT 1") == 1
