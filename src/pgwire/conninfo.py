"""Connection parameters: ``postgresql://`` URIs, keyword/value DSNs, keyword arguments,
the ``PG*`` environment variables and the password file, merged with libpq's precedence.

The result is a plain :class:`ConnectInfo`, validated as libpq validates it; nothing here
opens a connection. Unknown parameters and invalid values raise
:class:`~pgwire.errors.InterfaceError` naming them; libpq parameters that pgwire does not
implement raise :class:`~pgwire.errors.NotSupportedError`. Passwords never appear in a
repr or an error message.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import field, replace
from typing import Any, Literal
from urllib.parse import unquote

from pgwire import pgpass
from pgwire._frozen import frozen_dataclass
from pgwire.errors import InterfaceError, NotSupportedError
from pgwire.protocol import PROTOCOL_3_0, PROTOCOL_3_2, AuthRequirement, ChannelBinding

__all__ = [
    "ConnectInfo",
    "HostSpec",
    "Password",
    "WebSocketTarget",
    "parse_dsn",
    "resolve",
]

#: A password, or a callable returning one (the async driver also awaits what it returns),
#: called for every new physical connection.
Password = str | bytes | Callable[[], Any]

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
Encryption = Literal["plain", "tls"]

_ALIASES = {"database": "dbname", "username": "user"}
_KNOWN = frozenset(
    {
        "websocket_url",
        "websocket_subprotocols",
        "websocket_headers",
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "application_name",
        "fallback_application_name",
        "connect_timeout",
        "options",
        "client_encoding",
        "sslmode",
        "sslnegotiation",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "sslcompression",
        "sslcertmode",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "gssencmode",
        "channel_binding",
        "require_auth",
        "min_protocol_version",
        "max_protocol_version",
        "target_session_attrs",
        "load_balance_hosts",
    }
)
#: libpq parameters pgwire knows of but does not implement: refused rather than ignored.
_UNSUPPORTED = frozenset(
    {
        "service",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "requirepeer",
        "requiressl",
        "sslkeylogfile",
        "scram_client_key",
        "scram_server_key",
        "oauth_issuer",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_scope",
    }
)
_ENVIRONMENT = {
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGDATABASE": "dbname",
    "PGUSER": "user",
    "PGPASSWORD": "password",
    "PGPASSFILE": "passfile",
    "PGAPPNAME": "application_name",
    "PGCONNECT_TIMEOUT": "connect_timeout",
    "PGOPTIONS": "options",
    "PGCLIENTENCODING": "client_encoding",
    "PGSSLMODE": "sslmode",
    "PGSSLNEGOTIATION": "sslnegotiation",
    "PGSSLROOTCERT": "sslrootcert",
    "PGSSLCERT": "sslcert",
    "PGSSLKEY": "sslkey",
    "PGSSLCRL": "sslcrl",
    "PGSSLCRLDIR": "sslcrldir",
    "PGSSLSNI": "sslsni",
    "PGSSLCOMPRESSION": "sslcompression",
    "PGSSLCERTMODE": "sslcertmode",
    "PGSSLMINPROTOCOLVERSION": "ssl_min_protocol_version",
    "PGSSLMAXPROTOCOLVERSION": "ssl_max_protocol_version",
    "PGGSSENCMODE": "gssencmode",
    "PGCHANNELBINDING": "channel_binding",
    "PGREQUIREAUTH": "require_auth",
    "PGMINPROTOCOLVERSION": "min_protocol_version",
    "PGMAXPROTOCOLVERSION": "max_protocol_version",
    "PGTARGETSESSIONATTRS": "target_session_attrs",
    "PGLOADBALANCEHOSTS": "load_balance_hosts",
    "PGSERVICE": "service",
    "PGREQUIRESSL": "requiressl",
    "PGREQUIREPEER": "requirepeer",
    "PGKRBSRVNAME": "krbsrvname",
    "PGGSSLIB": "gsslib",
}
_SSLMODES: tuple[SslMode, ...] = (
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
)
_TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PROTOCOL_VERSIONS = {"3.0": PROTOCOL_3_0, "3.2": PROTOCOL_3_2, "latest": PROTOCOL_3_2}
_TARGET_SESSION_ATTRS = (
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
)
_DEFAULT_SOCKET_DIRS = ("/var/run/postgresql", "/tmp")
DEFAULT_PORT = 5432


@frozen_dataclass(slots=False)
class WebSocketTarget:
    """Where a WebSocket transport connects: the ``ws://``/``wss://`` URL (its path and a
    bridge's ``?address=host:port`` included), the subprotocols to offer and extra headers."""

    url: str
    subprotocols: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def secure(self) -> bool:
        """Whether this is a ``wss://`` URL: TLS at the WebSocket layer, always verify-full,
        with the connection's ``sslrootcert``/``sslcert``/``sslkey``/``sslcrl`` settings
        (see :func:`pgwire.tls.websocket_context`)."""
        return self.url[:6].lower() == "wss://"


