"""Write seed inputs for the fuzz harnesses: for fuzz_client.py, real server conversations;
for fuzz_server.py, real client conversations (every startup and authentication, a whole
SCRAM exchange included, then requests and COPY); for fuzz_token.py, valid DSQL tokens.
Messages are built from the message classes' own encodings, each in the starting state it
answers.

Usage (from the repository root)::

    .venv/bin/python fuzz/corpus_seed.py [DIRECTORY]     # default: fuzz/corpus/

Each harness's seeds go to a folder of its own: ``client/``, ``server/``, ``token/``.  The
directory is git-ignored: seeds are rebuilt from the code, never committed.  Each file is
named ``<start state>-<conversation>-<chunking>`` so a crash found from a seed is easy to
trace back.  Only the harnesses' input layouts are shared with them; nothing here decides
what is legal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
from pathlib import Path

import fuzz_server
import fuzz_token
from fuzz_client import (
    CLIENT_NONCE,
    COPY_FAIL_FLAG,
    COPY_HOLD_FLAG,
    PASSWORD,
    SESSION_START,
    START_STATES,
    TRUST_STARTUP,
    USER,
    encode,
    encode_input,
)

from pgwire import dsql
from pgwire.protocol import (
    AuthenticationCleartextPassword,
    AuthenticationGSS,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    Bind,
    BindComplete,
    CancelRequest,
    ClientConnection,
    CloseComplete,
    CommandComplete,
    CopyBothResponse,
    CopyData,
    CopyDone,
    CopyFail,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    Describe,
    EmptyQueryResponse,
    ErrorResponse,
    Execute,
    FieldDescription,
    Flush,
    FunctionCall,
    FunctionCallResponse,
    GSSENCRequest,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordMessage,
    Query,
    ReadyForQuery,
    RowDescription,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
)
from pgwire.protocol.auth import md5_password

SERVER_NONCE = "3rfcNHYJY1ZVvWVs7j"
SCRAM_SALT = b"QSXCR+Q6sek8bf92"
SCRAM_ITERATIONS = 4096  # scramp's minimum: each SCRAM exchange then costs about a millisecond

#: (flags, seed) for: the whole stream at once, one byte at a time, 1-8 byte chunks.
CHUNKINGS = {"whole": (0, 0), "bytes": (1, 0), "small": (2, 7)}


def error(sqlstate: str, message: str, severity: str = "ERROR") -> ErrorResponse:
    return ErrorResponse({"S": severity, "V": severity, "C": sqlstate, "M": message})


NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})
NOTIFICATION = NotificationResponse(4242, "jobs", "42")
COLUMNS = RowDescription(
    (
        FieldDescription("id", 16384, 1, 23, 4, -1, 1),
        FieldDescription("name", 16384, 2, 25, -1, -1, 1),
    )
)
ROWS = encode(
    DataRow((b"\x00\x00\x00\x01", b"one")),
    DataRow((b"\x00\x00\x00\x02", None)),
    DataRow((b"\x00\x00\x00\x03", "trois \N{SNOWMAN}".encode())),
)


def scram_server_first() -> str:
    salt = base64.b64encode(SCRAM_SALT).decode()
    return f"r={CLIENT_NONCE}{SERVER_NONCE},s={salt},i={SCRAM_ITERATIONS}"


def scram_server_final(client_first_bare: str) -> str:
    """The server-final message of a server that knows ``PASSWORD`` (RFC 5802)."""
    without_proof = f"c=biws,r={CLIENT_NONCE}{SERVER_NONCE}"
    auth_message = f"{client_first_bare},{scram_server_first()},{without_proof}".encode()
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), SCRAM_SALT, SCRAM_ITERATIONS)
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return "v=" + base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()


def scram_client_first_bare() -> str:
    """The client-first-bare the core sends (its SCRAM username is its own choice)."""
    conn = ClientConnection(password=PASSWORD, nonce_source=lambda: CLIENT_NONCE)
    conn.send(StartupMessage({"user": USER}))
    conn.receive_data(AuthenticationSASL(("SCRAM-SHA-256",)).encode())
    conn.next_event()
    reply = conn.data_to_send()
    # 'p', int32 length, "SCRAM-SHA-256\0", int32 length, then GS2 header "n,," and the bare.
    return reply[5 + len("SCRAM-SHA-256") + 1 + 4 :].decode()[3:]


def conversations() -> dict[str, dict[str, bytes]]:
    """Start state -> conversation name -> what the server sends."""
    scram = encode(
        AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")),
        AuthenticationSASLContinue(scram_server_first().encode()),
        AuthenticationSASLFinal(scram_server_final(scram_client_first_bare()).encode()),
        AuthenticationOk(),
        SESSION_START,
    )
    extended_ok = encode(
        ParseComplete(), BindComplete(), COLUMNS, ROWS, CommandComplete("SELECT 3")
    )
    return {
        "authenticating": {
            "trust": TRUST_STARTUP,
            "cleartext": encode(AuthenticationCleartextPassword(), TRUST_STARTUP),
            "md5": encode(AuthenticationMD5Password(b"\x8a\x1c\x02\xf3"), TRUST_STARTUP),
            "scram": scram,
            "negotiate": encode(NegotiateProtocolVersion(0, ("_pq_.x",)), TRUST_STARTUP),
            "gss": encode(AuthenticationGSS()),
            "sasl-plus-only": encode(AuthenticationSASL(("SCRAM-SHA-256-PLUS",))),
            "fatal": encode(error("28P01", 'password authentication failed for user "alice"')),
        },
        "authenticating-without-credentials": {
            "cleartext": encode(AuthenticationCleartextPassword()),
            "scram": encode(AuthenticationSASL(("SCRAM-SHA-256",))),
        },
        "ssl-request-sent": {
            "accepted": b"S",
            "refused": b"N" + TRUST_STARTUP,
            "refused-scram": b"N" + scram,
            "old-server": encode(error("08P01", "unsupported frontend protocol", "FATAL")),
        },
        "ready-query": {
            "rows": encode(COLUMNS, ROWS, CommandComplete("SELECT 3"), ReadyForQuery("I")),
            "async": encode(
                NOTICE,
                COLUMNS,
                NOTIFICATION,
                ROWS,
                ParameterStatus("TimeZone", "UTC"),
                CommandComplete("SELECT 3"),
                ReadyForQuery("T"),
            ),
            "error": encode(COLUMNS, error("22012", "division by zero"), ReadyForQuery("I")),
            "empty": encode(EmptyQueryResponse(), ReadyForQuery("I")),
            "fatal": encode(error("57P01", "terminating connection", "FATAL")),
        },
        "ready-extended": {
            "rows": encode(extended_ok, ReadyForQuery("I")),
            "error": encode(
                ParseComplete(), error("42P01", 'relation "t" does not exist'), ReadyForQuery("I")
            ),
            "no-data": encode(
                ParseComplete(),
                BindComplete(),
                NoData(),
                CommandComplete("SET"),
                ReadyForQuery("I"),
            ),
        },
        "ready-pipeline": {
            "ok": encode(
                ParseComplete(),
                ParameterDescription((23,)),
                COLUMNS,
                ReadyForQuery("I"),
                extended_ok,
                ReadyForQuery("I"),
                COLUMNS,
                DataRow((b"1",)),
                CommandComplete("SELECT 1"),
                COLUMNS,
                DataRow((b"2",)),
                CommandComplete("SELECT 1"),
                ReadyForQuery("I"),
                CloseComplete(),
                ReadyForQuery("I"),
            ),
            "error-in-first-batch": encode(
                error("42601", "syntax error"),
                ReadyForQuery("I"),
                extended_ok,
                ReadyForQuery("I"),
                COLUMNS,
                DataRow((b"1",)),
                CommandComplete("SELECT 1"),
                error("22012", "division by zero"),
                ReadyForQuery("I"),
                CloseComplete(),
                ReadyForQuery("I"),
            ),
        },
        "ready-copy-out": {
            "copy": encode(
                CopyOutResponse(0, (0, 0)),
                CopyData(b"1\tone\n"),
                CopyData(b"2\t\\N\n"),
                CopyDone(),
                CommandComplete("COPY 2"),
                ReadyForQuery("I"),
            ),
        },
        "ready-copy-in": {
            "copy": encode(
                CopyInResponse(0, (0, 0)), CommandComplete("COPY 1"), ReadyForQuery("I")
            ),
            "copy-error": encode(
                CopyInResponse(0, (0, 0)), error("22P02", "invalid input"), ReadyForQuery("I")
            ),
        },
        "ready-copy-in-extended": {
            "copy": encode(
                ParseComplete(),
                BindComplete(),
                CopyInResponse(1, (1, 1)),
                CommandComplete("COPY 1"),
                ReadyForQuery("I"),
            ),
        },
        "ready-copy-both": {
            # The client answers CopyBothResponse with CopyData and CopyDone at once.
            "replication": encode(
                CopyBothResponse(0, ()),
                CopyData(b"w\x00\x00"),
                CopyData(b"k\x00\x01"),
                CopyDone(),
                CommandComplete("START_REPLICATION"),
                ReadyForQuery("I"),
            ),
        },
        "ready-function-call": {
            "call": encode(FunctionCallResponse(b"\x00\x00\x00\x2a"), ReadyForQuery("I")),
        },
        "terminating": {
            "rows": encode(COLUMNS, ROWS, CommandComplete("SELECT 3"), ReadyForQuery("I")),
        },
    }


# ------------------------------------------------------------------------------------------
# fuzz_server.py: what clients send
# ------------------------------------------------------------------------------------------

SERVER_USER = fuzz_server.USER
SERVER_PASSWORD = fuzz_server.PASSWORD
STARTUP = StartupMessage({"user": SERVER_USER, "database": "app"})


def _scram_exchange(plus: bool) -> bytes:
    """The client's SASLInitialResponse and SASLResponse for fuzz_server's fixed nonce, salt
    and channel binding (RFC 5802, computed here as a client would)."""
    client_nonce = "fyko+d2lbbFgONRv9qkxdawL"
    flag = "p=tls-server-end-point" if plus else "n"
    gs2 = f"{flag},,"
    bare = f"n=,r={client_nonce}"
    mechanism = "SCRAM-SHA-256-PLUS" if plus else "SCRAM-SHA-256"
    secret = fuzz_server.ScramSecret.from_password(SERVER_PASSWORD, fuzz_server.SCRAM_SALT)
    salt = base64.b64encode(secret.salt).decode()
    nonce = client_nonce + fuzz_server.SERVER_NONCE
    server_first = f"r={nonce},s={salt},i={secret.iterations}"
    binding = gs2.encode() + (fuzz_server.CHANNEL_BINDING if plus else b"")
    without_proof = f"c={base64.b64encode(binding).decode()},r={nonce}"
    salted = hashlib.pbkdf2_hmac("sha256", SERVER_PASSWORD.encode(), secret.salt, secret.iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    return encode(
        SASLInitialResponse(mechanism, (gs2 + bare).encode()), SASLResponse(final.encode())
    )


def client_conversations() -> dict[str, dict[str, tuple[bytes, int]]]:
    """Start state -> conversation name -> (what the client sends, flags)."""
    batch = encode(
        Parse("", "select $1", (23,)),
        Bind("", "", (1,), (b"\x00\x00\x00\x01",), (1,)),
        Describe("P"),
        Execute(),
        Sync(),
    )
    session = encode(
        Query("select 1"),
        batch,
        Parse("s1", "select 2"),
        Describe("S", "s1"),
        Flush(),
        Sync(),
        FunctionCall(1598, (), (), 0),
        Terminate(),
    )
    copy = encode(Query("copy t from stdin"), CopyData(b"1\tone\n"), CopyDone(), Query("select 1"))
    password = encode(PasswordMessage(SERVER_PASSWORD.encode()), session)
    md5 = md5_password(SERVER_PASSWORD.encode(), SERVER_USER.encode(), fuzz_server.MD5_SALT)
    trust = fuzz_server.method_flags("trust")
    accept = fuzz_server.ACCEPT_ENCRYPTION_FLAG
    return {
        "startup": {
            "trust": (encode(STARTUP, session), trust),
            "ssl-accepted": (encode(SSLRequest(), STARTUP, session), trust | accept),
            "ssl-declined": (encode(SSLRequest(), STARTUP, session), trust),
            "gss-declined": (encode(GSSENCRequest(), STARTUP, session), trust),
            "direct-tls": (b"\x16\x03\x01\x00\x05hello", trust),
            "cancel": (CancelRequest(4242, b"\x01\x02\x03\x04").encode(), trust),
            "password": (encode(STARTUP, password), fuzz_server.method_flags("password")),
            "md5": (
                encode(STARTUP, PasswordMessage(md5), session),
                fuzz_server.method_flags("md5"),
            ),
            "scram": (
                encode(STARTUP, _scram_exchange(False), session),
                fuzz_server.method_flags("scram"),
            ),
            "scram-plus": (
                encode(STARTUP, _scram_exchange(True), session),
                fuzz_server.method_flags("scram-plus"),
            ),
            "copy": (encode(STARTUP, copy), trust | fuzz_server.COPY_FLAG),
        },
        "awaiting-password": {
            "right": (password, 0),
            "wrong": (encode(PasswordMessage(b"wrong")), 0),
            "terminate": (encode(Terminate()), 0),
        },
        "awaiting-md5": {"right": (encode(PasswordMessage(md5), session), 0)},
        "awaiting-scram": {"right": (encode(_scram_exchange(False), session), 0)},
        "awaiting-scram-plus": {"right": (encode(_scram_exchange(True), session), 0)},
        "ready": {
            "session": (session, 0),
            "copy": (copy, fuzz_server.COPY_FLAG),
            "copy-extended": (batch + encode(CopyData(b"x"), CopyDone()), fuzz_server.COPY_FLAG),
        },
        "ready-copy-in": {
            "done": (encode(CopyData(b"1\tone\n"), CopyDone(), session), 0),
            "fail": (encode(CopyData(b"1\t"), CopyFail("no"), Sync(), session), 0),
        },
    }


def token_seeds() -> dict[str, bytes]:
    """Valid tokens for each user and both kinds of credentials, as botocore makes them."""
    seeds = {}
    for user in fuzz_token.USERS:
        for session_token in (False, True):
            credentials = fuzz_token.CREDENTIALS[session_token]
            token = dsql.generate_token(
                fuzz_token.HOST,
                region=fuzz_token.REGION,
                admin=user == "admin",
                credentials=credentials,
                now=fuzz_token.SIGNED_AT,
            )
            name = f"{user}-{'session-token' if session_token else 'keys'}"
            seeds[name] = fuzz_token.encode_input(token, user=user, session_token=session_token)
    return seeds


def main(argv: list[str]) -> None:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "corpus"
    target = root / "client"
    target.mkdir(parents=True, exist_ok=True)
    known = {state.name for state in START_STATES}
    count = 0
    for state, streams in conversations().items():
        assert state in known, state
        for name, stream in streams.items():
            for chunking, (flags, seed) in CHUNKINGS.items():
                data = encode_input(state, stream, flags=flags, seed=seed)
                (target / f"{state}-{name}-{chunking}").write_bytes(data)
                count += 1
            if "copy-in" in state or "copy-both" in state:
                for ending, flags in (("copyfail", COPY_FAIL_FLAG), ("copyhold", COPY_HOLD_FLAG)):
                    data = encode_input(state, stream, flags=flags)
                    (target / f"{state}-{name}-{ending}").write_bytes(data)
                    count += 1
    print(f"corpus_seed: wrote {count} seeds to {target}")
    target = root / "server"
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for state, client_streams in client_conversations().items():
        for name, (stream, extra_flags) in client_streams.items():
            for chunking, (flags, seed) in CHUNKINGS.items():
                data = fuzz_server.encode_input(state, stream, flags=flags | extra_flags, seed=seed)
                (target / f"{state}-{name}-{chunking}").write_bytes(data)
                count += 1
    print(f"corpus_seed: wrote {count} seeds to {target}")
    target = root / "token"
    target.mkdir(parents=True, exist_ok=True)
    for name, data in token_seeds().items():
        (target / name).write_bytes(data)
    print(f"corpus_seed: wrote {len(token_seeds())} seeds to {target}")


if __name__ == "__main__":
    main(sys.argv)
