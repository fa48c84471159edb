"""Authentication, both roles: cleartext password, MD5, SCRAM-SHA-256 and SCRAM-SHA-256-PLUS
(tls-server-end-point channel binding), and libpq's ``require_auth`` and
``channel_binding`` rules.

The client's half is :class:`ClientAuthenticator`: it answers each authentication request
of the server, or refuses it before anything is answered.  The server's half is the
methods the caller chooses (:class:`TrustAuth`, :class:`PasswordAuth`, :class:`MD5Auth`,
:class:`ScramAuth`), :func:`password_matches` and :class:`ServerScram`.  The connection
classes hold the states; this module holds the secrets and the checks.

No I/O, no clock, no randomness: SCRAM nonces and salts are handed in.  Passwords, keys and
proofs never appear in a repr or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import sys
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Final, Literal, get_args

from pgwire._frozen import frozen_dataclass
from pgwire.errors import InterfaceError, NotSupportedError, OperationalError, ProtocolError
from pgwire.protocol.messages import (
    AuthenticationCleartextPassword,
    AuthenticationGSS,
    AuthenticationGSSContinue,
    AuthenticationKerberosV5,
    AuthenticationMD5Password,
    AuthenticationSASL,
    AuthenticationSASLContinue,
    AuthenticationSASLFinal,
    AuthenticationSSPI,
    BackendMessage,
    PasswordMessage,
    SASLInitialResponse,
    SASLResponse,
)

if TYPE_CHECKING:
    import scramp

__all__ = [
    "MAX_PASSWORD_MESSAGE",
    "MAX_SASL_MESSAGE",
    "MIN_SERVER_NONCE",
    "SCRAM",
    "SCRAM_PLUS",
    "AuthMethod",
    "AuthRequirement",
    "ChannelBinding",
    "ClientAuthenticator",
    "MD5Auth",
    "PasswordAuth",
    "ScramAuth",
    "ScramSecret",
    "ServerScram",
    "TrustAuth",
    "md5_password",
    "password_matches",
    "sasl_mechanisms",
    "tls_server_end_point",
]

SCRAM: Final = "SCRAM-SHA-256"
SCRAM_PLUS: Final = "SCRAM-SHA-256-PLUS"
_ITERATIONS: Final = re.compile(r"[0-9]{1,10}")
#: PostgreSQL's ``PG_MAX_AUTH_TOKEN_LENGTH``: the longest password message it reads (the
#: length word included).
MAX_PASSWORD_MESSAGE: Final = 65535
#: PostgreSQL's ``PG_MAX_SASL_MESSAGE_LENGTH``: the longest SCRAM message it reads.
MAX_SASL_MESSAGE: Final = 1024
#: The shortest server nonce :class:`ScramAuth` takes: PostgreSQL draws 18 random bytes.
MIN_SERVER_NONCE: Final = 18


# --------------------------------------------------------------------------------------
# Both roles
# --------------------------------------------------------------------------------------


def md5_password(password: bytes, user: bytes, salt: bytes) -> bytes:
    """The PasswordMessage body PostgreSQL's MD5 method expects: ``md5`` + hex digest."""
    inner = hashlib.md5(password + user).hexdigest().encode()
    return b"md5" + hashlib.md5(inner + salt).hexdigest().encode()


def tls_server_end_point(certificate: bytes) -> bytes:
    """The tls-server-end-point channel binding data (RFC 5929) for a DER certificate:
    its hash with the certificate's signature hash, SHA-256 in place of MD5 and SHA-1."""
    # asn1crypto comes with scramp, which reads certificates with it too.
    from asn1crypto.x509 import Certificate  # type: ignore[import-untyped]

    try:
        algorithm = Certificate.load(certificate).hash_algo
    except (ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"cannot read the server's TLS certificate: {exc}") from None
    if algorithm in ("md5", "sha1"):
        algorithm = "sha256"
    if algorithm not in hashlib.algorithms_available:
        raise NotSupportedError(
            f"the server certificate's signature algorithm ({algorithm}) has no hash for "
            "tls-server-end-point channel binding; use channel_binding=disable"
        )
    return hashlib.new(algorithm, certificate).digest()


