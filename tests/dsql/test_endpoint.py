"""End to end through the local DSQL endpoint: pgwire.dsql connects over classic and direct
TLS (blocking, asyncio, trio), every bad token is refused, OCC conflicts are retried, pools
recycle connections before the endpoint's lifetime limit, and no secret reaches a log line or
an error message."""

from __future__ import annotations

import datetime
import logging
import socket
import ssl
import time
import uuid
from typing import Any
from unittest import mock

import botocore.session
import pytest

import pgwire
from pgwire import dsql, errors
from pgwire.dsql_local import TEST_CREDENTIALS
from pgwire.iam import StaticCredentials
from tests.dsql.conftest import RunningEndpoint, StartEndpoint
from tests.pg import TRUST_USER

NEGOTIATIONS = ["direct", "postgres"]


@pytest.mark.parametrize("negotiation", NEGOTIATIONS)
def test_the_blocking_driver_connects_with_a_token(
    dsql_endpoint: RunningEndpoint, negotiation: str
) -> None:
    params = dsql_endpoint.params(sslnegotiation=negotiation)
    with dsql.connect(**params) as conn:
        row = conn.fetchrow("SELECT current_user, current_setting('application_name') AS app")
    assert row is not None
    assert row["current_user"] == TRUST_USER.name
    assert row["app"] == f"pgwire/{pgwire.__version__}"


def test_a_dsql_uri_connects(dsql_endpoint: RunningEndpoint) -> None:
    endpoint = dsql_endpoint.endpoint
    uri = (
        f"dsql://admin@{endpoint.endpoint}:{dsql_endpoint.port}/postgres"
        f"?hostaddr=127.0.0.1&sslrootcert={endpoint.ca_file}"
    )
    with dsql.connect(uri, credentials=TEST_CREDENTIALS) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_a_non_admin_user_connects_with_a_dbconnect_token(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with dsql.connect(**dsql_endpoint.params(user="app_user")) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_the_application_name_given_wins(dsql_endpoint: RunningEndpoint) -> None:
    with dsql.connect(**dsql_endpoint.params(application_name="mine")) as conn:
        assert conn.fetchval("SELECT current_setting('application_name')") == "mine"


@pytest.mark.anyio
@pytest.mark.parametrize("negotiation", NEGOTIATIONS)
async def test_the_async_driver_connects_with_a_token(
    dsql_endpoint: RunningEndpoint, negotiation: str
) -> None:
    params = dsql_endpoint.params(sslnegotiation=negotiation)
    async with await dsql.connect_async(**params) as conn:
        assert await conn.fetchval("SELECT current_user") == TRUST_USER.name


@pytest.mark.anyio
async def test_an_async_pool_recycles_before_dsqls_limit_by_default(
    dsql_endpoint: RunningEndpoint,
) -> None:
    async with await dsql.create_pool(**dsql_endpoint.params(), min_size=1) as pool:
        assert pool._max_lifetime == dsql.DEFAULT_MAX_LIFETIME == 3300
        assert await pool.fetchval("SELECT 1") == 1


# Refusals.


def refused(endpoint: RunningEndpoint, **overrides: Any) -> errors.Error:
    with pytest.raises(errors.Error) as caught:
        dsql.connect(**endpoint.params(**overrides))
    return caught.value


def token(**options: Any) -> str:
    options.setdefault("credentials", TEST_CREDENTIALS)
    options.setdefault("admin", True)
    return dsql.generate_token(options.pop("host"), **options)


def botocore_token(host: str, expires_in: int) -> str:
    session = botocore.session.Session()
    creds = TEST_CREDENTIALS
    session.set_credentials(creds.access_key, creds.secret_key)
    client = session.create_client("dsql", region_name="us-east-1")
    result: str = client.generate_db_connect_admin_auth_token(host, ExpiresIn=expires_in)
    return result


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong-secret", "signature does not match"),
        ("admin-with-dbconnect", "needs a DbConnectAdmin token"),
        ("user-with-dbconnectadmin", "needs a DbConnect token"),
        ("expired", "expired"),
        ("expires-too-long", "X-Amz-Expires must be between 1 and 604800"),
        ("wrong-host", "another host"),
        ("wrong-region", "region us-west-2"),
        ("unknown-key", "unknown access key"),
        ("not-a-token", "not an IAM token"),
    ],
)
def test_a_bad_token_is_refused(dsql_endpoint: RunningEndpoint, case: str, reason: str) -> None:
    host = dsql_endpoint.endpoint.endpoint
    user = "admin"
    if case == "wrong-secret":
        password = token(host=host, credentials=StaticCredentials("AKIDLOCALDSQLTEST", "wrong"))
    elif case == "admin-with-dbconnect":
        password = token(host=host, admin=False)
    elif case == "user-with-dbconnectadmin":
        password, user = token(host=host, admin=True), "app_user"
    elif case == "expired":
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=901)
        password = token(host=host, now=past)
    elif case == "expires-too-long":
        password = botocore_token(host, 604801)
    elif case == "wrong-host":
        password = token(host="otherclusteridxxxxxxxxxxxx.dsql.us-east-1.on.aws")
    elif case == "wrong-region":
        password = token(host=host, region="us-west-2")
    elif case == "unknown-key":
        password = token(host=host, credentials=StaticCredentials("AKIDSOMEONEELSE", "s"))
    else:
        password = "hunter2"
    error = refused(dsql_endpoint, user=user, password=password)
    assert isinstance(error, errors.InvalidPassword)
    assert reason in str(error)
    assert "unable to accept connection, access denied" in str(error)
    assert password not in str(error)
    assert "X-Amz-Signature" not in str(error)
    assert reason in dsql_endpoint.endpoint.refusals[-1]


