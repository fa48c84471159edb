"""pgwire.protocol.client: the client state machine, driven by canned server conversations.

Every server reply is built from the message classes (see ``scripts.py``); the tests check
the events, the state, what the core records, and the exact bytes it writes.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
from pgwire.protocol import (
    NEED_DATA,
    PROTOCOL_3_0,
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
    AuthRequirement,
    BackendKeyData,
    BackendMessage,
    Bind,
    BindComplete,
    BindTemplate,
    CancelRequest,
    ChannelBinding,
    ClientConnection,
    Close,
    CloseComplete,
    CommandComplete,
    ConnectionClosed,
    ConnectionState,
    CopyBothResponse,
    CopyData,
    CopyDone,
    CopyFail,
    CopyInResponse,
    CopyOutResponse,
    DataRow,
    Describe,
    EmptyQueryResponse,
    EncryptionResponse,
    ErrorResponse,
    Event,
    Execute,
    FieldDescription,
    Flush,
    FrontendMessage,
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
    Phase,
    PortalSuspended,
    Query,
    ReadyForQuery,
    RowDescription,
    SSLRequest,
    StartupMessage,
    Sync,
    Terminate,
    tls_server_end_point,
)
from tests.protocol.scripts import (
    BACKEND_KEY,
    CLIENT_NONCE,
    PASSWORD,
    SASL_OFFER,
    TRUST_STARTUP,
    USER,
    ScramServer,
    drain,
    error,
    ready_connection,
    receive,
    receive_in_chunks,
    start,
    wire,
)

ConnState = ConnectionState
P = Phase
COLUMNS = RowDescription((FieldDescription("n", type_oid=23, type_size=4),))
NOTICE = NoticeResponse({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": "hello"})
NOTIFICATION = NotificationResponse(77, "jobs", "new")
FATAL = error("terminating connection due to administrator command", "57P01", "FATAL")
SASL_PLUS_OFFER = AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"))


def sent(*messages: FrontendMessage) -> bytes:
    return b"".join(message.encode() for message in messages)


def scram_connection() -> ClientConnection:
    return start(ClientConnection(password=PASSWORD, nonce_source=lambda: CLIENT_NONCE))


# ======================================================================================
# Startup and authentication
# ======================================================================================


def test_a_new_connection_is_in_startup_with_nothing_in_flight() -> None:
    conn = ClientConnection()
    assert conn.state is ConnState.STARTUP
    assert conn.in_flight == 0
    assert conn.next_event() is NEED_DATA


def test_startup_message_bytes_are_returned_and_authentication_starts() -> None:
    conn = ClientConnection()
    message = StartupMessage({"user": USER, "database": "db"})
    assert conn.send(message) == message.encode()
    assert conn.state is ConnState.AUTHENTICATING
    assert conn.protocol_version == PROTOCOL_3_0


def test_startup_message_without_a_user_is_refused() -> None:
    conn = ClientConnection()
    with pytest.raises(InterfaceError, match="must include 'user'"):
        conn.send(StartupMessage({"database": "db"}))
    assert conn.state is ConnState.STARTUP


def test_trust_startup_reaches_ready_and_records_the_session() -> None:
    conn = start()
    assert receive(conn, *TRUST_STARTUP) == list(TRUST_STARTUP)
    assert conn.state is ConnState.READY
    assert conn.parameters == {
        "server_version": "18.0",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
    }
    assert conn.backend_key == BACKEND_KEY
    assert conn.transaction_status == "I"
    assert conn.auth_methods == []
    assert conn.data_to_send() == b""


def test_authentication_ok_leads_to_awaiting_ready() -> None:
    conn = start()
    assert receive(conn, AuthenticationOk()) == [AuthenticationOk()]
    assert conn.state is ConnState.AWAITING_READY


def test_notices_during_startup_are_events() -> None:
    conn = start()
    assert receive(conn, NOTICE, AuthenticationOk(), NOTICE) == [
        NOTICE,
        AuthenticationOk(),
        NOTICE,
    ]
    assert conn.state is ConnState.AWAITING_READY


def test_cleartext_password_is_answered_with_a_password_message() -> None:
    conn = start(ClientConnection(password=PASSWORD))
    assert receive(conn, AuthenticationCleartextPassword()) == [AuthenticationCleartextPassword()]
    assert conn.data_to_send() == b"p\0\0\0\x10" + PASSWORD.encode() + b"\0"
    assert conn.data_to_send() == b"", "data_to_send() hands each byte out once"
    assert conn.auth_methods == ["password"]
    receive(conn, *TRUST_STARTUP)
    assert conn.state is ConnState.READY


def test_password_may_be_bytes() -> None:
    conn = start(ClientConnection(password=b"\xffraw"))
    receive(conn, AuthenticationCleartextPassword())
    assert conn.data_to_send() == PasswordMessage(b"\xffraw").encode()


def test_md5_password_is_hashed_as_postgresql_does() -> None:
    salt = b"\x93\x1a\x7c\x05"
    conn = ClientConnection(password="postgres")
    conn.send(StartupMessage({"user": "postgres"}))
    receive(conn, AuthenticationMD5Password(salt))
    # md5(password + user) for postgres/postgres is the well-known stored hash.
    inner = hashlib.md5(b"postgrespostgres").hexdigest()
    assert inner == "3175bce1d3201d16594cebf9d7eb3f9d"
    expected = b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode()
    assert conn.data_to_send() == b"p\0\0\0\x28" + expected + b"\0"
    assert conn.auth_methods == ["md5"]


@pytest.mark.parametrize(
    "request_", [AuthenticationCleartextPassword(), AuthenticationMD5Password(b"salt")]
)
def test_password_request_without_a_password_fails_the_connection(
    request_: BackendMessage,
) -> None:
    conn = start()
    with pytest.raises(OperationalError, match="no password was supplied"):
        receive(conn, request_)
    assert conn.state is ConnState.FAILED


# --------------------------------------------------------------------------------------
# SCRAM-SHA-256
# --------------------------------------------------------------------------------------


def test_scram_sha_256_authenticates_against_a_real_scram_server() -> None:
    conn = scram_connection()
    server = ScramServer()
    assert receive(conn, SASL_OFFER) == [SASL_OFFER]
    challenge = server.challenge(conn.data_to_send())
    assert receive(conn, challenge) == [challenge]
    outcome = server.outcome(conn.data_to_send())
    assert receive(conn, outcome, *TRUST_STARTUP) == [outcome, *TRUST_STARTUP]
    assert conn.state is ConnState.READY
    assert conn.auth_methods == ["SCRAM-SHA-256"]


def test_scram_client_first_uses_the_injected_nonce() -> None:
    conn = scram_connection()
    receive(conn, SASL_OFFER)
    data = conn.data_to_send()
    assert data.startswith(b"p")
    assert b"SCRAM-SHA-256\0" in data
    assert data.endswith(b",r=" + CLIENT_NONCE.encode())


def _scram_until_final(conn: ClientConnection) -> ScramServer:
    server = ScramServer()
    receive(conn, SASL_OFFER)
    receive(conn, server.challenge(conn.data_to_send()))
    return server


def test_scram_wrong_server_signature_is_refused() -> None:
    conn = scram_connection()
    server = _scram_until_final(conn)
    server.outcome(conn.data_to_send())
    forged = AuthenticationSASLFinal(b"v=" + base64.b64encode(bytes(32)))
    with pytest.raises(OperationalError, match="SCRAM signature is wrong"):
        receive(conn, forged)
    assert conn.state is ConnState.FAILED


def test_authentication_ok_before_sasl_final_is_a_protocol_error() -> None:
    conn = scram_connection()
    _scram_until_final(conn)
    with pytest.raises(ProtocolError, match="AuthenticationOk before AuthenticationSASLFinal"):
        receive(conn, AuthenticationOk())
    assert conn.state is ConnState.FAILED


def test_authentication_ok_right_after_the_sasl_offer_is_a_protocol_error() -> None:
    conn = scram_connection()
    receive(conn, SASL_OFFER)
    with pytest.raises(ProtocolError, match="without proving it knows the password"):
        receive(conn, AuthenticationOk())


def test_scram_without_a_nonce_source_is_an_interface_error() -> None:
    conn = start(ClientConnection(password=PASSWORD))
    with pytest.raises(InterfaceError, match="nonce_source"):
        receive(conn, SASL_OFFER)


def test_scram_without_a_password_fails_the_connection() -> None:
    conn = start(ClientConnection(nonce_source=lambda: CLIENT_NONCE))
    with pytest.raises(OperationalError, match="SCRAM-SHA-256 authentication but no password"):
        receive(conn, SASL_OFFER)
    assert conn.state is ConnState.FAILED


def test_scram_with_an_invalid_nonce_from_nonce_source_is_an_interface_error() -> None:
    conn = start(ClientConnection(password=PASSWORD, nonce_source=lambda: "no,commas"))
    with pytest.raises(InterfaceError, match="cannot start SCRAM authentication: Nonce"):
        receive(conn, SASL_OFFER)
    assert conn.state is ConnState.FAILED


def test_scram_with_a_password_saslprep_forbids_is_an_interface_error() -> None:
    conn = start(ClientConnection(password="bell\a", nonce_source=lambda: CLIENT_NONCE))
    with pytest.raises(InterfaceError, match="cannot start SCRAM authentication") as caught:
        receive(conn, SASL_OFFER)
    assert "bell" not in str(caught.value)
    assert conn.state is ConnState.FAILED


def test_scram_with_a_bytes_password_that_is_not_utf8_is_an_interface_error() -> None:
    conn = start(ClientConnection(password=b"\xffpw", nonce_source=lambda: CLIENT_NONCE))
    with pytest.raises(InterfaceError, match="must be UTF-8") as caught:
        receive(conn, SASL_OFFER)
    assert "0xff" not in str(caught.value)
    assert conn.state is ConnState.FAILED


def test_sasl_offer_without_scram_sha_256_is_not_supported() -> None:
    conn = scram_connection()
    with pytest.raises(NotSupportedError, match="OAUTHBEARER"):
        receive(conn, AuthenticationSASL(("OAUTHBEARER",)))
    assert conn.state is ConnState.FAILED


def test_garbage_scram_server_first_is_a_protocol_error() -> None:
    conn = scram_connection()
    receive(conn, SASL_OFFER)
    with pytest.raises(ProtocolError, match="invalid SCRAM server-first"):
        receive(conn, AuthenticationSASLContinue(b"r=someone-elses-nonce,s=c2FsdA==,i=4096"))
    assert conn.state is ConnState.FAILED


def test_sasl_continue_without_a_sasl_exchange_is_a_protocol_error() -> None:
    conn = scram_connection()
    with pytest.raises(ProtocolError, match="unexpected AuthenticationSASLContinue"):
        receive(conn, AuthenticationSASLContinue(b"r=x,s=c2FsdA==,i=4096"))


def test_second_sasl_final_is_a_protocol_error() -> None:
    conn = scram_connection()
    server = _scram_until_final(conn)
    outcome = server.outcome(conn.data_to_send())
    receive(conn, outcome)
    with pytest.raises(ProtocolError, match="unexpected AuthenticationSASLFinal"):
        receive(conn, outcome)


# --------------------------------------------------------------------------------------
# Unsupported methods, errors, unexpected messages
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "method"),
    [
        pytest.param(AuthenticationKerberosV5(), "Kerberos V5", id="KerberosV5"),
        pytest.param(AuthenticationGSS(), "GSSAPI", id="GSS"),
        pytest.param(AuthenticationGSSContinue(b"token"), "GSSAPI", id="GSSContinue"),
        pytest.param(AuthenticationSSPI(), "SSPI", id="SSPI"),
    ],
)
def test_gss_sspi_and_kerberos_are_not_supported(request_: BackendMessage, method: str) -> None:
    conn = start(ClientConnection(password=PASSWORD))
    with pytest.raises(NotSupportedError, match=method):
        receive(conn, request_)
    assert conn.state is ConnState.FAILED


def test_error_response_during_authentication_is_an_event_and_fails_the_connection() -> None:
    conn = start(ClientConnection(password="wrong"))
    refusal = error('password authentication failed for user "alice"', "28P01", "FATAL")
    assert receive(conn, AuthenticationCleartextPassword(), refusal) == [
        AuthenticationCleartextPassword(),
        refusal,
    ]
    assert conn.state is ConnState.FAILED
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnState.CLOSED


def test_error_response_while_awaiting_ready_fails_the_connection() -> None:
    conn = start()
    too_many = error("sorry, too many clients already", "53300", "FATAL")
    assert receive(conn, AuthenticationOk(), too_many) == [AuthenticationOk(), too_many]
    assert conn.state is ConnState.FAILED


def test_unexpected_message_during_authentication_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"unexpected ReadyForQuery .* state authenticating"):
        receive(conn, ReadyForQuery("I"))
    assert conn.state is ConnState.FAILED


def test_unexpected_message_while_awaiting_ready_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"unexpected CommandComplete .* awaiting-ready"):
        receive(conn, AuthenticationOk(), CommandComplete("SELECT 1"))


def test_only_terminate_may_be_sent_while_authenticating() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match=r"Parse in state authenticating.*Terminate"):
        conn.send(Parse("", "SELECT 1"))
    assert conn.send(Terminate()) == b"X\0\0\0\4"
    assert conn.state is ConnState.TERMINATING


# --------------------------------------------------------------------------------------
# Protocol version negotiation
# --------------------------------------------------------------------------------------


def test_negotiate_protocol_version_lowers_a_3_2_request_to_3_0() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER, "_pq_.unknown": "1"}, PROTOCOL_3_2))
    assert conn.protocol_version == PROTOCOL_3_2
    downgrade = NegotiateProtocolVersion(0, ("_pq_.unknown",))
    assert receive(conn, downgrade, *TRUST_STARTUP) == [downgrade, *TRUST_STARTUP]
    assert conn.protocol_version == PROTOCOL_3_0
    assert conn.state is ConnState.READY


def test_negotiate_protocol_version_as_postgresql_sends_it_with_the_major_version() -> None:
    # PostgreSQL 15 answers a 3.2 request with the code of 3.0, 196608 (3 << 16).
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, NegotiateProtocolVersion(3 << 16), *TRUST_STARTUP)
    assert conn.protocol_version == PROTOCOL_3_0


def test_negotiate_protocol_version_with_another_major_version_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match=r"offers 2\.0 in answer to a request for 3\.2"):
        receive(conn, NegotiateProtocolVersion(2 << 16))


def test_negotiate_protocol_version_naming_an_option_never_sent_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match=r"'_pq_\.unknown', which the client did not send"):
        receive(conn, NegotiateProtocolVersion(0, ("_pq_.unknown",)))


def test_negotiate_protocol_version_that_changes_nothing_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(ProtocolError, match="asks for no change"):
        receive(conn, NegotiateProtocolVersion(2))


def test_a_second_negotiate_protocol_version_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, NegotiateProtocolVersion(1))
    with pytest.raises(ProtocolError, match="after the negotiation ended"):
        receive(conn, NegotiateProtocolVersion(0))


def test_downgrade_below_min_protocol_version_fails_the_connection() -> None:
    conn = ClientConnection(min_protocol_version=PROTOCOL_3_2)
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    with pytest.raises(OperationalError, match=r"3\.0 at most, but min_protocol_version is 3\.2"):
        receive(conn, NegotiateProtocolVersion(0))
    assert conn.state is ConnState.FAILED


def test_startup_below_min_protocol_version_is_refused() -> None:
    conn = ClientConnection(min_protocol_version=PROTOCOL_3_2)
    with pytest.raises(InterfaceError, match=r"below min_protocol_version 3\.2"):
        conn.send(StartupMessage({"user": USER}))


def test_min_protocol_version_out_of_range_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid min_protocol_version"):
        ClientConnection(min_protocol_version=(3, 3))


def test_protocol_3_2_keeps_a_long_cancel_key() -> None:
    conn = ClientConnection()
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    long_key = BackendKeyData(4242, bytes(range(32)))
    receive(conn, AuthenticationOk(), long_key, ReadyForQuery("I"))
    assert conn.cancel_request() == CancelRequest(4242, bytes(range(32)))
    assert conn.cancel_request().encode()[:4] == (16 + 28).to_bytes(4, "big")


def test_protocol_3_0_refuses_a_cancel_key_that_is_not_4_bytes() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match="32-byte secret key"):
        receive(conn, AuthenticationOk(), BackendKeyData(1, bytes(32)))


# --------------------------------------------------------------------------------------
# Channel binding (SCRAM-SHA-256-PLUS, tls-server-end-point)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_certificate() -> bytes:
    import trustme

    ca = trustme.CA()
    der: bytes = ca.issue_cert("db.example").cert_chain_pems[0].bytes()
    return ssl_pem_to_der(der)


def ssl_pem_to_der(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return base64.b64decode(body)


class PlusScramServer:
    """The server half of SCRAM-SHA-256-PLUS bound to ``certificate`` (or of plain SCRAM)."""

    def __init__(self, certificate: bytes | None, mechanism: str = "SCRAM-SHA-256-PLUS") -> None:
        import scramp

        scram = scramp.ScramMechanism(mechanism)
        info = scram.make_auth_info(PASSWORD, iteration_count=4096, salt=b"pgwire-test-salt")
        binding = None
        if certificate is not None:
            binding = ("tls-server-end-point", tls_server_end_point(certificate))
        self._server = scram.make_server(lambda _user: info, channel_binding=binding)

    def challenge(self, client: bytes) -> AuthenticationSASLContinue:
        first = client[5:]
        mechanism, _, rest = first.partition(b"\0")
        self.mechanism = mechanism.decode()
        self.client_first = rest[4:].decode()
        self._server.set_client_first(self.client_first)
        return AuthenticationSASLContinue(self._server.get_server_first().encode())

    def outcome(self, client: bytes) -> AuthenticationSASLFinal:
        self._server.set_client_final(client[5:].decode())
        return AuthenticationSASLFinal(self._server.get_server_final().encode())


def tls_connection(
    certificate: bytes | None, channel_binding: ChannelBinding = "prefer"
) -> ClientConnection:
    conn = ClientConnection(
        password=PASSWORD, nonce_source=lambda: CLIENT_NONCE, channel_binding=channel_binding
    )
    conn.tls_established(certificate)
    return start(conn)


def scram_exchange(conn: ClientConnection, offer: AuthenticationSASL, server: PlusScramServer):  # type: ignore[no-untyped-def]
    receive(conn, offer)
    receive(conn, server.challenge(conn.data_to_send()))
    return receive(conn, server.outcome(conn.data_to_send()), *TRUST_STARTUP)


def test_scram_plus_is_chosen_over_tls_and_binds_to_the_server_certificate(
    server_certificate: bytes,
) -> None:
    conn = tls_connection(server_certificate)
    server = PlusScramServer(server_certificate)
    scram_exchange(conn, SASL_PLUS_OFFER, server)
    assert server.mechanism == "SCRAM-SHA-256-PLUS"
    assert server.client_first.startswith("p=tls-server-end-point,,")
    assert conn.auth_methods == ["SCRAM-SHA-256-PLUS"]
    assert conn.channel_bound
    assert conn.state is ConnState.READY


def test_scram_plus_with_another_certificate_is_refused_by_the_server(
    server_certificate: bytes,
) -> None:
    import scramp

    conn = tls_connection(server_certificate)
    # The server sits behind a different certificate: a man in the middle's.
    server = PlusScramServer(server_certificate[:-1] + b"\0")
    receive(conn, SASL_PLUS_OFFER)
    receive(conn, server.challenge(conn.data_to_send()))
    with pytest.raises(scramp.ScramException, match="channel bindings don't match"):
        server.outcome(conn.data_to_send())


def test_tls_server_end_point_hashes_with_the_signature_hash(server_certificate: bytes) -> None:
    # trustme signs with ECDSA-SHA256.
    assert tls_server_end_point(server_certificate) == hashlib.sha256(server_certificate).digest()


def test_channel_binding_disable_uses_plain_scram_with_flag_n(server_certificate: bytes) -> None:
    conn = tls_connection(server_certificate, "disable")
    server = PlusScramServer(None, "SCRAM-SHA-256")
    scram_exchange(conn, SASL_PLUS_OFFER, server)
    assert server.mechanism == "SCRAM-SHA-256"
    assert server.client_first.startswith("n,,")
    assert not conn.channel_bound


def test_tls_without_a_plus_offer_uses_flag_y(server_certificate: bytes) -> None:
    conn = tls_connection(server_certificate)
    server = PlusScramServer(None, "SCRAM-SHA-256")
    scram_exchange(conn, AuthenticationSASL(("SCRAM-SHA-256",)), server)
    assert server.client_first.startswith("y,,")
    assert conn.state is ConnState.READY
    assert not conn.channel_bound


def test_flag_y_lets_a_binding_server_detect_a_stripped_plus_offer(
    server_certificate: bytes,
) -> None:
    import scramp

    conn = tls_connection(server_certificate)
    receive(conn, AuthenticationSASL(("SCRAM-SHA-256",)))  # a middlebox removed the PLUS offer
    server = PlusScramServer(server_certificate, "SCRAM-SHA-256")
    with pytest.raises(scramp.ScramException, match="in fact it does"):
        server.challenge(conn.data_to_send())


def test_without_tls_plain_scram_uses_flag_n_even_if_plus_is_offered() -> None:
    conn = scram_connection()
    server = PlusScramServer(None, "SCRAM-SHA-256")
    scram_exchange(conn, SASL_PLUS_OFFER, server)
    assert server.client_first.startswith("n,,")


def test_channel_binding_require_without_tls_is_refused() -> None:
    conn = start(
        ClientConnection(
            password=PASSWORD, nonce_source=lambda: CLIENT_NONCE, channel_binding="require"
        )
    )
    with pytest.raises(OperationalError, match="TLS is not in use"):
        receive(conn, SASL_PLUS_OFFER)
    assert conn.state is ConnState.FAILED
    assert conn.data_to_send() == b""


def test_channel_binding_require_without_a_plus_offer_is_refused(
    server_certificate: bytes,
) -> None:
    conn = tls_connection(server_certificate, "require")
    with pytest.raises(OperationalError, match="did not offer SCRAM-SHA-256-PLUS"):
        receive(conn, AuthenticationSASL(("SCRAM-SHA-256",)))


@pytest.mark.parametrize(
    "request_", [AuthenticationCleartextPassword(), AuthenticationMD5Password(b"salt")]
)
def test_channel_binding_require_never_answers_a_password_request(
    server_certificate: bytes, request_: BackendMessage
) -> None:
    conn = tls_connection(server_certificate, "require")
    with pytest.raises(OperationalError, match="channel binding required"):
        receive(conn, request_)
    assert conn.data_to_send() == b"", "the password must not leave"


def test_channel_binding_require_refuses_a_session_without_authentication(
    server_certificate: bytes,
) -> None:
    conn = tls_connection(server_certificate, "require")
    with pytest.raises(OperationalError, match="without channel binding"):
        receive(conn, AuthenticationOk())
    assert conn.state is ConnState.FAILED


def test_channel_binding_require_accepts_scram_plus(server_certificate: bytes) -> None:
    conn = tls_connection(server_certificate, "require")
    scram_exchange(conn, SASL_PLUS_OFFER, PlusScramServer(server_certificate))
    assert conn.state is ConnState.READY


def test_tls_can_only_be_reported_before_the_startup_message() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match="before the StartupMessage"):
        conn.tls_established(b"")


def test_unknown_channel_binding_setting_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid channel_binding 'always'"):
        ClientConnection(channel_binding="always")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# require_auth
# --------------------------------------------------------------------------------------


def requiring(text: str) -> ClientConnection:
    conn = ClientConnection(
        password=PASSWORD,
        nonce_source=lambda: CLIENT_NONCE,
        require_auth=AuthRequirement.parse(text),
    )
    return start(conn)


@pytest.mark.parametrize(
    ("text", "allowed", "required"),
    [
        ("scram-sha-256", {"scram-sha-256"}, True),
        ("password, md5", {"password", "md5"}, True),
        ("scram-sha-256,none", {"scram-sha-256"}, False),
        ("none", set(), False),
        ("!password", {"md5", "gss", "sspi", "scram-sha-256", "oauth"}, False),
        ("!password,!md5,!none", {"gss", "sspi", "scram-sha-256", "oauth"}, True),
    ],
)
def test_require_auth_lists_parse_like_libpq(text: str, allowed: set[str], required: bool) -> None:
    requirement = AuthRequirement.parse(text)
    assert (requirement.allowed, requirement.required) == (allowed, required)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("password,!md5", 'negative require_auth method "!md5" cannot be mixed'),
        ("!md5,password", 'require_auth method "password" cannot be mixed with negative'),
        ("md5,md5", 'require_auth method "md5" is specified more than once'),
        ("none,none", 'require_auth method "none" is specified more than once'),
        ("!none,!none", 'require_auth method "none" is specified more than once'),
        ("kerberos", 'invalid require_auth value: "kerberos"'),
        ("", 'invalid require_auth value: ""'),
    ],
)
def test_bad_require_auth_lists_are_refused(text: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        AuthRequirement.parse(text)


def test_require_auth_refuses_a_method_not_listed_before_answering() -> None:
    conn = requiring("scram-sha-256")
    with pytest.raises(
        OperationalError,
        match='requirement "scram-sha-256" failed: server requested a cleartext password',
    ):
        receive(conn, AuthenticationCleartextPassword())
    assert conn.data_to_send() == b"", "the password must not leave"
    assert conn.state is ConnState.FAILED


def test_require_auth_negation_refuses_the_negated_method() -> None:
    conn = requiring("!md5")
    with pytest.raises(OperationalError, match="server requested a hashed password"):
        receive(conn, AuthenticationMD5Password(b"salt"))


def test_require_auth_allows_a_listed_method() -> None:
    conn = requiring("md5,password")
    receive(conn, AuthenticationCleartextPassword(), *TRUST_STARTUP)
    assert conn.state is ConnState.READY


def test_require_auth_refuses_a_session_without_authentication_unless_none_is_listed() -> None:
    conn = requiring("password")
    with pytest.raises(OperationalError, match="server did not complete authentication"):
        receive(conn, AuthenticationOk())
    conn = requiring("password,none")
    receive(conn, *TRUST_STARTUP)
    assert conn.state is ConnState.READY


def test_require_auth_not_none_demands_an_exchange() -> None:
    conn = requiring("!none")
    with pytest.raises(OperationalError, match="server did not complete authentication"):
        receive(conn, AuthenticationOk())


def test_require_auth_scram_completes_with_a_scram_server() -> None:
    conn = requiring("scram-sha-256")
    scram_exchange(
        conn, AuthenticationSASL(("SCRAM-SHA-256",)), PlusScramServer(None, "SCRAM-SHA-256")
    )
    assert conn.state is ConnState.READY


def test_require_auth_refuses_sasl_when_scram_is_negated() -> None:
    conn = requiring("!scram-sha-256")
    with pytest.raises(OperationalError, match="server requested SASL authentication"):
        receive(conn, SASL_OFFER)


def test_require_auth_names_gssapi_before_saying_it_is_unsupported() -> None:
    conn = requiring("password")
    with pytest.raises(OperationalError, match="server requested GSSAPI authentication"):
        receive(conn, AuthenticationGSS())


def test_negotiate_protocol_version_offering_a_newer_version_is_a_protocol_error() -> None:
    conn = start()
    with pytest.raises(ProtocolError, match=r"offers 3.2 in answer to a request for 3.0"):
        receive(conn, NegotiateProtocolVersion(2))


def test_negotiate_protocol_version_after_an_auth_request_is_a_protocol_error() -> None:
    conn = ClientConnection(password=PASSWORD)
    conn.send(StartupMessage({"user": USER}, PROTOCOL_3_2))
    receive(conn, AuthenticationCleartextPassword())
    with pytest.raises(ProtocolError, match="NegotiateProtocolVersion"):
        receive(conn, NegotiateProtocolVersion(0))


# --------------------------------------------------------------------------------------
# SSLRequest and GSSENCRequest
# --------------------------------------------------------------------------------------


def ssl_requested() -> ClientConnection:
    conn = ClientConnection()
    assert conn.send(SSLRequest()) == bytes.fromhex("0000000804d2162f")
    assert conn.state is ConnState.AWAITING_ENCRYPTION_RESPONSE
    return conn


def test_ssl_request_answered_s_means_start_tls() -> None:
    conn = ssl_requested()
    conn.receive_data(b"S")
    assert conn.next_event() == EncryptionResponse("ssl", accepted=True)
    assert conn.state is ConnState.STARTUP
    assert conn.next_event() is NEED_DATA


def test_ssl_request_answered_n_continues_in_plain_text() -> None:
    conn = ssl_requested()
    conn.receive_data(b"N")
    assert conn.next_event() == EncryptionResponse("ssl", accepted=False)
    start(conn)
    assert receive(conn, *TRUST_STARTUP) == list(TRUST_STARTUP)


def test_ssl_request_answered_with_an_error_response_fails_the_connection() -> None:
    conn = ssl_requested()
    refusal = error("unsupported frontend protocol", "08P01", "FATAL")
    assert receive(conn, refusal) == [refusal]
    assert conn.state is ConnState.FAILED


def test_ssl_request_error_response_may_arrive_in_pieces() -> None:
    conn = ssl_requested()
    refusal = error("unsupported frontend protocol", "08P01", "FATAL")
    assert receive_in_chunks(conn, refusal.encode(), [1, 3]) == [refusal]
    assert conn.state is ConnState.FAILED


def test_ssl_request_answered_with_garbage_is_a_protocol_error() -> None:
    conn = ssl_requested()
    conn.receive_data(b"H")
    with pytest.raises(ProtocolError, match=r"invalid answer b'H' to the SSL request"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_bytes_after_s_are_refused() -> None:
    # CVE-2021-23222: they would be read as if they had come over TLS.
    conn = ssl_requested()
    conn.receive_data(b"S" + AuthenticationOk().encode())
    with pytest.raises(ProtocolError, match="9 unencrypted bytes after accepting encryption"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_nothing_may_be_sent_while_the_encryption_answer_is_awaited() -> None:
    conn = ssl_requested()
    with pytest.raises(InterfaceError, match=r"awaiting-encryption-response.*allowed now: nothing"):
        conn.send(StartupMessage({"user": USER}))


def test_server_closing_instead_of_answering_ssl_request_is_connection_closed() -> None:
    conn = ssl_requested()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


@pytest.mark.parametrize(("answer", "accepted"), [(b"G", True), (b"N", False)])
def test_gssenc_request_answers(answer: bytes, accepted: bool) -> None:
    conn = ClientConnection()
    assert conn.send(GSSENCRequest()) == bytes.fromhex("0000000804d21630")
    conn.receive_data(answer)
    assert conn.next_event() == EncryptionResponse("gss", accepted=accepted)


def test_gssenc_request_answered_s_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(GSSENCRequest())
    conn.receive_data(b"S")
    with pytest.raises(ProtocolError, match="GSS request"):
        conn.next_event()


# ======================================================================================
# Simple query
# ======================================================================================


def test_simple_query_with_several_statements() -> None:
    conn = ready_connection()
    assert conn.send(Query("BEGIN; SELECT n FROM t; INSERT INTO t VALUES (1); ;")) == (
        Query("BEGIN; SELECT n FROM t; INSERT INTO t VALUES (1); ;").encode()
    )
    assert conn.pending_phases == (P.QUERY,)
    replies = [
        CommandComplete("BEGIN"),
        COLUMNS,
        DataRow((b"1",)),
        DataRow((None,)),
        CommandComplete("SELECT 2"),
        CommandComplete("INSERT 0 1"),
        EmptyQueryResponse(),
        ReadyForQuery("T"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0
    assert conn.transaction_status == "T"


def test_simple_query_phase_follows_row_description() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    receive(conn, COLUMNS)
    assert conn.pending_phases == (P.QUERY_ROWS,)
    receive(conn, DataRow((b"1",)), CommandComplete("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_simple_query_error_midway_then_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1/n FROM t; SELECT 2"))
    failure = error("division by zero", "22012")
    replies = [COLUMNS, DataRow((b"1",)), failure, ReadyForQuery("E")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0
    assert conn.transaction_status == "E"
    assert conn.state is ConnState.READY


def test_data_row_before_row_description_in_simple_query_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    with pytest.raises(ProtocolError, match=r"unexpected DataRow .* state ready .*: Query\)"):
        receive(conn, DataRow((b"1",)))
    assert conn.state is ConnState.FAILED


def test_pipelined_simple_queries_are_answered_in_order() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), Query("COMMIT"))
    assert conn.pending_phases == (P.QUERY, P.QUERY)
    receive(conn, COLUMNS, DataRow((b"1",)), CommandComplete("SELECT 1"), ReadyForQuery("T"))
    assert conn.pending_phases == (P.QUERY,)
    receive(conn, CommandComplete("COMMIT"), ReadyForQuery("I"))
    assert conn.in_flight == 0
    assert conn.transaction_status == "I"


# ======================================================================================
# Extended query
# ======================================================================================


def test_named_statement_parse_and_describe() -> None:
    conn = ready_connection()
    batch = (Parse("s1", "SELECT $1::int", (23,)), Describe("S", "s1"), Sync())
    assert conn.send(*batch) == sent(*batch)
    assert conn.pending_phases == (P.PARSE, P.DESCRIBE_STATEMENT, P.SYNC)
    replies = [ParseComplete(), ParameterDescription((23,)), COLUMNS, ReadyForQuery("I")]
    events = []
    for reply in replies:
        events += receive(conn, reply)
        if reply == ParameterDescription((23,)):
            assert conn.pending_phases == (P.DESCRIBE_STATEMENT_RESULT, P.SYNC)
    assert events == replies
    assert conn.in_flight == 0


def test_describe_statement_without_result_columns_gets_no_data() -> None:
    conn = ready_connection()
    conn.send(Parse("ins", "INSERT INTO t VALUES ($1)"), Describe("S", "ins"), Sync())
    replies = [ParseComplete(), ParameterDescription((23,)), NoData(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_unnamed_statement_and_portal_bind_describe_execute() -> None:
    conn = ready_connection()
    conn.send(
        Parse("", "SELECT n FROM t"),
        Bind("", "", (), (), (1,)),
        Describe("P", ""),
        Execute("", 0),
        Sync(),
    )
    assert conn.pending_phases == (P.PARSE, P.BIND, P.DESCRIBE_PORTAL, P.EXECUTE, P.SYNC)
    replies = [
        ParseComplete(),
        BindComplete(),
        COLUMNS,
        DataRow((b"\0\0\0\1",)),
        DataRow((b"\0\0\0\2",)),
        CommandComplete("SELECT 2"),
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_describe_portal_without_rows_gets_no_data() -> None:
    conn = ready_connection()
    conn.send(Bind("p", "ins", (), (), ()), Describe("P", "p"), Execute("p"), Sync())
    replies = [BindComplete(), NoData(), CommandComplete("INSERT 0 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_execute_with_a_row_limit_suspends_and_resumes_the_portal() -> None:
    conn = ready_connection()
    conn.send(Bind("cur", "s1", (), (), ()), Execute("cur", 2), Flush())
    assert conn.pending_phases == (P.BIND, P.EXECUTE), "Flush asks for no answer"
    first = [BindComplete(), DataRow((b"1",)), DataRow((b"2",)), PortalSuspended()]
    assert receive(conn, *first) == first
    assert conn.in_flight == 0
    assert conn.send(Execute("cur", 2), Sync()) == sent(Execute("cur", 2), Sync())
    rest = [DataRow((b"3",)), CommandComplete("SELECT 1"), ReadyForQuery("I")]
    assert receive(conn, *rest) == rest
    assert conn.in_flight == 0


def test_execute_of_an_empty_query_gets_empty_query_response() -> None:
    conn = ready_connection()
    conn.send(Parse("", ""), Bind("", "", (), (), ()), Execute(), Sync())
    replies = [ParseComplete(), BindComplete(), EmptyQueryResponse(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_close_statement_and_portal() -> None:
    conn = ready_connection()
    conn.send(Close("S", "s1"), Close("P", "cur"), Sync())
    assert conn.pending_phases == (P.CLOSE, P.CLOSE, P.SYNC)
    replies = [CloseComplete(), CloseComplete(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_function_call_gets_its_result_then_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(FunctionCall(1598, (), (), 1))
    replies = [FunctionCallResponse(b"\0\0\0\1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_function_call_error_still_ends_with_ready_for_query() -> None:
    conn = ready_connection()
    conn.send(FunctionCall(1, (), ()))
    replies = [error("function 1 does not exist", "42883"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


# --------------------------------------------------------------------------------------
# Pipelining and errors in the extended protocol
# --------------------------------------------------------------------------------------


def batch(name: str) -> tuple[FrontendMessage, ...]:
    return (Parse(name, "SELECT 1"), Bind("", name, (), (), ()), Execute(), Sync())


BATCH_PHASES = (P.PARSE, P.BIND, P.EXECUTE, P.SYNC)
BATCH_OK = (ParseComplete(), BindComplete(), DataRow((b"1",)), CommandComplete("SELECT 1"))


def test_three_batches_may_be_sent_before_any_reply() -> None:
    conn = ready_connection()
    data = conn.send(*batch("a"), *batch("b"), *batch("c"))
    assert data == sent(*batch("a"), *batch("b"), *batch("c"))
    assert conn.pending_phases == BATCH_PHASES * 3


def test_error_in_batch_two_drops_exactly_batch_twos_remaining_requests() -> None:
    conn = ready_connection()
    conn.send(*batch("a"), *batch("b"), *batch("c"))
    receive(conn, *BATCH_OK, ReadyForQuery("I"))
    assert conn.pending_phases == BATCH_PHASES * 2
    failure = error('prepared statement "b" already exists', "42P05")
    assert receive(conn, failure) == [failure]
    assert conn.pending_phases == (P.SYNC, *BATCH_PHASES)
    receive(conn, ReadyForQuery("I"))
    assert conn.pending_phases == BATCH_PHASES
    assert receive(conn, *BATCH_OK, ReadyForQuery("I")) == [*BATCH_OK, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_error_in_the_middle_of_a_batch_skips_to_its_sync() -> None:
    conn = ready_connection()
    conn.send(*batch("a"))
    failure = error("division by zero", "22012")
    replies = [ParseComplete(), BindComplete(), DataRow((b"1",)), failure]
    assert receive(conn, *replies) == replies
    assert conn.pending_phases == (P.SYNC,)


def test_error_before_the_sync_was_sent_skips_until_the_client_sends_it() -> None:
    conn = ready_connection()
    conn.send(Parse("", "SELEC 1"), Bind("", "", (), (), ()), Execute(), Flush())
    receive(conn, error('syntax error at or near "SELEC"', "42601"))
    assert conn.in_flight == 0
    # The server discards everything up to the next Sync, so nothing is awaited for these.
    assert conn.send(Execute(), Describe("P", "")) == sent(Execute(), Describe("P", ""))
    assert conn.in_flight == 0
    with pytest.raises(InterfaceError, match="state ready: an extended-query batch failed"):
        conn.send(Query("SELECT 1"))
    assert conn.send(Sync()) == Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    receive(conn, ReadyForQuery("I"))
    conn.send(Query("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_function_call_is_refused_while_skipping_until_sync() -> None:
    conn = ready_connection()
    conn.send(Parse("", "SELEC 1"), Flush())
    receive(conn, error())
    with pytest.raises(InterfaceError, match="send Sync first"):
        conn.send(FunctionCall(1, (), ()))


def test_error_response_at_sync_keeps_waiting_for_ready_for_query() -> None:
    # Committing the implicit transaction can fail, e.g. on a deferred constraint.
    conn = ready_connection()
    conn.send(*batch("a"))
    deferred = error("insert or update violates foreign key constraint", "23503")
    replies = [*BATCH_OK, deferred]
    assert receive(conn, *replies) == replies
    assert conn.pending_phases == (P.SYNC,)
    assert receive(conn, ReadyForQuery("I")) == [ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_non_fatal_error_with_nothing_in_flight_is_a_protocol_error() -> None:
    conn = ready_connection()
    with pytest.raises(ProtocolError, match=r"unexpected ErrorResponse .* nothing"):
        receive(conn, error())


# ======================================================================================
# COPY
# ======================================================================================


def test_copy_from_stdin_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    assert not conn.copy_in_active
    assert receive(conn, CopyInResponse(0, (0,))) == [CopyInResponse(0, (0,))]
    assert conn.copy_in_active
    assert conn.pending_phases == (P.QUERY_COPY_IN,)
    assert conn.send(CopyData(b"1\n"), CopyData(b"2\n")) == sent(CopyData(b"1\n"), CopyData(b"2\n"))
    assert conn.send(CopyDone()) == b"c\0\0\0\4"
    assert not conn.copy_in_active
    assert conn.pending_phases == (P.QUERY_COPY_END,)
    replies = [CommandComplete("COPY 2"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_data_without_a_copy_in_progress_is_refused() -> None:
    conn = ready_connection()
    with pytest.raises(InterfaceError, match="CopyData in state ready: no COPY FROM STDIN"):
        conn.send(CopyData(b"1\n"))


def test_copy_data_before_the_server_starts_the_copy_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN is in progress"):
        conn.send(CopyDone())


def test_query_while_the_server_waits_for_copy_data_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(
        InterfaceError, match="Query in state ready: the server is waiting for COPY"
    ):
        conn.send(Query("SELECT 1"))


def test_copy_fail_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    assert conn.send(CopyFail("client gave up")) == CopyFail("client gave up").encode()
    failure = error("COPY from stdin failed: client gave up", "57014")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_copy_from_stdin_in_an_extended_query_resends_the_swallowed_sync() -> None:
    conn = ready_connection()
    conn.send(Parse("", "COPY t FROM STDIN"), Bind("", "", (), (), ()), Execute(), Sync())
    receive(conn, ParseComplete(), BindComplete(), CopyInResponse(1, (1, 1)))
    # The server ignores a Sync it reads during COPY FROM STDIN.
    assert conn.pending_phases == (P.EXECUTE_COPY_IN, P.SYNC_OWED)
    assert conn.copy_in_active
    assert conn.send(CopyData(b"PGCOPY")) == CopyData(b"PGCOPY").encode()
    assert conn.send(CopyDone()) == CopyDone().encode() + Sync().encode()
    assert conn.pending_phases == (P.EXECUTE_COPY_END, P.SYNC)
    replies = [CommandComplete("COPY 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_fail_in_an_extended_query_resends_the_swallowed_sync() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    assert conn.send(CopyFail("nope")) == CopyFail("nope").encode() + Sync().encode()
    failure = error("COPY from stdin failed: nope", "57014")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0


def test_copy_from_stdin_in_an_extended_query_without_sync_owes_none() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Flush())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    assert conn.send(CopyDone()) == CopyDone().encode()
    receive(conn, CommandComplete("COPY 0"))
    assert conn.in_flight == 0


def test_error_during_extended_copy_in_then_copy_done_sends_the_owed_sync() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()))
    conn.send(CopyData(b"bad\n"))
    failure = error('invalid input syntax for type integer: "bad"', "22P02")
    assert receive(conn, failure) == [failure]
    assert conn.pending_phases == (P.SYNC_OWED,)
    assert not conn.copy_in_active
    # The server drops copy messages after the error; ending the COPY pays the Sync.
    assert conn.send(CopyData(b"more\n")) == CopyData(b"more\n").encode()
    assert conn.send(CopyDone()) == CopyDone().encode() + Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    receive(conn, ReadyForQuery("I"))
    assert conn.in_flight == 0


def test_error_during_extended_copy_in_then_a_new_query_sends_the_owed_sync_first() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy", (), (), ()), Execute(), Sync())
    receive(conn, BindComplete(), CopyInResponse(0, ()), error())
    assert conn.send(Query("SELECT 1")) == Sync().encode() + Query("SELECT 1").encode()
    assert conn.pending_phases == (P.SYNC, P.QUERY)


def test_error_during_simple_copy_in_ends_the_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    conn.send(CopyData(b"bad\n"))
    failure = error("invalid input syntax", "22P02")
    assert receive(conn, failure, ReadyForQuery("I")) == [failure, ReadyForQuery("I")]
    assert conn.in_flight == 0
    # Copy messages still in the client's hands may follow; the server drops them.
    assert conn.send(CopyData(b"x\n"), CopyDone()) == sent(CopyData(b"x\n"), CopyDone())
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN"):
        conn.send(CopyDone())


def test_copy_to_stdout_in_a_simple_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    replies = [
        CopyOutResponse(0, (0,)),
        CopyData(b"1\n"),
        CopyData(b"2\n"),
        CopyDone(),
        CommandComplete("COPY 2"),
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


def test_copy_to_stdout_in_an_extended_query() -> None:
    conn = ready_connection()
    conn.send(Bind("", "copy_out", (), (), ()), Execute(), Sync())
    replies = [
        BindComplete(),
        CopyOutResponse(1, (1,)),
        CopyData(b"PGCOPY"),
        CopyDone(),
        CommandComplete("COPY 1"),
        ReadyForQuery("I"),
    ]
    events = receive(conn, *replies[:3])
    assert conn.pending_phases == (P.EXECUTE_COPY_OUT, P.SYNC)
    events += receive(conn, *replies[3:])
    assert events == replies
    assert conn.in_flight == 0


def test_client_copy_data_during_copy_to_stdout_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    receive(conn, CopyOutResponse(0, ()))
    with pytest.raises(InterfaceError, match="no COPY FROM STDIN"):
        conn.send(CopyData(b"x"))


def test_error_during_copy_to_stdout_ends_the_query() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t TO STDOUT"))
    replies = [CopyOutResponse(0, ()), CopyData(b"1\n"), error(), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies
    assert conn.in_flight == 0


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "extended"])
def test_copy_both_carries_data_both_ways(extended: bool) -> None:
    conn = ready_connection()
    if extended:
        conn.send(Bind("", "repl", (), (), ()), Execute(), Flush())
        receive(conn, BindComplete())
    else:
        conn.send(Query("START_REPLICATION SLOT s LOGICAL 0/0"))
    receive(conn, CopyBothResponse(0, ()))
    assert conn.copy_in_active
    assert conn.send(CopyData(b"feedback")) == CopyData(b"feedback").encode()
    receive(conn, CopyData(b"wal"), CopyData(b"wal"))
    assert conn.send(CopyDone()) == CopyDone().encode()
    receive(conn, CopyDone(), CommandComplete("START_REPLICATION"))
    if not extended:
        receive(conn, ReadyForQuery("I"))
    assert conn.in_flight == 0


# ======================================================================================
# Asynchronous messages, fatal errors, termination, cancellation
# ======================================================================================


def test_notices_notifications_and_parameter_changes_may_arrive_among_rows() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT n FROM t"))
    timezone = ParameterStatus("TimeZone", "Europe/Paris")
    replies = [
        COLUMNS,
        DataRow((b"1",)),
        NOTICE,
        NOTIFICATION,
        timezone,
        DataRow((b"2",)),
        CommandComplete("SELECT 2"),
        NOTICE,
        ReadyForQuery("I"),
    ]
    assert receive(conn, *replies) == replies
    assert conn.parameters["TimeZone"] == "Europe/Paris"
    assert conn.in_flight == 0


def test_notifications_and_parameter_changes_arrive_while_idle() -> None:
    conn = ready_connection()
    change = ParameterStatus("in_hot_standby", "on")
    assert receive(conn, NOTIFICATION, change, NOTICE) == [NOTIFICATION, change, NOTICE]
    assert conn.parameters["in_hot_standby"] == "on"
    assert conn.state is ConnState.READY


def test_fatal_error_while_idle_fails_the_connection() -> None:
    conn = ready_connection()
    assert receive(conn, FATAL) == [FATAL]
    assert conn.state is ConnState.FAILED
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_fatal_error_mid_query_drops_everything_in_flight() -> None:
    conn = ready_connection()
    conn.send(*batch("a"), Query("SELECT 1"))
    assert receive(conn, ParseComplete(), FATAL) == [ParseComplete(), FATAL]
    assert conn.state is ConnState.FAILED
    assert conn.in_flight == 0


def test_a_failed_connection_still_reports_the_servers_last_words() -> None:
    conn = ready_connection()
    receive(conn, FATAL)
    assert receive(conn, NOTICE, error()) == [NOTICE, error()]
    with pytest.raises(ProtocolError, match=r"unexpected ReadyForQuery .* state failed"):
        receive(conn, ReadyForQuery("I"))


def test_only_terminate_may_be_sent_after_a_failure() -> None:
    conn = ready_connection()
    receive(conn, FATAL)
    with pytest.raises(InterfaceError, match="Query in state failed"):
        conn.send(Query("SELECT 1"))
    assert conn.send(Terminate()) == Terminate().encode()


def test_terminate_ends_the_session() -> None:
    conn = ready_connection()
    assert conn.send(Terminate()) == b"X\0\0\0\4"
    assert conn.state is ConnState.TERMINATING
    with pytest.raises(InterfaceError, match=r"Query in state terminating.*allowed now: nothing"):
        conn.send(Query("SELECT 1"))
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnState.CLOSED


def test_replies_still_in_flight_are_read_after_terminate() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), Terminate())
    replies = [COLUMNS, DataRow((b"1",)), CommandComplete("SELECT 1"), ReadyForQuery("I")]
    assert receive(conn, *replies) == replies


def test_terminate_is_allowed_while_copy_in_is_active() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    assert conn.send(Terminate()) == Terminate().encode()


def test_cancel_request_quotes_the_backend_key() -> None:
    conn = ready_connection()
    cancel = conn.cancel_request()
    assert cancel == CancelRequest(BACKEND_KEY.process_id, BACKEND_KEY.secret_key)
    assert cancel.encode() == bytes.fromhex("0000001004d2162e00001092") + BACKEND_KEY.secret_key


def test_cancel_request_without_backend_key_data_is_an_interface_error() -> None:
    conn = start()
    receive(conn, AuthenticationOk(), ReadyForQuery("I"))
    with pytest.raises(InterfaceError, match="no BackendKeyData"):
        conn.cancel_request()


def test_cancel_request_is_sent_on_a_fresh_connection_that_the_server_closes() -> None:
    conn = ClientConnection()
    cancel = CancelRequest(4242, b"\1\2\3\4")
    assert conn.send(cancel) == cancel.encode()
    assert conn.state is ConnState.CANCEL_SENT
    with pytest.raises(InterfaceError, match="state cancel-sent"):
        conn.send(Terminate())
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()


def test_a_server_message_after_a_cancel_request_is_a_protocol_error() -> None:
    conn = ClientConnection()
    conn.send(CancelRequest(1, b"\1\2\3\4"))
    with pytest.raises(ProtocolError, match="state cancel-sent"):
        receive(conn, ReadyForQuery("I"))


# ======================================================================================
# End of stream
# ======================================================================================


def test_peer_closing_is_connection_closed_once() -> None:
    conn = ready_connection()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is ConnState.CLOSED
    with pytest.raises(InterfaceError, match="connection is closed"):
        conn.next_event()


def test_events_before_the_close_come_first() -> None:
    conn = ready_connection()
    conn.receive_data(NOTICE.encode())
    conn.receive_data(b"")
    assert conn.next_event() == NOTICE
    assert conn.next_event() == ConnectionClosed()


def test_peer_closing_in_the_middle_of_a_message_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(COLUMNS.encode()[:7])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(ProtocolError, match=r"in the middle of a message \(7 bytes"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_data_after_the_end_of_the_stream_is_an_interface_error() -> None:
    conn = ready_connection()
    conn.receive_data(b"")
    with pytest.raises(InterfaceError, match="after the end of the stream"):
        conn.receive_data(b"Z")


def test_oversized_message_is_a_protocol_error_before_its_body_arrives() -> None:
    conn = ready_connection(ClientConnection(max_message_size=1024))
    conn.send(Query("SELECT big"))
    conn.receive_data(DataRow((b"x" * 2000,)).encode()[:5])
    with pytest.raises(ProtocolError, match="maximum message size of 1024"):
        conn.next_event()
    assert conn.state is ConnState.FAILED


def test_garbage_from_the_server_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(ProtocolError):
        conn.next_event()
    assert conn.state is ConnState.FAILED


# ======================================================================================
# Illegal sends and unexpected server messages
# ======================================================================================


def test_query_before_startup_is_refused_naming_the_state() -> None:
    conn = ClientConnection()
    with pytest.raises(InterfaceError, match="cannot send Query in state startup: allowed now"):
        conn.send(Query("SELECT 1"))


def test_startup_message_twice_is_refused() -> None:
    conn = start()
    with pytest.raises(InterfaceError, match="StartupMessage in state authenticating"):
        conn.send(StartupMessage({"user": USER}))


def test_parse_complete_with_nothing_in_flight_is_a_protocol_error() -> None:
    conn = ready_connection()
    with pytest.raises(
        ProtocolError,
        match=r"unexpected ParseComplete .* state ready \(waiting for the answer to: nothing\)",
    ):
        receive(conn, ParseComplete())
    assert conn.state is ConnState.FAILED


def test_bind_complete_when_parse_complete_is_awaited_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(*batch("a"))
    with pytest.raises(
        ProtocolError, match=r"unexpected BindComplete .* \(waiting for the answer to: Parse\)"
    ):
        receive(conn, BindComplete())


def test_data_row_for_an_execute_after_the_portal_completed_is_a_protocol_error() -> None:
    conn = ready_connection()
    conn.send(Execute(), Sync())
    receive(conn, CommandComplete("SELECT 0"))
    with pytest.raises(ProtocolError, match="waiting for the answer to: Sync"):
        receive(conn, DataRow((b"1",)))


def test_a_failed_send_leaves_the_connection_as_it_was() -> None:
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(InterfaceError):
        conn.send(Sync())
    assert conn.pending_phases == (P.QUERY_COPY_IN,)


def test_a_message_that_cannot_be_encoded_is_not_recorded_as_in_flight() -> None:
    conn = ready_connection()
    with pytest.raises(ValueError, match="NUL"):
        conn.send(Query("SELECT '\0'"))
    assert conn.in_flight == 0
    with pytest.raises(ValueError, match="NUL"):
        conn.send(Parse("", "SELECT 1"), Bind("", "", (), (), ()), Execute("\0"), Sync())
    assert conn.in_flight == 0
    conn.send(Query("SELECT 1"))
    assert conn.pending_phases == (P.QUERY,)


def test_a_startup_message_that_cannot_be_encoded_leaves_the_state_alone() -> None:
    conn = ClientConnection()
    with pytest.raises(ValueError, match="NUL"):
        conn.send(StartupMessage({"user": "al\0ice"}))
    assert conn.state is ConnState.STARTUP


def test_repr_shows_the_state_and_never_the_password() -> None:
    conn = start(ClientConnection(password=PASSWORD))
    text = repr(conn)
    assert "state=authenticating" in text
    assert PASSWORD not in text


# ======================================================================================
# Byte streams cut anywhere
# ======================================================================================

STARTUP_REPLIES = (AuthenticationCleartextPassword(), *TRUST_STARTUP)
QUERIES: tuple[FrontendMessage, ...] = (
    Query("SELECT n FROM t; COPY t TO STDOUT"),
    *batch("a"),
    Parse("", "SELEC"),
    Sync(),
)
QUERY_REPLIES: tuple[BackendMessage, ...] = (
    COLUMNS,
    DataRow((b"1",)),
    NOTIFICATION,
    DataRow((b"2" * 300,)),
    CommandComplete("SELECT 2"),
    CopyOutResponse(0, ()),
    CopyData(b"1\n"),
    CopyDone(),
    CommandComplete("COPY 1"),
    ReadyForQuery("I"),
    *BATCH_OK,
    ReadyForQuery("I"),
    error(),
    ReadyForQuery("I"),
)


def converse(sizes: list[int]) -> list[Event]:
    """Startup with a password, then queries, the server's bytes cut into ``sizes``."""
    conn = start(ClientConnection(password=PASSWORD))
    events = receive_in_chunks(conn, wire(*STARTUP_REPLIES), sizes)
    assert conn.data_to_send() == PasswordMessage(PASSWORD.encode()).encode()
    conn.send(*QUERIES)
    events += receive_in_chunks(conn, wire(*QUERY_REPLIES), sizes)
    conn.receive_data(b"")
    closed = conn.next_event()
    assert closed == ConnectionClosed()
    return [*events, closed]


