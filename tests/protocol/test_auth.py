"""pgwire.protocol.auth: both halves of authentication.

The client's half (passwords, MD5, SCRAM-SHA-256, channel binding, require_auth) is driven
by canned server conversations and by scramp as the server; the server's half (the methods
a caller chooses, the password and SCRAM checks) by the client role and by raw messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
from pgwire.protocol import (
    Authenticated,
    AuthenticationCleartextPassword,
    AuthenticationFailed,
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
    BackendMessage,
    ChannelBinding,
    ClientConnection,
    ConnectionState,
    MD5Auth,
    PasswordAuth,
    PasswordMessage,
    SASLInitialResponse,
    SASLResponse,
    ScramAuth,
    ScramSecret,
    ServerState,
    StartupMessage,
    tls_server_end_point,
)
from tests.protocol.scripts import (
    CLIENT_NONCE,
    FIXED_NONCE,
    PASSWORD,
    SASL_OFFER,
    SCRAM_SALT,
    SERVER_NONCE,
    TRUST_STARTUP,
    USER,
    ScramServer,
    authenticate,
    receive,
    scram_first,
    scram_server,
    start,
    started_server,
)

ConnState = ConnectionState
S = ServerState
SASL_PLUS_OFFER = AuthenticationSASL(("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"))
BINDING = hashlib.sha256(b"a certificate").digest()


# --------------------------------------------------------------------------------------
# The client: cleartext and MD5 passwords, unsupported methods
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The client: SCRAM-SHA-256
# --------------------------------------------------------------------------------------


def scram_connection() -> ClientConnection:
    return start(ClientConnection(password=PASSWORD, nonce_source=lambda: CLIENT_NONCE))


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
# The client: channel binding (SCRAM-SHA-256-PLUS, tls-server-end-point)
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


def test_unknown_channel_binding_setting_is_refused() -> None:
    with pytest.raises(InterfaceError, match="invalid channel_binding 'always'"):
        ClientConnection(channel_binding="always")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# The client: require_auth
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


# --------------------------------------------------------------------------------------
# The server: cleartext and MD5 passwords
# --------------------------------------------------------------------------------------


def test_cleartext_password_right_and_wrong() -> None:
    client, server, events = authenticate(PasswordAuth(PASSWORD))
    assert events == [PasswordMessage(PASSWORD.encode()), Authenticated(USER, "password")]
    assert client.state is ConnectionState.AWAITING_READY
    client, server, events = authenticate(PasswordAuth(PASSWORD.encode()), password="nope")
    assert events[-1] == AuthenticationFailed(USER, "password", "wrong password")
    assert server.state is S.FAILED
    assert client.state is ConnectionState.FAILED


@pytest.mark.parametrize(
    "stored",
    [PASSWORD, "md5" + hashlib.md5((PASSWORD + USER).encode()).hexdigest()],
    ids=["plain", "stored-hash"],
)
def test_md5_password_from_the_password_or_its_stored_hash(stored: str) -> None:
    client, _server, events = authenticate(MD5Auth(stored, b"salt"))
    assert events[-1] == Authenticated(USER, "md5")
    assert client.auth_methods == ["md5"]


def test_md5_wrong_password_fails_with_a_fatal_28p01() -> None:
    client, _server, events = authenticate(MD5Auth(PASSWORD, b"salt"), password="bad")
    assert isinstance(events[-1], AuthenticationFailed)
    assert client.state is ConnectionState.FAILED


def test_md5_salt_must_be_4_bytes() -> None:
    with pytest.raises(InterfaceError, match="4 bytes"):
        MD5Auth(PASSWORD, b"12")


# --------------------------------------------------------------------------------------
# The server: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS
# --------------------------------------------------------------------------------------


def test_scram_sha_256_with_the_client_role() -> None:
    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
    client, _server, events = authenticate(ScramAuth(secret, SERVER_NONCE))
    kinds = [type(e) for e in events]
    assert kinds == [SASLInitialResponse, SASLResponse, Authenticated]
    assert events[-1] == Authenticated(USER, "SCRAM-SHA-256")
    assert client.state is ConnectionState.AWAITING_READY


def test_scram_with_a_wrong_password_fails() -> None:
    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
    _client, server, events = authenticate(ScramAuth(secret, SERVER_NONCE), password="wrong")
    assert events[-1] == AuthenticationFailed(
        USER, "SCRAM-SHA-256", "wrong password (the SCRAM proof does not match)"
    )
    failure = server.state
    assert failure is S.FAILED


def test_scram_offers_plus_when_given_channel_binding_data() -> None:
    import scramp

    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
    server = started_server()
    data = server.authenticate(ScramAuth(secret, SERVER_NONCE, BINDING))
    assert b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0" in data
    client = scramp.ScramClient(
        ["SCRAM-SHA-256-PLUS"],
        USER,
        PASSWORD,
        channel_binding=("tls-server-end-point", BINDING),
        c_nonce=CLIENT_NONCE,
    )
    first = client.get_client_first()
    events = receive(server, SASLInitialResponse("SCRAM-SHA-256-PLUS", first.encode()))
    assert isinstance(events[0], SASLInitialResponse)
    continue_ = server.data_to_send()
    client.set_server_first(continue_[9:].decode())
    events = receive(server, SASLResponse(client.get_client_final().encode()))
    assert events[-1] == Authenticated(USER, "SCRAM-SHA-256-PLUS")
    final = server.data_to_send()  # AuthenticationSASLFinal, then AuthenticationOk
    end = 1 + int.from_bytes(final[1:5], "big")
    client.set_server_final(final[9:end].decode())
    assert final[end:] == AuthenticationOk().encode()


@pytest.mark.parametrize(
    ("binding", "mechanism", "first", "reason"),
    [
        (BINDING, "SCRAM-SHA-256", "y,,n=,r=abc", "downgrade"),
        (None, "SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abc", "channel binding flag"),
        (BINDING, "SCRAM-SHA-256-PLUS", "n,,n=,r=abc", "channel binding flag"),
        (None, "SCRAM-SHA-256", "n,a=someone,n=,r=abc", "authorization identity"),
        (None, "SCRAM-SHA-256", "n,,n=,r=", "non-printable"),
        (None, "SCRAM-SHA-256", "n,,garbage", "malformed SCRAM"),
        (None, "SCRAM-SHA-256", "n,,m=ext,n=,r=abc", "extension"),
    ],
)
def test_bad_scram_client_first_messages_fail_authentication(
    binding: bytes | None, mechanism: str, first: str, reason: str
) -> None:
    server = scram_server(binding)
    events = scram_first(server, mechanism, first)
    assert isinstance(events[-1], AuthenticationFailed)
    assert reason in events[-1].reason
    assert b"28P01" in server.data_to_send()


def test_a_y_flag_is_accepted_when_the_server_cannot_bind() -> None:
    server = scram_server()
    scram_first(server, "SCRAM-SHA-256", "y,,n=,r=abc")
    assert server.state is S.AWAITING_SASL_RESPONSE


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        (f"c=eSws,r=abc{FIXED_NONCE},p=AAAA", "channel binding does not match"),
        ("c=biws,r=other,p=AAAA", "nonce does not match"),
        (f"c=biws,r=abc{FIXED_NONCE},p=AAAA", "wrong length"),
        (f"c=biws,r=abc{FIXED_NONCE},p=!!", "base64"),
    ],
)
def test_bad_scram_client_final_messages_fail_authentication(final: str, reason: str) -> None:
    server = scram_server()
    scram_first(server, "SCRAM-SHA-256", "n,,n=,r=abc")
    events = receive(server, SASLResponse(final.encode()))
    assert isinstance(events[-1], AuthenticationFailed)
    assert reason.lower() in events[-1].reason.lower()


def test_scram_secrets_round_trip_postgresqls_stored_format() -> None:
    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT, 5000)
    assert str(secret).startswith("SCRAM-SHA-256$5000:")
    assert ScramSecret.parse(str(secret)) == secret
    assert "stored_key" not in repr(secret)


@pytest.mark.parametrize(
    "text", ["md5abc", "SCRAM-SHA-1$1:a$b:c", "SCRAM-SHA-256$x:AA==$AA==:AA=="]
)
def test_a_malformed_scram_secret_is_refused(text: str) -> None:
    with pytest.raises(InterfaceError, match="not a SCRAM secret"):
        ScramSecret.parse(text)


def test_a_scram_secret_needs_a_long_enough_salt() -> None:
    with pytest.raises(InterfaceError, match="cannot derive"):
        ScramSecret.from_password(PASSWORD, b"short")


@pytest.mark.parametrize("nonce", ["", "a,b", "tab\there"])
def test_a_scram_nonce_must_be_printable_without_commas(nonce: str) -> None:
    with pytest.raises(InterfaceError, match="nonce"):
        ScramAuth(ScramSecret.from_password(PASSWORD, SCRAM_SALT), nonce)


# --------------------------------------------------------------------------------------
# The server: RFC 5802's grammar, as PostgreSQL enforces it
# --------------------------------------------------------------------------------------


def scram_proof(bare: str, server_first: str, without_proof: str) -> str:
    """The client proof for PASSWORD over this exchange (RFC 5802, section 3)."""
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), SCRAM_SALT, 4096)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha256")
    return base64.b64encode(
        bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    ).decode()


def run_scram(bare: str, final_extensions: str = "", after_proof: str = "") -> list[object]:
    """A SCRAM-SHA-256 exchange with client-first ``n,,<bare>`` and a client-final with
    ``final_extensions`` before its (correctly computed) proof; the server's last events."""
    server = scram_server()
    events = scram_first(server, "SCRAM-SHA-256", f"n,,{bare}")
    if isinstance(events[-1], AuthenticationFailed):
        return list(events)
    reply = server.data_to_send()
    server_first = reply[9:].decode()
    nonce = server_first.split(",")[0][2:]
    without_proof = f"c=biws,r={nonce}{final_extensions}"
    proof = scram_proof(bare, server_first, without_proof)
    final = f"{without_proof},p={proof}{after_proof}"
    return list(receive(server, SASLResponse(final.encode())))