# --------------------------------------------------------------------------------------
# The client's rules: require_auth and channel_binding, as libpq has them
# --------------------------------------------------------------------------------------

#: libpq's ``channel_binding`` settings.
ChannelBinding = Literal["disable", "prefer", "require"]
_CHANNEL_BINDINGS: Final = get_args(ChannelBinding)

#: Authentication request -> the ``require_auth`` method that allows it, and libpq's words
#: for it when it is refused.
_REQUIRE_AUTH_METHODS: Final[dict[type[BackendMessage], tuple[str, str]]] = {
    AuthenticationCleartextPassword: ("password", "server requested a cleartext password"),
    AuthenticationMD5Password: ("md5", "server requested a hashed password"),
    AuthenticationSASL: ("scram-sha-256", "server requested SASL authentication"),
    AuthenticationGSS: ("gss", "server requested GSSAPI authentication"),
    AuthenticationGSSContinue: ("gss", "server requested GSSAPI authentication"),
    AuthenticationSSPI: ("sspi", "server requested SSPI authentication"),
    AuthenticationKerberosV5: ("kerberos", "server requested Kerberos V5 authentication"),
}
#: The method names ``require_auth`` accepts (libpq 18's list; ``none`` is handled apart).
_REQUIRE_AUTH_NAMES: Final = ("password", "md5", "gss", "sspi", "scram-sha-256", "oauth")

#: The requests that start an exchange: PostgreSQL runs one per connection.
_AUTH_REQUESTS: Final = {
    AuthenticationCleartextPassword: "password",
    AuthenticationMD5Password: "md5",
    AuthenticationSASL: "SASL",
}
_UNSUPPORTED_AUTH: Final = {
    AuthenticationKerberosV5: "Kerberos V5",
    AuthenticationGSS: "GSSAPI",
    AuthenticationGSSContinue: "GSSAPI",
    AuthenticationSSPI: "SSPI",
}


@frozen_dataclass(slots=True)
class AuthRequirement:
    """libpq's ``require_auth``: which authentication requests the server may make.

    ``allowed`` holds the method names the server may ask for; ``required`` says whether it
    must ask for one at all (``none`` allows sessions without an authentication exchange,
    such as ``trust`` and ``cert``). Build it with :meth:`parse`.
    """

    text: str
    allowed: frozenset[str]
    required: bool

    @classmethod
    def parse(cls, text: str) -> AuthRequirement:
        """Parse libpq's list form: ``scram-sha-256,none`` allows only those, and
        ``!password,!md5`` allows everything else; the two forms cannot be mixed."""
        allowed: set[str] = set()
        required = True
        negated = False
        for position, item in enumerate(part.strip() for part in text.split(",")):
            method = item
            if item.startswith("!"):
                if position == 0:
                    negated, required, allowed = True, False, set(_REQUIRE_AUTH_NAMES)
                elif not negated:
                    raise InterfaceError(
                        f'negative require_auth method "{item}" cannot be mixed with '
                        "non-negative methods"
                    )
                method = item[1:]
            elif negated:
                raise InterfaceError(
                    f'require_auth method "{item}" cannot be mixed with negative methods'
                )
            if method == "none":
                # "none" allows an exchange-free session; "!none" demands an exchange.
                if required is negated:
                    raise _duplicate_method(method)
                required = negated
                continue
            if method not in _REQUIRE_AUTH_NAMES:
                raise InterfaceError(
                    f'invalid require_auth value: "{method}"; expected a comma-separated list '
                    f"of {', '.join(_REQUIRE_AUTH_NAMES)} and none, optionally each negated by !"
                )
            if (method in allowed) is not negated:
                raise _duplicate_method(method)
            if negated:
                allowed.discard(method)
            else:
                allowed.add(method)
        return cls(text, frozenset(allowed), required)

    def refusal(self, request: type[BackendMessage]) -> str | None:
        """Why ``request`` is not allowed, or ``None`` when it is."""
        method, reason = _REQUIRE_AUTH_METHODS[request]
        if method in self.allowed:
            return None
        return f'authentication method requirement "{self.text}" failed: {reason}'