WHOLE_CONVERSATION = [*STARTUP_REPLIES, *QUERY_REPLIES, ConnectionClosed()]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 1 << 20])
def test_a_conversation_cut_into_equal_pieces_gives_the_same_events(size: int) -> None:
    assert converse([size]) == WHOLE_CONVERSATION


@settings(max_examples=50)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=100))
def test_a_conversation_cut_anywhere_gives_the_same_events(sizes: list[int]) -> None:
    assert converse(sizes) == WHOLE_CONVERSATION


@settings(max_examples=200)
@given(junk=st.binary(min_size=1, max_size=64))
def test_junk_from_the_server_only_ever_raises_protocol_error(junk: bytes) -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"), *batch("a"))
    conn.receive_data(junk)
    try:
        drain(conn)
    except ProtocolError:
        assert conn.state is ConnState.FAILED


# --------------------------------------------------------------------------------------
# The DataRow fast path
# --------------------------------------------------------------------------------------


def test_next_data_rows_gives_the_rows_of_the_request_reading_them() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    assert conn.next_data_rows() == []  # waiting for RowDescription: not reading rows yet
    conn.receive_data(
        RowDescription((FieldDescription("x", type_oid=23),)).encode()
        + DataRow((b"1",)).encode()
        + DataRow((None,)).encode()
        + CommandComplete("SELECT 2").encode()
    )
    assert isinstance(conn.next_event(), RowDescription)
    assert conn.next_data_rows() == [(b"1",), (None,)]
    assert conn.next_data_rows() == []
    assert isinstance(conn.next_event(), CommandComplete)


