"""atheris harness for the local DSQL endpoint's token check: whatever the password holds,
``verify_token`` accepts it or raises ``TokenRejected``, and nothing else.

Each input is read as: one byte choosing the user (``admin``, who needs ``DbConnectAdmin``,
or another, who needs ``DbConnect``) and the credentials (with or without a session token),
then the bytes of the password message, decoded as the endpoint decodes them (UTF-8,
undecodable bytes replaced).  The clock is fixed at the time the seeds were signed, so a
seed is a valid token and mutations start from one.

Allowed outcomes: ``None`` (the token is valid) and ``TokenRejected``.  Anything else
(``TypeError``, ``ValueError``, ``UnicodeError``, ``KeyError``, ...) is a crash, as is a
valid verdict for a token that names another host.

Run from the repository root (see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_token.py -max_total_time=30 fuzz/corpus/token
    .venv/bin/python fuzz/fuzz_token.py -runs=20000
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["pgwire.dsql_local.tokens"]):
    from pgwire.dsql_local.tokens import TEST_CREDENTIALS, TokenRejected, verify_token
    from pgwire.iam import StaticCredentials

HOST = "localdsqlclusterid00000000.dsql.us-east-1.on.aws"
REGION = "us-east-1"
#: When the seeds were signed, and the clock of every check.
SIGNED_AT = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
NOW = SIGNED_AT.timestamp() + 60
WITH_SESSION_TOKEN = StaticCredentials(
    TEST_CREDENTIALS.access_key, TEST_CREDENTIALS.secret_key, "FwoGZXIvYXdzEXAMPLE/tok+en="
)
#: Bit 0 of the first byte: the user; bit 1: the credentials.
USERS = ("admin", "alice")
CREDENTIALS = (TEST_CREDENTIALS, WITH_SESSION_TOKEN)


def encode_input(token: str, *, user: str = "admin", session_token: bool = False) -> bytes:
    """A fuzz input checking ``token`` for ``user`` (for corpus_seed.py)."""
    selector = USERS.index(user) | (2 if session_token else 0)
    return bytes([selector]) + token.encode()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    user = USERS[data[0] & 1]
    credentials = CREDENTIALS[(data[0] >> 1) & 1]
    token = data[1:].decode("utf-8", "replace")
    try:
        verify_token(token, host=HOST, user=user, region=REGION, credentials=credentials, now=NOW)
    except TokenRejected:
        return
    if not token.lower().startswith(HOST.lower() + "/?"):
        raise AssertionError("a token for another host was accepted")


def main(argv: list[str]) -> None:
    if not any(arg.startswith("-artifact_prefix=") for arg in argv):
        crashes = Path(__file__).parent / "crashes"
        crashes.mkdir(exist_ok=True)
        argv = [*argv, f"-artifact_prefix={crashes}/token-"]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