def _duplicate_method(method: str) -> InterfaceError:
    return InterfaceError(f'require_auth method "{method}" is specified more than once')


# --------------------------------------------------------------------------------------
# The client's half
# --------------------------------------------------------------------------------------


class ClientAuthenticator:
    """Answers the server's authentication requests for one client connection.

    ``password`` answers password and SCRAM requests; ``nonce_source`` returns the SCRAM
    client nonce.  :meth:`answer` gives the reply to each request, :meth:`finish` checks
    that the exchange may end when AuthenticationOk arrives; both raise when the server must
    be refused, before anything is answered.  The connection fails on any such error.
    """

    def __init__(
        self,
        *,
        password: str | bytes | None,
        nonce_source: Callable[[], str] | None,
        channel_binding: ChannelBinding,
        require_auth: AuthRequirement | None,
    ) -> None:
        if channel_binding not in _CHANNEL_BINDINGS:
            raise InterfaceError(
                f"invalid channel_binding {channel_binding!r}; expected one of "
                f"{', '.join(_CHANNEL_BINDINGS)}"
            )
        self._password = password
        self._nonce_source = nonce_source
        self._channel_binding: ChannelBinding = channel_binding
        self._require_auth = require_auth
        self._finished = False
        self._scram: scramp.ScramClient | None = None
        self._scram_done = False
        #: The user named in the StartupMessage (MD5 salts the hash with it).
        self.user = b""
        #: Whether TLS protects the stream, and the server's certificate (DER) if known.
        self.tls = False
        self.server_certificate: bytes | None = None
        #: Method names used, in order (``password``, ``md5``, ``SCRAM-SHA-256``, ...).
        self.methods: list[str] = []
        #: Whether SCRAM-SHA-256-PLUS bound the session to the TLS channel, proven by the server.
        self.channel_bound = False

    def answer(self, request: BackendMessage) -> bytes | None:
        """The bytes that answer ``request``; ``None`` when it is no request that can be
        answered now (the connection reports it as unexpected)."""
        kind = type(request)
        if kind in _AUTH_REQUESTS and self.methods:
            # PostgreSQL runs one method per connection; a second request is a downgrade
            # attempt (e.g. asking for the cleartext password in the middle of SCRAM).
            raise ProtocolError(
                f"the server asked for {_AUTH_REQUESTS[kind]} authentication after "
                f"{self.methods[-1]} had started; refusing (possible man-in-the-middle)"
            )
        if kind in _REQUIRE_AUTH_METHODS:
            self._check_request(kind)
        if kind is AuthenticationCleartextPassword:
            reply = PasswordMessage(self._require_password("password")).encode()
            self.methods.append("password")
            self._finished = True
            return reply
        if isinstance(request, AuthenticationMD5Password):
            digest = md5_password(self._require_password("md5"), self.user, request.salt)
            self.methods.append("md5")
            self._finished = True
            return PasswordMessage(digest).encode()
        if isinstance(request, AuthenticationSASL):
            return self._sasl_start(request)
        if isinstance(request, AuthenticationSASLContinue):
            return self._sasl_continue(request)
        if isinstance(request, AuthenticationSASLFinal):
            return self._sasl_final(request)
        if kind in _UNSUPPORTED_AUTH:
            raise NotSupportedError(
                f"the server asks for {_UNSUPPORTED_AUTH[kind]} authentication, which pgwire "
                "does not support; use scram-sha-256, md5, password or cert authentication "
                "for this user in pg_hba.conf"
            )
        return None

    def finish(self) -> None:
        """Check that the server may end the exchange now (it sent AuthenticationOk)."""
        if self._scram is not None and not self._scram_done:
            raise ProtocolError(
                "the server ended SCRAM authentication without proving it knows the "
                "password (AuthenticationOk before AuthenticationSASLFinal); refusing"
            )
        requirement = self._require_auth
        if requirement is not None and requirement.required and not self._finished:
            raise OperationalError(
                f'authentication method requirement "{requirement.text}" failed: '
                "server did not complete authentication"
            )
        if self._channel_binding == "require" and not self.channel_bound:
            raise OperationalError(
                "channel binding required, but the server authenticated the client "
                "without channel binding"
            )

    def _check_request(self, kind: type[BackendMessage]) -> None:
        """libpq's check_expected_areq: refuse a request before answering it."""
        if self._require_auth is not None:
            refusal = self._require_auth.refusal(kind)
            if refusal is not None:
                raise OperationalError(refusal)
        if self._channel_binding == "require" and kind is not AuthenticationSASL:
            # Answering would hand the password (or its hash) to a server not yet proven.
            raise OperationalError(
                "channel binding required, but the server asked for "
                f"{_REQUIRE_AUTH_METHODS[kind][0]} authentication, which cannot bind; "
                "refusing"
            )

    def _require_password(self, method: str) -> bytes:
        password = self._password
        if password is None:
            raise OperationalError(
                f"the server requested {method} authentication but no password was supplied"
            )
        return password.encode() if isinstance(password, str) else password

    def _choose_mechanism(self, offered: tuple[str, ...]) -> tuple[str, bytes | None]:
        """libpq's choice: SCRAM-SHA-256-PLUS when TLS is up and binding is not disabled,
        else SCRAM-SHA-256; with the channel binding data to send (``None``: flag ``n``)."""
        certificate = self.server_certificate
        binding = self._channel_binding
        if self.tls and certificate is not None and binding != "disable":
            data = tls_server_end_point(certificate)
            if SCRAM_PLUS in offered:
                return SCRAM_PLUS, data
        else:
            data = None
        if binding == "require":
            if not self.tls:
                raise OperationalError(
                    "channel binding is required, but TLS is not in use; connect with "
                    "sslmode=require or stronger"
                )
            raise OperationalError(
                "channel binding is required, but the server did not offer "
                f"{SCRAM_PLUS} (it offers {', '.join(offered) or 'nothing'})"
            )
        if SCRAM not in offered:
            offered_text = ", ".join(offered) or "none"
            raise NotSupportedError(
                f"the server offers SASL mechanisms {offered_text}; pgwire supports "
                f"{SCRAM} and, over TLS, {SCRAM_PLUS}"
            )
        # With binding data but plain SCRAM the client sends flag "y" (it could bind, the
        # server did not offer to): a server that does support binding then sees a downgrade.
        return SCRAM, data

    def _sasl_start(self, request: AuthenticationSASL) -> bytes:
        import scramp  # only sessions that use SCRAM pay for the import

        mechanism, binding_data = self._choose_mechanism(request.mechanisms)
        if self._nonce_source is None:
            raise InterfaceError(
                "SCRAM authentication needs a nonce: pass nonce_source= to ClientConnection"
            )
        password = self._require_password(SCRAM)
        # PostgreSQL ignores the SCRAM username (the startup packet's user counts) and libpq
        # sends an empty one, which scramp refuses: any fixed name will do.
        binding = None if binding_data is None else ("tls-server-end-point", binding_data)
        try:
            text = password.decode("utf-8")
            client = scramp.ScramClient(
                [mechanism],
                "*",
                text,
                channel_binding=binding,
                c_nonce=self._nonce_source(),
            )
            if sys.version_info < (3, 11):
                # scramp 1.4 (all that Python 3.10 can install) applies SASLprep only on the
                # server-first message, and the error would blame the server; 1.5 did it above.
                scramp.core.saslprep(text)
        except UnicodeDecodeError:
            # The exception's text would quote bytes of the password.
            raise InterfaceError("a password given as bytes must be UTF-8 for SCRAM") from None
        except scramp.ScramException as exc:
            # e.g. a nonce with a comma, or a password that SASLprep forbids.
            raise InterfaceError(f"cannot start SCRAM authentication: {exc}") from None
        self._scram = client
        first = client.get_client_first()
        self.methods.append(mechanism)
        return SASLInitialResponse(mechanism, first.encode()).encode()

    def _sasl_continue(self, request: AuthenticationSASLContinue) -> bytes | None:
        import scramp

        client = self._scram
        if client is None or self._scram_done:
            return None
        try:
            client.set_server_first(request.data.decode("utf-8"))
            final = client.get_client_final()
        except (scramp.ScramException, UnicodeDecodeError) as exc:
            raise ProtocolError(f"invalid SCRAM server-first message: {exc}") from None
        return SASLResponse(final.encode()).encode()

    def _sasl_final(self, request: AuthenticationSASLFinal) -> bytes | None:
        import scramp

        client = self._scram
        if client is None or self._scram_done:
            return None
        try:
            client.set_server_final(request.data.decode("utf-8"))
        except (scramp.ScramException, UnicodeDecodeError):
            raise OperationalError(
                "the server's SCRAM signature is wrong: it does not know the password; "
                "refusing the connection (possible man-in-the-middle)"
            ) from None
        self._scram_done = True
        self._finished = True
        self.channel_bound = self.methods[-1] == SCRAM_PLUS
        return b""