def test_next_data_rows_is_empty_with_nothing_in_flight() -> None:
    conn = ready_connection()
    conn.receive_data(DataRow((b"1",)).encode())
    assert conn.next_data_rows() == []
    with pytest.raises(ProtocolError):
        conn.next_event()


def test_next_rows_hands_the_rows_to_the_parser_only_while_rows_are_due() -> None:
    seen: list[tuple[bytes, int, int]] = []

    def parse(data: bytes, pos: int, size: int, limit: int) -> tuple[list[object], int]:
        # A parser taking the first whole message only, as a row of its size.
        seen.append((data, pos, size))
        (length,) = struct.unpack_from("!i", data, pos + 1)
        return [length], pos + 1 + length

    conn = ready_connection()
    conn.receive_data(DataRow((b"1",)).encode())
    assert conn.next_rows(parse) is None  # nothing in flight
    assert seen == []
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(RowDescription((FieldDescription("x", type_oid=23),)).encode())
    assert conn.next_rows(parse) is None  # waiting for RowDescription
    assert isinstance(conn.next_event(), RowDescription)
    assert conn.next_rows(parse) is None  # no bytes yet
    rows = DataRow((b"1",)).encode() + DataRow((None,)).encode()
    conn.receive_data(rows + CommandComplete("SELECT 2").encode())
    assert conn.next_rows(parse) == [11]
    assert seen[-1] == (rows + CommandComplete("SELECT 2").encode(), 0, len(seen[-1][0]))
    assert conn.next_rows(lambda data, pos, size, limit: ([], pos)) == []  # a row, declined
    assert conn.next_data_rows() == [(None,)]  # what the parser left is still there
    assert conn.next_rows(parse) is None  # CommandComplete is next: not for the parser
    assert isinstance(conn.next_event(), CommandComplete)