def test_a_token_within_the_seven_day_limit_is_accepted(dsql_endpoint: RunningEndpoint) -> None:
    password = botocore_token(dsql_endpoint.endpoint.endpoint, 604800)
    with dsql.connect(**dsql_endpoint.params(password=password)) as conn:
        assert conn.fetchval("SELECT 1") == 1


def test_plaintext_is_refused(dsql_endpoint: RunningEndpoint) -> None:
    with pytest.raises(errors.Error, match="TLS is required"):
        pgwire.connect(
            host="127.0.0.1",
            port=dsql_endpoint.port,
            user="admin",
            password="x",
            sslmode="disable",
            connect_timeout=10,
        )


def test_dsql_refuses_to_try_plaintext(dsql_endpoint: RunningEndpoint) -> None:
    with pytest.raises(errors.InterfaceError, match="TLS only"):
        dsql.connect(**dsql_endpoint.params(sslmode="prefer"))


def test_a_connection_without_sni_is_refused(dsql_endpoint: RunningEndpoint) -> None:
    # An IP address sends no SNI; "require" with the CA at hand checks the chain only.
    error = refused(
        dsql_endpoint, host="127.0.0.1", hostaddr=None, region="us-east-1", sslmode="require"
    )
    assert "no SNI" in str(error)


# Optimistic concurrency.


@pytest.fixture
def table(dsql_endpoint: RunningEndpoint) -> str:
    name = f"occ_{uuid.uuid4().hex[:12]}"
    with dsql.connect(**dsql_endpoint.params()) as conn:
        conn.execute(f"CREATE TABLE {name} (id int)")
    return name


def test_an_injected_conflict_fails_the_commit_and_rolls_back(
    dsql_endpoint: RunningEndpoint, table: str
) -> None:
    dsql_endpoint.endpoint.inject_occ(1)
    with dsql.connect(**dsql_endpoint.params()) as conn:
        with (
            pytest.raises(errors.SerializationFailure, match="OC000") as caught,
            conn.transaction(),
        ):
            conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert dsql.is_occ_error(caught.value)
        assert conn.transaction_status == "I"
        assert conn.fetchval(f"SELECT count(*) FROM {table}") == 0


def test_run_transaction_succeeds_after_injected_conflicts(
    dsql_endpoint: RunningEndpoint, table: str
) -> None:
    dsql_endpoint.endpoint.inject_occ(2)
    attempts = []

    def insert(conn: pgwire.Connection) -> str:
        attempts.append(1)
        return conn.execute(f"INSERT INTO {table} VALUES (1)")

    with dsql.connect(**dsql_endpoint.params()) as conn:
        assert dsql.run_transaction(conn, insert, base_delay=0.001) == "INSERT 0 1"
        assert conn.fetchval(f"SELECT count(*) FROM {table}") == 1
    assert len(attempts) == 3
    assert dsql_endpoint.endpoint.occ_pending == 0


