"""Every PostgreSQL wire-protocol message, in both directions, as frozen dataclasses.

Each message knows how to ``encode()`` itself to the exact bytes on the wire, and each
class has a ``decode(payload)`` classmethod that parses the payload (the bytes after the
type byte and the length).  ``decode_backend`` and ``decode_frontend`` dispatch on the
type byte.  Nothing here keeps state or does I/O: the state machines in ``client.py`` and
``server.py`` decide which messages are legal when.

Malformed payloads raise :class:`pgwire.errors.ProtocolError` naming the message.
Secrets (passwords, SASL proofs, cancel keys) are kept out of every ``repr``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from functools import lru_cache
from typing import Any, ClassVar, Literal, TypeVar

from pgwire._frozen import frozen_dataclass
from pgwire.errors import ProtocolError

__all__ = [
    "CANCEL_REQUEST_CODE",
    "GSSENC_REQUEST_CODE",
    "PROTOCOL_3_0",
    "PROTOCOL_3_2",
    "SSL_REQUEST_CODE",
    "AuthenticationCleartextPassword",
    "AuthenticationGSS",
    "AuthenticationGSSContinue",
    "AuthenticationKerberosV5",
    "AuthenticationMD5Password",
    "AuthenticationOk",
    "AuthenticationSASL",
    "AuthenticationSASLContinue",
    "AuthenticationSASLFinal",
    "AuthenticationSSPI",
    "BackendKeyData",
    "BackendMessage",
    "Bind",
    "BindComplete",
    "BindTemplate",
    "CancelRequest",
    "Close",
    "CloseComplete",
    "CommandComplete",
    "CopyBothResponse",
    "CopyData",
    "CopyDone",
    "CopyFail",
    "CopyInResponse",
    "CopyOutResponse",
    "DataRow",
    "Describe",
    "EmptyQueryResponse",
    "ErrorResponse",
    "Execute",
    "FieldDescription",
    "Flush",
    "FrontendMessage",
    "FunctionCall",
    "FunctionCallResponse",
    "GSSENCRequest",
    "GSSResponse",
    "Message",
    "NegotiateProtocolVersion",
    "NoData",
    "NoticeResponse",
    "NotificationResponse",
    "ParameterDescription",
    "ParameterStatus",
    "Parse",
    "ParseComplete",
    "PasswordMessage",
    "PortalSuspended",
    "Query",
    "ReadyForQuery",
    "RowDescription",
    "SASLInitialResponse",
    "SASLResponse",
    "SSLRequest",
    "StartupMessage",
    "Sync",
    "Terminate",
    "decode_backend",
    "decode_frontend",
    "decode_startup",
]

PROTOCOL_3_0 = (3, 0)
PROTOCOL_3_2 = (3, 2)
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
#: Protocol 3.2 allows cancel keys up to 256 bytes; 3.0 uses exactly 4.
MAX_CANCEL_KEY_LENGTH = 256

#: The largest message (its length field included) PostgreSQL accepts from a client:
#: PQ_LARGE_MESSAGE_LIMIT, MaxAllocSize - 1.
MAX_MESSAGE_SIZE = (1 << 30) - 2

_I16 = struct.Struct("!h")
_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")
_I32I32 = struct.Struct("!ii")
_HEADER = struct.Struct("!ci")
_NULL_LENGTH = b"\xff\xff\xff\xff"


def _frame(code: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(code, len(payload) + 4) + payload


def _cstr(text: str) -> bytes:
    data = text.encode()
    if b"\0" in data:
        raise ValueError(f"protocol strings cannot contain NUL bytes: {text[:40]!r}")
    return data + b"\0"


def _counted(values: tuple[bytes | None, ...]) -> bytes:
    parts = [_U16.pack(len(values))]
    for value in values:
        if value is None:
            parts.append(_NULL_LENGTH)
        else:
            parts.append(_I32.pack(len(value)))
            parts.append(bytes(value))
    return b"".join(parts)


def _int16s(values: tuple[int, ...]) -> bytes:
    # The count is unsigned: PostgreSQL reads it so, and allows up to 65535 parameters.
    return struct.pack(f"!H{len(values)}h", len(values), *values)


class _Reader:
    """Reads one message payload; every short read or leftover byte is a ProtocolError.

    ``secret``: the message may hold a secret (a password, startup parameters), so no error
    quotes its bytes.
    """

    __slots__ = ("data", "name", "pos", "secret")

    def __init__(self, data: bytes, name: str, *, secret: bool = False) -> None:
        self.data = data
        self.name = name
        self.pos = 0
        self.secret = secret

    def fail(self, what: str) -> ProtocolError:
        return ProtocolError(f"malformed {self.name} message: {what}")

    def int16(self) -> int:
        try:
            (value,) = _I16.unpack_from(self.data, self.pos)
        except struct.error:
            raise self.fail("truncated before a 16-bit integer") from None
        self.pos += 2
        return int(value)

    def uint16(self) -> int:
        try:
            (value,) = _U16.unpack_from(self.data, self.pos)
        except struct.error:
            raise self.fail("truncated before a 16-bit count") from None
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        try:
            (value,) = _I32.unpack_from(self.data, self.pos)
        except struct.error:
            raise self.fail("truncated before a 32-bit integer") from None
        self.pos += 4
        return int(value)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("truncated before a byte")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def raw(self, length: int) -> bytes:
        end = self.pos + length
        if length < 0 or end > len(self.data):
            raise self.fail(f"declares {length} bytes but only {len(self.data) - self.pos} remain")
        value = self.data[self.pos : end]
        self.pos = end
        return value

    def cstr_bytes(self) -> bytes:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise self.fail("string is missing its NUL terminator")
        value = self.data[self.pos : end]
        self.pos = end + 1
        return value

    def cstr(self, errors: str = "strict") -> str:
        raw = self.cstr_bytes()
        try:
            return raw.decode("utf-8", errors)
        except UnicodeDecodeError:
            shown = "not shown: it may be a secret" if self.secret else repr(raw[:40])
            raise self.fail(f"string is not valid UTF-8: {shown}") from None

    def rest(self) -> bytes:
        value = self.data[self.pos :]
        self.pos = len(self.data)
        return value

    def counted_values(self) -> tuple[bytes | None, ...]:
        count = self.uint16()
        values: list[bytes | None] = []
        for _ in range(count):
            length = self.int32()
            if length == -1:
                values.append(None)
            elif length < 0:
                raise self.fail(f"invalid value length {length}")
            else:
                values.append(self.raw(length))
        return tuple(values)

    def int16s(self) -> tuple[int, ...]:
        count = self.uint16()
        return tuple(self.int16() for _ in range(count))

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} unexpected trailing bytes")


_M = TypeVar("_M", bound="Message")


class Message:
    """Base of every message.  ``code`` is the type byte (empty for startup-phase messages)."""

    __slots__ = ()
    code: ClassVar[bytes] = b""

    def body(self) -> bytes:
        """The message body after the type byte and length."""
        return b""

    def encode(self) -> bytes:
        """The complete bytes of this message as they go on the wire."""
        return _frame(self.code, self.body())

    @classmethod
    def decode(cls: type[_M], payload: bytes) -> _M:
        """Parse ``payload``; the default is for messages with an empty body."""
        if payload:
            raise ProtocolError(
                f"malformed {cls.__name__} message: expected an empty body, "
                f"got {len(payload)} bytes"
            )
        return cls()


class FrontendMessage(Message):
    """A message a client sends to a server."""

    __slots__ = ()


class BackendMessage(Message):
    """A message a server sends to a client."""

    __slots__ = ()


# --------------------------------------------------------------------------------------
# Startup-phase frontend messages (no type byte)
# --------------------------------------------------------------------------------------


@frozen_dataclass(slots=True)
class StartupMessage(FrontendMessage):
    """Opens a session: the protocol version and the startup parameters (user, database, ...)."""

    params: Mapping[str, str]
    protocol_version: tuple[int, int] = PROTOCOL_3_0

    def body(self) -> bytes:
        major, minor = self.protocol_version
        parts = [struct.pack("!HH", major, minor)]
        for key, value in self.params.items():
            if not key:
                raise ValueError("startup parameter names cannot be empty")
            parts.append(_cstr(key))
            parts.append(_cstr(value))
        parts.append(b"\0")
        return b"".join(parts)

    def encode(self) -> bytes:
        body = self.body()
        return _I32.pack(len(body) + 4) + body

    @classmethod
    def decode(cls, payload: bytes) -> StartupMessage:
        reader = _Reader(payload, "StartupMessage", secret=True)
        major = reader.int16() & 0xFFFF
        minor = reader.int16() & 0xFFFF
        params: dict[str, str] = {}
        while True:
            key = reader.cstr()
            if not key:
                break
            params[key] = reader.cstr()
        reader.end()
        return cls(params, (major, minor))


@frozen_dataclass(slots=True)
class SSLRequest(FrontendMessage):
    """Asks the server to switch to TLS; it answers with one byte, ``S`` or ``N``."""

    def encode(self) -> bytes:
        return _I32I32.pack(8, SSL_REQUEST_CODE)


@frozen_dataclass(slots=True)
class GSSENCRequest(FrontendMessage):
    """Asks the server for GSSAPI encryption; it answers with one byte, ``G`` or ``N``."""

    def encode(self) -> bytes:
        return _I32I32.pack(8, GSSENC_REQUEST_CODE)


@frozen_dataclass(slots=True)
class CancelRequest(FrontendMessage):
    """Sent on a fresh connection to cancel the query running on another one."""

    process_id: int
    secret_key: bytes = field(repr=False)

    def encode(self) -> bytes:
        body = _I32I32.pack(CANCEL_REQUEST_CODE, self.process_id) + self.secret_key
        return _I32.pack(len(body) + 4) + body


def decode_startup(
    payload: bytes,
) -> StartupMessage | SSLRequest | GSSENCRequest | CancelRequest:
    """Decode the first message a client sends (the body after its length word)."""
    if len(payload) < 4:
        raise ProtocolError(f"malformed startup packet: only {len(payload)} bytes")
    (code,) = _I32.unpack_from(payload, 0)
    if code in (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE):
        if len(payload) != 4:
            raise ProtocolError(f"malformed startup packet: request code {code} with extra bytes")
        return SSLRequest() if code == SSL_REQUEST_CODE else GSSENCRequest()
    if code == CANCEL_REQUEST_CODE:
        reader = _Reader(payload, "CancelRequest")
        reader.int32()
        process_id = reader.int32()
        key = reader.rest()
        if not 4 <= len(key) <= MAX_CANCEL_KEY_LENGTH:
            raise reader.fail(f"cancel key of {len(key)} bytes")
        return CancelRequest(process_id, key)
    return StartupMessage.decode(payload)


# --------------------------------------------------------------------------------------
# Frontend messages with a type byte
# --------------------------------------------------------------------------------------


@frozen_dataclass(slots=True)
class PasswordMessage(FrontendMessage):
    """A cleartext or MD5-hashed password (type ``p``)."""

    code: ClassVar[bytes] = b"p"
    password: bytes = field(repr=False)

    def body(self) -> bytes:
        if b"\0" in self.password:
            raise ValueError("a password cannot contain NUL bytes")
        return self.password + b"\0"

    @classmethod
    def decode(cls, payload: bytes) -> PasswordMessage:
        reader = _Reader(payload, "PasswordMessage", secret=True)
        password = reader.cstr_bytes()
        reader.end()
        return cls(password)


@frozen_dataclass(slots=True)
class GSSResponse(FrontendMessage):
    """GSSAPI or SSPI data (type ``p``); pgwire never sends it but can decode it."""

    code: ClassVar[bytes] = b"p"
    data: bytes = field(repr=False)

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> GSSResponse:
        return cls(payload)


@frozen_dataclass(slots=True)
class SASLInitialResponse(FrontendMessage):
    """The chosen SASL mechanism and the client-first message (type ``p``)."""

    code: ClassVar[bytes] = b"p"
    mechanism: str
    data: bytes | None = field(default=None, repr=False)

    def body(self) -> bytes:
        if self.data is None:
            return _cstr(self.mechanism) + _NULL_LENGTH
        return _cstr(self.mechanism) + _I32.pack(len(self.data)) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> SASLInitialResponse:
        reader = _Reader(payload, "SASLInitialResponse", secret=True)
        mechanism = reader.cstr()
        length = reader.int32()
        data = None if length == -1 else reader.raw(length)
        reader.end()
        return cls(mechanism, data)


@frozen_dataclass(slots=True)
class SASLResponse(FrontendMessage):
    """A further SASL message from the client, e.g. SCRAM's client-final (type ``p``)."""

    code: ClassVar[bytes] = b"p"
    data: bytes = field(repr=False)

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> SASLResponse:
        return cls(payload)


