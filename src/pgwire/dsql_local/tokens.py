"""The local DSQL endpoint's check of IAM tokens: a SigV4 verifier of its own.

:func:`verify_token` recomputes a DSQL token's SigV4 signature with the endpoint's test
credentials (its own code, not botocore's, so that it checks the client's signer
independently) and refuses, with :class:`TokenRejected` saying why, a wrong signature, a
wrong action for the user (``admin`` needs ``DbConnectAdmin``), an expired token, an
``X-Amz-Expires`` above 604800, a token for another host, another region or another key;
and, as strictly as AWS, a signature that is not 64 lowercase hex characters, a credential
scope dated another day than ``X-Amz-Date``, a query parameter given twice, and numbers
that are not plain ASCII digits.  Whatever the token holds, :class:`TokenRejected` is the
only exception.  The reason never holds the token.  No I/O here; the clock is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from pgwire.iam import MAX_EXPIRES, StaticCredentials

__all__ = ["TEST_CREDENTIALS", "TokenRejected", "verify_token"]

#: The credentials the endpoint accepts tokens from, unless told otherwise.
TEST_CREDENTIALS = StaticCredentials("AKIDLOCALDSQLTEST", "local-dsql-test-secret-key")
#: A token dated this far in the future is refused (AWS allows 5 minutes of clock skew).
_CLOCK_SKEW = 300
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_REQUIRED = (
    "Action",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
#: The parameter names a refusal may quote (any other part of a token stays out of it).
_KNOWN = frozenset({*_REQUIRED, "X-Amz-Security-Token"})
_ACTIONS = frozenset({"DbConnect", "DbConnectAdmin"})
# What AWS accepts, and nothing looser: ASCII digits only (``int()`` and ``strptime`` take
# any Unicode digit, a sign, spaces and underscores), a signature in lowercase hex.
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_DAY = re.compile(r"[0-9]{8}")
_DIGITS = re.compile(r"[0-9]{1,10}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")


class TokenRejected(Exception):
    """A token the endpoint refuses; the message is the reason (never the token)."""


def _encode(text: str) -> str:
    return quote(text, safe="-_.~", errors="replace")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _query_parameters(query: str) -> dict[str, str]:
    """The token's query parameters; a name given twice is refused, as AWS refuses it (its
    canonical query would list both, and the signature would not match)."""
    params: dict[str, str] = {}
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if not eq:
            raise TokenRejected("the password is not an IAM token")
        name = unquote(key, errors="replace")
        if name in params:
            # Only a name the check knows is quoted: the rest of a token stays out of errors.
            shown = name if name in _KNOWN else "a query parameter"
            raise TokenRejected(f"the token gives {shown} more than once")
        params[name] = unquote(value, errors="replace")
    return params


def verify_token(
    token: str,
    *,
    host: str,
    user: str,
    region: str,
    credentials: StaticCredentials,
    now: float,
) -> None:
    """Check a DSQL token as DSQL would; raise :class:`TokenRejected` saying why (and no
    other exception, whatever the token holds)."""
    token_host, sep, query = token.partition("/?")
    if not sep or not query:
        raise TokenRejected("the password is not an IAM token")
    params = _query_parameters(query)
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        raise TokenRejected(f"the token lacks {', '.join(missing)}")
    if not _SIGNATURE.fullmatch(params["X-Amz-Signature"]):
        raise TokenRejected("the token's signature is not 64 lowercase hexadecimal characters")
    if token_host.lower() != host.lower():
        raise TokenRejected("the token was made for another host name")
    wanted = "DbConnectAdmin" if user == "admin" else "DbConnect"
    if params["Action"] != wanted:
        shown = params["Action"] if params["Action"] in _ACTIONS else "another action"
        raise TokenRejected(f"user {user!r} needs a {wanted} token, not {shown}")
    date = params["X-Amz-Date"]
    if not _DIGITS.fullmatch(params["X-Amz-Expires"]) or not _DATE.fullmatch(date):
        raise TokenRejected("the token's X-Amz-Date or X-Amz-Expires is malformed")
    expires = int(params["X-Amz-Expires"])
    try:
        signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise TokenRejected("the token's X-Amz-Date or X-Amz-Expires is malformed") from None
    if not 0 < expires <= MAX_EXPIRES:
        raise TokenRejected(f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds")
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256" or params["X-Amz-SignedHeaders"] != "host":
        raise TokenRejected("the token is not an AWS4-HMAC-SHA256 signature of the host")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[3:] != ["dsql", "aws4_request"]:
        raise TokenRejected("the token's credential scope is not dsql/aws4_request")
    access_key, day, token_region = scope[:3]
    if day != date[:8]:
        shown = day if _DAY.fullmatch(day) else "another day"
        raise TokenRejected(
            f"the token's credential scope is dated {shown}, but X-Amz-Date is {date[:8]}"
        )
    if access_key != credentials.access_key:
        raise TokenRejected("the token was signed with an unknown access key")
    if token_region != region:
        shown = token_region if _REGION.fullmatch(token_region) else "another region"
        raise TokenRejected(f"the token was made for region {shown}, not {region}")
    if params.get("X-Amz-Security-Token") != credentials.token:
        raise TokenRejected("the token's security token is missing or wrong")
    canonical_query = "&".join(
        f"{_encode(key)}={_encode(value)}"
        for key, value in sorted(params.items())
        if key != "X-Amz-Signature"
    )
    canonical = f"GET\n/\n{canonical_query}\nhost:{token_host}\n\nhost\n{_EMPTY_SHA256}"
    to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256",
            date,
            "/".join(scope[1:]),
            hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest(),
        )
    )
    signing_key = _hmac(f"AWS4{credentials.secret_key}".encode(), day)
    for part in (token_region, "dsql", "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), params["X-Amz-Signature"].encode()):
        raise TokenRejected("the signature does not match (wrong secret key or altered token)")
    start = signed_at.timestamp()
    if start > now + _CLOCK_SKEW:
        raise TokenRejected("the token is dated in the future")
    if now > start + expires:
        raise TokenRejected("the token has expired")