def test_run_transaction_gives_up_after_its_retries(
    dsql_endpoint: RunningEndpoint, table: str
) -> None:
    dsql_endpoint.endpoint.inject_occ(3)
    with dsql.connect(**dsql_endpoint.params()) as conn, pytest.raises(errors.SerializationFailure):
        dsql.run_transaction(
            conn, lambda c: c.execute(f"INSERT INTO {table} VALUES (1)"), retries=2, base_delay=0
        )
    assert dsql_endpoint.endpoint.occ_pending == 0


@pytest.mark.anyio
async def test_async_run_transaction_on_a_pool_succeeds_after_conflicts(
    dsql_endpoint: RunningEndpoint, table: str
) -> None:
    dsql_endpoint.endpoint.inject_occ(2)

    async def insert(conn: pgwire.AsyncConnection) -> str:
        return await conn.execute(f"INSERT INTO {table} VALUES (1)")

    async with await dsql.create_pool(**dsql_endpoint.params(), min_size=1) as pool:
        tag = await dsql.run_transaction_async(pool, insert, base_delay=0.001)
        assert tag == "INSERT 0 1"
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 1


# Connection lifetime.


def test_the_endpoint_closes_connections_at_its_lifetime_limit(
    start_endpoint: StartEndpoint,
) -> None:
    endpoint = start_endpoint(max_lifetime=0.5)
    with dsql.connect(**endpoint.params()) as conn:
        time.sleep(1.0)
        with pytest.raises(errors.Error, match="maximum connection lifetime"):
            conn.fetchval("SELECT 1")
    assert endpoint.endpoint.expired == 1


def test_a_pool_recycles_connections_before_the_lifetime_limit(
    start_endpoint: StartEndpoint,
) -> None:
    endpoint = start_endpoint(max_lifetime=1.5)
    with dsql.create_blocking_pool(
        **endpoint.params(), min_size=1, max_size=1, max_lifetime=0.7
    ) as pool:
        pids = []
        for _ in range(4):
            pids.append(pool.fetchval("SELECT pg_backend_pid()"))
            time.sleep(0.5)
    assert len(set(pids)) >= 2
    assert endpoint.endpoint.expired == 0


# Secrets.


def test_no_token_or_secret_reaches_logs_or_errors(
    dsql_endpoint: RunningEndpoint, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    with dsql.connect(**dsql_endpoint.params()) as conn:
        texts.append(repr(conn))
        dsql_endpoint.endpoint.inject_occ(1)
        dsql.run_transaction(conn, lambda c: c.execute(f"INSERT INTO {table} VALUES (1)"))
    wrong = StaticCredentials(TEST_CREDENTIALS.access_key, "wrong-secret-key")
    for overrides in (
        {"credentials": wrong},
        {"user": "app_user", "password": token(host=dsql_endpoint.endpoint.endpoint)},
    ):
        with pytest.raises(errors.Error) as caught:
            dsql.connect(**dsql_endpoint.params(**overrides))
        texts += [str(caught.value), repr(caught.value)]
    texts.append(caplog.text)
    everything = "\n".join(texts)
    assert "retry 1 of 3" in caplog.text
    assert "refused a connection" in caplog.text
    for secret in (
        "X-Amz-Signature",
        "X-Amz-Credential",
        TEST_CREDENTIALS.secret_key,
        "wrong-secret-key",
    ):
        assert secret not in everything


def test_connect_params_hold_no_token_until_a_connection_asks(
    dsql_endpoint: RunningEndpoint,
) -> None:
    with mock.patch("pgwire.iam.presign", side_effect=AssertionError("signed too early")):
        params = dsql.connection_params(**dsql_endpoint.params())
    assert callable(params["password"])
    assert "X-Amz" not in repr(params["password"])


def test_an_unknown_sni_name_is_refused(dsql_endpoint: RunningEndpoint) -> None:
    error = refused(dsql_endpoint, host="other.example", region="us-east-1", sslmode="require")
    assert "unknown host 'other.example'" in str(error)


def test_direct_tls_without_alpn_is_closed(dsql_endpoint: RunningEndpoint) -> None:
    context = ssl.create_default_context(cafile=dsql_endpoint.endpoint.ca_file)
    with socket.create_connection(("127.0.0.1", dsql_endpoint.port), timeout=10) as raw:
        server_name = dsql_endpoint.endpoint.endpoint
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
            assert tls.recv(100) == b""
    assert "without ALPN" in dsql_endpoint.endpoint.refusals[-1]
