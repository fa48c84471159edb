"""pgwire.trace and ``python -m pgwire trace``: decoding captured bytes into trace lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.__main__ import main
from pgwire.protocol import (
    AuthenticationOk,
    AuthenticationSASL,
    BackendKeyData,
    CommandComplete,
    DataRow,
    PasswordMessage,
    Query,
    ReadyForQuery,
    SASLInitialResponse,
    SSLRequest,
    StartupMessage,
)
from pgwire.trace import DumpWriter, Frame, WireDecoder, format_frame, read_dump, trace_lines

STARTUP = StartupMessage({"user": "alice"})


def dump(*records: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    writer = DumpWriter(out, clock=lambda: 0.0)
    for direction, data in records:
        writer.write(direction, data)  # type: ignore[arg-type]
    return out.getvalue()


def test_a_dump_round_trips_its_records() -> None:
    data = dump(("F", b"abc"), ("B", b"d"))
    assert list(read_dump(data)) == [("F", 0.0, b"abc"), ("B", 0.0, b"d")]


@pytest.mark.parametrize("data", [b"nope", b"PGWIREDUMP1\nF", b"PGWIREDUMP1\nX" + bytes(12)])
def test_a_corrupt_dump_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        list(read_dump(data))


def test_both_directions_decode_with_timestamps() -> None:
    data = dump(
        ("F", SSLRequest().encode()),
        ("B", b"N"),
        ("F", STARTUP.encode()),
        ("B", AuthenticationSASL(("SCRAM-SHA-256",)).encode()),
        ("F", SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=abc").encode()),
        ("B", AuthenticationOk().encode() + BackendKeyData(1, b"k3y!").encode()),
        ("F", Query("SELECT 1").encode()),
        ("B", DataRow((b"1", None)).encode() + CommandComplete("SELECT 1").encode()),
    )
    lines = list(trace_lines(data))
    assert lines[0] == "1970-01-01 00:00:00.000000\tF\t8\tSSLRequest"
    assert lines[1].endswith("B\t1\tSSLResponse\t 'N'")
    assert lines[2].endswith('F\t20\tStartupMessage\t 3 0 user "alice"')
    assert lines[4].endswith('SASLInitialResponse\t "SCRAM-SHA-256" <redacted 11 bytes>')
    assert lines[6].endswith("BackendKeyData\t 1 <redacted 4 bytes>")
    assert lines[7].endswith('F\t13\tQuery\t "SELECT 1"')
    assert lines[8].endswith("B\t15\tDataRow\t 2 1 '1' NULL")
    assert "k3y" not in "\n".join(lines)


def test_a_raw_frontend_stream_decodes_from_its_startup_packet() -> None:
    data = STARTUP.encode() + PasswordMessage(b"hunter2").encode() + Query("x").encode()
    lines = list(trace_lines(data, "F"))
    assert lines[1] == "F\t12\tPasswordMessage\t <redacted 7 bytes>"
    assert lines[2] == 'F\t6\tQuery\t "x"'


def test_a_raw_backend_stream_decodes_typed_messages_and_reports_a_cut_end() -> None:
    data = ReadyForQuery("I").encode() + CommandComplete("SELECT 1").encode()[:4]
    lines = list(trace_lines(data, "B"))
    assert lines == ['B\t5\tReadyForQuery\t "I"', "B\t4\t(incomplete message)\t <4 bytes>"]


def test_junk_becomes_unparsed_frames_never_an_exception() -> None:
    decoder = WireDecoder(started=True)
    frames = decoder.feed("B", b"?\0\0\0\4" + b"Z\xff\xff\xff\xff" + b"tail")
    assert frames[0].name == "(unknown b'?')"
    assert frames[1].name == "(unparsed bytes)"
    assert decoder.opaque
    assert decoder.feed("B", b"more")[0].name == "(opaque bytes)"


def test_direct_tls_and_accepted_ssl_turn_the_rest_opaque() -> None:
    decoder = WireDecoder()
    assert decoder.feed("F", b"\x16\x03\x01")[0].name == "(TLS handshake: direct TLS)"
    decoder = WireDecoder()
    decoder.feed("F", SSLRequest().encode())
    assert decoder.feed("B", b"S")[0].name == "SSLResponse"
    assert decoder.feed("F", b"\x16\x03")[0].name == "(opaque bytes)"


def test_the_trace_command_prints_a_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.dump"
    path.write_bytes(dump(("F", STARTUP.encode()), ("B", ReadyForQuery("I").encode())))
    assert main(["trace", str(path)]) == 0
    assert 'ReadyForQuery\t "I"' in capsys.readouterr().out


def test_the_trace_command_reads_one_direction_and_writes_a_file(tmp_path: Path) -> None:
    raw = tmp_path / "frontend.bin"
    raw.write_bytes(STARTUP.encode() + Query("SELECT 2").encode())
    out = tmp_path / "trace.txt"
    assert main(["trace", str(raw), "--direction", "frontend", "-o", str(out)]) == 0
    assert 'Query\t "SELECT 2"' in out.read_text()


def test_the_trace_command_asks_for_a_direction_for_raw_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"junk")
    assert main(["trace", str(raw)]) == 2
    assert "--direction" in capsys.readouterr().err
    raw.write_bytes(b"PGWIREDUMP1\nF")
    assert main(["trace", str(raw)]) == 1


# --------------------------------------------------------------------------------------
# No secret in a trace line, whatever the message's shape
# --------------------------------------------------------------------------------------

SECRET = "SeCrEtPw"


def lines_of(frames: list[Frame]) -> str:
    return "\n".join(format_frame(frame) for frame in frames)


def password_frames(kind: str, payload: bytes) -> list[Frame]:
    """What a decoder that expects a password message of ``kind`` makes of ``payload``."""
    decoder = WireDecoder(started=True)
    if kind != "password":
        decoder.feed("B", AuthenticationSASL(("SCRAM-SHA-256",)).encode())
    if kind == "sasl":
        decoder.feed("F", SASLInitialResponse("SCRAM-SHA-256", b"n,,n=,r=abc").encode())
    return decoder.feed("F", b"p" + (4 + len(payload)).to_bytes(4, "big") + payload)


SECRET_SHAPES = {
    "no-nul": SECRET.encode(),
    "invalid-utf8": SECRET.encode() + b"\xff\0",
    "invalid-utf8-first": b"\xff" + SECRET.encode() + b"\0\0\0\0\0",
    "trailing": SECRET.encode() + b"\0\0\0\0\x09abc",
    "mechanism-place": SECRET.encode() + b"\0\xff\xff\xff\xff",
}


@pytest.mark.parametrize("kind", ["password", "sasl-initial", "sasl"])
@pytest.mark.parametrize("shape", list(SECRET_SHAPES))
def test_no_byte_of_a_password_message_reaches_the_trace(kind: str, shape: str) -> None:
    text = lines_of(password_frames(kind, SECRET_SHAPES[shape]))
    assert "PasswordMessage" in text or "SASL" in text or "(unknown" in text
    assert SECRET not in text
    assert "\\xff" not in text


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.sampled_from(["password", "sasl-initial", "sasl"]),
    st.binary(max_size=20),
    st.binary(max_size=20),
)
def test_no_byte_of_any_password_message_reaches_the_trace(
    kind: str, before: bytes, after: bytes
) -> None:
    text = lines_of(password_frames(kind, before + SECRET.encode() + after))
    assert SECRET not in text


@pytest.mark.parametrize(
    "params",
    [
        {"user": "alice", "password": SECRET},
        {"user": "alice", "PGPASSWORD": SECRET},
        {"user": "alice", "options": f"-c app.password={SECRET} -c search_path=x"},
        {"user": "alice", "options": f"--app.secret={SECRET}"},
        {"user": "alice", "application_name": f"host/?X-Amz-Signature={SECRET}"},
        {"user": "alice", "api_token": SECRET},
    ],
    ids=["password", "pgpassword", "options-c", "options-dashes", "token-value", "token-name"],
)
def test_startup_values_that_look_like_secrets_are_redacted(params: dict[str, str]) -> None:
    [frame] = WireDecoder().feed("F", StartupMessage(params).encode())
    line = format_frame(frame)
    assert SECRET not in line
    assert 'user "alice"' in line
    assert "<redacted" in line


def test_other_startup_values_are_shown() -> None:
    params = {"user": "alice", "options": "-c search_path=app", "application_name": "psql"}
    [frame] = WireDecoder().feed("F", StartupMessage(params).encode())
    assert format_frame(frame).endswith(
        'StartupMessage\t 3 0 user "alice" options "-c search_path=app" application_name "psql"'
    )


def test_an_undecodable_startup_packet_quotes_none_of_its_bytes() -> None:
    packet = b"\x00\x03\x00\x00user\0a\0password\0" + SECRET.encode() + b"\xff\0\0"
    [frame] = WireDecoder().feed("F", (4 + len(packet)).to_bytes(4, "big") + packet)
    assert frame.error is not None
    assert SECRET not in format_frame(frame)


# --------------------------------------------------------------------------------------
# Framing with the core's limits
# --------------------------------------------------------------------------------------


def header(code: bytes, length: int) -> bytes:
    return code + length.to_bytes(4, "big")


def test_a_server_message_that_is_never_long_is_not_waited_for_over_30000_bytes() -> None:
    decoder = WireDecoder(started=True)
    [frame] = decoder.feed("B", header(b"S", 30_001))
    assert frame.name == "(unparsed bytes)"
    assert frame.error is not None and "at most 30000 bytes" in frame.error


def test_a_long_server_message_is_waited_for() -> None:
    decoder = WireDecoder(started=True)
    assert decoder.feed("B", header(b"D", 30_001)) == []
    assert decoder.leftover("B") == 5


def test_before_authentication_a_client_message_is_at_most_65535_bytes() -> None:
    decoder = WireDecoder()
    decoder.feed("F", STARTUP.encode())
    [frame] = decoder.feed("F", header(b"p", 65_536))
    assert frame.name == "(unparsed bytes)"
    assert frame.error is not None and "maximum message size of 65535" in frame.error


def test_after_authentication_the_client_limits_are_postgresqls() -> None:
    decoder = WireDecoder()
    decoder.feed("F", STARTUP.encode())
    decoder.feed("B", AuthenticationOk().encode())
    assert decoder.feed("F", header(b"Q", 100_000)) == []
    decoder = WireDecoder(started=True)
    [frame] = decoder.feed("F", header(b"S", 10_001))
    assert frame.error is not None and "at most 10000 bytes" in frame.error