@frozen_dataclass(slots=True)
class Query(FrontendMessage):
    """A simple query: one string that may hold several statements."""

    code: ClassVar[bytes] = b"Q"
    sql: str

    def body(self) -> bytes:
        return _cstr(self.sql)

    @classmethod
    def decode(cls, payload: bytes) -> Query:
        reader = _Reader(payload, "Query")
        sql = reader.cstr()
        reader.end()
        return cls(sql)


@frozen_dataclass(slots=True)
class Parse(FrontendMessage):
    """Prepares ``sql`` as statement ``name`` (empty: the unnamed statement)."""

    code: ClassVar[bytes] = b"P"
    name: str
    sql: str
    param_oids: tuple[int, ...] = ()

    def body(self) -> bytes:
        oids = self.param_oids
        return _cstr(self.name) + _cstr(self.sql) + struct.pack(f"!H{len(oids)}I", len(oids), *oids)

    @classmethod
    def decode(cls, payload: bytes) -> Parse:
        reader = _Reader(payload, "Parse")
        name = reader.cstr()
        sql = reader.cstr()
        count = reader.uint16()
        oids = tuple(reader.int32() & 0xFFFFFFFF for _ in range(count))
        reader.end()
        return cls(name, sql, oids)


@frozen_dataclass(slots=True)
class Bind(FrontendMessage):
    """Binds parameter values to a prepared statement, creating a portal."""

    code: ClassVar[bytes] = b"B"
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    params: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]

    def body(self) -> bytes:
        return b"".join(
            (
                _cstr(self.portal),
                _cstr(self.statement),
                _int16s(self.param_formats),
                _counted(self.params),
                _int16s(self.result_formats),
            )
        )

    @classmethod
    def decode(cls, payload: bytes) -> Bind:
        reader = _Reader(payload, "Bind")
        portal = reader.cstr()
        statement = reader.cstr()
        param_formats = reader.int16s()
        params = reader.counted_values()
        result_formats = reader.int16s()
        reader.end()
        return cls(portal, statement, param_formats, params, result_formats)


