"""The local endpoint's token check (``verify_token``) is as strict as AWS's: it accepts the
tokens botocore makes and refuses, with ``TokenRejected`` and never another exception, any
token AWS would refuse: a signature that is not 64 lowercase hex characters, a credential
scope dated another day than ``X-Amz-Date``, a repeated query parameter, a malformed number.

Tokens that AWS would sign differently are made here with a SigV4 signer of the test's own
(``sign``), checked first against botocore's tokens so that it cannot drift."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from urllib.parse import quote

import pytest

from pgwire import dsql
from pgwire.dsql_local import TEST_CREDENTIALS, TokenRejected, verify_token

HOST = "localdsqlclusterid00000000.dsql.us-east-1.on.aws"
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
STAMP = NOW.strftime("%Y%m%dT%H%M%SZ")
SCOPE = f"{STAMP[:8]}/us-east-1/dsql/aws4_request"


def check(token: str, user: str = "admin") -> None:
    verify_token(
        token,
        host=HOST,
        user=user,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        now=NOW.timestamp(),
    )


def _q(text: str) -> str:
    return quote(text, safe="-_.~")


def sign(params: list[tuple[str, str]], day: str = STAMP[:8]) -> str:
    """A token for ``params`` (``X-Amz-Signature`` added), signed as SigV4 signs: every
    parameter, repeated ones too, in the canonical query."""
    canonical_query = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(params))
    canonical = "\n".join(
        ("GET", "/", canonical_query, f"host:{HOST}", "", "host", hashlib.sha256(b"").hexdigest())
    )
    date = dict(params)["X-Amz-Date"]
    scope = f"{day}/us-east-1/dsql/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = f"AWS4{TEST_CREDENTIALS.secret_key}".encode()
    for part in (day, "us-east-1", "dsql", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    query = "&".join(f"{_q(k)}={_q(v)}" for k, v in [*params, ("X-Amz-Signature", signature)])
    return f"{HOST}/?{query}"


def params(action: str = "DbConnectAdmin", day: str = STAMP[:8]) -> list[tuple[str, str]]:
    return [
        ("Action", action),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{TEST_CREDENTIALS.access_key}/{day}/us-east-1/dsql/aws4_request"),
        ("X-Amz-Date", STAMP),
        ("X-Amz-Expires", "900"),
        ("X-Amz-SignedHeaders", "host"),
    ]


def botocore_token() -> str:
    return dsql.generate_token(
        HOST, region="us-east-1", admin=True, credentials=TEST_CREDENTIALS, now=NOW
    )


def test_the_tests_signer_makes_botocores_token() -> None:
    assert sign(params()) == botocore_token()


def test_a_token_botocore_made_is_accepted() -> None:
    check(botocore_token())


def with_signature(token: str, signature: str) -> str:
    head, _, _ = token.rpartition("X-Amz-Signature=")
    return f"{head}X-Amz-Signature={signature}"


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("%C3%A9", id="non-ascii"),
        pytest.param("%C3%A9" * 32, id="non-ascii-64-characters"),
        pytest.param("%00" * 64, id="nul-bytes"),
        pytest.param("", id="empty"),
        pytest.param("0" * 63, id="too-short"),
        pytest.param("0" * 65, id="too-long"),
        pytest.param("g" * 64, id="not-hex"),
    ],
)
def test_a_signature_that_is_not_64_hex_characters_is_rejected(signature: str) -> None:
    with pytest.raises(TokenRejected, match="64 lowercase hexadecimal"):
        check(with_signature(botocore_token(), signature))


def test_an_uppercase_signature_is_rejected() -> None:
    token = botocore_token()
    signature = token.rpartition("X-Amz-Signature=")[2]
    with pytest.raises(TokenRejected, match="64 lowercase hexadecimal"):
        check(with_signature(token, signature.upper()))


def test_a_credential_scope_of_another_day_is_rejected() -> None:
    token = sign(params(day="20200101"), day="20200101")
    with pytest.raises(TokenRejected, match="credential scope is dated 20200101"):
        check(token)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("&Action=DbConnectAdmin", id="same-value"),
        pytest.param("&Action=DbConnect", id="other-value"),
        pytest.param("&X-Amz-Signature=" + "0" * 64, id="signature"),
        pytest.param("&X-Amz-Expires=900", id="expires"),
    ],
)
def test_a_repeated_parameter_is_rejected(extra: str) -> None:
    with pytest.raises(TokenRejected, match="more than once"):
        check(botocore_token() + extra)


def test_a_repeated_parameter_is_rejected_even_when_signed() -> None:
    token = sign([*params(), ("Action", "DbConnectAdmin")])
    with pytest.raises(TokenRejected, match="Action more than once"):
        check(token)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("X-Amz-Expires", "+900", id="expires-signed"),
        pytest.param("X-Amz-Expires", " 900", id="expires-space"),
        pytest.param("X-Amz-Expires", "9_00", id="expires-underscore"),
        pytest.param("X-Amz-Expires", "\u0669\u0660\u0660", id="expires-arabic-digits"),
        pytest.param("X-Amz-Date", STAMP.replace("2", "\u0662"), id="date-arabic-digits"),
        pytest.param("X-Amz-Date", STAMP.lower(), id="date-lowercase"),
    ],
)
def test_numbers_are_ascii_digits_only(name: str, value: str) -> None:
    signed = [(k, value if k == name else v) for k, v in params()]
    with pytest.raises(TokenRejected, match="malformed"):
        check(sign(signed))


def test_a_security_token_the_credentials_do_not_have_is_rejected() -> None:
    token = sign([*params(), ("X-Amz-Security-Token", "forged")])
    with pytest.raises(TokenRejected, match="security token"):
        check(token)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(f"{HOST}/?%ZZ=1", id="bad-percent-escape"),
        pytest.param(f"{HOST}/?\udcff=1", id="lone-surrogate"),
        pytest.param(f"{HOST}/?Action=%FF%FE", id="invalid-utf8"),
        pytest.param(f"{HOST}/?" + "&".join(["a=b"] * 1000), id="many-parameters"),
    ],
)
def test_junk_is_rejected_and_nothing_else(token: str) -> None:
    with pytest.raises(TokenRejected):
        check(token)
