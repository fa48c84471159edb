"""IAM tokens: byte for byte botocore's at fixed times, cached credentials, a caching
provider, lazy botocore, and secrets kept out of reprs and errors."""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import anyio
import botocore.session
import pytest

from pgwire import dsql, iam
from pgwire.errors import InterfaceError
from pgwire.iam import StaticCredentials, TokenProvider

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
ENDPOINT = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
RDS_HOST = "mydb.cluster-abc123.eu-west-1.rds.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE/token+with=odd&chars"


def botocore_client(service: str, region: str, token: str | None) -> Any:
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", SECRET, token)
    return session.create_client(service, region_name=region)


def reference(call: Any, when: datetime.datetime = NOW) -> str:
    """What botocore returns when its clock says ``when``."""
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        result: str = call()
        return result


@pytest.fixture(params=[None, SESSION_TOKEN], ids=["no-session-token", "session-token"])
def session_token(request: pytest.FixtureRequest) -> str | None:
    token: str | None = request.param
    return token


@pytest.fixture
def creds(session_token: str | None) -> StaticCredentials:
    return StaticCredentials("AKIDEXAMPLE", SECRET, session_token)


@pytest.mark.parametrize("admin", [True, False], ids=["admin", "non-admin"])
def test_dsql_token_equals_botocore(
    admin: bool, session_token: str | None, creds: StaticCredentials
) -> None:
    client = botocore_client("dsql", "us-east-1", session_token)
    method = (
        client.generate_db_connect_admin_auth_token
        if admin
        else client.generate_db_connect_auth_token
    )
    expected = reference(lambda: method(ENDPOINT, "us-east-1"))
    assert dsql.generate_token(ENDPOINT, admin=admin, credentials=creds, now=NOW) == expected


def test_dsql_token_with_another_expiry_and_region_equals_botocore() -> None:
    client = botocore_client("dsql", "eu-north-1", None)
    host = "abcdefghijklmnopqrstuvwxyz.dsql.eu-north-1.on.aws"
    expected = reference(
        lambda: client.generate_db_connect_auth_token(host, "eu-north-1", ExpiresIn=3600)
    )
    creds = StaticCredentials("AKIDEXAMPLE", SECRET)
    assert dsql.generate_token(host, expires_in=3600, credentials=creds, now=NOW) == expected


def test_rds_token_equals_botocore(session_token: str | None, creds: StaticCredentials) -> None:
    client = botocore_client("rds", "eu-west-1", session_token)
    expected = reference(lambda: client.generate_db_auth_token(RDS_HOST, 5432, "iam user"))
    token = iam.generate_rds_token(RDS_HOST, 5432, "iam user", credentials=creds, now=NOW)
    assert token == expected


def test_the_time_given_is_the_time_signed() -> None:
    later = NOW + datetime.timedelta(hours=5, seconds=7)
    client = botocore_client("dsql", "us-east-1", None)
    expected = reference(lambda: client.generate_db_connect_auth_token(ENDPOINT), later)
    creds = StaticCredentials("AKIDEXAMPLE", SECRET)
    assert dsql.generate_token(ENDPOINT, credentials=creds, now=later) == expected
    assert "X-Amz-Date=20260102T080412Z" in expected


def test_a_naive_time_is_refused() -> None:
    creds = StaticCredentials("AKIDEXAMPLE", SECRET)
    with pytest.raises(InterfaceError, match="timezone-aware"):
        dsql.generate_token(ENDPOINT, credentials=creds, now=NOW.replace(tzinfo=None))


# Credentials in every accepted form.


def test_botocore_credentials_are_accepted() -> None:
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", SECRET)
    plain = dsql.generate_token(
        ENDPOINT, credentials=StaticCredentials("AKIDEXAMPLE", SECRET), now=NOW
    )
    token = dsql.generate_token(ENDPOINT, credentials=session.get_credentials(), now=NOW)
    assert token == plain


def test_any_object_with_keys_and_a_callable_are_accepted() -> None:
    plain = dsql.generate_token(
        ENDPOINT, credentials=StaticCredentials("AKIDEXAMPLE", SECRET), now=NOW
    )
    duck = SimpleNamespace(access_key="AKIDEXAMPLE", secret_key=SECRET, token=None)
    assert dsql.generate_token(ENDPOINT, credentials=duck, now=NOW) == plain
    assert dsql.generate_token(ENDPOINT, credentials=lambda: duck, now=NOW) == plain


def test_credentials_without_keys_are_refused_without_showing_them() -> None:
    with pytest.raises(InterfaceError, match="access_key, secret_key") as caught:
        dsql.generate_token(ENDPOINT, credentials={"secret_key": SECRET}, now=NOW)
    assert SECRET not in str(caught.value)


def test_an_async_credentials_callable_serves_the_async_provider() -> None:
    async def fetch() -> StaticCredentials:
        await anyio.sleep(0)
        return StaticCredentials("AKIDEXAMPLE", SECRET)

    provider = dsql.token_provider(ENDPOINT, credentials=fetch)
    token = anyio.run(provider.async_token)
    assert token.startswith(ENDPOINT + "/?Action=DbConnect&")
    with pytest.raises(InterfaceError, match="async"):
        provider.invalidate()
        provider()


