"""IAM authentication tokens: SigV4 presigned URLs made with botocore's signer and credentials.

A token is what botocore's ``generate_db_auth_token`` (RDS, service ``rds-db``, action
``connect``) or ``generate_db_connect[_admin]_auth_token`` (Aurora DSQL, service ``dsql``)
returns, byte for byte, but made without a boto3 session or client per token: credentials
are resolved once (botocore's default chain, a profile, or what the caller gives) and
reused until botocore says they expire, and each token is one SigV4 query presign.

:class:`TokenProvider` caches a token and makes a new one at 80% of its lifetime (or when the
credentials changed); it is the password callable of a connection, sync (``provider()``) or
async (``await provider.async_token()``, which resolves credentials in a worker thread).

botocore is imported only when a token is made. Tokens, secret keys and session tokens are
secrets: no repr, log line or exception message here contains one (botocore's own signer logs
the canonical request at debug level, so its ``add_auth`` is not used).
"""

from __future__ import annotations

import datetime
import inspect
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pgwire.errors import InterfaceError

__all__ = [
    "CredentialSource",
    "StaticCredentials",
    "TokenProvider",
    "chain_region",
    "generate_rds_token",
    "presign",
    "region_from_rds_host",
]

#: The longest lifetime SigV4 allows a presigned URL (7 days).
MAX_EXPIRES = 604800
#: Refresh a cached token once this share of its lifetime has passed.
DEFAULT_REFRESH_RATIO = 0.8
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class StaticCredentials:
    """An access key, its secret and an optional session token (a frozen snapshot)."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


#: What ``credentials=`` accepts: botocore ``Credentials``, any object with ``access_key``,
#: ``secret_key`` and ``token``, or a callable (sync or async) returning one of those.
CredentialsSpec = Any

_default_lock = threading.Lock()
#: botocore credential objects of the default chain, by profile: resolved once per process.
_default_credentials: dict[str | None, Any] = {}


def _chain_credentials(profile: str | None) -> Any:
    """The default chain's credentials for ``profile`` (may block: files, SSO, IMDS, STS)."""
    with _default_lock:
        cached = _default_credentials.get(profile)
        if cached is not None:
            return cached
        import botocore.session  # type: ignore[import-untyped, unused-ignore]

        session = botocore.session.Session(profile=profile)
        credentials = session.get_credentials()
        if credentials is None:
            where = f"profile {profile!r}" if profile else "the default credential chain"
            raise InterfaceError(
                f"no AWS credentials found in {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, configure a profile, or pass credentials="
            )
        _default_credentials[profile] = credentials
        return credentials


def chain_region(profile: str | None) -> str | None:
    """``AWS_REGION``, ``AWS_DEFAULT_REGION``, else the profile's configured region."""
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(variable):
            return os.environ[variable]
    import botocore.session  # type: ignore[import-untyped, unused-ignore]

    region: str | None = botocore.session.Session(profile=profile).get_config_variable("region")
    return region


def _freeze(value: Any) -> StaticCredentials:
    """A snapshot of botocore credentials (refreshed by botocore when about to expire) or of
    any object with ``access_key``/``secret_key``/``token``."""
    frozen = getattr(value, "get_frozen_credentials", None)
    if frozen is not None:
        value = frozen()
    try:
        access_key, secret_key = value.access_key, value.secret_key
    except AttributeError:
        raise InterfaceError(
            f"credentials must have access_key, secret_key and token; got a {type(value).__name__}"
        ) from None
    if not access_key or not secret_key:
        raise InterfaceError("the credentials have no access key or no secret key")
    return StaticCredentials(access_key, secret_key, getattr(value, "token", None) or None)