@frozen_dataclass(slots=False)
class HostSpec:
    """One server to try: ``host`` (a name, an IP address or a Unix-socket directory), the
    ``hostaddr`` to connect to instead of resolving it, and the port."""

    host: str
    port: int = DEFAULT_PORT
    hostaddr: str | None = None
    #: The password the password file holds for this host (``None``: none found).
    passfile_password: str | None = field(default=None, repr=False)

    @property
    def is_unix_socket(self) -> bool:
        """Whether this is a Unix-socket directory (only when no ``hostaddr`` is given)."""
        return self.hostaddr is None and self.host.startswith("/")

    @property
    def socket_path(self) -> str:
        """The Unix socket file for ``host``/``port``."""
        return os.path.join(self.host, f".s.PGSQL.{self.port}")

    @property
    def address(self) -> str:
        """What to connect to: ``hostaddr`` when given, else ``host``."""
        return self.hostaddr or self.host

    @property
    def server_name(self) -> str | None:
        """The name TLS checks the certificate against and sends as SNI (``None``: no name,
        only a ``hostaddr``)."""
        return self.host or None

    def describe(self) -> str:
        """``host:port`` (with the address when it differs) or the socket path, for messages."""
        if self.is_unix_socket:
            return self.socket_path
        where = f"[{self.host}]" if ":" in self.host else self.host
        if self.hostaddr and self.hostaddr != self.host:
            where = f"{where or self.hostaddr} ({self.hostaddr})"
        return f"{where}:{self.port}"


@frozen_dataclass(slots=False)
class ConnectInfo:
    """Everything needed to open a connection, resolved and validated.

    ``host``/``port``/``hostaddr`` describe the first (or, once connected, the only) entry
    of ``hosts``.
    """

    host: str
    port: int
    user: str
    dbname: str
    password: Password | None = field(default=None, repr=False)
    application_name: str | None = None
    connect_timeout: float | None = None
    options: str | None = None
    sslmode: SslMode = "prefer"
    hostaddr: str | None = None
    hosts: tuple[HostSpec, ...] = ()
    passfile: str | None = None
    sslnegotiation: Literal["postgres", "direct"] = "postgres"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    sslpassword: str | None = field(default=None, repr=False)
    sslcrl: str | None = None
    sslcrldir: str | None = None
    sslsni: bool = True
    sslcertmode: Literal["disable", "allow"] = "allow"
    ssl_min_protocol_version: str = "TLSv1.2"
    ssl_max_protocol_version: str | None = None
    #: Where libpq's default TLS files live (``~/.postgresql``); ``None``: no defaults.
    ssl_dir: str | None = None
    channel_binding: ChannelBinding = "prefer"
    require_auth: AuthRequirement | None = None
    min_protocol_version: tuple[int, int] = PROTOCOL_3_0
    max_protocol_version: tuple[int, int] = PROTOCOL_3_0
    target_session_attrs: str = "any"
    load_balance_hosts: Literal["disable", "random"] = "disable"
    #: For the settings of an open session: how its stream was protected. A cancel request
    #: goes the same way. ``None``: not connected yet, ``sslmode`` decides.
    encryption: Encryption | None = None
    #: Set when the connection goes through a WebSocket (``ws://``/``wss://`` DSNs).
    websocket: WebSocketTarget | None = None

    def __post_init__(self) -> None:
        if not self.hosts:
            spec = HostSpec(self.host, self.port, self.hostaddr)
            object.__setattr__(self, "hosts", (spec,))

    @property
    def is_unix_socket(self) -> bool:
        """Whether ``host`` names a Unix-socket directory."""
        return self.hosts[0].is_unix_socket

    @property
    def socket_path(self) -> str:
        """The Unix socket file for ``host``/``port``."""
        return self.hosts[0].socket_path

    def startup_params(self) -> dict[str, str]:
        """The StartupMessage parameters for this connection."""
        params = {"user": self.user, "database": self.dbname, "client_encoding": "UTF8"}
        if self.application_name:
            params["application_name"] = self.application_name
        if self.options:
            params["options"] = self.options
        # Text-format results are parsed assuming ISO dates.
        params["DateStyle"] = "ISO, MDY"
        params["IntervalStyle"] = "postgres"
        return params

    def connected(self, spec: HostSpec, encryption: Encryption) -> ConnectInfo:
        """These settings narrowed to the one host a session reached, and how."""
        return replace(
            self,
            host=spec.host,
            port=spec.port,
            hostaddr=spec.hostaddr,
            hosts=(spec,),
            encryption=encryption,
        )