def test_a_row_parser_stopping_outside_the_buffer_is_refused() -> None:
    conn = ready_connection()
    conn.send(Query("SELECT 1"))
    conn.receive_data(
        RowDescription((FieldDescription("x", type_oid=23),)).encode() + DataRow((b"1",)).encode()
    )
    assert isinstance(conn.next_event(), RowDescription)
    with pytest.raises(ProtocolError, match="outside the buffer"):
        conn.next_rows(lambda data, pos, size, limit: ([], size + 1))


def test_a_malformed_row_on_the_fast_path_fails_the_connection() -> None:
    conn = ready_connection()
    conn.send(Bind("", "s", (), (), ()), Execute(), Sync())
    conn.receive_data(BindComplete().encode() + b"D\x00\x00\x00\x06\xff\xff")
    assert isinstance(conn.next_event(), BindComplete)
    with pytest.raises(ProtocolError, match="negative column count"):
        conn.next_data_rows()
    assert conn.state is ConnectionState.FAILED
    assert conn.in_flight == 0


# --------------------------------------------------------------------------------------
# send_binds: the hot path of prepared statements, against the general send()
# --------------------------------------------------------------------------------------

_param_values = st.lists(st.none() | st.binary(max_size=30), max_size=6).map(tuple)


@settings(max_examples=200, deadline=None)
@given(
    statement=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
        max_size=12,
    ),
    param_formats=st.lists(st.sampled_from([0, 1]), max_size=4).map(tuple),
    result_formats=st.lists(st.sampled_from([0, 1]), max_size=4).map(tuple),
    rows=st.lists(_param_values, max_size=4),
    max_rows=st.integers(0, 5),
    sync=st.booleans(),
)
def test_send_binds_is_send_of_the_same_messages(
    statement: str,
    param_formats: tuple[int, ...],
    result_formats: tuple[int, ...],
    rows: list[tuple[bytes | None, ...]],
    max_rows: int,
    sync: bool,
) -> None:
    template = BindTemplate(statement, param_formats, result_formats)
    messages: list[FrontendMessage] = []
    for params in rows:
        bind = Bind("", statement, param_formats, params, result_formats)
        assert template.message(params) == bind
        assert template.encode(params) == bind.encode()
        messages += [bind, Execute("", max_rows)]
    if sync:
        messages.append(Sync())
    fast, general = ready_connection(), ready_connection()
    assert fast.send_binds(template, rows, max_rows, sync) == general.send(*messages)
    assert fast.pending_phases == general.pending_phases
    assert "BindTemplate" in repr(template)


