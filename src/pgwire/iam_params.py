"""Connection parameters for IAM authentication: Aurora DSQL's defaults (or RDS's) applied to a
DSN and keyword arguments, with a token provider as the password.

The drivers call :func:`connection_params` for ``dsql://`` DSNs and ``iam=dsql|rds``, so it
lives below them, beside :mod:`pgwire.iam` (the tokens themselves); :mod:`pgwire.dsql` is the
user-facing module on top of both. Nothing here opens a connection. Tokens never appear in a
repr, a log line or an exception message.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from pgwire.errors import InterfaceError
from pgwire.iam import (
    DEFAULT_REFRESH_RATIO,
    CredentialSource,
    CredentialsSpec,
    StaticCredentials,
    TokenProvider,
    chain_region,
    presign,
    rds_token_provider,
)

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_WEBSOCKET_PORT",
    "connection_params",
    "endpoint_for",
    "generate_token",
    "region_from_host",
    "token_provider",
]

DEFAULT_EXPIRES_IN = 900
_CLUSTER_ID = re.compile(r"^[a-z0-9]{26}$")
_DSQL_HOST = re.compile(r"\.dsql[a-z0-9-]*\.([a-z]{2}(?:-[a-z]+)+-\d+)\.on\.aws\.?$")
_SCHEMES = ("dsql://", "postgresql://", "postgres://")
#: Parameters this module takes out of a DSN or the keyword arguments (conninfo does not
#: know them).
_IAM_PARAMS = ("iam", "region", "profile", "expires_in", "transport")
_TRANSPORTS = ("tcp", "websocket")
#: DSQL's WebSocket endpoint listens on HTTPS's port.
DEFAULT_WEBSOCKET_PORT = 443


# --------------------------------------------------------------------------------------
# Endpoints and tokens
# --------------------------------------------------------------------------------------


def region_from_host(hostname: str) -> str | None:
    """The region of a DSQL endpoint (``<id>.dsql<stage>.<region>.on.aws``), or ``None``."""
    match = _DSQL_HOST.search(hostname.lower())
    return match.group(1) if match else None


def _region(region: str | None, hostname: str, profile: str | None) -> str:
    found = region or region_from_host(hostname) or chain_region(profile)
    if not found:
        raise InterfaceError(
            f"no AWS region for DSQL host {hostname!r}: pass region=, set AWS_REGION or "
            "AWS_DEFAULT_REGION, or use the full endpoint <cluster-id>.dsql.<region>.on.aws"
        )
    return found


def endpoint_for(
    host: str, region: str | None = None, *, profile: str | None = None
) -> tuple[str, str]:
    """``(endpoint, region)`` for a DSQL endpoint or a 26-character cluster id.

    A cluster id becomes ``<id>.dsql.<region>.on.aws``; the region comes from ``region``,
    the endpoint's name, ``AWS_REGION``/``AWS_DEFAULT_REGION`` or the profile's config.
    """
    host = host.strip()
    if not host:
        raise InterfaceError("no DSQL host: pass an endpoint or a 26-character cluster id")
    if _CLUSTER_ID.match(host):
        resolved = _region(region, host, profile)
        return f"{host}.dsql.{resolved}.on.aws", resolved
    return host, _region(region, host, profile)


def _action(admin: bool) -> str:
    return "DbConnectAdmin" if admin else "DbConnect"


def _make_token(
    hostname: str,
    region: str,
    admin: bool,
    expires_in: int,
    credentials: StaticCredentials,
    now: datetime.datetime | None,
) -> str:
    return presign(
        hostname,
        {"Action": _action(admin)},
        service="dsql",
        region=region,
        expires_in=expires_in,
        credentials=credentials,
        now=now,
    )


def generate_token(
    hostname: str,
    *,
    region: str | None = None,
    admin: bool = False,
    expires_in: int = DEFAULT_EXPIRES_IN,
    credentials: CredentialsSpec = None,
    profile: str | None = None,
    now: datetime.datetime | None = None,
) -> str:
    """A DSQL IAM token: the string botocore's ``dsql`` client
    ``generate_db_connect_admin_auth_token`` (``admin=True``) or
    ``generate_db_connect_auth_token`` returns at the same time ``now``.

    ``hostname`` is the endpoint (or a cluster id, with the region known). ``credentials``:
    botocore ``Credentials``, an object with ``access_key``/``secret_key``/``token``, or a
    callable returning one; default: botocore's chain for ``profile``, resolved once per
    process.
    """
    endpoint, resolved = endpoint_for(hostname, region, profile=profile)
    creds = CredentialSource(credentials, profile).get()
    return _make_token(endpoint, resolved, admin, expires_in, creds, now)


def token_provider(
    hostname: str,
    *,
    region: str | None = None,
    admin: bool = False,
    expires_in: int = DEFAULT_EXPIRES_IN,
    credentials: CredentialsSpec = None,
    profile: str | None = None,
    refresh_ratio: float = DEFAULT_REFRESH_RATIO,
    clock: Callable[[], float] = time.time,
) -> TokenProvider:
    """A :class:`~pgwire.iam.TokenProvider` of DSQL tokens, to use as a password callable:
    ``provider`` for the blocking driver, ``provider.async_token`` for the async one."""
    endpoint, resolved = endpoint_for(hostname, region, profile=profile)

    def make(creds: StaticCredentials, now: datetime.datetime | None) -> str:
        return _make_token(endpoint, resolved, admin, expires_in, creds, now)

    return TokenProvider(
        make,
        CredentialSource(credentials, profile),
        lifetime=expires_in,
        refresh_ratio=refresh_ratio,
        clock=clock,
        description=f"dsql:{_action(admin)} {endpoint}",
    )


# --------------------------------------------------------------------------------------
# Connection parameters
# --------------------------------------------------------------------------------------


def _parse(dsn: str | None) -> dict[str, Any]:
    from pgwire.conninfo import parse_dsn

    if not dsn:
        return {}
    if "=" not in dsn and "://" not in dsn:
        # A bare endpoint or cluster id.
        return {"host": dsn.strip()}
    if dsn.startswith("dsql://"):
        parsed = parse_dsn("postgresql://" + dsn[len("dsql://") :])
        parsed.setdefault("iam", "dsql")
        return dict(parsed)
    if "://" in dsn.split("=", 1)[0] and not dsn.startswith(_SCHEMES):
        scheme = dsn.split("://", 1)[0]
        raise InterfaceError(f"unsupported URI scheme {scheme!r}: use dsql:// or postgresql://")
    return dict(parse_dsn(dsn))


def _default_application_name() -> str:
    from pgwire import __version__

    return f"pgwire/{__version__}"


def connection_params(
    dsn: str | None = None,
    *,
    iam: Literal["dsql", "rds"] | None = None,
    region: str | None = None,
    credentials: CredentialsSpec = None,
    profile: str | None = None,
    expires_in: int | None = None,
    transport: Literal["tcp", "websocket"] | None = None,
    for_async: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """The keyword arguments for :func:`pgwire.connect` (or ``connect_async``, with
    ``for_async``) that connect with IAM: DSQL's defaults (or RDS's with ``iam="rds"``)
    applied to ``dsn`` and ``params``, and a token provider as the password.

    ``dsn`` is an endpoint or cluster id alone, a ``dsql://`` or ``postgresql://`` URI, or a
    ``key=value`` string. ``credentials``/``profile``: see :func:`generate_token`.

    ``transport="websocket"`` (DSQL only) goes through DSQL's WebSocket endpoint
    ``wss://<endpoint>/`` (port 443 unless ``port=`` says otherwise; ``hostaddr=`` still
    redirects the TCP connection): TLS verify-full at the WebSocket layer with the usual
    ``sslrootcert`` (default ``system``), no subprotocol, no SSLRequest inside, the token
    as a cleartext password inside the encrypted tunnel.

    ``iam``, ``region``, ``profile``, ``expires_in`` and ``transport`` may also come from the
    DSN (``?iam=rds&region=eu-west-1``). Keyword arguments win over the DSN.
    """
    merged = _parse(dsn)
    merged.update({k: v for k, v in params.items() if v is not None})
    for alias, name in (("database", "dbname"), ("username", "user")):
        if alias in merged:
            merged[name] = merged.pop(alias)
    extra = {name: merged.pop(name) for name in _IAM_PARAMS if name in merged}
    kind = iam or extra.get("iam") or "dsql"
    region = region or extra.get("region") or None
    profile = profile or extra.get("profile") or None
    expires = int(expires_in or extra.get("expires_in") or DEFAULT_EXPIRES_IN)
    transport = transport or extra.get("transport") or "tcp"
    if transport not in _TRANSPORTS:
        raise InterfaceError(f"unknown transport={transport!r}; expected tcp or websocket")
    if transport == "websocket" and kind != "dsql":
        raise InterfaceError("transport=websocket is for DSQL only (iam=dsql)")
    host = str(merged.get("host") or "")
    if not host:
        raise InterfaceError("no host: pass the DSQL endpoint or cluster id as host=")
    if "," in host:
        raise InterfaceError("IAM connections take one host, not a list")
    merged.setdefault("port", DEFAULT_WEBSOCKET_PORT if transport == "websocket" else 5432)
    merged.setdefault("application_name", _default_application_name())
    if kind == "dsql":
        endpoint, resolved = endpoint_for(host, region, profile=profile)
        merged["host"] = endpoint
        user = str(merged.setdefault("user", "admin"))
        merged.setdefault("dbname", "postgres")
        merged.setdefault("sslrootcert", "system")
        if transport == "websocket":
            _websocket_params(merged, endpoint)
        else:
            sslmode = str(merged.setdefault("sslmode", "verify-full"))
            if sslmode in ("disable", "allow", "prefer"):
                raise InterfaceError(
                    f"sslmode={sslmode} is not allowed with DSQL: it accepts TLS only "
                    "(use require, verify-ca or verify-full)"
                )
            merged.setdefault("sslnegotiation", "direct")
        provider = token_provider(
            endpoint,
            region=resolved,
            admin=user == "admin",
            expires_in=expires,
            credentials=credentials,
            profile=profile,
        )
    elif kind == "rds":
        user = str(merged.get("user") or "")
        if not user:
            raise InterfaceError("RDS IAM authentication needs the database user: pass user=")
        # RDS certificates come from the RDS CA, not the system store: verify when the
        # caller gives the CA bundle, encrypt in any case.
        default_mode = "verify-full" if merged.get("sslrootcert") else "require"
        sslmode = str(merged.setdefault("sslmode", default_mode))
        if sslmode in ("disable", "allow", "prefer"):
            raise InterfaceError(
                f"sslmode={sslmode} is not allowed with IAM authentication: the token would "
                "travel in clear text (use require, verify-ca or verify-full)"
            )
        provider = rds_token_provider(
            host,
            int(merged["port"]),
            user,
            region=region,
            credentials=credentials,
            profile=profile,
        )
    else:
        raise InterfaceError(f"unknown iam={kind!r}; expected dsql or rds")
    if merged.get("password") in (None, ""):
        merged["password"] = provider.async_token if for_async else provider
    return merged


def _websocket_params(merged: dict[str, Any], endpoint: str) -> None:
    """Turn DSQL's parameters into those of its WebSocket endpoint, in place: the TLS is the
    WebSocket's (always verify-full, with ``sslrootcert``), none inside the tunnel."""
    for name in ("websocket_url", "websocket_subprotocols"):
        if merged.get(name):
            raise InterfaceError(f"{name} is set by transport=websocket; do not pass it")
    sslmode = str(merged.pop("sslmode", None) or "verify-full")
    if sslmode != "verify-full":
        raise InterfaceError(
            f"sslmode={sslmode} does not apply to transport=websocket: the WebSocket's TLS "
            "always verifies the certificate chain and host name (verify-full), and "
            "PostgreSQL-level TLS is not used inside it"
        )
    if merged.get("sslnegotiation"):
        raise InterfaceError(
            "sslnegotiation does not apply to transport=websocket: TLS starts first, at the "
            "WebSocket layer"
        )
    port = int(merged.pop("port"))
    where = f"[{endpoint}]" if ":" in endpoint else endpoint
    if port != DEFAULT_WEBSOCKET_PORT:
        where = f"{where}:{port}"
    merged["websocket_url"] = f"wss://{where}/"
    # The TLS is the WebSocket's: no SSLRequest inside (DSQL's WebSocket expects none).
    merged["sslmode"] = "disable"
