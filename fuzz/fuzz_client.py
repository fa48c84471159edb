"""atheris harness for the client state machine: junk from the server only ever ends in a
clean, documented error.

Each input is read as: one byte choosing a starting state (see ``START_STATES``), one byte
of flags (how to cut the stream, and how the client ends a COPY FROM STDIN: CopyDone,
CopyFail, or not at all), one byte seeding the chunk sizes, then the bytes "the server
sends".  The harness feeds those bytes to a ``ClientConnection`` in chunks, drains
``next_event()`` after each one, answers as a driver would (writes authentication replies,
sends the StartupMessage after the answer to SSLRequest, sends COPY data when the server
asks for it), then feeds ``b""`` (the server closed) and drains again.

Allowed outcomes: events, ``NEED_DATA``, and ``ProtocolError``; during authentication also
the errors ``auth.py`` and ``startup.py`` raise on purpose (see ``_allowed``).  Anything
else is a crash.

Run from the repository root (see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_client.py -max_total_time=30 fuzz/corpus
    .venv/bin/python fuzz/fuzz_client.py -runs=20000

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

with atheris.instrument_imports(include=["pgwire", "scramp"]):
    from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
    from pgwire.protocol import (
        NEED_DATA,
        AuthenticationOk,
        BackendKeyData,
        Bind,
        ClientConnection,
        Close,
        ConnectionClosed,
        ConnectionState,
        CopyData,
        CopyDone,
        CopyFail,
        Describe,
        EncryptionResponse,
        Execute,
        FrontendMessage,
        FunctionCall,
        Message,
        ParameterStatus,
        Parse,
        Query,
        ReadyForQuery,
        SSLRequest,
        StartupMessage,
        Sync,
        Terminate,
    )

USER = "alice"
PASSWORD = "correct horse"
#: The SCRAM client nonce: the core takes no randomness of its own, so the harness gives one.
CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL"

#: Flag bits (second header byte).
CHUNK_MODE_MASK = 0b011  # 0: whole, 1: one byte at a time, 2: 1-8 bytes, 3: 1-300 bytes
COPY_FAIL_FLAG = 0b100  # end COPY FROM STDIN with CopyFail rather than CopyDone
COPY_HOLD_FLAG = 0b1000  # send copy data but never end the COPY (the server's error ends it)


def _nonce() -> str:
    return CLIENT_NONCE


def encode(*messages: Message | bytes) -> bytes:
    """The wire bytes of ``messages`` (``bytes`` items are taken as they are)."""
    return b"".join(m if isinstance(m, bytes) else m.encode() for m in messages)


SESSION_START = encode(
    ParameterStatus("server_version", "18.0"),
    ParameterStatus("client_encoding", "UTF8"),
    ParameterStatus("DateStyle", "ISO, MDY"),
    BackendKeyData(4242, b"\x01\x02\x03\x04"),
    ReadyForQuery("I"),
)
TRUST_STARTUP = encode(AuthenticationOk(), SESSION_START)


# ------------------------------------------------------------------------------------------
# Starting states
# ------------------------------------------------------------------------------------------


def _authenticating(*, credentials: bool) -> ClientConnection:
    if credentials:
        conn = ClientConnection(password=PASSWORD, nonce_source=_nonce)
    else:
        conn = ClientConnection()
    conn.send(StartupMessage({"user": USER, "database": "app"}))
    return conn


def _ready(*requests: FrontendMessage) -> Callable[[], ClientConnection]:
    def build() -> ClientConnection:
        conn = ClientConnection(password=PASSWORD, nonce_source=_nonce)
        conn.send(StartupMessage({"user": USER, "database": "app"}))
        conn.receive_data(TRUST_STARTUP)
        while conn.next_event() is not NEED_DATA:
            pass
        conn.send(*requests)
        return conn

    return build


def _ssl_request() -> ClientConnection:
    conn = ClientConnection(password=PASSWORD, nonce_source=_nonce)
    conn.send(SSLRequest())
    return conn


def _terminating() -> ClientConnection:
    conn = _ready(Query("select 1"))()
    conn.send(Terminate())
    return conn


_SELECT = "select id, name from t where id > $1"
_BATCH = (
    Parse("", _SELECT, (23,)),
    Bind("", "", (1,), (b"\x00\x00\x00\x00",), (1,)),
    Describe("P"),
    Execute(),
    Sync(),
)


@dataclass(frozen=True)
class StartState:
    name: str
    build: Callable[[], ClientConnection]
    #: Whether the client has a password and a nonce source for the server's auth requests.
    credentials: bool = True


START_STATES: Sequence[StartState] = (
    StartState("authenticating", lambda: _authenticating(credentials=True)),
    StartState(
        "authenticating-without-credentials",
        lambda: _authenticating(credentials=False),
        credentials=False,
    ),
    StartState("ssl-request-sent", _ssl_request),
    StartState("ready-query", _ready(Query("select id, name from t"))),
    StartState("ready-extended", _ready(*_BATCH)),
    StartState(
        "ready-pipeline",
        _ready(
            Parse("s1", _SELECT, (23,)),
            Describe("S", "s1"),
            Sync(),
            *_BATCH,
            Query("select 1; select 2"),
            Close("S", "s1"),
            Sync(),
        ),
    ),
    StartState("ready-copy-out", _ready(Query("copy t to stdout"))),
    StartState("ready-copy-in", _ready(Query("copy t from stdin"))),
    StartState(
        "ready-copy-in-extended",
        _ready(Parse("", "copy t from stdin"), Bind("", "", (), (), ()), Execute(), Sync()),
    ),
    StartState("ready-copy-both", _ready(Query("START_REPLICATION SLOT s LOGICAL 0/0"))),
    StartState("ready-function-call", _ready(FunctionCall(1598, (), (), 0))),
    StartState("terminating", _terminating),
)
STATE_NAMES = {state.name: index for index, state in enumerate(START_STATES)}


def encode_input(state: str, stream: bytes, *, flags: int = 0, seed: int = 0) -> bytes:
    """A fuzz input that starts in ``state`` and receives ``stream`` (for corpus_seed.py)."""
    return bytes([STATE_NAMES[state], flags, seed]) + stream


# ------------------------------------------------------------------------------------------
# The harness
# ------------------------------------------------------------------------------------------


def _allowed(exc: Exception, state_before: ConnectionState, start: StartState) -> bool:
    """Whether ``exc`` is an outcome the core documents for junk from the server."""
    if isinstance(exc, ProtocolError):
        return True
    if state_before is not ConnectionState.AUTHENTICATING:
        return False
    # The server asked for an authentication method pgwire does not implement (Kerberos V5,
    # GSSAPI, SSPI, or SASL without SCRAM-SHA-256): a refusal, not a broken protocol.
    if type(exc) is NotSupportedError:
        return True
    # Either the server asked for a password and none was configured, or its SCRAM
    # signature is wrong (it does not know the password: possible man-in-the-middle).
    if type(exc) is OperationalError:
        return True
    # The server asked for SCRAM but the caller gave no nonce_source; only a client built
    # without credentials can hit this.
    return type(exc) is InterfaceError and not start.credentials and "nonce" in str(exc)


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
    """The connection ended (closed, or a documented error): nothing more to feed."""


def _drain(conn: ClientConnection, start: StartState, flags: int, budget: int) -> int:
    """Take every event now available; answer as a driver would.  Returns the budget left."""
    answered_copy = False
    while True:
        state_before = conn.state
        try:
            event = conn.next_event()
        except Exception as exc:
            if _allowed(exc, state_before, start):
                raise _Stop from None
            raise
        if event is NEED_DATA:
            return budget
        # Every event but ConnectionClosed consumes at least one byte, so more events than
        # bytes fed means the core loops without reading.
        budget -= 1
        if budget < 0:
            raise AssertionError(f"more events than bytes received; the core loops on {event!r}")
        conn.data_to_send()
        if isinstance(event, ConnectionClosed):
            raise _Stop
        if isinstance(event, EncryptionResponse):
            # Whether TLS started or was refused, the driver goes on with its StartupMessage.
            conn.send(StartupMessage({"user": USER, "database": "app"}))
        if conn.state is ConnectionState.READY and conn.copy_in_active:
            if not answered_copy:
                conn.send(CopyData(b"1\tone\n"))
                if not flags & COPY_HOLD_FLAG:
                    conn.send(CopyFail("fuzz") if flags & COPY_FAIL_FLAG else CopyDone())
                answered_copy = True
        else:
            answered_copy = False


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    start = START_STATES[fdp.ConsumeUInt(1) % len(START_STATES)]
    flags = fdp.ConsumeUInt(1)
    seed = fdp.ConsumeUInt(1)
    stream = fdp.ConsumeBytes(fdp.remaining_bytes())
    conn = start.build()
    budget = len(stream) + 1
    try:
        for chunk in _chunks(stream, flags, seed):
            conn.receive_data(chunk)
            budget = _drain(conn, start, flags, budget)
        conn.receive_data(b"")
        _drain(conn, start, flags, budget)
    except _Stop:
        return
    raise AssertionError(f"the stream ended but no ConnectionClosed came (state {conn.state})")


def main(argv: list[str]) -> None:
    if not any(arg.startswith("-artifact_prefix=") for arg in argv):
        # Crash files go to the git-ignored fuzz/crashes/, not wherever the shell happens to be.
        crashes = Path(__file__).parent / "crashes"
        crashes.mkdir(exist_ok=True)
        argv = [*argv, f"-artifact_prefix={crashes}/"]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
