"""Connecting and authenticating against Debian's PostgreSQL 15: an older server, without
direct TLS and without protocol 3.2 (it answers 3.2 with NegotiateProtocolVersion)."""

from __future__ import annotations

import pytest

import pgwire
from pgwire import errors
from tests.pg import MD5_USER, PASSWORD_USER, ROLES, SCRAM_USER, TRUST_USER, PostgresServer, Role
from tests.tls.conftest import Pki
from tests.tls.test_tls import connect, uses_tls


def test_the_server_is_postgresql_15(pg15_server: PostgresServer) -> None:
    with connect(pg15_server, TRUST_USER.name) as conn:
        assert conn.server_version.startswith("15.")


@pytest.mark.parametrize("sslmode", ["disable", "require"])
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.auth_method)
def test_each_auth_method_logs_in(pg15_server: PostgresServer, role: Role, sslmode: str) -> None:
    with connect(pg15_server, role.name, role.password, sslmode=sslmode) as conn:
        assert conn.fetchval("SELECT current_user::text") == role.name
        assert uses_tls(conn) is (sslmode == "require")


@pytest.mark.parametrize("role", [PASSWORD_USER, MD5_USER, SCRAM_USER], ids=lambda r: r.auth_method)
def test_wrong_password_is_refused(pg15_server: PostgresServer, role: Role) -> None:
    with pytest.raises(errors.InvalidPassword):
        connect(pg15_server, role.name, "wrong", sslmode="require")


def test_scram_plus_with_channel_binding_require(pg15_server: PostgresServer, pki: Pki) -> None:
    with connect(
        pg15_server,
        SCRAM_USER.name,
        SCRAM_USER.password,
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        channel_binding="require",
    ) as conn:
        assert conn._core.auth_methods == ["SCRAM-SHA-256-PLUS"]


def test_client_certificate_authentication(pg15_server: PostgresServer, pki: Pki) -> None:
    with connect(
        pg15_server,
        "cert_user",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslcert=pki.client_cert,
        sslkey=pki.client_key,
    ) as conn:
        assert conn.fetchval("SELECT current_user::text") == "cert_user"


def test_protocol_3_2_is_downgraded_to_3_0(pg15_server: PostgresServer) -> None:
    with connect(
        pg15_server, SCRAM_USER.name, SCRAM_USER.password, max_protocol_version="3.2"
    ) as conn:
        assert conn._core.protocol_version == (3, 0)
        assert conn._core.backend_key is not None
        assert len(conn._core.backend_key.secret_key) == 4
        assert conn.fetchval("SELECT 1") == 1


def test_min_protocol_version_3_2_is_refused_by_an_older_server(
    pg15_server: PostgresServer,
) -> None:
    with pytest.raises(errors.OperationalError, match=r"min_protocol_version is 3\.2"):
        connect(pg15_server, TRUST_USER.name, min_protocol_version="3.2")


# --------------------------------------------------------------------------------------
# target_session_attrs across two servers (readonly_user is read-only on PostgreSQL 15)
# --------------------------------------------------------------------------------------


def _two_hosts(first: PostgresServer, second: PostgresServer, **query: str) -> str:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return (
        f"postgresql://readonly_user@localhost:{first.port},localhost:{second.port}/"
        f"{first.database}?{params}"
    )


@pytest.mark.parametrize(
    ("attrs", "major"),
    [("any", "15"), ("read-write", "18"), ("read-only", "15"), ("primary", "15")],
)
def test_target_session_attrs_picks_the_matching_server(
    pg15_server: PostgresServer, tls_server: PostgresServer, attrs: str, major: str
) -> None:
    with pgwire.connect(_two_hosts(pg15_server, tls_server, target_session_attrs=attrs)) as conn:
        assert conn.server_version.startswith(f"{major}.")


def test_target_session_attrs_read_only_reversed_order(
    pg15_server: PostgresServer, tls_server: PostgresServer
) -> None:
    dsn = _two_hosts(tls_server, pg15_server, target_session_attrs="read-only")
    with pgwire.connect(dsn) as conn:
        assert conn.server_version.startswith("15.")


def test_target_session_attrs_standby_fails_without_a_standby(
    pg15_server: PostgresServer, tls_server: PostgresServer
) -> None:
    with pytest.raises(
        errors.OperationalError, match="server is not in hot standby mode"
    ) as caught:
        pgwire.connect(_two_hosts(pg15_server, tls_server, target_session_attrs="standby"))
    assert "could not connect to any of 2 hosts" in str(caught.value)


def test_target_session_attrs_prefer_standby_settles_for_a_primary(
    pg15_server: PostgresServer, tls_server: PostgresServer
) -> None:
    dsn = _two_hosts(pg15_server, tls_server, target_session_attrs="prefer-standby")
    with pgwire.connect(dsn) as conn:
        assert conn.server_version.startswith("15.")