class BindTemplate:
    """The Bind messages of one prepared statement into the unnamed portal, with the parts
    that do not change between executions (names and format codes) encoded once.

    ``encode(params)`` gives the same bytes as
    ``Bind("", statement, param_formats, params, result_formats).encode()``, faster: it is
    the client's per-query hot path.  ``message(params)`` gives that Bind itself.
    """

    __slots__ = (
        "_arity",
        "_encode_all",
        "_head",
        "_tail",
        "param_formats",
        "result_formats",
        "statement",
    )

    def __init__(
        self, statement: str, param_formats: tuple[int, ...], result_formats: tuple[int, ...]
    ) -> None:
        self.statement = statement
        self.param_formats = param_formats
        self.result_formats = result_formats
        self._head = _cstr("") + _cstr(statement) + _int16s(param_formats)
        self._tail = _int16s(result_formats)
        #: encode_many's generated encoder, for rows of ``_arity`` parameters.
        self._encode_all: Callable[[Sequence[tuple[bytes | None, ...]], bytes, bytes], bytes] | None
        self._encode_all = None
        self._arity = -1

    def message(self, params: tuple[bytes | None, ...]) -> Bind:
        """The Bind message for ``params``."""
        return Bind("", self.statement, self.param_formats, params, self.result_formats)

    def encode(self, params: tuple[bytes | None, ...]) -> bytes:
        """The bytes of :meth:`message` for ``params``; ValueError if they would exceed
        :data:`MAX_MESSAGE_SIZE`."""
        # Not _counted(): one join for the whole message, so a large value is copied once.
        parts = [b"", self._head, _U16.pack(len(params))]
        append = parts.append
        try:
            for value in params:
                if value is None:
                    append(_NULL_LENGTH)
                else:
                    append(_I32.pack(len(value)))
                    append(value)
        except struct.error:
            self.check_size(params)
            raise
        append(self._tail)
        body_size = sum(map(len, parts)) + 4
        if body_size > MAX_MESSAGE_SIZE:
            self.check_size(params)
        parts[0] = _HEADER.pack(b"B", body_size)
        return b"".join(parts)

    def encode_many(
        self, param_rows: Sequence[tuple[bytes | None, ...]], execute: bytes, last: bytes = b""
    ) -> bytes:
        """``encode(params) + execute`` for each row of ``param_rows``, then ``last``, joined:
        the same bytes and the same errors, in one generated function per number of
        parameters (see :func:`_binds_encoder`) instead of a call and a list per row."""
        if not param_rows:
            return last
        count = len(param_rows[0])
        if count > _MAX_GENERATED_BINDS:
            parts: list[bytes] = []
            for params in param_rows:
                parts += (self.encode(params), execute)
            parts.append(last)
            return b"".join(parts)
        encode_all = self._encode_all
        if encode_all is None or self._arity != count:
            maker = _binds_encoder(count)
            head = self._head + _U16.pack(count)
            base = 4 + len(head) + 4 * count + len(self._tail)
            encode_all = self._encode_all = maker(head, base, self._tail, self.encode)
            self._arity = count
        return encode_all(param_rows, execute, last)

    def check_size(self, params: tuple[bytes | None, ...]) -> None:
        """Raise ValueError if the Bind for ``params`` would exceed :data:`MAX_MESSAGE_SIZE`."""
        sizes = [0 if value is None else len(value) for value in params]
        total = len(self._head) + len(self._tail) + 6 + 4 * len(sizes) + sum(sizes)
        if total > MAX_MESSAGE_SIZE:
            largest = max(range(len(sizes)), key=sizes.__getitem__) if sizes else 0
            raise ValueError(
                f"its parameters take {sum(sizes):,} bytes (${largest + 1}: "
                f"{sizes[largest] if sizes else 0:,}), over PostgreSQL's limit of "
                f"{MAX_MESSAGE_SIZE:,} bytes for one message; send large values in parts "
                "or with COPY"
            )

    def __repr__(self) -> str:
        return f"BindTemplate(statement={self.statement!r})"


