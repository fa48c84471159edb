"""pgwire.protocol.messages: every message's bytes, both directions, and every way to break one.

Round trips cover every message class with hypothesis-drawn field values; known vectors pin
the layouts to the PostgreSQL documentation (protocol-message-formats.html).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwire.errors import ProtocolError
from pgwire.protocol import messages
from pgwire.protocol.messages import (
    BACKEND_DECODERS,
    FRONTEND_DECODERS,
    PROTOCOL_3_2,
    AuthenticationCleartextPassword,
    AuthenticationGSS,
    AuthenticationGSSContinue,
    AuthenticationKerberosV5,
    AuthenticationMD5Password,
    AuthenticationOk,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    AuthenticationSSPI,
    BackendKeyData,
    BackendMessage,
    Bind,
    BindComplete,
    CancelRequest,
    Close,
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
    FrontendMessage,
    FunctionCall,
    FunctionCallResponse,
    GSSENCRequest,
    GSSResponse,
    Message,
    NegotiateProtocolVersion,
    NoData,
    NoticeResponse,
    NotificationResponse,
    ParameterDescription,
    ParameterStatus,
    Parse,
    ParseComplete,
    PasswordKind,
    PasswordMessage,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    SASLInitialResponse,
    SASLResponse,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
    decode_backend,
    decode_frontend,
    decode_startup,
)

# --------------------------------------------------------------------------------------
# Strategies for field values
# --------------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=24)
NAME = st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=24
)
BLOB = st.binary(max_size=48)
NUL_FREE_BLOB = BLOB.filter(lambda b: b"\0" not in b)
INT16 = st.integers(-(2**15), 2**15 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)
FORMAT = st.sampled_from([0, 1])
FORMATS = st.lists(FORMAT, max_size=5).map(tuple)
VALUES = st.lists(st.none() | BLOB, max_size=6).map(tuple)
CANCEL_KEY = st.binary(min_size=4, max_size=256)
TARGET = st.sampled_from(["S", "P"])
ERROR_FIELDS = st.dictionaries(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), TEXT, max_size=6
)
# Any version but the magic numbers of SSLRequest, GSSENCRequest and CancelRequest (1234.567x).
VERSION = st.sampled_from([(3, 0), (3, 2)]) | st.tuples(
    st.integers(0, 1233), st.integers(0, 0xFFFF)
)

STARTUP_STRATEGIES: dict[type[FrontendMessage], st.SearchStrategy[FrontendMessage]] = {
    StartupMessage: st.builds(StartupMessage, st.dictionaries(NAME, TEXT, max_size=4), VERSION),
    SSLRequest: st.just(SSLRequest()),
    GSSENCRequest: st.just(GSSENCRequest()),
    CancelRequest: st.builds(CancelRequest, INT32, CANCEL_KEY),
}

#: Frontend messages with a type byte, and how a ``p`` message among them must be read.
FRONTEND_STRATEGIES: dict[type[FrontendMessage], st.SearchStrategy[FrontendMessage]] = {
    PasswordMessage: st.builds(PasswordMessage, NUL_FREE_BLOB),
    GSSResponse: st.builds(GSSResponse, BLOB),
    SASLInitialResponse: st.builds(SASLInitialResponse, TEXT, st.none() | BLOB),
    SASLResponse: st.builds(SASLResponse, BLOB),
    Query: st.builds(Query, TEXT),
    Parse: st.builds(Parse, TEXT, TEXT, st.lists(UINT32, max_size=5).map(tuple)),
    Bind: st.builds(Bind, TEXT, TEXT, FORMATS, VALUES, FORMATS),
    Describe: st.builds(Describe, TARGET, TEXT),
    Execute: st.builds(Execute, TEXT, INT32),
    Close: st.builds(Close, TARGET, TEXT),
    Sync: st.just(Sync()),
    Flush: st.just(Flush()),
    Terminate: st.just(Terminate()),
    CopyData: st.builds(CopyData, BLOB),
    CopyDone: st.just(CopyDone()),
    CopyFail: st.builds(CopyFail, TEXT),
    FunctionCall: st.builds(FunctionCall, UINT32, FORMATS, VALUES, INT16),
}
PASSWORD_KINDS: dict[type[FrontendMessage], PasswordKind] = {
    PasswordMessage: "password",
    GSSResponse: "gss",
    SASLInitialResponse: "sasl-initial",
    SASLResponse: "sasl",
}

BACKEND_STRATEGIES: dict[type[BackendMessage], st.SearchStrategy[BackendMessage]] = {
    AuthenticationOk: st.just(AuthenticationOk()),
    AuthenticationKerberosV5: st.just(AuthenticationKerberosV5()),
    AuthenticationCleartextPassword: st.just(AuthenticationCleartextPassword()),
    AuthenticationMD5Password: st.builds(
        AuthenticationMD5Password, st.binary(min_size=4, max_size=4)
    ),
    AuthenticationGSS: st.just(AuthenticationGSS()),
    AuthenticationGSSContinue: st.builds(AuthenticationGSSContinue, BLOB),
    AuthenticationSSPI: st.just(AuthenticationSSPI()),
    AuthenticationSASL: st.builds(AuthenticationSASL, st.lists(NAME, max_size=3).map(tuple)),
    AuthenticationSASLContinue: st.builds(AuthenticationSASLContinue, BLOB),
    AuthenticationSASLFinal: st.builds(AuthenticationSASLFinal, BLOB),
    BackendKeyData: st.builds(BackendKeyData, INT32, CANCEL_KEY),
    ParameterStatus: st.builds(ParameterStatus, TEXT, TEXT),
    ReadyForQuery: st.builds(ReadyForQuery, st.sampled_from(["I", "T", "E"])),
    RowDescription: st.builds(
        RowDescription,
        st.lists(
            st.builds(FieldDescription, TEXT, UINT32, INT16, UINT32, INT16, INT32, INT16),
            max_size=4,
        ).map(tuple),
    ),
    DataRow: st.builds(DataRow, VALUES),
    CommandComplete: st.builds(CommandComplete, TEXT),
    EmptyQueryResponse: st.just(EmptyQueryResponse()),
    ErrorResponse: st.builds(ErrorResponse, ERROR_FIELDS),
    NoticeResponse: st.builds(NoticeResponse, ERROR_FIELDS),
    NotificationResponse: st.builds(NotificationResponse, INT32, TEXT, TEXT),
    ParseComplete: st.just(ParseComplete()),
    BindComplete: st.just(BindComplete()),
    CloseComplete: st.just(CloseComplete()),
    NoData: st.just(NoData()),
    PortalSuspended: st.just(PortalSuspended()),
    ParameterDescription: st.builds(ParameterDescription, st.lists(UINT32, max_size=5).map(tuple)),
    CopyInResponse: st.builds(CopyInResponse, FORMAT, FORMATS),
    CopyOutResponse: st.builds(CopyOutResponse, FORMAT, FORMATS),
    CopyBothResponse: st.builds(CopyBothResponse, FORMAT, FORMATS),
    CopyData: st.builds(CopyData, BLOB),
    CopyDone: st.just(CopyDone()),
    NegotiateProtocolVersion: st.builds(
        NegotiateProtocolVersion, INT32, st.lists(TEXT, max_size=3).map(tuple)
    ),
    FunctionCallResponse: st.builds(FunctionCallResponse, st.none() | BLOB),
}


def _name(cls: type) -> str:
    return cls.__name__


def _split(encoded: bytes) -> tuple[int, bytes]:
    (length,) = struct.unpack_from("!i", encoded, 1)
    assert length == len(encoded) - 1, "the length word counts itself and the payload"
    return encoded[0], encoded[5:]


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------


def test_every_message_class_has_a_round_trip_strategy() -> None:
    classes = {
        obj
        for name in messages.__all__
        if isinstance(obj := getattr(messages, name), type)
        and issubclass(obj, Message)
        and obj not in (Message, FrontendMessage, BackendMessage)
    }
    frontend = {cls for cls in classes if issubclass(cls, FrontendMessage)}
    backend = {cls for cls in classes if issubclass(cls, BackendMessage)}
    assert frontend == set(FRONTEND_STRATEGIES) | set(STARTUP_STRATEGIES)
    assert backend == set(BACKEND_STRATEGIES)


@pytest.mark.parametrize("cls", sorted(BACKEND_STRATEGIES, key=_name), ids=_name)
@given(data=st.data())
def test_backend_message_round_trips_through_decode_backend(
    cls: type[BackendMessage], data: st.DataObject
) -> None:
    message = data.draw(BACKEND_STRATEGIES[cls])
    code, payload = _split(message.encode())
    assert bytes([code]) == cls.code
    assert decode_backend(code, payload) == message


@pytest.mark.parametrize("cls", sorted(FRONTEND_STRATEGIES, key=_name), ids=_name)
@given(data=st.data())
def test_frontend_message_round_trips_through_decode_frontend(
    cls: type[FrontendMessage], data: st.DataObject
) -> None:
    message = data.draw(FRONTEND_STRATEGIES[cls])
    code, payload = _split(message.encode())
    assert bytes([code]) == cls.code
    kind = PASSWORD_KINDS.get(cls, "password")
    assert decode_frontend(code, payload, password_kind=kind) == message


@pytest.mark.parametrize("cls", sorted(STARTUP_STRATEGIES, key=_name), ids=_name)
@given(data=st.data())
def test_startup_message_round_trips_through_decode_startup(
    cls: type[FrontendMessage], data: st.DataObject
) -> None:
    message = data.draw(STARTUP_STRATEGIES[cls])
    encoded = message.encode()
    (length,) = struct.unpack_from("!i", encoded)
    assert length == len(encoded), "a startup packet has no type byte"
    assert decode_startup(encoded[4:]) == message


def test_statements_with_65535_parameters_round_trip() -> None:
    # PostgreSQL reads these counts as unsigned 16-bit integers (the limit libpq enforces).
    parse = Parse("s", "INSERT ...", (23,) * 65535)
    bind = Bind("", "s", (1,), (b"\0\0\0\1",) * 65535, ())
    for message in (parse, bind):
        code, payload = _split(message.encode())
        assert decode_frontend(code, payload) == message


# --------------------------------------------------------------------------------------
# Known byte vectors (protocol-message-formats.html)
# --------------------------------------------------------------------------------------

KNOWN_VECTORS = [
    pytest.param(SSLRequest(), bytes.fromhex("00000008 04d2162f"), id="SSLRequest"),
    pytest.param(GSSENCRequest(), bytes.fromhex("00000008 04d21630"), id="GSSENCRequest"),
    pytest.param(
        CancelRequest(0x01020304, b"\xaa\xbb\xcc\xdd"),
        bytes.fromhex("00000010 04d2162e 01020304 aabbccdd"),
        id="CancelRequest",
    ),
    pytest.param(
        StartupMessage({"user": "alice", "database": "db"}),
        b"\x00\x00\x00\x20\x00\x03\x00\x00user\0alice\0database\0db\0\0",
        id="StartupMessage",
    ),
    pytest.param(
        StartupMessage({"user": "u"}, PROTOCOL_3_2),
        b"\x00\x00\x00\x10\x00\x03\x00\x02user\0u\0\0",
        id="StartupMessage-3.2",
    ),
    pytest.param(Sync(), b"S\0\0\0\4", id="Sync"),
    pytest.param(Flush(), b"H\0\0\0\4", id="Flush"),
    pytest.param(Terminate(), b"X\0\0\0\4", id="Terminate"),
    pytest.param(CopyDone(), b"c\0\0\0\4", id="CopyDone"),
    pytest.param(Query("SELECT 1"), b"Q\0\0\0\x0dSELECT 1\0", id="Query"),
    pytest.param(PasswordMessage(b"secret"), b"p\0\0\0\x0bsecret\0", id="PasswordMessage"),
    pytest.param(Execute(), b"E\0\0\0\x09\0\0\0\0\0", id="Execute"),
    pytest.param(Describe("S", "s1"), b"D\0\0\0\x08Ss1\0", id="Describe"),
    pytest.param(
        Parse("", "SELECT $1", (23,)), b"P\0\0\0\x15\0SELECT $1\0\0\x01\0\0\0\x17", id="Parse"
    ),
    pytest.param(
        Bind("", "", (1,), (b"\0\0\0\x2a", None), (1,)),
        b"B\0\0\0\x1c\0\0\0\x01\0\x01\0\x02\0\0\0\x04\0\0\0\x2a\xff\xff\xff\xff\0\x01\0\x01",
        id="Bind",
    ),
    pytest.param(
        SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=abc"),
        b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc",
        id="SASLInitialResponse",
    ),
    pytest.param(AuthenticationOk(), b"R\0\0\0\x08\0\0\0\0", id="AuthenticationOk"),
    pytest.param(
        AuthenticationMD5Password(b"\1\2\3\4"),
        b"R\0\0\0\x0c\0\0\0\x05\1\2\3\4",
        id="AuthenticationMD5Password",
    ),
    pytest.param(
        AuthenticationSASL(("SCRAM-SHA-256",)),
        b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0",
        id="AuthenticationSASL",
    ),
    pytest.param(
        BackendKeyData(7, b"\0\0\1\0"), b"K\0\0\0\x0c\0\0\0\x07\0\0\1\0", id="BackendKeyData"
    ),
    pytest.param(ReadyForQuery("I"), b"Z\0\0\0\x05I", id="ReadyForQuery"),
    pytest.param(
        DataRow((b"1", None)), b"D\0\0\0\x0f\0\x02\0\0\0\x011\xff\xff\xff\xff", id="DataRow"
    ),
    pytest.param(
        RowDescription((FieldDescription("a", 0, 0, 23, 4, -1, 0),)),
        b"T\0\0\0\x1a\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
        id="RowDescription",
    ),
    pytest.param(CommandComplete("SELECT 1"), b"C\0\0\0\x0dSELECT 1\0", id="CommandComplete"),
    pytest.param(
        ErrorResponse({"S": "ERROR", "C": "42601"}),
        b"E\0\0\0\x13SERROR\0C42601\0\0",
        id="ErrorResponse",
    ),
    pytest.param(
        NegotiateProtocolVersion(0, ("_pq_.x",)),
        b"v\0\0\0\x13\0\0\0\0\0\0\0\x01_pq_.x\0",
        id="NegotiateProtocolVersion",
    ),
]


@pytest.mark.parametrize(("message", "expected"), KNOWN_VECTORS)
def test_message_encodes_to_the_documented_bytes(message: Message, expected: bytes) -> None:
    assert message.encode() == expected


# --------------------------------------------------------------------------------------
# Secrets stay out of repr
# --------------------------------------------------------------------------------------

SECRET = b"hunter2-\xde\xad\xbe\xef"


@pytest.mark.parametrize(
    "message",
    [
        PasswordMessage(SECRET),
        GSSResponse(SECRET),
        SASLInitialResponse("SCRAM-SHA-256", SECRET),
        SASLResponse(SECRET),
        CancelRequest(1234, SECRET),
        BackendKeyData(1234, SECRET),
    ],
    ids=lambda message: type(message).__name__,
)
def test_secret_is_absent_from_repr(message: Message) -> None:
    text = repr(message)
    assert "hunter2" not in text
    assert "\\xde\\xad" not in text
    assert type(message).__name__ in text


def test_cancel_key_holders_still_show_the_process_id() -> None:
    assert "1234" in repr(BackendKeyData(1234, SECRET))
    assert "1234" in repr(CancelRequest(1234, SECRET))


# --------------------------------------------------------------------------------------
# Malformed payloads
# --------------------------------------------------------------------------------------


def _i16(value: int) -> bytes:
    return struct.pack("!h", value)


def _i32(value: int) -> bytes:
    return struct.pack("!i", value)


MALFORMED_BACKEND = [
    # Authentication requests
    pytest.param(b"R", b"\0\0", "Authentication", id="auth-truncated"),
    pytest.param(b"R", _i32(99), "authentication request code 99", id="auth-unknown-code"),
    pytest.param(b"R", _i32(0) + b"x", "request 0 with 1 extra bytes", id="auth-ok-trailing"),
    pytest.param(b"R", _i32(5) + b"abc", "AuthenticationMD5Password", id="md5-short-salt"),
    pytest.param(b"R", _i32(10) + b"SCRAM", "AuthenticationSASL", id="sasl-unterminated"),
    pytest.param(b"R", _i32(10) + b"SCRAM\0", "AuthenticationSASL", id="sasl-no-list-end"),
    pytest.param(b"R", _i32(10) + b"A\0\0x", "AuthenticationSASL", id="sasl-trailing"),
    # Session facts
    pytest.param(b"K", b"\0\0", "BackendKeyData", id="key-truncated"),
    pytest.param(b"K", _i32(1) + b"abc", "BackendKeyData", id="key-too-short"),
    pytest.param(b"K", _i32(1) + b"k" * 257, "BackendKeyData", id="key-too-long"),
    pytest.param(b"S", b"name\0value", "ParameterStatus", id="parameter-unterminated"),
    pytest.param(b"S", b"\xff\0v\0", "ParameterStatus", id="parameter-name-not-utf8"),
    pytest.param(b"S", b"a\0b\0c", "ParameterStatus", id="parameter-trailing"),
    pytest.param(b"Z", b"X", "ReadyForQuery", id="ready-bad-status"),
    pytest.param(b"Z", b"", "ReadyForQuery", id="ready-empty"),
    pytest.param(b"Z", b"II", "ReadyForQuery", id="ready-two-bytes"),
    # Results
    pytest.param(b"T", b"", "RowDescription", id="rowdesc-empty"),
    pytest.param(b"T", _i16(-1), "RowDescription", id="rowdesc-negative-count"),
    pytest.param(b"T", _i16(1), "RowDescription", id="rowdesc-missing-field"),
    pytest.param(b"T", _i16(1) + b"id\0" + b"\0" * 17, "RowDescription", id="rowdesc-short"),
    pytest.param(b"T", _i16(0) + b"x", "RowDescription", id="rowdesc-trailing"),
    pytest.param(b"D", b"", "DataRow", id="datarow-empty"),
    pytest.param(b"D", _i16(-1), "DataRow", id="datarow-negative-count"),
    pytest.param(b"D", _i16(1) + _i32(-2), "DataRow", id="datarow-bad-length"),
    pytest.param(b"D", _i16(1) + _i32(10) + b"abc", "DataRow", id="datarow-runs-past-end"),
    pytest.param(b"D", _i16(2) + _i32(1) + b"a", "DataRow", id="datarow-missing-column"),
    pytest.param(b"D", _i16(0) + b"x", "DataRow", id="datarow-trailing"),
    pytest.param(b"C", b"SELECT 1", "CommandComplete", id="complete-unterminated"),
    pytest.param(b"C", b"SELECT 1\0x", "CommandComplete", id="complete-trailing"),
    pytest.param(b"I", b"x", "EmptyQueryResponse", id="empty-query-with-body"),
    pytest.param(b"E", b"", "ErrorResponse", id="error-empty"),
    pytest.param(b"E", b"Sfoo", "ErrorResponse", id="error-unterminated"),
    pytest.param(b"E", b"SERROR\0\0x", "ErrorResponse", id="error-trailing"),
    pytest.param(b"N", b"Mhi\0", "NoticeResponse", id="notice-no-end"),
    pytest.param(b"A", _i32(1) + b"chan\0", "NotificationResponse", id="notify-no-payload"),
    pytest.param(b"A", b"\0\0", "NotificationResponse", id="notify-truncated"),
    # Extended query
    pytest.param(b"1", b"x", "ParseComplete", id="parse-complete-with-body"),
    pytest.param(b"2", b"x", "BindComplete", id="bind-complete-with-body"),
    pytest.param(b"3", b"x", "CloseComplete", id="close-complete-with-body"),
    pytest.param(b"n", b"x", "NoData", id="nodata-with-body"),
    pytest.param(b"s", b"x", "PortalSuspended", id="suspended-with-body"),
    pytest.param(b"t", b"", "ParameterDescription", id="paramdesc-empty"),
    pytest.param(b"t", b"\0\2" + _i32(23), "ParameterDescription", id="paramdesc-short"),
    pytest.param(b"t", b"\0\0x", "ParameterDescription", id="paramdesc-trailing"),
    # COPY
    pytest.param(b"G", b"\2\0\0", "CopyInResponse", id="copyin-bad-format"),
    pytest.param(b"G", b"", "CopyInResponse", id="copyin-empty"),
    pytest.param(b"H", b"\0\0\1", "CopyOutResponse", id="copyout-short-formats"),
    pytest.param(b"W", b"\0\0\0x", "CopyBothResponse", id="copyboth-trailing"),
    pytest.param(b"c", b"x", "CopyDone", id="copydone-with-body"),
    # Protocol negotiation and function calls
    pytest.param(b"v", _i32(0) + _i32(-1), "NegotiateProtocolVersion", id="npv-negative"),
    pytest.param(b"v", _i32(0) + _i32(1000), "NegotiateProtocolVersion", id="npv-huge-count"),
    pytest.param(b"v", _i32(0) + _i32(1) + b"opt", "NegotiateProtocolVersion", id="npv-short"),
    pytest.param(b"v", _i32(0), "NegotiateProtocolVersion", id="npv-truncated"),
    pytest.param(b"V", _i32(-2), "FunctionCallResponse", id="fcr-bad-length"),
    pytest.param(b"V", _i32(5) + b"ab", "FunctionCallResponse", id="fcr-runs-past-end"),
    pytest.param(b"V", _i32(-1) + b"x", "FunctionCallResponse", id="fcr-trailing"),
    # Not a message at all
    pytest.param(b"!", b"", "unknown backend message type", id="unknown-type"),
    pytest.param(b"p", b"x", "unknown backend message type", id="frontend-type"),
]


@pytest.mark.parametrize(("code", "payload", "name"), MALFORMED_BACKEND)
def test_malformed_backend_message_is_a_protocol_error_naming_it(
    code: bytes, payload: bytes, name: str
) -> None:
    with pytest.raises(ProtocolError, match=name):
        decode_backend(code[0], payload)


MALFORMED_FRONTEND = [
    pytest.param(b"Q", b"SELECT", "password", "Query", id="query-unterminated"),
    pytest.param(b"Q", b"SELECT\0x", "password", "Query", id="query-trailing"),
    pytest.param(b"Q", b"\xc3\x28\0", "password", "Query", id="query-not-utf8"),
    pytest.param(b"P", b"s\0SELECT\0\xff\xff", "password", "Parse", id="parse-short-oids"),
    pytest.param(b"P", b"s\0SELECT\0", "password", "Parse", id="parse-no-count"),
    pytest.param(b"B", b"p\0", "password", "Bind", id="bind-truncated"),
    pytest.param(
        b"B", b"\0\0" + _i16(0) + _i16(1) + _i32(-2), "password", "Bind", id="bind-bad-length"
    ),
    pytest.param(
        b"B", b"\0\0" + _i16(0) + _i16(1) + _i32(9), "password", "Bind", id="bind-runs-past-end"
    ),
    pytest.param(b"D", b"Xname\0", "password", "Describe", id="describe-bad-target"),
    pytest.param(b"D", b"", "password", "Describe", id="describe-empty"),
    pytest.param(b"D", b"Sname\0x", "password", "Describe", id="describe-trailing"),
    pytest.param(b"C", b"Q\0", "password", "Close", id="close-bad-target"),
    pytest.param(b"E", b"\0\0\0", "password", "Execute", id="execute-truncated"),
    pytest.param(b"f", b"oops", "password", "CopyFail", id="copyfail-unterminated"),
    pytest.param(b"F", _i32(1) + _i16(0), "password", "FunctionCall", id="call-truncated"),
    pytest.param(b"S", b"x", "password", "Sync", id="sync-with-body"),
    pytest.param(b"H", b"x", "password", "Flush", id="flush-with-body"),
    pytest.param(b"X", b"x", "password", "Terminate", id="terminate-with-body"),
    pytest.param(b"p", b"pw", "password", "PasswordMessage", id="password-unterminated"),
    pytest.param(b"p", b"pw\0x", "password", "PasswordMessage", id="password-trailing"),
    pytest.param(b"p", b"SCRAM\0", "sasl-initial", "SASLInitialResponse", id="sasl-no-length"),
    pytest.param(
        b"p", b"M\0" + _i32(8) + b"abc", "sasl-initial", "SASLInitialResponse", id="sasl-short"
    ),
    pytest.param(b"!", b"", "password", "unknown frontend message type", id="unknown-type"),
]


@pytest.mark.parametrize(("code", "payload", "kind", "name"), MALFORMED_FRONTEND)
def test_malformed_frontend_message_is_a_protocol_error_naming_it(
    code: bytes, payload: bytes, kind: PasswordKind, name: str
) -> None:
    with pytest.raises(ProtocolError, match=name):
        decode_frontend(code[0], payload, password_kind=kind)


MALFORMED_STARTUP = [
    pytest.param(b"\0\3", "startup packet", id="too-short"),
    pytest.param(bytes.fromhex("04d2162f") + b"x", "startup packet", id="ssl-request-trailing"),
    pytest.param(bytes.fromhex("04d21630") + b"x", "startup packet", id="gss-request-trailing"),
    pytest.param(bytes.fromhex("04d2162e") + b"\0\0", "CancelRequest", id="cancel-truncated"),
    pytest.param(bytes.fromhex("04d2162e") + _i32(1) + b"abc", "CancelRequest", id="cancel-key"),
    pytest.param(
        bytes.fromhex("04d2162e") + _i32(1) + b"k" * 257, "CancelRequest", id="cancel-key-long"
    ),
    pytest.param(b"\0\3\0\0user\0alice\0", "StartupMessage", id="startup-no-end"),
    pytest.param(b"\0\3\0\0user", "StartupMessage", id="startup-unterminated"),
    pytest.param(b"\0\3\0\0user\0\xff\0\0", "StartupMessage", id="startup-not-utf8"),
    pytest.param(b"\0\3\0\0\0x", "StartupMessage", id="startup-trailing"),
]


@pytest.mark.parametrize(("payload", "name"), MALFORMED_STARTUP)
def test_malformed_startup_packet_is_a_protocol_error_naming_it(payload: bytes, name: str) -> None:
    with pytest.raises(ProtocolError, match=name):
        decode_startup(payload)


@given(code=st.sampled_from(sorted(BACKEND_DECODERS)), payload=st.binary(max_size=40))
def test_backend_junk_only_ever_raises_protocol_error(code: int, payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_backend(code, payload)


@given(
    code=st.sampled_from(sorted(FRONTEND_DECODERS)),
    kind=st.sampled_from(["password", "sasl-initial", "sasl", "gss"]),
    payload=st.binary(max_size=40),
)
def test_frontend_junk_only_ever_raises_protocol_error(
    code: int, kind: PasswordKind, payload: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        decode_frontend(code, payload, password_kind=kind)


@given(payload=st.binary(max_size=40))
def test_startup_junk_only_ever_raises_protocol_error(payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_startup(payload)


# --------------------------------------------------------------------------------------
# Values that cannot be encoded
# --------------------------------------------------------------------------------------

UNENCODABLE = [
    pytest.param(lambda: Query("SELECT '\0'"), id="Query-sql"),
    pytest.param(lambda: Parse("s\0", "SELECT 1"), id="Parse-name"),
    pytest.param(lambda: Parse("s", "SELECT\0 1"), id="Parse-sql"),
    pytest.param(lambda: Bind("p\0", "", (), (), ()), id="Bind-portal"),
    pytest.param(lambda: Describe("S", "a\0b"), id="Describe-name"),
    pytest.param(lambda: Execute("a\0b"), id="Execute-portal"),
    pytest.param(lambda: CopyFail("why\0"), id="CopyFail-message"),
    pytest.param(lambda: StartupMessage({"user": "a\0b"}), id="StartupMessage-value"),
    pytest.param(lambda: StartupMessage({"us\0er": "a"}), id="StartupMessage-name"),
    pytest.param(lambda: StartupMessage({"": "a"}), id="StartupMessage-empty-name"),
    pytest.param(lambda: PasswordMessage(b"pass\0word"), id="PasswordMessage"),
    pytest.param(lambda: SASLInitialResponse("SCRAM\0", b""), id="SASLInitialResponse"),
    pytest.param(lambda: ParameterStatus("TimeZone", "U\0TC"), id="ParameterStatus"),
    pytest.param(lambda: CommandComplete("SELECT\0"), id="CommandComplete"),
    pytest.param(lambda: ErrorResponse({"M": "bad\0message"}), id="ErrorResponse-value"),
    pytest.param(lambda: NoticeResponse({"\0": "x"}), id="NoticeResponse-NUL-code"),
    pytest.param(lambda: ErrorResponse({"MM": "x"}), id="ErrorResponse-two-letter-code"),
    pytest.param(lambda: ErrorResponse({"\xe9": "x"}), id="ErrorResponse-non-ASCII-code"),
    pytest.param(lambda: NotificationResponse(1, "chan\0", ""), id="NotificationResponse"),
    pytest.param(lambda: NegotiateProtocolVersion(0, ("_pq_\0",)), id="NegotiateProtocolVersion"),
    pytest.param(lambda: AuthenticationSASL(("SCRAM\0",)), id="AuthenticationSASL"),
]


@pytest.mark.parametrize("build", UNENCODABLE)
def test_nul_inside_a_string_or_bad_field_code_is_a_value_error(
    build: Callable[[], Message],
) -> None:
    with pytest.raises(ValueError):
        build().encode()


# --------------------------------------------------------------------------------------
# Decoding details
# --------------------------------------------------------------------------------------


def test_server_text_in_a_foreign_encoding_is_decoded_with_replacement() -> None:
    # Before client_encoding applies, errors and parameter values may not be UTF-8.
    error = decode_backend(ord("E"), b"SFATAL\0Mcaf\xe9\0\0")
    assert error == ErrorResponse({"S": "FATAL", "M": "caf\ufffd"})
    status = decode_backend(ord("S"), b"application_name\0caf\xe9\0")
    assert status == ParameterStatus("application_name", "caf\ufffd")


def test_error_response_severity_prefers_the_non_localized_field() -> None:
    assert ErrorResponse({"S": "FATAL", "V": "FATAL"}).severity == "FATAL"
    assert ErrorResponse({"S": "SCHWERWIEGEND", "V": "FATAL"}).severity == "FATAL"
    assert ErrorResponse({"S": "ERROR"}).severity == "ERROR"
    assert ErrorResponse({}).severity == ""


def test_error_response_sqlstate_is_the_c_field_or_empty() -> None:
    assert ErrorResponse({"C": "23505"}).sqlstate == "23505"
    assert ErrorResponse({}).sqlstate == ""


def test_decoded_data_row_values_are_bytes_and_none() -> None:
    row = decode_backend(ord("D"), _i16(3) + _i32(0) + _i32(-1) + _i32(2) + b"ab")
    assert row == DataRow((b"", None, b"ab"))


def test_unsigned_oids_round_trip_above_two_to_the_31() -> None:
    parse = Parse("", "SELECT $1", (4_000_000_000,))
    code, payload = _split(parse.encode())
    assert decode_frontend(code, payload) == parse


def test_copy_data_encodes_any_bytes_like_chunk() -> None:
    assert CopyData(memoryview(b"1\n")).encode() == b"d\0\0\0\x061\n"  # type: ignore[arg-type]