# --------------------------------------------------------------------------------------
# The server's half
# --------------------------------------------------------------------------------------


@frozen_dataclass(slots=True)
class ScramSecret:
    """What a server stores for SCRAM-SHA-256: PostgreSQL's ``pg_authid.rolpassword`` parts."""

    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int = 4096

    @classmethod
    def from_password(cls, password: str, salt: bytes, iterations: int = 4096) -> ScramSecret:
        """Derive the secret from a password (SASLprep applied) with a caller-chosen salt.

        ``salt`` must be at least 12 bytes (PostgreSQL uses 16); it is injected so that the
        core draws no randomness of its own.
        """
        import scramp

        if iterations < 1:
            raise InterfaceError(
                f"cannot derive a SCRAM secret: the iteration count is {iterations}, "
                "but it must be at least 1 (PostgreSQL uses 4096)"
            )
        if len(salt) < 12:  # scramp 1.5 checks this too; 1.4 (on Python 3.10) does not
            raise InterfaceError(
                f"cannot derive a SCRAM secret: the salt is {len(salt)} bytes long, "
                "but it must be at least 12 bytes long"
            )
        try:
            salt, stored, server, count = scramp.ScramMechanism(SCRAM).make_auth_info(
                password, iteration_count=iterations, salt=salt
            )
        except scramp.ScramException as exc:
            raise InterfaceError(f"cannot derive a SCRAM secret: {exc}") from None
        return cls(salt, stored, server, count)

    @classmethod
    def parse(cls, text: str) -> ScramSecret:
        """Read PostgreSQL's ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``
        (PostgreSQL's checks: an iteration count of 1 or more, a salt, 32-byte keys)."""
        try:
            method, params, keys = text.split("$")
            iterations, salt = params.split(":")
            stored, server = keys.split(":")
            # int() would take a sign, spaces, underscores and any Unicode digit.
            if method != SCRAM or not _ITERATIONS.fullmatch(iterations):
                raise ValueError(method)
            secret = cls(
                base64.b64decode(salt, validate=True),
                base64.b64decode(stored, validate=True),
                base64.b64decode(server, validate=True),
                int(iterations),
            )
            if not secret.salt or not 1 <= secret.iterations <= 0x7FFFFFFF:
                raise ValueError(iterations)
            if len(secret.stored_key) != 32 or len(secret.server_key) != 32:
                raise ValueError(keys)
            return secret
        except (ValueError, binascii.Error):
            raise InterfaceError(
                "not a SCRAM secret: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>"
                ":<ServerKey> as stored in pg_authid.rolpassword"
            ) from None

    def __str__(self) -> str:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return (
            f"{SCRAM}${self.iterations}:{b64(self.salt)}"
            f"${b64(self.stored_key)}:{b64(self.server_key)}"
        )