def test_send_binds_takes_the_general_path_when_the_state_is_special() -> None:
    template = BindTemplate("s", (), ())
    # After an error, up to the Sync: the Bind is dropped by the server and not counted.
    conn = ready_connection()
    conn.send(Bind("", "s", (), (), ()), Execute())
    receive(conn, error())
    data = conn.send_binds(template, [()], sync=True)
    assert data == Bind("", "s", (), (), ()).encode() + Execute().encode() + Sync().encode()
    assert conn.pending_phases == (P.SYNC,)
    # During COPY FROM STDIN the general path refuses, with its message.
    conn = ready_connection()
    conn.send(Query("COPY t FROM STDIN"))
    receive(conn, CopyInResponse(0, ()))
    with pytest.raises(InterfaceError, match="waiting for COPY data"):
        conn.send_binds(template, [()])
    assert conn.pending_phases == (P.QUERY_COPY_IN,)
    # Before startup: refused, with the general path's message.
    with pytest.raises(InterfaceError, match="cannot send Bind in state startup"):
        ClientConnection().send_binds(template, [()])


def test_next_completions_takes_bind_and_command_complete_for_the_requests_in_flight() -> None:
    conn = ready_connection()
    template = BindTemplate("s", (), ())
    conn.send_binds(template, [(), (), ()])
    assert conn.next_completions() == []  # nothing received yet
    conn.receive_data(
        BindComplete().encode()
        + CommandComplete("INSERT 0 1").encode()
        + BindComplete().encode()
        + CommandComplete("INSERT 0 2").encode()
        + BindComplete().encode()
        + NoticeResponse({"S": "NOTICE", "M": "hi"}).encode()
        + CommandComplete("INSERT 0 3").encode()
        + ReadyForQuery("I").encode()
    )
    assert conn.next_completions() == ["INSERT 0 1", "INSERT 0 2"]
    assert conn.pending_phases == (P.EXECUTE, P.SYNC)  # the third BindComplete is taken
    assert conn.next_completions() == []  # a notice is next: next_event() gives it
    assert isinstance(conn.next_event(), NoticeResponse)
    assert conn.next_completions() == ["INSERT 0 3"]
    assert conn.next_completions() == []  # ReadyForQuery is not for it
    assert isinstance(conn.next_event(), ReadyForQuery)
    assert conn.in_flight == 0


