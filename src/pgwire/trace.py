"""Decode captured PostgreSQL traffic into a readable trace, one line per message.

The trace format follows libpq's ``PQtrace``: a timestamp, ``F`` (frontend, client to server)
or ``B`` (backend), the message length (as its length word says), the message name, and its
fields::

    2025-01-31 12:00:00.123456	F	13	Query	 "SELECT 1"
    2025-01-31 12:00:00.124001	B	32	RowDescription	 1 "?column?" 0 0 23 4 -1 0

Secrets never reach a trace: passwords, every SCRAM message (a transcript allows an offline
attack on the password), MD5 salts and cancel keys are shown as ``<redacted N bytes>``; so
are startup parameters whose name or value looks like a secret (``password``, a ``token``,
``options`` such as ``-c app.password=...``, an IAM signature).  A password message that
cannot be decoded, whatever its shape, is shown by its length alone.  A raw dump, on the
other hand, is what crossed the wire: it holds every secret, so keep it as one.

:class:`WireDecoder` cuts both directions of one session into messages as bytes arrive,
following the startup (untyped packets, the one-byte SSLRequest answer, direct TLS) and the
authentication exchange (how to read a ``p`` message).  It never raises on junk: what it
cannot decode it reports as an unparsed frame and relays as is.

The raw dump format (written by the recording proxy, read by ``python -m pgwire trace``) is
the magic line ``PGWIREDUMP1\\n`` followed by records: one direction byte (``F``/``B``), the
capture time (big-endian float64, seconds since the epoch), the length of the data
(big-endian uint32), and the data.
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import BinaryIO, Literal, TextIO

from pgwire.errors import ProtocolError
from pgwire.protocol import (
    AuthenticationCleartextPassword,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    BackendKeyData,
    CancelRequest,
    GSSENCRequest,
    Message,
    PasswordMessage,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    decode_backend,
    decode_frontend,
    decode_startup,
)
from pgwire.protocol.auth import MAX_PASSWORD_MESSAGE
from pgwire.protocol.framing import (
    CLIENT_SMALL_MESSAGE_LIMIT,
    DEFAULT_MAX_MESSAGE_SIZE,
    LONG_CLIENT_MESSAGES,
    LONG_SERVER_MESSAGES,
    SERVER_SMALL_MESSAGE_LIMIT,
    length_refusal,
)
from pgwire.protocol.messages import PasswordKind

__all__ = [
    "DUMP_MAGIC",
    "DumpWriter",
    "Frame",
    "TraceWriter",
    "WireDecoder",
    "format_frame",
    "main",
    "read_dump",
]

Direction = Literal["F", "B"]
DUMP_MAGIC = b"PGWIREDUMP1\n"
_RECORD = struct.Struct("!cdI")
_PASSWORD_CODE = PasswordMessage.code[0]
_MAX_STARTUP_PACKET = 10000
#: Fields whose values are secrets, by message class.
_SECRET_FIELDS: Mapping[type[Message], frozenset[str]] = {
    PasswordMessage: frozenset({"password"}),
    SASLInitialResponse: frozenset({"data"}),
    SASLResponse: frozenset({"data"}),
    AuthenticationSASLContinue: frozenset({"data"}),
    AuthenticationSASLFinal: frozenset({"data"}),
    AuthenticationMD5Password: frozenset({"salt"}),
    BackendKeyData: frozenset({"secret_key"}),
    CancelRequest: frozenset({"secret_key"}),
}
#: The SASL mechanisms a SASLInitialResponse may show by name (any other name could be a
#: password sent where the server expected SASL).
_MECHANISMS = frozenset({"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "OAUTHBEARER"})
_SECRET_WORDS = r"pass|pwd|secret|token|key|credential|signature"
#: A startup parameter name whose value is a secret.
_SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
#: A startup parameter value that holds one: ``-c app.password=...``, an IAM token.
_SECRET_VALUE = re.compile(rf"(?:{_SECRET_WORDS})[\w.-]*\s*[=:]|X-Amz-", re.IGNORECASE)


@dataclass(frozen=True)
class Frame:
    """One message (or one run of bytes that is not a message) in one direction.

    ``raw`` is exactly the bytes on the wire; ``message`` is the decoded message, or
    ``None`` for a one-byte encryption answer (``name`` says which), TLS records, and bytes
    that could not be decoded (``error`` says why).
    """

    direction: Direction
    raw: bytes
    name: str
    message: Message | None = None
    error: str | None = None

    @property
    def length(self) -> int:
        """The length as libpq's trace shows it: the message's length word, or the byte count."""
        if self.message is None or not self.raw:
            return len(self.raw)
        return len(self.raw) - (0 if self.message.code == b"" else 1)


class WireDecoder:
    """Cuts both directions of one session into :class:`Frame` objects, bytes cut anywhere.

    A message is framed with the core's limits (``pgwire.protocol.framing``): what a
    PostgreSQL server reads from a client (every message at most 65,535 bytes until the
    server authenticates it, then 10,000 for those that are never long), what libpq reads
    from a server (30,000 for those that are never long), and ``max_message_size`` for the
    rest.  A message over them is never waited for: the bytes from there on are reported
    unparsed.
    """

    def __init__(
        self, *, started: bool = False, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    ) -> None:
        """``started``: the capture begins after the startup packet and the authentication
        (typed messages only)."""
        self.max_message_size = max_message_size
        self._authenticated = started
        self._buffers: dict[Direction, bytearray] = {"F": bytearray(), "B": bytearray()}
        self._startup = not started
        self._answer_expected: Literal["ssl", "gss"] | None = None
        self._password_kind: PasswordKind = "password"
        #: Set once the stream turned to TLS (or garbage): later bytes are passed through raw.
        self.opaque = False

    def feed(self, direction: Direction, data: bytes) -> list[Frame]:
        """Add bytes received in ``direction``; return the whole frames now available."""
        buffer = self._buffers[direction]
        buffer += data
        frames: list[Frame] = []
        while buffer:
            if self.opaque:
                frames.append(Frame(direction, bytes(buffer), "(opaque bytes)"))
                buffer.clear()
                break
            frame = self._next(direction, buffer)
            if frame is None:
                break
            frames.append(frame)
        return frames

    def tls_terminated(self) -> None:
        """The observer terminated TLS itself: the plaintext inside starts a new session."""
        for buffer in self._buffers.values():
            buffer.clear()
        self._startup = True
        self._authenticated = False
        self._answer_expected = None
        self.opaque = False

    def leftover(self, direction: Direction) -> int:
        """How many bytes of an incomplete message wait in ``direction``."""
        return len(self._buffers[direction])

    def _next(self, direction: Direction, buffer: bytearray) -> Frame | None:
        if direction == "F" and self._startup:
            return self._startup_packet(buffer)
        if direction == "B" and self._answer_expected is not None and buffer[0] != ord("E"):
            return self._encryption_answer(buffer)
        if len(buffer) < 5:
            return None
        code = buffer[0]
        length = int.from_bytes(buffer[1:5], "big", signed=True)
        refusal = self._refusal(direction, code, length)
        if refusal is not None:
            return self._give_up(direction, buffer, refusal)
        if len(buffer) < length + 1:
            return None
        raw = bytes(buffer[: length + 1])
        del buffer[: length + 1]
        payload = raw[5:]
        try:
            if direction == "F":
                message: Message = decode_frontend(code, payload, password_kind=self._password_kind)
            else:
                message = decode_backend(code, payload)
                self._answer_expected = None
        except ProtocolError as exc:
            name = f"(unknown {bytes([code])!r})"
            if direction == "F" and code == _PASSWORD_CODE:
                # Whatever its shape, nothing of a password message is shown.
                return Frame(direction, raw, name, error="an undecodable password message")
            return Frame(direction, raw, name, error=str(exc))
        self._follow(message)
        return Frame(direction, raw, type(message).__name__, message)

    def _refusal(self, direction: Direction, code: int, length: int) -> str | None:
        if direction == "B":
            small, long_types = CLIENT_SMALL_MESSAGE_LIMIT, LONG_SERVER_MESSAGES
            return length_refusal(code, length, self.max_message_size, small, long_types)
        if not self._authenticated:
            return length_refusal(code, length, min(self.max_message_size, MAX_PASSWORD_MESSAGE))
        small, long_types = SERVER_SMALL_MESSAGE_LIMIT, LONG_CLIENT_MESSAGES
        return length_refusal(code, length, self.max_message_size, small, long_types)

    def _startup_packet(self, buffer: bytearray) -> Frame | None:
        if buffer[0] == 0x16:
            self.opaque = True
            frame = Frame("F", bytes(buffer), "(TLS handshake: direct TLS)")
            buffer.clear()
            return frame
        if len(buffer) < 4:
            return None
        length = int.from_bytes(buffer[:4], "big")
        if not 8 <= length <= _MAX_STARTUP_PACKET:
            return self._give_up("F", buffer, f"invalid startup packet length {length}")
        if len(buffer) < length:
            return None
        raw = bytes(buffer[:length])
        del buffer[:length]
        try:
            message = decode_startup(raw[4:])
        except ProtocolError as exc:
            return Frame("F", raw, "(unknown startup packet)", error=str(exc))
        if isinstance(message, (SSLRequest, GSSENCRequest)):
            self._answer_expected = "ssl" if isinstance(message, SSLRequest) else "gss"
        else:
            self._startup = False
        return Frame("F", raw, type(message).__name__, message)

    def _encryption_answer(self, buffer: bytearray) -> Frame:
        answer = buffer[0]
        del buffer[:1]
        kind = self._answer_expected
        self._answer_expected = None
        if answer in (ord("S"), ord("G")):
            self.opaque = True
        name = "SSLResponse" if kind == "ssl" else "GSSENCResponse"
        return Frame("B", bytes([answer]), name)

    def _give_up(self, direction: Direction, buffer: bytearray, why: str) -> Frame:
        self.opaque = True
        frame = Frame(direction, bytes(buffer), "(unparsed bytes)", error=why)
        buffer.clear()
        return frame

    def _follow(self, message: Message) -> None:
        if isinstance(message, AuthenticationOk):
            self._authenticated = True
        elif isinstance(message, AuthenticationSASL):
            self._password_kind = "sasl-initial"
        elif isinstance(message, SASLInitialResponse):
            self._password_kind = "sasl"
        elif isinstance(message, (AuthenticationCleartextPassword, AuthenticationMD5Password)):
            self._password_kind = "password"


def _render(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        shown = "".join(
            chr(b) if 32 <= b < 127 and b not in (39, 92) else f"\\x{b:02x}" for b in data
        )
        return f"{len(data)} '{shown}'"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return " ".join(f"{k} {_render(v)}" for k, v in value.items())
    if isinstance(value, tuple):
        return " ".join([str(len(value)), *(_render(item) for item in value)])
    if hasattr(value, "__dataclass_fields__"):
        return " ".join(_render(getattr(value, f.name)) for f in fields(value))  # type: ignore[arg-type]
    return str(value)


def describe(frame: Frame) -> str:
    """The message name and fields of a frame, secrets redacted."""
    message = frame.message
    if message is None:
        if frame.name in ("SSLResponse", "GSSENCResponse"):
            return f"{frame.name}\t '{frame.raw.decode('latin-1')}'"
        note = f" ({frame.error})" if frame.error else ""
        return f"{frame.name}\t <{len(frame.raw)} bytes>{note}"
    secret = _SECRET_FIELDS.get(type(message), frozenset())
    parts = []
    if isinstance(message, StartupMessage):
        parts.append(f"{message.protocol_version[0]} {message.protocol_version[1]}")
        parts += [f"{name} {_startup_value(name, value)}" for name, value in message.params.items()]
        return f"{frame.name}\t {' '.join(parts)}".rstrip()
    for f in fields(message):  # type: ignore[arg-type]
        value = getattr(message, f.name)
        # A mechanism's name that is none of the known ones may be a misplaced password.
        unknown_mechanism = isinstance(message, SASLInitialResponse) and value not in _MECHANISMS
        if f.name in secret or unknown_mechanism:
            parts.append(_redacted(value))
        else:
            parts.append(_render(value))
    return f"{frame.name}\t {' '.join(parts)}".rstrip()


def _redacted(value: str | bytes | None) -> str:
    if isinstance(value, str):
        value = value.encode()
    return f"<redacted {0 if value is None else len(value)} bytes>"


def _startup_value(name: str, value: str) -> str:
    """A startup parameter's value as traced: redacted when it looks like a secret."""
    if _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):
        return _redacted(value)
    return _render(value)