class CredentialSource:
    """Where a token's credentials come from: ``credentials`` (see :data:`CredentialsSpec`)
    or, when it is ``None``, botocore's default chain for ``profile``.

    :meth:`get` may block (a profile's SSO cache, IMDS, STS); :meth:`get_async` runs the
    blocking parts in a worker thread and awaits async callables.
    """

    def __init__(self, credentials: CredentialsSpec = None, profile: str | None = None) -> None:
        self._spec = credentials
        self._profile = profile

    def __repr__(self) -> str:
        kind = "default chain" if self._spec is None else type(self._spec).__name__
        profile = f" profile={self._profile!r}" if self._profile else ""
        return f"<pgwire.iam.CredentialSource {kind}{profile}>"

    def _is_plain_callable(self) -> bool:
        spec = self._spec
        return callable(spec) and not hasattr(spec, "get_frozen_credentials")

    def get(self) -> StaticCredentials:
        """The current credentials (blocking)."""
        if self._spec is None:
            return _freeze(_chain_credentials(self._profile))
        value = self._spec() if self._is_plain_callable() else self._spec
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()
            raise InterfaceError(
                "the credentials callable is async: use it with the async driver "
                "(connect_async, create_pool) or pass a sync callable"
            )
        return _freeze(value)

    async def get_async(self) -> StaticCredentials:
        """The current credentials, without blocking the event loop."""
        import anyio.to_thread

        if isinstance(self._spec, StaticCredentials):
            return self._spec
        if self._is_plain_callable():
            value = self._spec()
            if inspect.isawaitable(value):
                value = await value
            return await anyio.to_thread.run_sync(_freeze, value)
        return await anyio.to_thread.run_sync(self.get)


def region_from_rds_host(hostname: str) -> str | None:
    """The region in an RDS/Aurora endpoint (``*.<region>.rds.amazonaws.com``), or ``None``."""
    match = _RDS_HOST.search(hostname.lower())
    return match.group(1) if match else None


def _timestamp(now: datetime.datetime | None) -> str:
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    elif now.tzinfo is None:
        raise InterfaceError("now must be a timezone-aware datetime (e.g. tzinfo=timezone.utc)")
    return now.astimezone(datetime.timezone.utc).strftime(_SIGV4_TIMESTAMP)


def presign(
    url: str,
    params: dict[str, str],
    *,
    service: str,
    region: str,
    expires_in: int,
    credentials: StaticCredentials,
    now: datetime.datetime | None = None,
) -> str:
    """A SigV4 presigned GET of ``https://<url>/`` with ``params``, without the scheme:
    what botocore's presigners return. ``url`` is ``host`` or ``host:port``."""
    if not 1 <= expires_in <= MAX_EXPIRES:
        raise InterfaceError(
            f"expires_in must be between 1 and {MAX_EXPIRES} seconds, got {expires_in}"
        )
    from botocore.auth import SigV4QueryAuth  # type: ignore[import-untyped, unused-ignore]
    from botocore.awsrequest import (  # type: ignore[import-untyped, unused-ignore]
        create_request_object,
        prepare_request_dict,
    )
    from botocore.credentials import ReadOnlyCredentials  # type: ignore[import-untyped, unused-ignore]

    request_dict: dict[str, Any] = {
        "url_path": "/",
        "query_string": "",
        "headers": {},
        "body": dict(params),
        "method": "GET",
    }
    scheme = "https://"
    prepare_request_dict(request_dict, scheme + url)
    request = create_request_object(request_dict)
    frozen = ReadOnlyCredentials(credentials.access_key, credentials.secret_key, credentials.token)
    auth = SigV4QueryAuth(frozen, service, region, expires=expires_in)
    # SigV4Auth.add_auth, minus its clock (``now`` is injected) and its debug logging of the
    # canonical request (which holds the session token).
    request.context["timestamp"] = _timestamp(now)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    prepared = request.prepare()
    signed: str = prepared.url
    return signed[len(scheme) :]


def _resolve_region(region: str | None, hostname: str, profile: str | None) -> str:
    found = region or region_from_rds_host(hostname) or chain_region(profile)
    if not found:
        raise InterfaceError(
            f"no AWS region for {hostname!r}: pass region=, or set AWS_REGION or AWS_DEFAULT_REGION"
        )
    return found