def test_the_default_chain_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setattr(iam, "_default_credentials", {})
    token = dsql.generate_token(ENDPOINT, profile=None, now=NOW)
    assert "X-Amz-Credential=AKIDFROMENV%2F20260102%2Fus-east-1%2Fdsql" in token


def test_the_default_chain_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setattr(iam, "_default_credentials", {})
    with mock.patch.object(
        botocore.session.Session, "get_credentials", autospec=True
    ) as get_credentials:
        get_credentials.return_value = StaticCredentials("AKIDFROMENV", SECRET)
        for _ in range(3):
            dsql.generate_token(ENDPOINT, now=NOW)
    assert get_credentials.call_count == 1


# Host names, cluster ids and regions.


def test_a_cluster_id_becomes_the_endpoint() -> None:
    assert dsql.endpoint_for("abcdefghijklmnopqrstuvwxyz", "ap-northeast-1") == (
        "abcdefghijklmnopqrstuvwxyz.dsql.ap-northeast-1.on.aws",
        "ap-northeast-1",
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_a_cluster_id_takes_the_region_from_the_environment(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv(variable, "sa-east-1")
    endpoint, region = dsql.endpoint_for("abcdefghijklmnopqrstuvwxyz")
    assert (endpoint, region) == ("abcdefghijklmnopqrstuvwxyz.dsql.sa-east-1.on.aws", "sa-east-1")


@pytest.mark.parametrize(
    ("host", "region"),
    [
        (ENDPOINT, "us-east-1"),
        ("abcdefghijklmnopqrstuvwxyz.dsql-gamma.eu-central-2.on.aws", "eu-central-2"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ.DSQL.US-WEST-2.ON.AWS", "us-west-2"),
        ("localhost", None),
    ],
)
def test_the_region_comes_from_the_endpoint_name(host: str, region: str | None) -> None:
    assert dsql.region_from_host(host) == region


def test_the_endpoint_region_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert dsql.endpoint_for(ENDPOINT) == (ENDPOINT, "us-east-1")


def test_no_region_is_an_error_that_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(InterfaceError, match="AWS_REGION"):
        dsql.endpoint_for("abcdefghijklmnopqrstuvwxyz")


def test_the_rds_region_comes_from_the_host() -> None:
    assert iam.region_from_rds_host(RDS_HOST) == "eu-west-1"


# The caching provider.


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def provider(clock: Clock, credentials: Any = None) -> TokenProvider:
    return dsql.token_provider(
        ENDPOINT, credentials=credentials or StaticCredentials("AKIDEXAMPLE", SECRET), clock=clock
    )


def test_the_provider_reuses_its_token_until_80_percent_of_its_lifetime(clock: Clock) -> None:
    tokens = provider(clock)
    first = tokens()
    clock.now += 0.8 * 900 - 1
    assert tokens() == first
    assert tokens.tokens_made == 1
    clock.now += 1
    second = tokens()
    assert second != first
    assert tokens.tokens_made == 2
    assert "X-Amz-Date=20260102T031605Z" in second


def test_the_provider_signs_at_its_clock(clock: Clock) -> None:
    creds = StaticCredentials("AKIDEXAMPLE", SECRET)
    expected = dsql.generate_token(ENDPOINT, credentials=creds, now=NOW)
    assert provider(clock, creds)() == expected


def test_the_provider_makes_a_new_token_when_the_credentials_change(clock: Clock) -> None:
    current = [StaticCredentials("AKIDONE", SECRET)]
    tokens = provider(clock, lambda: current[0])
    first = tokens()
    current[0] = StaticCredentials("AKIDTWO", SECRET)
    second = tokens()
    assert "AKIDTWO" in second and second != first


def test_the_async_provider_caches_too(clock: Clock) -> None:
    tokens = provider(clock)

    async def twice() -> tuple[str, str]:
        return await tokens.async_token(), await tokens.async_token()

    first, second = anyio.run(twice)
    assert first == second and tokens.tokens_made == 1


def test_reprs_hold_no_secret(clock: Clock) -> None:
    creds = StaticCredentials("AKIDEXAMPLE", SECRET, SESSION_TOKEN)
    tokens = provider(clock, creds)
    token = tokens()
    for text in (repr(tokens), repr(creds), repr(iam.CredentialSource(creds))):
        assert SECRET not in text
        assert SESSION_TOKEN not in text
        assert token not in text
        assert "X-Amz-Signature" not in text


def test_expiry_beyond_seven_days_is_refused() -> None:
    creds = StaticCredentials("AKIDEXAMPLE", SECRET)
    with pytest.raises(InterfaceError, match="604800"):
        dsql.generate_token(ENDPOINT, expires_in=604801, credentials=creds)


# botocore is imported only when a token is made.


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_importing_pgwire_and_dsql_does_not_import_botocore() -> None:
    code = (
        "import sys, pgwire, pgwire.dsql, pgwire.iam\n"
        "print('botocore' in sys.modules)\n"
        "from pgwire.iam import StaticCredentials\n"
        "pgwire.dsql.generate_token('h.dsql.us-east-1.on.aws',"
        " credentials=StaticCredentials('AKID', 'secret'))\n"
        "print('botocore' in sys.modules)"
    )
    assert run_python(code).split() == ["False", "True"]


@pytest.fixture(autouse=True)
def _no_real_aws_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