_KEYWORD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")


def _parse_keywords(dsn: str) -> dict[str, str]:
    result: dict[str, str] = {}
    pos = 0
    while pos < len(dsn):
        if dsn[pos:].strip() == "":
            break
        match = _KEYWORD.match(dsn, pos)
        if not match:
            # Never quote the text itself: it may hold the password.
            raise InterfaceError(
                f"invalid connection string at character {pos + 1}: expected keyword=value"
            )
        key = match.group(1)
        pos = match.end()
        value_chars: list[str] = []
        if pos < len(dsn) and dsn[pos] == "'":
            pos += 1
            while True:
                if pos >= len(dsn):
                    raise InterfaceError(f"unterminated quoted value for parameter {key!r}")
                char = dsn[pos]
                if char == "\\" and pos + 1 < len(dsn):
                    value_chars.append(dsn[pos + 1])
                    pos += 2
                    continue
                pos += 1
                if char == "'":
                    break
                value_chars.append(char)
        else:
            while pos < len(dsn) and not dsn[pos].isspace():
                if dsn[pos] == "\\" and pos + 1 < len(dsn):
                    pos += 1
                value_chars.append(dsn[pos])
                pos += 1
        result[key] = "".join(value_chars)
    return result


def _parse_uri(dsn: str) -> dict[str, str]:
    rest = dsn.split("://", 1)[1]
    result: dict[str, str] = {}
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    if slash and path:
        result["dbname"] = unquote(path)
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            result["user"] = unquote(user)
        if colon:
            result["password"] = unquote(password)
    if hostport:
        hosts, ports = [], []
        for part in hostport.split(","):
            if part.startswith("["):
                host, bracket, tail = part[1:].partition("]")
                if not bracket:
                    raise InterfaceError(
                        "invalid URI: an IPv6 host address lacks its closing bracket"
                    )
                if tail and not tail.startswith(":"):
                    raise InterfaceError(
                        "invalid URI: expected ':' or ',' after an IPv6 host address"
                    )
                port = tail[1:]
            else:
                host, _, port = part.partition(":")
            hosts.append(unquote(host))
            ports.append(unquote(port))
        if any(hosts):
            result["host"] = ",".join(hosts)
        if any(ports):
            result["port"] = ",".join(ports)
    for item in query.split("&") if query else ():
        key, eq, value = item.partition("=")
        if not eq:
            raise InterfaceError(
                f"invalid URI query parameter {unquote(key)!r}: expected key=value"
            )
        key, value = unquote(key), unquote(value)
        if key == "ssl" and value == "true":
            # libpq's JDBC-compatible spelling.
            key, value = "sslmode", "require"
        result[key] = value
    return result


_IAM_IN_DSN = re.compile(r"(?:^|[?&\s])iam\s*=")


def wants_iam(dsn: str | None, params: Mapping[str, Any]) -> bool:
    """Whether a connection asks for IAM authentication (:mod:`pgwire.dsql` then supplies
    tokens and defaults): a ``dsql://`` DSN, or an ``iam`` parameter in the DSN or the
    keyword arguments."""
    if params.get("iam"):
        return True
    if not dsn:
        return False
    return dsn.startswith("dsql://") or _IAM_IN_DSN.search(dsn) is not None


#: Query parameters of a ``ws://``/``wss://`` DSN that belong to the WebSocket URL itself.
_WEBSOCKET_URL_PARAMS = frozenset({"address"})


