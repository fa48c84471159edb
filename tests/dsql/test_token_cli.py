"""``python -m pgwire token``: one token on standard output, the same as botocore's for the
time it was signed, from the environment's credentials; bad options and missing credentials
get a clear message on standard error, and the token is written nowhere else."""

from __future__ import annotations

import datetime
import io
import logging
import os
import subprocess
import sys
import urllib.parse
from typing import Any
from unittest import mock

import botocore.session
import pytest

from pgwire import iam
from pgwire.__main__ import main

ENDPOINT = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
RDS_HOST = "mydb.cluster-abc123.eu-west-1.rds.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def environment_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setattr(iam, "_default_credentials", {})


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch("sys.stdout", out), mock.patch("sys.stderr", err):
        try:
            status = main(["token", *argv])
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


def signed_at(token: str) -> datetime.datetime:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit("https://" + token).query)
    stamp = query["X-Amz-Date"][0]
    return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def botocore_token(service: str, region: str, call: str, *args: Any, **kwargs: Any) -> Any:
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", SECRET)
    client = session.create_client(service, region_name=region)
    return lambda when: _at(when, lambda: getattr(client, call)(*args, **kwargs))


def _at(when: datetime.datetime, call: Any) -> str:
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        result: str = call()
        return result


@pytest.mark.parametrize(
    ("argv", "call", "kwargs"),
    [
        (["--admin"], "generate_db_connect_admin_auth_token", {}),
        ([], "generate_db_connect_auth_token", {}),
        (
            ["--admin", "--expires-in", "3600"],
            "generate_db_connect_admin_auth_token",
            {"ExpiresIn": 3600},
        ),
    ],
    ids=["admin", "role", "expires-in"],
)
def test_a_dsql_token_is_botocores(argv: list[str], call: str, kwargs: dict[str, Any]) -> None:
    status, out, err = run("--hostname", ENDPOINT, *argv)
    assert (status, err) == (0, "")
    token = out.removesuffix("\n")
    assert "\n" not in token
    expected = botocore_token("dsql", "us-east-1", call, ENDPOINT, "us-east-1", **kwargs)
    assert token == expected(signed_at(token))


def test_a_cluster_id_with_a_region_is_its_endpoint() -> None:
    status, out, _err = run("--hostname", "abcdefghijklmnopqrstuvwxyz", "--region", "eu-west-1")
    assert status == 0
    assert out.startswith("abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws/?Action=DbConnect&")


def test_an_rds_token_is_botocores() -> None:
    status, out, err = run("--rds", "--hostname", RDS_HOST, "--port", "5433", "--username", "app")
    assert (status, err) == (0, "")
    token = out.strip()
    expected = botocore_token("rds", "eu-west-1", "generate_db_auth_token", RDS_HOST, 5433, "app")
    assert token == expected(signed_at(token))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rds", "--hostname", RDS_HOST], "--rds needs --username"),
        (["--rds", "--hostname", RDS_HOST, "--username", "u", "--admin"], "--admin is for DSQL"),
        (["--rds", "--hostname", RDS_HOST, "--username", "u", "--expires-in", "60"], "900"),
        (["--hostname", ENDPOINT, "--username", "u"], "--username is for --rds"),
        (["--hostname", ENDPOINT, "--expires-in", "604801"], "expected 1 to 604800 seconds"),
        (["--hostname", ENDPOINT, "--expires-in", "soon"], "expected whole seconds, got 'soon'"),
        (["--hostname", "nothing-like-a-host"], "no AWS region for DSQL host"),
    ],
)
def test_bad_options_say_what_is_wrong(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    status, out, err = run(*argv)
    assert status != 0 and out == ""
    assert message in err


def test_missing_credentials_are_named_and_no_token_is_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with mock.patch.object(botocore.session.Session, "get_credentials", return_value=None):
        status, out, err = run("--hostname", ENDPOINT)
    assert (status, out) == (1, "")
    assert "no AWS credentials found" in err


def test_the_token_reaches_standard_output_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        status, out, err = run("--hostname", ENDPOINT, "--admin")
    token = out.strip()
    assert status == 0 and err == ""
    signature = token.rsplit("X-Amz-Signature=", 1)[1]
    assert signature not in caplog.text


def test_the_command_runs_as_a_module() -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET}
    result = subprocess.run(
        [sys.executable, "-m", "pgwire", "token", "--hostname", ENDPOINT, "--admin"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"{ENDPOINT}/?Action=DbConnectAdmin&")
    assert result.stdout.count("\n") == 1