def format_frame(frame: Frame, timestamp: float | None = None, note: str = "") -> str:
    """One trace line (without the newline): timestamp, direction, length, name, fields."""
    line = f"{frame.direction}\t{frame.length}\t{describe(frame)}"
    if note:
        line += f"\t[{note}]"
    if timestamp is None:
        return line
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S.%f}\t{line}"


class TraceWriter:
    """Writes trace lines to a text file, flushing each one (a crash loses nothing)."""

    def __init__(self, out: TextIO, *, clock: Callable[[], float] | None = time.time) -> None:
        self.out = out
        self.clock = clock

    def write(self, frame: Frame, note: str = "", timestamp: float | None = None) -> None:
        """Write one frame; ``timestamp`` defaults to the clock's now (no clock: none)."""
        if timestamp is None and self.clock is not None:
            timestamp = self.clock()
        self.out.write(format_frame(frame, timestamp, note) + "\n")
        self.out.flush()


class DumpWriter:
    """Writes the raw dump format: every chunk of bytes with its direction and time."""

    def __init__(self, out: BinaryIO, *, clock: Callable[[], float] = time.time) -> None:
        self.out = out
        self.clock = clock
        out.write(DUMP_MAGIC)

    def write(self, direction: Direction, data: bytes) -> None:
        """Record ``data`` as sent in ``direction`` now."""
        self.out.write(_RECORD.pack(direction.encode(), self.clock(), len(data)) + data)
        self.out.flush()