def generate_rds_token(
    hostname: str,
    port: int,
    user: str,
    *,
    region: str | None = None,
    credentials: CredentialsSpec = None,
    profile: str | None = None,
    now: datetime.datetime | None = None,
) -> str:
    """An RDS / Aurora PostgreSQL IAM token (``rds-db:connect``), valid 15 minutes; the same
    string as botocore's ``rds`` client ``generate_db_auth_token`` at the same time."""
    region = _resolve_region(region, hostname, profile)
    return presign(
        f"{hostname}:{port}",
        {"Action": "connect", "DBUser": user},
        service="rds-db",
        region=region,
        expires_in=900,
        credentials=CredentialSource(credentials, profile).get(),
        now=now,
    )


#: Makes a token from credentials at a time: ``make(credentials, now)``.
TokenMaker = Callable[[StaticCredentials, "datetime.datetime | None"], str]


class TokenProvider:
    """A cached token, remade at ``refresh_ratio`` of its ``lifetime`` or when the
    credentials change: the password callable of IAM connections.

    ``provider()`` returns a token (blocking); ``await provider.async_token()`` does the
    same without blocking the event loop. ``clock`` (default ``time.time``) is injected for
    tests. The token never appears in the repr.
    """

    def __init__(
        self,
        make: TokenMaker,
        source: CredentialSource,
        *,
        lifetime: float,
        refresh_ratio: float = DEFAULT_REFRESH_RATIO,
        clock: Callable[[], float] = time.time,
        description: str = "IAM token",
    ) -> None:
        if not 0 < refresh_ratio <= 1:
            raise ValueError(f"refresh_ratio must be in (0, 1], got {refresh_ratio}")
        self._make = make
        self._source = source
        self._refresh_after = lifetime * refresh_ratio
        self._clock = clock
        self._description = description
        self._lock = threading.Lock()
        self._token: str | None = None
        self._made_at = 0.0
        self._credentials: StaticCredentials | None = None
        #: How many tokens were made (the rest of the calls were served from the cache).
        self.tokens_made = 0

    def __repr__(self) -> str:
        state = "empty" if self._token is None else "cached"
        return f"<pgwire.iam.TokenProvider {self._description} {state}>"

    def _cached(self, credentials: StaticCredentials, now: float) -> str | None:
        if (
            self._token is not None
            and credentials == self._credentials
            and now - self._made_at < self._refresh_after
        ):
            return self._token
        return None

    def _remake(self, credentials: StaticCredentials, now: float) -> str:
        when = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        token = self._make(credentials, when)
        self._token, self._made_at, self._credentials = token, now, credentials
        self.tokens_made += 1
        return token

    def __call__(self) -> str:
        credentials = self._source.get()
        now = self._clock()
        with self._lock:
            return self._cached(credentials, now) or self._remake(credentials, now)

    async def async_token(self) -> str:
        """A token, resolving credentials off the event loop."""
        credentials = await self._source.get_async()
        now = self._clock()
        with self._lock:
            return self._cached(credentials, now) or self._remake(credentials, now)

    def invalidate(self) -> None:
        """Forget the cached token: the next call makes a new one."""
        with self._lock:
            self._token = None


def rds_token_provider(
    hostname: str,
    port: int,
    user: str,
    *,
    region: str | None = None,
    credentials: CredentialsSpec = None,
    profile: str | None = None,
    refresh_ratio: float = DEFAULT_REFRESH_RATIO,
    clock: Callable[[], float] = time.time,
) -> TokenProvider:
    """A :class:`TokenProvider` of RDS tokens for ``user`` at ``hostname:port``."""
    resolved = _resolve_region(region, hostname, profile)

    def make(creds: StaticCredentials, now: datetime.datetime | None) -> str:
        return presign(
            f"{hostname}:{port}",
            {"Action": "connect", "DBUser": user},
            service="rds-db",
            region=resolved,
            expires_in=900,
            credentials=creds,
            now=now,
        )

    return TokenProvider(
        make,
        CredentialSource(credentials, profile),
        lifetime=900,
        refresh_ratio=refresh_ratio,
        clock=clock,
        description=f"rds-db:connect {user}@{hostname}:{port}",
    )