def _parse_websocket_uri(dsn: str) -> dict[str, str]:
    """``ws[s]://[user[:password]@]host[:port]/path?address=...&dbname=...``: the user and
    password, and the query's PostgreSQL parameters, are PostgreSQL's; the rest is the
    WebSocket URL (a bridge's ``address`` included)."""
    scheme, rest = dsn.split("://", 1)
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    result: dict[str, str] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            result["user"] = unquote(user)
        if colon:
            result["password"] = unquote(password)
    kept: list[str] = []
    for item in query.split("&") if query else ():
        key, eq, value = item.partition("=")
        if not eq:
            raise InterfaceError(
                f"invalid URI query parameter {unquote(key)!r}: expected key=value"
            )
        if unquote(key) in _WEBSOCKET_URL_PARAMS:
            kept.append(item)
        else:
            result[unquote(key)] = unquote(value)
    url = f"{scheme}://{hostport}/{path if slash else ''}"
    if kept:
        url += "?" + "&".join(kept)
    result["websocket_url"] = url
    return result


def parse_dsn(dsn: str) -> dict[str, str]:
    """Parse a ``postgresql://`` / ``postgres://`` URI or a ``key=value`` string."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return _parse_uri(dsn)
    if dsn.startswith(("ws://", "wss://")):
        return _parse_websocket_uri(dsn)
    if "://" in dsn.split("=", 1)[0]:
        scheme = dsn.split("://", 1)[0]
        raise InterfaceError(f"unsupported URI scheme {scheme!r}: use postgresql://")
    return _parse_keywords(dsn)


def _canonical(params: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in params.items():
        name = _ALIASES.get(key, key)
        if name in _UNSUPPORTED:
            raise NotSupportedError(
                f"connection parameter {key!r} is a libpq parameter that pgwire does not "
                "support; remove it"
            )
        if name not in _KNOWN:
            raise InterfaceError(
                f"unknown connection parameter {key!r}; known: {', '.join(sorted(_KNOWN))}"
            )
        if value is not None:
            result[name] = value
    return result


def _default_host() -> str:
    for directory in _DEFAULT_SOCKET_DIRS:
        if os.path.isdir(directory):
            return directory
    return "localhost"


def _port(value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_PORT
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InterfaceError(f"invalid port {value!r}: expected an integer") from None
    if not 0 < port < 65536:
        raise InterfaceError(f"invalid port {port}: must be between 1 and 65535")
    return port


def _choice(merged: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = str(merged.get(name) or default)
    if value not in choices:
        raise InterfaceError(f"invalid {name} {value!r}; expected one of {', '.join(choices)}")
    return value


def _boolean(merged: Mapping[str, Any], name: str, default: bool) -> bool:
    value = merged.get(name)
    if value in (None, ""):
        return default
    if value in (True, 1, "1"):
        return True
    if value in (False, 0, "0"):
        return False
    raise InterfaceError(f"invalid {name} {value!r}; expected 0 or 1")


def _path(merged: Mapping[str, Any], name: str) -> str | None:
    value = merged.get(name)
    return None if value in (None, "") else os.fspath(value)


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(",")] if value not in (None, "") else []


def _hosts(merged: Mapping[str, Any]) -> list[tuple[str, str | None, int]]:
    """``(host, hostaddr, port)`` for every server listed, checked as libpq checks them."""
    hosts = _split(merged.get("host"))
    addresses = _split(merged.get("hostaddr"))
    ports = [_port(port) for port in _split(merged.get("port"))] or [DEFAULT_PORT]
    if hosts and addresses and len(hosts) != len(addresses):
        raise InterfaceError(
            f"could not match {len(hosts)} host names to {len(addresses)} hostaddr values"
        )
    count = max(len(hosts), len(addresses), 1)
    if len(ports) not in (1, count):
        raise InterfaceError(f"could not match {len(ports)} port numbers to {count} hosts")
    result = []
    for index in range(count):
        address = addresses[index] if addresses else ""
        if address:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise InterfaceError(
                    f"invalid hostaddr {address!r}: expected a numeric IP address"
                ) from None
        host = hosts[index] if hosts else ""
        if not host and not address:
            host = _default_host()
        port = ports[index] if len(ports) > 1 else ports[0]
        result.append((host, address or None, port))
    return result


def _protocol_versions(merged: Mapping[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
    def version(name: str, default: str) -> tuple[int, int]:
        text = str(merged.get(name) or default)
        if text not in _PROTOCOL_VERSIONS:
            raise InterfaceError(
                f"invalid {name} {text!r}; expected one of {', '.join(_PROTOCOL_VERSIONS)}"
            )
        return _PROTOCOL_VERSIONS[text]

    minimum = version("min_protocol_version", "3.0")
    # libpq 18 asks for 3.0 unless told otherwise (some poolers cannot negotiate), but a
    # minimum above 3.0 raises the default maximum to the latest.
    maximum = version("max_protocol_version", "3.0" if minimum == PROTOCOL_3_0 else "latest")
    if minimum > maximum:
        raise InterfaceError("min_protocol_version is greater than max_protocol_version")
    return minimum, maximum


def _tls_versions(merged: Mapping[str, Any]) -> tuple[str, str | None]:
    minimum = str(merged.get("ssl_min_protocol_version") or "TLSv1.2")
    maximum = merged.get("ssl_max_protocol_version") or None
    for name, value in (
        ("ssl_min_protocol_version", minimum),
        ("ssl_max_protocol_version", maximum),
    ):
        if value is None:
            continue
        if value not in _TLS_VERSIONS:
            raise InterfaceError(
                f"invalid {name} {value!r}; expected one of {', '.join(_TLS_VERSIONS)}"
            )
        if _TLS_VERSIONS.index(value) < _TLS_VERSIONS.index("TLSv1.2"):
            raise NotSupportedError(f"{name}={value}: pgwire speaks TLS 1.2 and later only")
    if maximum is not None and _TLS_VERSIONS.index(minimum) > _TLS_VERSIONS.index(maximum):
        raise InterfaceError(
            "invalid SSL protocol version range: ssl_min_protocol_version is greater than "
            "ssl_max_protocol_version"
        )
    return minimum, maximum


def _home(environ: Mapping[str, str] | None) -> str | None:
    """The home directory for libpq's default files; with an explicit ``environ``, only its
    ``HOME`` (so that tests never read the real user's files)."""
    if environ is not None:
        return environ.get("HOME") or None
    home = os.path.expanduser("~")
    return None if home == "~" else home


def _is_default_socket_dir(host: str) -> bool:
    return host.rstrip("/") in _DEFAULT_SOCKET_DIRS


def _websocket_target(merged: dict[str, Any]) -> WebSocketTarget | None:
    """The WebSocket to go through, if any; its host and port become the connection's."""
    url = merged.get("websocket_url")
    if not url:
        return None
    url = str(url)
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InterfaceError(f"invalid websocket_url {url!r}: expected ws://host/... or wss://")
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        raise InterfaceError(f"invalid websocket_url {url!r}: bad port") from None
    merged["host"] = parts.hostname
    merged["port"] = str(port)
    protocols = merged.get("websocket_subprotocols") or ()
    if isinstance(protocols, str):
        protocols = [p.strip() for p in protocols.split(",") if p.strip()]
    headers = merged.get("websocket_headers") or ()
    if isinstance(headers, Mapping):
        headers = list(headers.items())
    elif isinstance(headers, str):
        raise InterfaceError("websocket_headers must be a mapping or (name, value) pairs")
    return WebSocketTarget(
        url, tuple(str(p) for p in protocols), tuple((str(k), str(v)) for k, v in headers)
    )


def resolve(
    dsn: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **params: Any,
) -> ConnectInfo:
    """Merge ``params`` over ``dsn`` over the ``PG*`` environment over the defaults, then
    fill in the password from the password file where none was given."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    for variable, name in _ENVIRONMENT.items():
        if env.get(variable):
            merged[name] = env[variable]
    merged = _canonical(merged)
    if dsn:
        merged.update(_canonical(parse_dsn(dsn)))
    merged.update(_canonical(params))

    websocket = _websocket_target(merged)
    user = str(merged.get("user") or getpass.getuser())
    dbname = str(merged.get("dbname") or user)
    timeout_value = merged.get("connect_timeout")
    timeout: float | None = None
    if timeout_value not in (None, ""):
        try:
            timeout = float(timeout_value)
        except (TypeError, ValueError):
            raise InterfaceError(
                f"invalid connect_timeout {timeout_value!r}: expected seconds"
            ) from None
        if timeout <= 0:
            timeout = None  # libpq: zero or negative means wait forever

    sslrootcert = _path(merged, "sslrootcert")
    explicit_sslmode = "sslmode" in merged
    # Inside a WebSocket, PostgreSQL-level TLS is opt-in: wss:// already encrypts, and
    # WebSocket endpoints (DSQL's among them) expect no SSLRequest.
    sslmode = _choice(merged, "sslmode", _SSLMODES, "disable" if websocket else "prefer")
    # Over wss://, the TLS settings (sslrootcert included) also secure the WebSocket layer,
    # always with verify-full: sslrootcert=system then needs no PostgreSQL-level TLS inside.
    websocket_tls = websocket is not None and websocket.secure
    if sslrootcert == "system" and not (websocket_tls and sslmode == "disable"):
        # libpq 16+: the system store only makes sense with host name checks.
        if not explicit_sslmode:
            sslmode = "verify-full"
        elif sslmode != "verify-full":
            raise InterfaceError(
                f'weak sslmode "{sslmode}" may not be used with sslrootcert=system '
                '(use "verify-full")'
            )
    sslnegotiation = _choice(merged, "sslnegotiation", ("postgres", "direct"), "postgres")
    if sslnegotiation == "direct" and sslmode in ("disable", "allow", "prefer"):
        raise InterfaceError(
            f'weak sslmode "{sslmode}" may not be used with sslnegotiation=direct '
            '(use "require", "verify-ca", or "verify-full")'
        )
    if _boolean(merged, "sslcompression", False):
        raise NotSupportedError("sslcompression=1: TLS compression is insecure and never used")
    sslcertmode = _choice(merged, "sslcertmode", ("disable", "allow", "require"), "allow")
    if sslcertmode == "require":
        raise NotSupportedError("sslcertmode=require is not supported; use allow or disable")
    gssencmode = _choice(merged, "gssencmode", ("disable", "prefer", "require"), "prefer")
    if gssencmode == "require":
        raise NotSupportedError("gssencmode=require: pgwire does not speak GSSAPI encryption")
    ssl_min, ssl_max = _tls_versions(merged)
    channel_binding = _choice(merged, "channel_binding", ("disable", "prefer", "require"), "prefer")
    require_auth_text = merged.get("require_auth")
    require_auth = AuthRequirement.parse(str(require_auth_text)) if require_auth_text else None
    min_protocol, max_protocol = _protocol_versions(merged)
    target_session_attrs = _choice(merged, "target_session_attrs", _TARGET_SESSION_ATTRS, "any")
    load_balance = _choice(merged, "load_balance_hosts", ("disable", "random"), "disable")

    encoding = merged.get("client_encoding")
    if encoding and str(encoding).upper().replace("-", "") not in ("UTF8", "UNICODE"):
        raise NotSupportedError(f"client_encoding={encoding!r}: pgwire speaks UTF8 only")

    home = _home(environ)
    password = merged.get("password")
    passfile = _path(merged, "passfile")
    if passfile is None and home is not None:
        passfile = os.path.join(home, ".pgpass")
    specs = []
    for host, hostaddr, port in _hosts(merged):
        from_file = None
        if password in (None, "") and passfile is not None:
            # libpq matches the host name (else the address), the default socket directory
            # spelled "localhost".
            match_host = host or hostaddr or ""
            if not match_host or _is_default_socket_dir(match_host):
                match_host = "localhost"
            from_file = pgpass.lookup(passfile, match_host, port, dbname, user)
        specs.append(HostSpec(host, port, hostaddr, from_file))
    first = specs[0]
    return ConnectInfo(
        host=first.host,
        port=first.port,
        hostaddr=first.hostaddr,
        hosts=tuple(specs),
        user=user,
        dbname=dbname,
        password=None if password == "" else password,
        passfile=passfile,
        application_name=merged.get("application_name") or merged.get("fallback_application_name"),
        connect_timeout=timeout,
        options=merged.get("options"),
        sslmode=sslmode,  # type: ignore[arg-type]
        sslnegotiation=sslnegotiation,  # type: ignore[arg-type]
        sslrootcert=sslrootcert,
        sslcert=_path(merged, "sslcert"),
        sslkey=_path(merged, "sslkey"),
        sslpassword=merged.get("sslpassword") or None,
        sslcrl=_path(merged, "sslcrl"),
        sslcrldir=_path(merged, "sslcrldir"),
        sslsni=_boolean(merged, "sslsni", True),
        sslcertmode=sslcertmode,  # type: ignore[arg-type]
        ssl_min_protocol_version=ssl_min,
        ssl_max_protocol_version=ssl_max,
        ssl_dir=None if home is None else os.path.join(home, ".postgresql"),
        channel_binding=channel_binding,  # type: ignore[arg-type]
        require_auth=require_auth,
        min_protocol_version=min_protocol,
        max_protocol_version=max_protocol,
        target_session_attrs=target_session_attrs,
        load_balance_hosts=load_balance,  # type: ignore[arg-type]
        websocket=websocket,
    )