@frozen_dataclass(slots=True)
class TrustAuth:
    """No password: the client is authenticated at once."""


@frozen_dataclass(slots=True)
class PasswordAuth:
    """Ask for the password in clear text and compare it with ``password``."""

    password: str | bytes = field(repr=False)


@frozen_dataclass(slots=True)
class MD5Auth:
    """Ask for an MD5-hashed password, salted with the 4-byte ``salt``.

    ``password`` is the password itself, or the stored hash ``md5`` + md5(password + user).
    """

    password: str | bytes = field(repr=False)
    salt: bytes

    def __post_init__(self) -> None:
        if len(self.salt) != 4:
            raise InterfaceError(f"an MD5 salt is 4 bytes, got {len(self.salt)}")


@frozen_dataclass(slots=True)
class ScramAuth:
    """Run SCRAM-SHA-256 against ``secret``, with the server nonce ``nonce``.

    ``nonce``: at least :data:`MIN_SERVER_NONCE` printable ASCII characters, drawn fresh for
    every connection (``secrets.token_urlsafe(18)``, as the mock server does); the core draws
    no randomness itself.  A nonce used twice lets a recorded client-final message
    authenticate again.

    With ``channel_binding`` (the ``tls-server-end-point`` hash of the server certificate,
    on a TLS connection) SCRAM-SHA-256-PLUS is offered too, and a client that could bind but
    claims the server cannot (``y``) is refused as a downgrade.
    """

    secret: ScramSecret
    nonce: str
    channel_binding: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.nonce) < MIN_SERVER_NONCE or not _printable(self.nonce):
            raise InterfaceError(
                f"a SCRAM server nonce is at least {MIN_SERVER_NONCE} printable ASCII "
                "characters without commas, fresh for every connection: draw it with "
                "secrets.token_urlsafe(18)"
            )