def test_next_completions_leaves_other_messages_and_partial_ones() -> None:
    conn = ready_connection()
    conn.send_binds(BindTemplate("s", (), ()), [()])
    data = BindComplete().encode() + CommandComplete("SELECT 1").encode()
    conn.receive_data(data[:-1])
    assert conn.next_completions() == []  # BindComplete taken, CommandComplete incomplete
    assert conn.pending_phases == (P.EXECUTE, P.SYNC)
    conn.receive_data(data[-1:] + error().encode())
    assert conn.next_completions() == ["SELECT 1"]
    assert conn.next_completions() == []  # an error is for next_event()
    assert isinstance(conn.next_event(), ErrorResponse)


def test_a_malformed_completion_fails_the_connection() -> None:
    conn = ready_connection()
    conn.send_binds(BindTemplate("s", (), ()), [()])
    conn.receive_data(b"2\x00\x00\x00\x05\x00")  # BindComplete with a body
    with pytest.raises(ProtocolError, match="BindComplete"):
        conn.next_completions()
    assert conn.state is ConnectionState.FAILED
    assert conn.in_flight == 0
    # Not READY: nothing is taken.
    assert conn.next_completions() == []


def test_send_binds_without_sync_and_completions_up_to_the_last_request() -> None:
    conn = ready_connection()
    template = BindTemplate("s", (), ())
    # In a failed batch (the general path), and in a healthy one, without Sync.
    conn.send(Bind("", "s", (), (), ()), Execute())
    receive(conn, error())
    assert conn.send_binds(template, [()], sync=False) == (
        Bind("", "s", (), (), ()).encode() + Execute().encode()
    )
    conn.send(Sync())
    receive(conn, ReadyForQuery("I"))
    conn.send_binds(template, [()], max_rows=7, sync=False)
    assert conn.pending_phases == (P.BIND, P.EXECUTE)
    conn.receive_data(BindComplete().encode() + CommandComplete("SELECT 7").encode())
    assert conn.next_completions() == ["SELECT 7"]
    assert conn.in_flight == 0
