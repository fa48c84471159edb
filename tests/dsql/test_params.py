"""The parameters pgwire.dsql hands to the drivers: DSQL's defaults, the DSN forms
(``dsql://``, ``iam=dsql``, ``iam=rds``, a bare endpoint or cluster id), and refusals."""

from __future__ import annotations

import pytest

import pgwire
from pgwire import dsql
from pgwire.conninfo import resolve
from pgwire.errors import InterfaceError
from pgwire.iam import StaticCredentials, TokenProvider

ENDPOINT = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
CREDS = StaticCredentials("AKIDEXAMPLE", "secret")


def test_dsql_defaults() -> None:
    params = dsql.connection_params(ENDPOINT, credentials=CREDS)
    password = params.pop("password")
    assert isinstance(password, TokenProvider)
    assert params == {
        "host": ENDPOINT,
        "port": 5432,
        "user": "admin",
        "dbname": "postgres",
        "sslmode": "verify-full",
        "sslrootcert": "system",
        "sslnegotiation": "direct",
        "application_name": f"pgwire/{pgwire.__version__}",
    }
    info = resolve(None, environ={}, **params)
    assert (info.sslmode, info.sslnegotiation, info.sslsni) == ("verify-full", "direct", True)


def test_the_admin_user_gets_admin_tokens_and_others_dbconnect() -> None:
    admin = dsql.connection_params(ENDPOINT, credentials=CREDS)["password"]
    other = dsql.connection_params(ENDPOINT, user="app", credentials=CREDS)["password"]
    assert "Action=DbConnectAdmin&" in admin()
    assert "Action=DbConnect&" in other()


def test_the_async_driver_gets_the_async_token_method() -> None:
    params = dsql.connection_params(ENDPOINT, credentials=CREDS, for_async=True)
    assert params["password"].__name__ == "async_token"


def test_a_cluster_id_and_region() -> None:
    params = dsql.connection_params(
        "abcdefghijklmnopqrstuvwxyz", region="eu-west-1", credentials=CREDS
    )
    assert params["host"] == "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws"


def test_a_dsql_uri() -> None:
    params = dsql.connection_params(
        f"dsql://app@{ENDPOINT}:5433/mydb?sslnegotiation=postgres", credentials=CREDS
    )
    assert (params["user"], params["port"], params["dbname"]) == ("app", "5433", "mydb")
    assert params["sslnegotiation"] == "postgres"


def test_a_postgresql_uri_with_iam_dsql_and_a_region() -> None:
    params = dsql.connection_params(
        "postgresql://localhost/postgres?iam=dsql&region=ap-south-1", credentials=CREDS
    )
    assert params["host"] == "localhost"
    assert "%2Fap-south-1%2Fdsql%2F" in params["password"]()
    assert "iam" not in params and "region" not in params


def test_a_keyword_dsn_with_iam_rds() -> None:
    host = "db.cluster-x.eu-west-1.rds.amazonaws.com"
    params = dsql.connection_params(f"host={host} user=iam_user iam=rds", credentials=CREDS)
    token = params["password"]()
    assert token.startswith(f"{host}:5432/?Action=connect&DBUser=iam_user&")
    assert "%2Feu-west-1%2Frds-db%2F" in token
    assert params["sslmode"] == "require"
    assert "sslnegotiation" not in params


def test_rds_verifies_the_server_when_given_its_ca() -> None:
    params = dsql.connection_params(
        host="db.x.eu-west-1.rds.amazonaws.com",
        user="u",
        iam="rds",
        sslrootcert="/path/rds-ca.pem",
        credentials=CREDS,
    )
    assert params["sslmode"] == "verify-full"


def test_rds_needs_a_user() -> None:
    with pytest.raises(InterfaceError, match="user="):
        dsql.connection_params(host="db.x.eu-west-1.rds.amazonaws.com", iam="rds")


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_plaintext_modes_are_refused(mode: str) -> None:
    with pytest.raises(InterfaceError, match="TLS only"):
        dsql.connection_params(ENDPOINT, sslmode=mode, credentials=CREDS)


def test_a_password_given_is_kept() -> None:
    params = dsql.connection_params(ENDPOINT, password="premade", credentials=CREDS)
    assert params["password"] == "premade"


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (None, "no host"),
        ("mysql://x", "unsupported URI scheme"),
        ("host=a,b", "one host"),
        ("host=x iam=ldap", "unknown iam"),
    ],
)
def test_bad_parameters_are_refused(dsn: str | None, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        dsql.connection_params(dsn, region="us-east-1", credentials=CREDS)
