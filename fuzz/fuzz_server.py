"""atheris harness for the server state machine: junk from a client only ever ends in a
clean, documented error.

Each input is read as: one byte choosing a starting state (see ``START_STATES``), one byte
of flags (how to cut the stream, whether to accept an SSLRequest, whether to answer queries
with COPY FROM STDIN, and which authentication to ask for after a StartupMessage), one byte
seeding the chunk sizes, then the bytes "the client sends".  The harness feeds those bytes
to a ``ServerConnection`` in chunks, drains ``next_event()`` after each one, and acts as a
server would: answers SSLRequest and GSSENCRequest, starts authentication (trust, cleartext,
MD5, SCRAM-SHA-256 or SCRAM-SHA-256-PLUS, with a fixed nonce and salt, so that seeds can
hold a whole valid exchange), starts the session once the client is authenticated, and
answers every request in flight, as the tables allow.  Then it feeds ``b""`` (the client
closed) and drains again.

Allowed outcomes: events, ``NEED_DATA``, and ``ProtocolError``.  Anything else is a crash,
including an ``InterfaceError`` from one of the harness's own sends (the tables and the
state disagree) and a stream that ends without ``ConnectionClosed``.

Run from the repository root (see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_server.py -max_total_time=30 fuzz/corpus/server
    .venv/bin/python fuzz/fuzz_server.py -runs=5000

This file must not grow protocol logic of its own: it drives the core, it does not check
what the events mean (tests/protocol/ does that).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["pgwire"]):
    from pgwire.errors import ProtocolError
    from pgwire.protocol import (
        NEED_DATA,
        Authenticated,
        AuthenticationFailed,
        AuthMethod,
        BackendKeyData,
        BackendMessage,
        BindComplete,
        CancelRequest,
        CloseComplete,
        CommandComplete,
        ConnectionClosed,
        CopyFail,
        CopyInResponse,
        EncryptionResponse,
        ErrorResponse,
        FunctionCallResponse,
        GSSENCRequest,
        MD5Auth,
        NoData,
        ParameterDescription,
        ParameterStatus,
        ParseComplete,
        PasswordAuth,
        Phase,
        Query,
        ReadyForQuery,
        ScramAuth,
        ScramSecret,
        ServerConnection,
        ServerState,
        SSLRequest,
        StartupMessage,
        TrustAuth,
    )

USER = "alice"
PASSWORD = "correct horse"
#: Fixed, so that a seed can hold a whole SCRAM exchange (its proof depends on both).
SERVER_NONCE = "3rfcNHYJY1ZVvWVs7jXq4Bz2"
SCRAM_SALT = b"QSXCR+Q6sek8bf92"
#: The tls-server-end-point hash a TLS server would hand over, for SCRAM-SHA-256-PLUS.
CHANNEL_BINDING = bytes(range(32))
MD5_SALT = b"\x8a\x1c\x02\xf3"

#: Flag bits (second header byte).
CHUNK_MODE_MASK = 0b011  # 0: whole, 1: one byte at a time, 2: 1-8 bytes, 3: 1-300 bytes
ACCEPT_ENCRYPTION_FLAG = 0b100  # answer SSLRequest with 'S' (the bytes after are "decrypted")
COPY_FLAG = 0b1000  # answer queries with CopyInResponse (up to COPIES times)
METHOD_SHIFT = 4  # bits 4-6: the method to ask for after a StartupMessage (see METHODS)
COPIES = 3
#: The error that answers a client's CopyFail, as PostgreSQL's.
COPY_FAILED = ErrorResponse({"S": "ERROR", "V": "ERROR", "C": "57014", "M": "COPY failed"})

#: SCRAM with 4096 iterations: each exchange costs about a millisecond.
_SECRET = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
METHODS: Sequence[Callable[[], AuthMethod]] = (
    TrustAuth,
    lambda: PasswordAuth(PASSWORD),
    lambda: MD5Auth(PASSWORD, MD5_SALT),
    lambda: ScramAuth(_SECRET, SERVER_NONCE),
    lambda: ScramAuth(_SECRET, SERVER_NONCE, CHANNEL_BINDING),
)
METHOD_NAMES = {"trust": 0, "password": 1, "md5": 2, "scram": 3, "scram-plus": 4}

SESSION_START: tuple[BackendMessage, ...] = (
    ParameterStatus("server_version", "18.0"),
    ParameterStatus("client_encoding", "UTF8"),
    BackendKeyData(4242, b"\x01\x02\x03\x04"),
    ReadyForQuery("I"),
)

P = Phase
COPY_IN = frozenset({P.QUERY_COPY_IN, P.EXECUTE_COPY_IN})
#: What the harness answers to the request at the head of the queue, one message at a time
#: (the next head is looked up again after each).  Phases not here wait for the client.
ANSWERS: dict[Phase, BackendMessage] = {
    P.PARSE: ParseComplete(),
    P.BIND: BindComplete(),
    P.DESCRIBE_STATEMENT: ParameterDescription(()),
    P.DESCRIBE_STATEMENT_RESULT: NoData(),
    P.DESCRIBE_PORTAL: NoData(),
    P.EXECUTE: CommandComplete("SELECT 0"),
    P.EXECUTE_COPY_END: CommandComplete("COPY 1"),
    P.CLOSE: CloseComplete(),
    P.SYNC: ReadyForQuery("I"),
    P.QUERY: ReadyForQuery("I"),
    P.QUERY_COPY_END: CommandComplete("COPY 1"),
    P.FUNCTION_CALL: FunctionCallResponse(None),
    P.FUNCTION_CALL_END: ReadyForQuery("I"),
}


# ------------------------------------------------------------------------------------------
# Starting states
# ------------------------------------------------------------------------------------------


def _started(method: int) -> Callable[[], ServerConnection]:
    def build() -> ServerConnection:
        server = ServerConnection()
        server.receive_data(StartupMessage({"user": USER, "database": "app"}).encode())
        assert isinstance(server.next_event(), StartupMessage)
        server.authenticate(METHODS[method]())
        return server

    return build


def _ready() -> ServerConnection:
    server = _started(METHOD_NAMES["trust"])()
    assert isinstance(server.next_event(), Authenticated)
    server.send(*SESSION_START)
    return server


def _ready_copy_in() -> ServerConnection:
    server = _ready()
    server.receive_data(Query("copy t from stdin").encode())
    assert isinstance(server.next_event(), Query)
    server.send(CopyInResponse(0, (0, 0)))
    return server


@dataclass(frozen=True)
class StartState:
    name: str
    build: Callable[[], ServerConnection]


START_STATES: Sequence[StartState] = (
    StartState("startup", ServerConnection),
    StartState("awaiting-password", _started(METHOD_NAMES["password"])),
    StartState("awaiting-md5", _started(METHOD_NAMES["md5"])),
    StartState("awaiting-scram", _started(METHOD_NAMES["scram"])),
    StartState("awaiting-scram-plus", _started(METHOD_NAMES["scram-plus"])),
    StartState("ready", _ready),
    StartState("ready-copy-in", _ready_copy_in),
)
STATE_NAMES = {state.name: index for index, state in enumerate(START_STATES)}


def encode_input(state: str, stream: bytes, *, flags: int = 0, seed: int = 0) -> bytes:
    """A fuzz input that starts in ``state`` and receives ``stream`` (for corpus_seed.py)."""
    return bytes([STATE_NAMES[state], flags, seed]) + stream


def method_flags(method: str) -> int:
    """The flag bits that make the harness ask for ``method`` after a StartupMessage."""
    return METHOD_NAMES[method] << METHOD_SHIFT


# ------------------------------------------------------------------------------------------
# The harness
# ------------------------------------------------------------------------------------------


def _chunks(stream: bytes, flags: int, seed: int) -> list[bytes]:
    mode = flags & CHUNK_MODE_MASK
    if mode == 0:
        return [stream]
    if mode == 1:
        return [stream[i : i + 1] for i in range(len(stream))]
    top = 8 if mode == 2 else 300
    rng = random.Random(seed)
    out = []
    pos = 0
    while pos < len(stream):
        size = rng.randint(1, top)
        out.append(stream[pos : pos + size])
        pos += size
    return out


class _Stop(Exception):
    """The connection ended (closed, refused, or a ProtocolError): nothing more to feed."""


class _Server:
    """Drives one ServerConnection as a server would."""

    def __init__(self, conn: ServerConnection, flags: int) -> None:
        self.conn = conn
        self.flags = flags
        self.copies = COPIES
        # The Query at the head ended its COPY: it is owed ReadyForQuery, not another COPY.
        self.query_copied = False

    def drain(self, budget: int) -> int:
        """Take every event now available and act on it; returns the budget left."""
        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except ProtocolError:
                raise _Stop from None
            if event is NEED_DATA:
                return budget
            # Every event consumes at least one byte (ConnectionClosed ends the run), so
            # more events than bytes fed means the core loops without reading.
            budget -= 1
            if budget < 0:
                raise AssertionError(f"more events than bytes received; it loops on {event!r}")
            conn.data_to_send()
            self.act(event)

    def act(self, event: object) -> None:
        conn = self.conn
        if isinstance(event, (ConnectionClosed, CancelRequest, AuthenticationFailed)):
            raise _Stop
        if isinstance(event, (SSLRequest, GSSENCRequest)):
            kind = "ssl" if isinstance(event, SSLRequest) else "gss"
            accept = kind == "ssl" and bool(self.flags & ACCEPT_ENCRYPTION_FLAG)
            conn.send(EncryptionResponse(kind, accept))
        elif isinstance(event, StartupMessage):
            method = (self.flags >> METHOD_SHIFT) % len(METHODS)
            conn.authenticate(METHODS[method]())
        elif isinstance(event, Authenticated):
            conn.send(*SESSION_START)
        elif isinstance(event, CopyFail) and conn.owed and conn.owed[0] in COPY_IN:
            conn.send(COPY_FAILED)
        if conn.state is ServerState.READY:
            self.answer()

    def answer(self) -> None:
        """Answer every request in flight that the server may answer now."""
        conn = self.conn
        while conn.owed:
            head = conn.owed[0]
            fresh = head is P.EXECUTE or (head is P.QUERY and not self.query_copied)
            if fresh and self.flags & COPY_FLAG and self.copies:
                self.copies -= 1
                conn.send(CopyInResponse(0, ()))
                return
            reply = ANSWERS.get(head)
            if reply is None:
                return
            conn.send(reply)
            if head is P.QUERY_COPY_END:
                self.query_copied = True
            elif head is P.QUERY:
                self.query_copied = False


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    start = START_STATES[fdp.ConsumeUInt(1) % len(START_STATES)]
    flags = fdp.ConsumeUInt(1)
    seed = fdp.ConsumeUInt(1)
    stream = fdp.ConsumeBytes(fdp.remaining_bytes())
    server = _Server(start.build(), flags)
    budget = len(stream) + 1
    try:
        for chunk in _chunks(stream, flags, seed):
            server.conn.receive_data(chunk)
            budget = server.drain(budget)
        server.conn.receive_data(b"")
        server.drain(budget)
    except _Stop:
        return
    state = server.conn.state
    raise AssertionError(f"the stream ended but no ConnectionClosed came (state {state})")


def main(argv: list[str]) -> None:
    if not any(arg.startswith("-artifact_prefix=") for arg in argv):
        # Crash files go to the git-ignored fuzz/crashes/, not wherever the shell happens to be.
        crashes = Path(__file__).parent / "crashes"
        crashes.mkdir(exist_ok=True)
        argv = [*argv, f"-artifact_prefix={crashes}/server-"]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