def read_dump(data: bytes) -> Iterator[tuple[Direction, float, bytes]]:
    """The records of a raw dump, as ``(direction, timestamp, data)``."""
    if not data.startswith(DUMP_MAGIC):
        raise ValueError("not a pgwire dump: it does not start with PGWIREDUMP1")
    pos = len(DUMP_MAGIC)
    while pos < len(data):
        if pos + _RECORD.size > len(data):
            raise ValueError(f"the dump ends inside a record header at byte {pos}")
        direction, timestamp, length = _RECORD.unpack_from(data, pos)
        pos += _RECORD.size
        if direction not in (b"F", b"B") or pos + length > len(data):
            raise ValueError(f"corrupt dump record at byte {pos - _RECORD.size}")
        yield ("F" if direction == b"F" else "B"), timestamp, data[pos : pos + length]
        pos += length


def trace_lines(data: bytes, direction: Direction | None = None) -> Iterator[str]:
    """Trace lines for a dump, or for a raw one-direction stream when ``direction`` is given."""
    decoder = WireDecoder(started=direction == "B")
    if direction is None:
        for record_direction, timestamp, chunk in read_dump(data):
            for frame in decoder.feed(record_direction, chunk):
                yield format_frame(frame, timestamp)
    else:
        for frame in decoder.feed(direction, data):
            yield format_frame(frame)
    sides: tuple[Direction, ...] = ("F", "B")
    for side in sides:
        left = decoder.leftover(side)
        if left:
            yield f"{side}\t{left}\t(incomplete message)\t <{left} bytes>"


def main(argv: list[str] | None = None) -> int:
    """``python -m pgwire trace FILE``: print the trace of a dump or a raw stream."""
    parser = argparse.ArgumentParser(prog="python -m pgwire trace")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``trace`` command's arguments."""
    parser.add_argument("file", help="a pgwire dump (from the recording proxy) or a raw stream")
    parser.add_argument(
        "--direction",
        choices=("frontend", "backend"),
        help="read FILE as the raw bytes of one direction (client to server: frontend)",
    )
    parser.add_argument("-o", "--output", help="write the trace here instead of stdout")


def run(args: argparse.Namespace) -> int:
    """Run the ``trace`` command with parsed arguments."""
    with open(args.file, "rb") as source:
        data = source.read()
    direction: Direction | None = None
    if args.direction is not None:
        direction = "F" if args.direction == "frontend" else "B"
    elif not data.startswith(DUMP_MAGIC):
        print(
            f"{args.file} is not a pgwire dump (no PGWIREDUMP1 header); for the raw bytes of "
            "one direction, pass --direction frontend or --direction backend",
            file=sys.stderr,
        )
        return 2
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    try:
        for line in trace_lines(data, direction):
            out.write(line + "\n")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