def test_a_hand_made_exchange_authenticates() -> None:
    assert run_scram("n=,r=abc")[-1] == Authenticated(USER, "SCRAM-SHA-256")


@pytest.mark.parametrize(
    "nonce",
    ["a\x01b", "a b", "caf\u00e9", "a\x7fb", "a\tb"],
    ids=["control", "space", "non-ascii", "delete", "tab"],
)
def test_a_client_nonce_that_is_not_printable_ascii_fails(nonce: str) -> None:
    event = run_scram(f"n=,r={nonce}")[-1]
    assert isinstance(event, AuthenticationFailed)
    assert "non-printable characters in the SCRAM nonce" in event.reason


@pytest.mark.parametrize(
    "bare",
    ["r=abc,n=", "n=,x=1,r=abc", "r=abc", "n=", "n=,r=abc,", "n=,r=abc,1=x", "n=,r=abc,=x"],
    ids=["swapped", "extension-first", "no-user", "no-nonce", "empty", "digit", "no-name"],
)
def test_a_client_first_message_out_of_rfc_5802s_grammar_fails(bare: str) -> None:
    event = run_scram(bare)[-1]
    assert isinstance(event, AuthenticationFailed)
    assert "malformed SCRAM" in event.reason


def test_extensions_after_the_client_nonce_are_ignored_as_postgresql_does() -> None:
    # RFC 5802: unrecognized extensions MUST be ignored; PostgreSQL 18 accepts them.
    assert run_scram("n=,r=abc,x=1,y=2")[-1] == Authenticated(USER, "SCRAM-SHA-256")


