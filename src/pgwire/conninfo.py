"""Connection parameters: ``postgresql://`` URIs, keyword/value DSNs, keyword arguments
and the ``PG*`` environment variables, merged with libpq's precedence.

The result is a plain :class:`ConnectInfo`; nothing here opens a connection.  Unknown
parameters and invalid values raise :class:`~pgwire.errors.InterfaceError` naming them.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pgwire.errors import InterfaceError, NotSupportedError

__all__ = ["ConnectInfo", "Password", "parse_dsn", "resolve"]

#: A password, or a callable returning one, called for every new physical connection.
Password = str | bytes | Callable[[], str | bytes]

_ALIASES = {"database": "dbname", "username": "user"}
_KNOWN = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "application_name",
        "fallback_application_name",
        "connect_timeout",
        "options",
        "sslmode",
        "client_encoding",
    }
)
_ENVIRONMENT = {
    "PGHOST": "host",
    "PGHOSTADDR": "hostaddr",
    "PGPORT": "port",
    "PGDATABASE": "dbname",
    "PGUSER": "user",
    "PGPASSWORD": "password",
    "PGAPPNAME": "application_name",
    "PGCONNECT_TIMEOUT": "connect_timeout",
    "PGOPTIONS": "options",
    "PGSSLMODE": "sslmode",
    "PGCLIENTENCODING": "client_encoding",
}
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_DEFAULT_SOCKET_DIRS = ("/var/run/postgresql", "/tmp")


@dataclass(frozen=True)
class ConnectInfo:
    """Everything needed to open one connection, resolved and validated."""

    host: str
    port: int
    user: str
    dbname: str
    password: Password | None = field(default=None, repr=False)
    application_name: str | None = None
    connect_timeout: float | None = None
    options: str | None = None
    sslmode: str = "disable"

    @property
    def is_unix_socket(self) -> bool:
        """Whether ``host`` names a Unix-socket directory."""
        return self.host.startswith("/")

    @property
    def socket_path(self) -> str:
        """The Unix socket file for ``host``/``port``."""
        return os.path.join(self.host, f".s.PGSQL.{self.port}")

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
                host, _, tail = part[1:].partition("]")
                port = tail[1:] if tail.startswith(":") else ""
            else:
                host, _, port = part.partition(":")
            hosts.append(unquote(host))
            ports.append(port)
        if any(hosts):
            result["host"] = ",".join(hosts)
        if any(ports):
            result["port"] = ",".join(ports)
    for item in query.split("&") if query else ():
        key, eq, value = item.partition("=")
        if not eq:
            raise InterfaceError(f"invalid URI query parameter {item!r}: expected key=value")
        result[unquote(key)] = unquote(value)
    return result


def parse_dsn(dsn: str) -> dict[str, str]:
    """Parse a ``postgresql://`` / ``postgres://`` URI or a ``key=value`` string."""
    if dsn.startswith(("postgresql://", "postgres://")):
        raw = _parse_uri(dsn)
    elif "://" in dsn.split("=", 1)[0]:
        scheme = dsn.split("://", 1)[0]
        raise InterfaceError(f"unsupported URI scheme {scheme!r}: use postgresql://")
    else:
        raw = _parse_keywords(dsn)
    return raw


def _canonical(params: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in params.items():
        name = _ALIASES.get(key, key)
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
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InterfaceError(f"invalid port {value!r}: expected an integer") from None
    if not 0 < port < 65536:
        raise InterfaceError(f"invalid port {port}: must be between 1 and 65535")
    return port


def resolve(
    dsn: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **params: Any,
) -> ConnectInfo:
    """Merge ``params`` over ``dsn`` over the ``PG*`` environment over the defaults."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    for variable, name in _ENVIRONMENT.items():
        if env.get(variable):
            merged[name] = env[variable]
    if dsn:
        merged.update(_canonical(parse_dsn(dsn)))
    merged.update(_canonical(params))

    # libpq connects to hostaddr when given (host then only names the server, for TLS and
    # .pgpass, neither of which is used yet); ignoring it would connect somewhere else.
    host = str(merged.get("hostaddr") or merged.get("host") or _default_host())
    if "," in host:
        raise NotSupportedError(f"several hosts ({host!r}) are not supported yet; give one")
    port = _port(merged.get("port", 5432))
    user = str(merged.get("user") or getpass.getuser())
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
    sslmode = str(merged.get("sslmode", "disable"))
    if sslmode not in _SSLMODES:
        raise InterfaceError(f"invalid sslmode {sslmode!r}; expected one of {', '.join(_SSLMODES)}")
    if sslmode not in ("disable", "allow", "prefer"):
        raise NotSupportedError(
            f"sslmode={sslmode} needs TLS, which this version of pgwire does not speak yet; "
            "refusing rather than connecting without it"
        )
    encoding = merged.get("client_encoding")
    if encoding and str(encoding).upper().replace("-", "") not in ("UTF8", "UNICODE"):
        raise NotSupportedError(f"client_encoding={encoding!r}: pgwire speaks UTF8 only")
    return ConnectInfo(
        host=host,
        port=port,
        user=user,
        dbname=str(merged.get("dbname") or user),
        password=merged.get("password"),
        application_name=merged.get("application_name") or merged.get("fallback_application_name"),
        connect_timeout=timeout,
        options=merged.get("options"),
        sslmode=sslmode,
    )