#: At most this many parameters get a generated ``encode_many``; more take ``encode`` per row.
_MAX_GENERATED_BINDS = 64
#: The length words of values up to this long, made once (most parameters are short).
_LENGTH_WORDS = tuple(_I32.pack(n) for n in range(257))


@lru_cache(maxsize=64)
def _binds_encoder(count: int) -> Callable[..., Any]:
    """Compile a maker of :meth:`BindTemplate.encode_many` for rows of ``count`` values
    (once per count). For two values the maker's encoder is::

        def encode_many(rows, execute, last):
            out = []
            extend = out.extend
            for params in rows:
                if type(params) is tuple and len(params) == 2:
                    v0, v1, = params
                    if v0 is not None and v1 is not None:
                        n0 = len(v0)
                        n1 = len(v1)
                        size = base + n0 + n1
                        if size <= MAX_MESSAGE_SIZE:
                            extend((header(b"B", size), head,
                                    words[n0] if n0 < 257 else pack_length(n0), v0,
                                    words[n1] if n1 < 257 else pack_length(n1), v1,
                                    tail, execute))
                            continue
                extend((general(params), execute))
            out.append(last)
            return b"".join(out)

    ``head`` holds the portal, the statement, the formats and the count; ``base`` is the
    body's size without the values. A row with a NULL, of another length, or too large goes
    through ``general`` (:meth:`BindTemplate.encode`), which gives its bytes or its error.
    """
    names = [f"v{i}" for i in range(count)]
    unpack = f"{''.join(n + ', ' for n in names)}= params" if count else "pass"
    not_null = " and ".join(f"{n} is not None" for n in names) or "True"
    lengths = [f"n{i} = len({n})" for i, n in enumerate(names)]
    size = " + ".join(["base", *(f"n{i}" for i in range(count))])
    values = "".join(
        f"words[n{i}] if n{i} < 257 else pack_length(n{i}), {n}, " for i, n in enumerate(names)
    )
    source = "\n".join(
        [
            "def make(head, base, tail, general):",
            "  def encode_many(rows, execute, last):",
            "    out = []",
            "    extend = out.extend",
            "    for params in rows:",
            f"      if type(params) is tuple and len(params) == {count}:",
            f"        {unpack}",
            f"        if {not_null}:",
            *(f"          {line}" for line in lengths),
            f"          size = {size}",
            "          if size <= MAX_MESSAGE_SIZE:",
            f"            extend((header(b'B', size), head, {values}tail, execute))",
            "            continue",
            "      extend((general(params), execute))",
            "    out.append(last)",
            "    return b''.join(out)",
            "  return encode_many",
            "",
        ]
    )
    namespace: dict[str, Any] = {
        "MAX_MESSAGE_SIZE": MAX_MESSAGE_SIZE,
        "header": _HEADER.pack,
        "pack_length": _I32.pack,
        "words": _LENGTH_WORDS,
    }
    exec(compile(source, f"<pgwire Bind encoder {count}>", "exec"), namespace)
    return namespace["make"]  # type: ignore[no-any-return]


def _decode_target(reader: _Reader) -> tuple[Literal["S", "P"], str]:
    kind = reader.byte()
    if kind == 0x53:
        target: Literal["S", "P"] = "S"
    elif kind == 0x50:
        target = "P"
    else:
        raise reader.fail(f"target must be 'S' or 'P', got {bytes([kind])!r}")
    name = reader.cstr()
    reader.end()
    return target, name


@frozen_dataclass(slots=True)
class Describe(FrontendMessage):
    """Asks for the description of statement (``S``) or portal (``P``) ``name``."""

    code: ClassVar[bytes] = b"D"
    kind: Literal["S", "P"]
    name: str = ""

    def body(self) -> bytes:
        return self.kind.encode() + _cstr(self.name)

    @classmethod
    def decode(cls, payload: bytes) -> Describe:
        return cls(*_decode_target(_Reader(payload, "Describe")))


@frozen_dataclass(slots=True)
class Execute(FrontendMessage):
    """Runs a portal, returning at most ``max_rows`` rows (0: all)."""

    code: ClassVar[bytes] = b"E"
    portal: str = ""
    max_rows: int = 0

    def body(self) -> bytes:
        return _cstr(self.portal) + _I32.pack(self.max_rows)

    @classmethod
    def decode(cls, payload: bytes) -> Execute:
        reader = _Reader(payload, "Execute")
        portal = reader.cstr()
        max_rows = reader.int32()
        reader.end()
        return cls(portal, max_rows)


@frozen_dataclass(slots=True)
class Close(FrontendMessage):
    """Closes statement (``S``) or portal (``P``) ``name``."""

    code: ClassVar[bytes] = b"C"
    kind: Literal["S", "P"]
    name: str = ""

    def body(self) -> bytes:
        return self.kind.encode() + _cstr(self.name)

    @classmethod
    def decode(cls, payload: bytes) -> Close:
        return cls(*_decode_target(_Reader(payload, "Close")))