AuthMethod = TrustAuth | PasswordAuth | MD5Auth | ScramAuth


def password_matches(auth: PasswordAuth | MD5Auth, user: str, sent: bytes) -> bool:
    """Whether ``sent``, the body of the client's PasswordMessage, is the right answer."""
    password = auth.password.encode() if isinstance(auth.password, str) else auth.password
    if isinstance(auth, PasswordAuth):
        return hmac.compare_digest(sent, password)
    if len(password) == 35 and password.startswith(b"md5"):
        expected = b"md5" + hashlib.md5(password[3:] + auth.salt).hexdigest().encode()
    else:
        expected = md5_password(password, user.encode(), auth.salt)
    return hmac.compare_digest(sent, expected)


def sasl_mechanisms(auth: ScramAuth) -> tuple[str, ...]:
    """The SASL mechanisms to offer: SCRAM-SHA-256-PLUS first when the channel can bind."""
    plus = (SCRAM_PLUS,) if auth.channel_binding is not None else ()
    return (*plus, SCRAM)


#: RFC 5802's ``printable``: the characters of a nonce (ASCII 0x21-0x7E but the comma).
_PRINTABLE: Final = frozenset(chr(c) for c in range(0x21, 0x7F)) - {","}
_ATTRIBUTE_NAMES: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _printable(text: str) -> bool:
    return bool(text) and all(c in _PRINTABLE for c in text)


def _malformed(what: str) -> ValueError:
    # Never the client's values: the proof is a secret, and the rest is of no help.
    return ValueError(f"malformed SCRAM {what} (RFC 5802)")