def test_extensions_in_the_client_final_message_are_signed_and_ignored() -> None:
    assert run_scram("n=,r=abc", ",x=1")[-1] == Authenticated(USER, "SCRAM-SHA-256")


@pytest.mark.parametrize(
    ("extensions", "after"),
    [(",1=x", ""), (",x", ""), (",p=AAAA", ""), ("", ",x=1"), ("", ",")],
    ids=["digit-name", "no-value", "two-proofs", "after-proof", "trailing-comma"],
)
def test_a_client_final_message_out_of_rfc_5802s_grammar_fails(extensions: str, after: str) -> None:
    event = run_scram("n=,r=abc", extensions, after)[-1]
    assert isinstance(event, AuthenticationFailed)
    assert "malformed SCRAM" in event.reason or "base64" in event.reason.lower()


def test_a_client_final_message_with_its_attributes_swapped_fails() -> None:
    server = scram_server()
    scram_first(server, "SCRAM-SHA-256", "n,,n=,r=abc")
    events = receive(server, SASLResponse(f"r=abc{FIXED_NONCE},c=biws,p=AAAA".encode()))
    assert isinstance(events[-1], AuthenticationFailed)
    assert "malformed SCRAM" in events[-1].reason


def test_a_reason_never_quotes_the_clients_values() -> None:
    server = scram_server()
    scram_first(server, "SCRAM-SHA-256", "n,,n=,r=abc")
    secretish = "c2VjcmV0LXByb29m"
    final = f"c=biws,r=abc{FIXED_NONCE},{secretish},p=AAAA"
    events = receive(server, SASLResponse(final.encode()))
    assert isinstance(events[-1], AuthenticationFailed)
    assert secretish not in events[-1].reason


@pytest.mark.parametrize("nonce", ["n1", "x" * 17, "x" * 17 + "\u00e9", " " + "x" * 18])
def test_a_server_nonce_is_18_printable_ascii_characters_at_least(nonce: str) -> None:
    with pytest.raises(InterfaceError, match="nonce"):
        ScramAuth(ScramSecret.from_password(PASSWORD, SCRAM_SALT), nonce)


def test_a_server_nonce_of_18_characters_is_taken() -> None:
    ScramAuth(ScramSecret.from_password(PASSWORD, SCRAM_SALT), "x" * 18)


@pytest.mark.parametrize("iterations", ["0", "-5", "+5", " 5", "5_000", "\u0665", "99999999999"])
def test_a_scram_secret_with_a_bad_iteration_count_is_refused(iterations: str) -> None:
    text = str(ScramSecret.from_password(PASSWORD, SCRAM_SALT)).replace("4096", iterations, 1)
    with pytest.raises(InterfaceError, match="not a SCRAM secret"):
        ScramSecret.parse(text)


def test_a_scram_secret_with_keys_of_the_wrong_length_is_refused() -> None:
    secret = ScramSecret.from_password(PASSWORD, SCRAM_SALT)
    short = ScramSecret(secret.salt, secret.stored_key[:16], secret.server_key, 4096)
    with pytest.raises(InterfaceError, match="not a SCRAM secret"):
        ScramSecret.parse(str(short))


def test_a_scram_secret_with_an_iteration_count_of_zero_cannot_be_made() -> None:
    with pytest.raises(InterfaceError, match="iteration"):
        ScramSecret.from_password(PASSWORD, SCRAM_SALT, 0)