@frozen_dataclass(slots=True)
class Sync(FrontendMessage):
    """Ends an extended-query batch; the server answers with ReadyForQuery."""

    code: ClassVar[bytes] = b"S"


@frozen_dataclass(slots=True)
class Flush(FrontendMessage):
    """Asks the server to send what it has produced so far, without ending the batch."""

    code: ClassVar[bytes] = b"H"


@frozen_dataclass(slots=True)
class Terminate(FrontendMessage):
    """Ends the session."""

    code: ClassVar[bytes] = b"X"


@frozen_dataclass(slots=True)
class CopyFail(FrontendMessage):
    """Aborts COPY FROM STDIN with an error message."""

    code: ClassVar[bytes] = b"f"
    message: str

    def body(self) -> bytes:
        return _cstr(self.message)

    @classmethod
    def decode(cls, payload: bytes) -> CopyFail:
        reader = _Reader(payload, "CopyFail")
        message = reader.cstr()
        reader.end()
        return cls(message)


@frozen_dataclass(slots=True)
class FunctionCall(FrontendMessage):
    """Calls a function by OID (the legacy fast-path interface)."""

    code: ClassVar[bytes] = b"F"
    function_oid: int
    arg_formats: tuple[int, ...]
    args: tuple[bytes | None, ...]
    result_format: int = 0

    def body(self) -> bytes:
        return b"".join(
            (
                struct.pack("!I", self.function_oid),
                _int16s(self.arg_formats),
                _counted(self.args),
                _I16.pack(self.result_format),
            )
        )

    @classmethod
    def decode(cls, payload: bytes) -> FunctionCall:
        reader = _Reader(payload, "FunctionCall")
        oid = reader.int32() & 0xFFFFFFFF
        formats = reader.int16s()
        args = reader.counted_values()
        result_format = reader.int16()
        reader.end()
        return cls(oid, formats, args, result_format)


# --------------------------------------------------------------------------------------
# Messages both sides send
# --------------------------------------------------------------------------------------