def _scram_attributes(parts: list[str], message: str) -> list[tuple[str, str]]:
    """``x=value`` pairs, each named by one ASCII letter, as PostgreSQL reads them."""
    pairs = []
    for part in parts:
        if len(part) < 2 or part[1] != "=" or part[0] not in _ATTRIBUTE_NAMES:
            raise _malformed(f"{message}: expected an attribute (a letter, '=', a value)")
        pairs.append((part[0], part[2:]))
    return pairs


class ServerScram:
    """The server half of one SCRAM-SHA-256(-PLUS) exchange (RFC 5802, RFC 7677).

    PostgreSQL ignores the SCRAM user name (the startup packet's user counts) and libpq sends
    an empty one, which scramp's server refuses; so the few checks are done here, on the
    same formulas scramp's client uses.  Every failure is a ``ValueError`` with the reason.
    """

    def __init__(self, auth: ScramAuth, mechanism: str, client_first: bytes) -> None:
        self.secret = auth.secret
        self.mechanism = mechanism
        text = client_first.decode("utf-8")
        flag, comma, rest = text.partition(",")
        authzid, comma2, self.bare = rest.partition(",")
        if not comma or not comma2:
            raise _malformed("client-first message: no GS2 header")
        if authzid:
            raise ValueError("the client asks for an authorization identity; none is supported")
        self.gs2_header = f"{flag},,"
        plus_offered = auth.channel_binding is not None
        if mechanism == SCRAM_PLUS:
            if flag != "p=tls-server-end-point":
                raise ValueError(f"SCRAM-SHA-256-PLUS with channel binding flag {flag!r}")
            assert auth.channel_binding is not None
            self.binding = self.gs2_header.encode() + auth.channel_binding
        elif flag == "y" and plus_offered:
            raise ValueError(
                "the client says the server cannot bind the channel, but it offered "
                "SCRAM-SHA-256-PLUS (possible downgrade attack)"
            )
        elif flag not in ("n", "y"):
            raise ValueError(f"SCRAM-SHA-256 with channel binding flag {flag!r}")
        else:
            self.binding = self.gs2_header.encode()
        if self.bare.startswith("m="):
            raise ValueError("the client requires a SCRAM extension the server does not support")
        # n= (ignored: the startup packet's user counts), r=, then extensions, which RFC 5802
        # says to ignore (and PostgreSQL does).
        attributes = _scram_attributes(self.bare.split(","), "client-first message")
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise _malformed("client-first message: expected n= then r=")
        client_nonce = attributes[1][1]
        if not _printable(client_nonce):
            raise ValueError("non-printable characters in the SCRAM nonce")
        self.nonce = client_nonce + auth.nonce
        salt = base64.b64encode(self.secret.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.secret.iterations}"

    def verify(self, client_final: bytes) -> str:
        """Check the client's proof; return the server-final message."""
        parts = client_final.decode("utf-8").split(",")
        # c=, r=, extensions (signed, then ignored, as PostgreSQL does), and p= last.
        attributes = _scram_attributes(parts, "client-final message")
        names = [name for name, _ in attributes]
        if len(names) < 3 or names[:2] != ["c", "r"] or "p" in names[2:-1] or names[-1] != "p":
            raise _malformed("client-final message: expected c=, r=, extensions, then p=")
        if base64.b64decode(attributes[0][1], validate=True) != self.binding:
            raise ValueError("the SCRAM channel binding does not match")
        if attributes[1][1] != self.nonce:
            raise ValueError("the SCRAM nonce does not match")
        without_proof = ",".join(parts[:-1])
        proof = base64.b64decode(attributes[-1][1], validate=True)
        auth_message = f"{self.bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(self.secret.stored_key, auth_message, "sha256")
        if len(proof) != len(signature):
            raise ValueError("the SCRAM proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.secret.stored_key):
            raise ValueError("wrong password (the SCRAM proof does not match)")
        server_signature = hmac.digest(self.secret.server_key, auth_message, "sha256")
        return "v=" + base64.b64encode(server_signature).decode()