@frozen_dataclass(slots=True)
class CopyData(FrontendMessage, BackendMessage):
    """A chunk of COPY data (either direction)."""

    code: ClassVar[bytes] = b"d"
    data: bytes

    def body(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode(cls, payload: bytes) -> CopyData:
        return cls(payload)


@frozen_dataclass(slots=True)
class CopyDone(FrontendMessage, BackendMessage):
    """The end of COPY data (either direction)."""

    code: ClassVar[bytes] = b"c"


# --------------------------------------------------------------------------------------
# Backend messages
# --------------------------------------------------------------------------------------


@frozen_dataclass(slots=True)
class AuthenticationOk(BackendMessage):
    """Authentication succeeded."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 0

    def body(self) -> bytes:
        return _I32.pack(self.auth_code)

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationOk:
        return cls()


@frozen_dataclass(slots=True)
class AuthenticationKerberosV5(BackendMessage):
    """The server asks for Kerberos V5 (unsupported by pgwire)."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 2

    def body(self) -> bytes:
        return _I32.pack(self.auth_code)

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationKerberosV5:
        return cls()


@frozen_dataclass(slots=True)
class AuthenticationCleartextPassword(BackendMessage):
    """The server asks for the password in clear text."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 3

    def body(self) -> bytes:
        return _I32.pack(self.auth_code)

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationCleartextPassword:
        return cls()


@frozen_dataclass(slots=True)
class AuthenticationMD5Password(BackendMessage):
    """The server asks for an MD5-hashed password, salted with ``salt``."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 5
    salt: bytes

    def body(self) -> bytes:
        return _I32.pack(self.auth_code) + self.salt

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationMD5Password:
        if len(payload) != 4:
            raise ProtocolError(
                f"malformed AuthenticationMD5Password message: salt of {len(payload)} bytes, "
                "expected 4"
            )
        return cls(payload)


@frozen_dataclass(slots=True)
class AuthenticationGSS(BackendMessage):
    """The server asks for GSSAPI authentication (unsupported by pgwire)."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 7

    def body(self) -> bytes:
        return _I32.pack(self.auth_code)

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationGSS:
        return cls()


@frozen_dataclass(slots=True)
class AuthenticationGSSContinue(BackendMessage):
    """More GSSAPI or SSPI data from the server (unsupported by pgwire)."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 8
    data: bytes

    def body(self) -> bytes:
        return _I32.pack(self.auth_code) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationGSSContinue:
        return cls(payload)


@frozen_dataclass(slots=True)
class AuthenticationSSPI(BackendMessage):
    """The server asks for SSPI authentication (unsupported by pgwire)."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 9

    def body(self) -> bytes:
        return _I32.pack(self.auth_code)

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationSSPI:
        return cls()


@frozen_dataclass(slots=True)
class AuthenticationSASL(BackendMessage):
    """The server offers SASL mechanisms, e.g. ``SCRAM-SHA-256`` and ``SCRAM-SHA-256-PLUS``."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 10
    mechanisms: tuple[str, ...]

    def body(self) -> bytes:
        return _I32.pack(self.auth_code) + b"".join(_cstr(m) for m in self.mechanisms) + b"\0"

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationSASL:
        reader = _Reader(payload, "AuthenticationSASL")
        mechanisms = []
        while True:
            name = reader.cstr()
            if not name:
                break
            mechanisms.append(name)
        reader.end()
        return cls(tuple(mechanisms))


@frozen_dataclass(slots=True)
class AuthenticationSASLContinue(BackendMessage):
    """A SASL challenge, e.g. SCRAM's server-first message."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 11
    data: bytes

    def body(self) -> bytes:
        return _I32.pack(self.auth_code) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationSASLContinue:
        return cls(payload)


@frozen_dataclass(slots=True)
class AuthenticationSASLFinal(BackendMessage):
    """The SASL outcome, e.g. SCRAM's server-final message with the server signature."""

    code: ClassVar[bytes] = b"R"
    auth_code: ClassVar[int] = 12
    data: bytes

    def body(self) -> bytes:
        return _I32.pack(self.auth_code) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> AuthenticationSASLFinal:
        return cls(payload)


_AuthMessage = (
    AuthenticationOk
    | AuthenticationKerberosV5
    | AuthenticationCleartextPassword
    | AuthenticationMD5Password
    | AuthenticationGSS
    | AuthenticationGSSContinue
    | AuthenticationSSPI
    | AuthenticationSASL
    | AuthenticationSASLContinue
    | AuthenticationSASLFinal
)

_AUTH_CLASSES: dict[int, Callable[[bytes], _AuthMessage]] = {
    cls.auth_code: cls.decode
    for cls in (
        AuthenticationOk,
        AuthenticationKerberosV5,
        AuthenticationCleartextPassword,
        AuthenticationMD5Password,
        AuthenticationGSS,
        AuthenticationGSSContinue,
        AuthenticationSSPI,
        AuthenticationSASL,
        AuthenticationSASLContinue,
        AuthenticationSASLFinal,
    )
}
_EMPTY_AUTH = frozenset({0, 2, 3, 7, 9})


def _decode_authentication(payload: bytes) -> _AuthMessage:
    if len(payload) < 4:
        raise ProtocolError(f"malformed Authentication message: {len(payload)}-byte body")
    (auth_code,) = _I32.unpack_from(payload, 0)
    decode = _AUTH_CLASSES.get(auth_code)
    if decode is None:
        raise ProtocolError(f"unknown authentication request code {auth_code}")
    body = payload[4:]
    if auth_code in _EMPTY_AUTH and body:
        raise ProtocolError(
            f"malformed Authentication message: request {auth_code} with {len(body)} extra bytes"
        )
    return decode(body)


@frozen_dataclass(slots=True)
class BackendKeyData(BackendMessage):
    """The process id and secret key that a CancelRequest must quote."""

    code: ClassVar[bytes] = b"K"
    process_id: int
    secret_key: bytes = field(repr=False)

    def body(self) -> bytes:
        return _I32.pack(self.process_id) + self.secret_key

    @classmethod
    def decode(cls, payload: bytes) -> BackendKeyData:
        reader = _Reader(payload, "BackendKeyData")
        process_id = reader.int32()
        key = reader.rest()
        if not 4 <= len(key) <= MAX_CANCEL_KEY_LENGTH:
            raise reader.fail(f"secret key of {len(key)} bytes (expected 4 to 256)")
        return cls(process_id, key)


@frozen_dataclass(slots=True)
class ParameterStatus(BackendMessage):
    """The current value of a run-time parameter the server reports (server_version, ...)."""

    code: ClassVar[bytes] = b"S"
    name: str
    value: str

    def body(self) -> bytes:
        return _cstr(self.name) + _cstr(self.value)

    @classmethod
    def decode(cls, payload: bytes) -> ParameterStatus:
        reader = _Reader(payload, "ParameterStatus")
        name = reader.cstr()
        value = reader.cstr("replace")
        reader.end()
        return cls(name, value)


@frozen_dataclass(slots=True)
class ReadyForQuery(BackendMessage):
    """The server is idle: ``I`` (no transaction), ``T`` (in one) or ``E`` (failed one)."""

    code: ClassVar[bytes] = b"Z"
    status: Literal["I", "T", "E"]

    def body(self) -> bytes:
        return self.status.encode()

    @classmethod
    def decode(cls, payload: bytes) -> ReadyForQuery:
        if payload == b"I":
            return _RFQ_IDLE
        if payload == b"T":
            return _RFQ_IN_TRANSACTION
        if payload == b"E":
            return _RFQ_FAILED
        raise ProtocolError(f"malformed ReadyForQuery message: status {payload[:8]!r}")


_RFQ_IDLE = ReadyForQuery("I")
_RFQ_IN_TRANSACTION = ReadyForQuery("T")
_RFQ_FAILED = ReadyForQuery("E")


@frozen_dataclass(slots=True)
class FieldDescription:
    """One column of a RowDescription."""

    name: str
    table_oid: int = 0
    column: int = 0
    type_oid: int = 0
    type_size: int = -1
    type_modifier: int = -1
    format: int = 0


_FIELD = struct.Struct("!IhIhih")


@frozen_dataclass(slots=True)
class RowDescription(BackendMessage):
    """The columns of the rows that follow."""

    code: ClassVar[bytes] = b"T"
    fields: tuple[FieldDescription, ...]

    def body(self) -> bytes:
        parts = [_I16.pack(len(self.fields))]
        for f in self.fields:
            parts.append(_cstr(f.name))
            parts.append(
                _FIELD.pack(
                    f.table_oid, f.column, f.type_oid, f.type_size, f.type_modifier, f.format
                )
            )
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> RowDescription:
        reader = _Reader(payload, "RowDescription")
        count = reader.int16()
        if count < 0:
            raise reader.fail(f"negative field count {count}")
        fields = []
        for _ in range(count):
            name = reader.cstr()
            try:
                values = _FIELD.unpack_from(payload, reader.pos)
            except struct.error:
                raise reader.fail(f"field {name!r} is truncated") from None
            reader.pos += _FIELD.size
            fields.append(FieldDescription(name, *values))
        reader.end()
        return cls(tuple(fields))


_unpack_i32 = _I32.unpack_from
_unpack_i16 = _I16.unpack_from


@frozen_dataclass(slots=True)
class DataRow(BackendMessage):
    """One row: each column's bytes, or ``None`` for NULL."""

    code: ClassVar[bytes] = b"D"
    values: tuple[bytes | None, ...]

    def body(self) -> bytes:
        return _counted(self.values)

    @classmethod
    def decode(cls, payload: bytes) -> DataRow:
        # The hot path of every result set: one pass, no per-column helper calls.
        try:
            (count,) = _unpack_i16(payload, 0)
            if count < 0:
                raise ProtocolError(f"malformed DataRow message: negative column count {count}")
            pos = 2
            values: list[bytes | None] = []
            append = values.append
            for _ in range(count):
                (length,) = _unpack_i32(payload, pos)
                pos += 4
                if length < 0:
                    if length != -1:
                        raise ProtocolError(
                            f"malformed DataRow message: invalid column length {length}"
                        )
                    append(None)
                else:
                    end = pos + length
                    append(payload[pos:end])
                    pos = end
        except struct.error:
            raise ProtocolError("malformed DataRow message: truncated") from None
        if pos != len(payload):
            if pos > len(payload):
                raise ProtocolError("malformed DataRow message: a column runs past the end")
            raise ProtocolError(
                f"malformed DataRow message: {len(payload) - pos} unexpected trailing bytes"
            )
        return cls(tuple(values))


@frozen_dataclass(slots=True)
class CommandComplete(BackendMessage):
    """A statement finished; ``tag`` is e.g. ``INSERT 0 3`` or ``SELECT 10``."""

    code: ClassVar[bytes] = b"C"
    tag: str

    def body(self) -> bytes:
        return _cstr(self.tag)

    @classmethod
    def decode(cls, payload: bytes) -> CommandComplete:
        reader = _Reader(payload, "CommandComplete")
        tag = reader.cstr()
        reader.end()
        return cls(tag)


@frozen_dataclass(slots=True)
class EmptyQueryResponse(BackendMessage):
    """The query string was empty."""

    code: ClassVar[bytes] = b"I"


def _encode_fields(fields: Mapping[str, str]) -> bytes:
    parts = []
    for key, value in fields.items():
        code = key.encode()
        if len(code) != 1 or code == b"\0":
            raise ValueError(f"error field codes are single non-NUL ASCII characters, got {key!r}")
        parts.append(code)
        parts.append(_cstr(value))
    parts.append(b"\0")
    return b"".join(parts)


def _decode_fields(payload: bytes, name: str) -> dict[str, str]:
    reader = _Reader(payload, name)
    fields: dict[str, str] = {}
    while True:
        code = reader.byte()
        if code == 0:
            break
        # Error texts may be in the server's encoding before client_encoding applies.
        fields[chr(code)] = reader.cstr("replace")
    reader.end()
    return fields


@frozen_dataclass(slots=True)
class ErrorResponse(BackendMessage):
    """An error; ``fields`` maps one-letter codes (``S``, ``C``, ``M``, ...) to text."""

    code: ClassVar[bytes] = b"E"
    fields: Mapping[str, str]

    def body(self) -> bytes:
        return _encode_fields(self.fields)

    @classmethod
    def decode(cls, payload: bytes) -> ErrorResponse:
        return cls(_decode_fields(payload, "ErrorResponse"))

    @property
    def sqlstate(self) -> str:
        """The SQLSTATE code, or an empty string."""
        return self.fields.get("C", "")

    @property
    def severity(self) -> str:
        """The non-localized severity (ERROR, FATAL, PANIC)."""
        return self.fields.get("V") or self.fields.get("S", "")


@frozen_dataclass(slots=True)
class NoticeResponse(BackendMessage):
    """A notice or warning; same fields as an ErrorResponse."""

    code: ClassVar[bytes] = b"N"
    fields: Mapping[str, str]

    def body(self) -> bytes:
        return _encode_fields(self.fields)

    @classmethod
    def decode(cls, payload: bytes) -> NoticeResponse:
        return cls(_decode_fields(payload, "NoticeResponse"))


@frozen_dataclass(slots=True)
class NotificationResponse(BackendMessage):
    """A NOTIFY delivered to a channel this session listens on."""

    code: ClassVar[bytes] = b"A"
    process_id: int
    channel: str
    payload: str

    def body(self) -> bytes:
        return _I32.pack(self.process_id) + _cstr(self.channel) + _cstr(self.payload)

    @classmethod
    def decode(cls, payload: bytes) -> NotificationResponse:
        reader = _Reader(payload, "NotificationResponse")
        process_id = reader.int32()
        channel = reader.cstr()
        text = reader.cstr()
        reader.end()
        return cls(process_id, channel, text)


@frozen_dataclass(slots=True)
class ParseComplete(BackendMessage):
    """A Parse succeeded."""

    code: ClassVar[bytes] = b"1"


@frozen_dataclass(slots=True)
class BindComplete(BackendMessage):
    """A Bind succeeded."""

    code: ClassVar[bytes] = b"2"


@frozen_dataclass(slots=True)
class CloseComplete(BackendMessage):
    """A Close succeeded."""

    code: ClassVar[bytes] = b"3"


@frozen_dataclass(slots=True)
class NoData(BackendMessage):
    """The described statement or portal returns no rows."""

    code: ClassVar[bytes] = b"n"


@frozen_dataclass(slots=True)
class PortalSuspended(BackendMessage):
    """Execute reached its row limit; the portal can be executed again for more."""

    code: ClassVar[bytes] = b"s"


@frozen_dataclass(slots=True)
class ParameterDescription(BackendMessage):
    """The parameter types of a described statement."""

    code: ClassVar[bytes] = b"t"
    type_oids: tuple[int, ...]

    def body(self) -> bytes:
        oids = self.type_oids
        return struct.pack(f"!H{len(oids)}I", len(oids), *oids)

    @classmethod
    def decode(cls, payload: bytes) -> ParameterDescription:
        reader = _Reader(payload, "ParameterDescription")
        # The count is unsigned here: a statement may have up to 65535 parameters.
        try:
            (count,) = _U16.unpack_from(payload, 0)
        except struct.error:
            raise reader.fail("truncated before the parameter count") from None
        reader.pos = 2
        oids = tuple(reader.int32() & 0xFFFFFFFF for _ in range(count))
        reader.end()
        return cls(oids)


def _copy_response_payload(overall: int, formats: tuple[int, ...]) -> bytes:
    return bytes([overall]) + _int16s(formats)


def _decode_copy_response(payload: bytes, name: str) -> tuple[int, tuple[int, ...]]:
    reader = _Reader(payload, name)
    overall = reader.byte()
    formats = reader.int16s()
    reader.end()
    if overall not in (0, 1):
        raise reader.fail(f"unknown COPY format {overall}")
    return overall, formats


@frozen_dataclass(slots=True)
class CopyInResponse(BackendMessage):
    """COPY FROM STDIN started: the client now sends CopyData, then CopyDone or CopyFail."""

    code: ClassVar[bytes] = b"G"
    format: int
    column_formats: tuple[int, ...]

    def body(self) -> bytes:
        return _copy_response_payload(self.format, self.column_formats)

    @classmethod
    def decode(cls, payload: bytes) -> CopyInResponse:
        return cls(*_decode_copy_response(payload, "CopyInResponse"))


@frozen_dataclass(slots=True)
class CopyOutResponse(BackendMessage):
    """COPY TO STDOUT started: CopyData messages follow, then CopyDone."""

    code: ClassVar[bytes] = b"H"
    format: int
    column_formats: tuple[int, ...]

    def body(self) -> bytes:
        return _copy_response_payload(self.format, self.column_formats)

    @classmethod
    def decode(cls, payload: bytes) -> CopyOutResponse:
        return cls(*_decode_copy_response(payload, "CopyOutResponse"))


@frozen_dataclass(slots=True)
class CopyBothResponse(BackendMessage):
    """Both-ways COPY started (streaming replication)."""

    code: ClassVar[bytes] = b"W"
    format: int
    column_formats: tuple[int, ...]

    def body(self) -> bytes:
        return _copy_response_payload(self.format, self.column_formats)

    @classmethod
    def decode(cls, payload: bytes) -> CopyBothResponse:
        return cls(*_decode_copy_response(payload, "CopyBothResponse"))


@frozen_dataclass(slots=True)
class NegotiateProtocolVersion(BackendMessage):
    """The server's newest supported minor version and the ``_pq_.`` options it did not know."""

    code: ClassVar[bytes] = b"v"
    newest_minor_version: int
    unrecognized_options: tuple[str, ...] = ()

    def body(self) -> bytes:
        options = self.unrecognized_options
        return _I32I32.pack(self.newest_minor_version, len(options)) + b"".join(
            _cstr(o) for o in options
        )

    @classmethod
    def decode(cls, payload: bytes) -> NegotiateProtocolVersion:
        reader = _Reader(payload, "NegotiateProtocolVersion")
        minor = reader.int32()
        count = reader.int32()
        if count < 0 or count > len(payload):
            raise reader.fail(f"option count {count}")
        options = tuple(reader.cstr() for _ in range(count))
        reader.end()
        return cls(minor, options)


@frozen_dataclass(slots=True)
class FunctionCallResponse(BackendMessage):
    """The result of a FunctionCall (``None`` for NULL)."""

    code: ClassVar[bytes] = b"V"
    result: bytes | None

    def body(self) -> bytes:
        if self.result is None:
            return _NULL_LENGTH
        return _I32.pack(len(self.result)) + self.result

    @classmethod
    def decode(cls, payload: bytes) -> FunctionCallResponse:
        reader = _Reader(payload, "FunctionCallResponse")
        length = reader.int32()
        result = None if length == -1 else reader.raw(length)
        reader.end()
        return cls(result)


# --------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------

BACKEND_DECODERS: dict[int, Callable[[bytes], BackendMessage]] = {
    ord(cls.code): cls.decode
    for cls in (
        BackendKeyData,
        ParameterStatus,
        ReadyForQuery,
        RowDescription,
        DataRow,
        CommandComplete,
        EmptyQueryResponse,
        ErrorResponse,
        NoticeResponse,
        NotificationResponse,
        ParseComplete,
        BindComplete,
        CloseComplete,
        NoData,
        PortalSuspended,
        ParameterDescription,
        CopyInResponse,
        CopyOutResponse,
        CopyBothResponse,
        CopyData,
        CopyDone,
        NegotiateProtocolVersion,
        FunctionCallResponse,
    )
}
BACKEND_DECODERS[ord("R")] = _decode_authentication

FRONTEND_DECODERS: dict[int, Callable[[bytes], FrontendMessage]] = {
    ord(cls.code): cls.decode
    for cls in (
        Query,
        Parse,
        Bind,
        Describe,
        Execute,
        Close,
        Sync,
        Flush,
        Terminate,
        CopyData,
        CopyDone,
        CopyFail,
        FunctionCall,
        PasswordMessage,
    )
}

#: How a ``p`` message is read depends on what the server asked for.
PasswordKind = Literal["password", "sasl-initial", "sasl", "gss"]
_PASSWORD_DECODERS: dict[str, Callable[[bytes], FrontendMessage]] = {
    "password": PasswordMessage.decode,
    "sasl-initial": SASLInitialResponse.decode,
    "sasl": SASLResponse.decode,
    "gss": GSSResponse.decode,
}


def _unknown(direction: str, code: int) -> ProtocolError:
    return ProtocolError(
        f"unknown {direction} message type {bytes([code])!r} (0x{code:02x}); "
        "the peer is not speaking PostgreSQL protocol 3"
    )


def decode_backend(code: int, payload: bytes) -> BackendMessage:
    """Decode a server message from its type byte and payload."""
    decode = BACKEND_DECODERS.get(code)
    if decode is None:
        raise _unknown("backend", code)
    return decode(payload)


def decode_frontend(
    code: int, payload: bytes, *, password_kind: PasswordKind = "password"
) -> FrontendMessage:
    """Decode a client message; ``password_kind`` says how to read a ``p`` message."""
    if code == 0x70:
        return _PASSWORD_DECODERS[password_kind](payload)
    decode = FRONTEND_DECODERS.get(code)
    if decode is None:
        raise _unknown("frontend", code)
    return decode(payload)
