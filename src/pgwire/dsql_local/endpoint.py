"""The local DSQL endpoint: DSQL's connection rules in front of a real PostgreSQL.

One client connection goes through three steps:

1. the handshake, on the core's server role (:class:`~pgwire.protocol.ServerConnection`):
   TLS (classic or direct with ALPN ``postgresql``; inside a WebSocket, the WebSocket's),
   the SNI name checked against the endpoint's host names, the StartupMessage, and the
   cleartext password checked as a DSQL IAM token (:mod:`pgwire.dsql_local.handshake`,
   :mod:`pgwire.dsql_local.tokens`).  The password message is read with the core's
   :class:`~pgwire.protocol.ReceiveBuffer`, capped at PostgreSQL's 65,535 bytes;
2. a session of the endpoint's own on the real server (:mod:`pgwire.dsql_local.upstream`),
   whose start the client is shown;
3. the proxy's :class:`~pgwire.proxy.Relay` between the two, whole messages at a time, with
   the injected conflicts as its faults (:mod:`pgwire.dsql_local.occ`), until either side
   closes or the connection reaches ``max_lifetime``.  With DSQL's rules (the default) the
   relay is a :class:`~pgwire.dsql_local.relay.DsqlRelay`: the upstream session runs at
   REPEATABLE READ with a lock timeout of 1 ms (so that writers never wait for each other,
   and the loser's conflict becomes DSQL's ``OC000``), the ``sys`` schema of
   :mod:`pgwire.dsql_local.sysschema` is installed in its database, and every statement goes
   through :class:`~pgwire.dsql_local.session.DsqlSession`.

Connections over DSQL's limits (open connections, new connections per second: a token
bucket) are refused with DSQL's errors once their StartupMessage arrives.  A refusal is a
FATAL ErrorResponse with DSQL's wording; tokens never reach it, nor a log line.  A client
that never authenticates costs little: no more than ``Limits.max_unauthenticated``
connections may be in their handshake at once (more are refused on arrival, before TLS,
53300), each for at most ``HANDSHAKE_TIMEOUT`` seconds, reading at most PostgreSQL's limits
(a startup packet of 10,000 bytes, a password message of 65,535).  Relayed messages are
framed with the core's limits, and a client message that breaks them, or cannot be decoded,
ends the session (08P01) before PostgreSQL sees it.  How each session ended is logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute

from pgwire.dsql_local.admission import Admission, Cancels, HandshakePlace
from pgwire.dsql_local.certs import LocalCertificates
from pgwire.dsql_local.handshake import (
    Refused,
    authenticate,
    check_server_name,
    fatal,
    next_event,
)
from pgwire.dsql_local.occ import occ_fault, random_occ_fault
from pgwire.dsql_local.relay import DsqlRelay, EndpointRelay
from pgwire.dsql_local.rules import LIMITS, Limits, Rule, rule
from pgwire.dsql_local.session import DsqlSession, SchemaClock
from pgwire.dsql_local.statements import require_parser
from pgwire.dsql_local.tokens import TEST_CREDENTIALS
from pgwire.dsql_local.upstream import Installed, LoginFailed, Upstream
from pgwire.dsql_local.websocket import WEBSOCKET_ALPN, WEBSOCKET_PATH, accept_websocket
from pgwire.iam import StaticCredentials
from pgwire.listener import CONNECTION_LOST, accept_tls, in_thread, running_tcp
from pgwire.protocol import (
    PROTOCOL_3_0,
    BackendKeyData,
    CancelRequest,
    DirectTLSHandshake,
    EncryptionResponse,
    GSSENCRequest,
    ServerConnection,
    SSLRequest,
    StartupMessage,
)
from pgwire.proxy import Fault, Relay
from pgwire.trace import WireDecoder

__all__ = ["ALPN", "DEFAULT_CLUSTER_ID", "DEFAULT_MAX_LIFETIME", "LocalDsqlEndpoint"]

logger = logging.getLogger("pgwire.dsql_local")

#: The cluster id of the local endpoint's default host name.
DEFAULT_CLUSTER_ID = "localdsqlclusterid00000000"
DEFAULT_MAX_LIFETIME = 3600.0
ALPN = "postgresql"
#: Seconds a client has for TLS, startup and authentication.
HANDSHAKE_TIMEOUT = 30
#: The settings of the endpoint's sessions on PostgreSQL under DSQL's rules: DSQL's only
#: isolation level, and a lock timeout of 1 ms, so that no statement waits for a lock.
DSQL_SETTINGS = {"default_transaction_isolation": "repeatable read", "lock_timeout": "1"}


class LocalDsqlEndpoint:
    """A DSQL-like endpoint in front of the real PostgreSQL ``upstream``.

    ``hostnames``: the names clients may ask for with SNI (default: the cluster endpoint
    ``<cluster_id>.dsql.<region>.on.aws`` and ``localhost``); the certificate names them.
    ``cert_dir``: where ``ca.pem`` (the test CA, for clients' ``sslrootcert``) is written
    (default: a temporary directory). ``clock`` tells the time for token checks.

    ``postgres_rules``: relay any SQL as PostgreSQL takes it (no DSQL rules, no ``pglast``
    needed); by default DSQL's SQL and transaction rules apply (see
    :mod:`pgwire.dsql_local.rules`).  ``limits``: DSQL's numbers (transaction rows, bytes
    and seconds, open connections, connection rate and burst), :data:`~.rules.LIMITS` by
    default.  ``monotonic`` measures transactions and the connection rate.
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
        postgres_rules: bool = False,
        limits: Limits = LIMITS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not postgres_rules:
            require_parser()
        self.upstream = upstream
        self.postgres_rules = postgres_rules
        self.limits = limits
        self.monotonic = monotonic
        self.credentials = credentials
        self.region = region
        self.endpoint = f"{cluster_id}.dsql.{region}.on.aws"
        self.hostnames = tuple(hostnames) or (self.endpoint, "localhost")
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._certificates = LocalCertificates(self.hostnames, cert_dir)
        #: The test CA's certificate, for clients' ``sslrootcert``.
        self.ca_file = self._certificates.ca_file
        # The injected conflicts, oldest first; every session's relay reads this list.
        self._faults: list[Fault] = []
        #: Client connections accepted, and those that reached the relay.
        self.connections = 0
        self.sessions = 0
        #: Why connections were refused, newest last (never the token itself).
        self.refusals: list[str] = []
        #: Connections closed for reaching ``max_lifetime``.
        self.expired = 0
        #: The port of the ``wss://`` listener, once one listens (see :meth:`running`).
        self.websocket_port: int | None = None
        self._admission = Admission(limits, monotonic)
        # Per database: the schema version; the databases whose sys schema is installed.
        self._schemas: dict[str, SchemaClock] = {}
        self._installed = Installed()
        self._cancels = Cancels()

    def __repr__(self) -> str:
        return f"<pgwire.dsql_local.LocalDsqlEndpoint {self.endpoint} -> {self.upstream!r}>"

    def inject_occ(self, count: int = 1, code: str = "OC000") -> None:
        """Make the next ``count`` COMMITs (of any session) fail with an OCC conflict."""
        fault = occ_fault(code, count)
        if count > 0:
            self._faults.append(fault)

    def inject_occ_randomly(
        self, probability: float, code: str = "OC000", random: Callable[[], float] | None = None
    ) -> None:
        """From now on, make each COMMIT (of any session) fail with an OCC conflict with
        ``probability`` (0 to 1), for chaos tests."""
        self._faults.append(random_occ_fault(probability, code, random))

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        return self._admission.open

    @property
    def unauthenticated_connections(self) -> int:
        """Client connections open now that have not authenticated yet."""
        return self._admission.unauthenticated

    @property
    def occ_pending(self) -> int:
        """How many injected conflicts are still to come."""
        return sum(fault.remaining or 0 for fault in self._faults)

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
        async with running_tcp(self.handle, host, port) as bound:
            if websocket_port is None:
                yield bound
                return
            async with running_tcp(self.handle_websocket, host, websocket_port) as ws_port:
                self.websocket_port = ws_port
                try:
                    yield bound
                finally:
                    self.websocket_port = None

    @contextlib.contextmanager
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
        with in_thread(self.running(host, port, websocket_port=websocket_port), backend) as bound:
            yield bound

    async def serve(
        self, host: str = "127.0.0.1", port: int = 5432, *, websocket_port: int | None = None
    ) -> None:
        """Listen on ``host:port`` (and for ``wss://`` on ``websocket_port``) until
        cancelled."""
        async with self.running(host, port, websocket_port=websocket_port):
            await anyio.sleep_forever()

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client connection until either side closes."""
        self.connections += 1
        place = self._admission.handshake()
        if isinstance(place, Rule):
            # Before TLS: a client that sent an SSLRequest reads 'E' and the error, as from
            # a server that cannot serve it (PostgreSQL's "sorry, too many clients").
            await self._refuse_on_arrival(client, place, tell=True)
            return
        try:
            await self._serve(client, None, place)
        finally:
            place.release()

    async def _refuse_on_arrival(
        self, client: anyio.abc.ByteStream, broken: Rule, *, tell: bool
    ) -> None:
        """Close a connection that breaks ``broken`` as it arrives; ``tell``: send the FATAL
        error first, in plaintext."""
        self.refusals.append(broken.message)
        logger.info("refused a connection on arrival: %s", broken.message)
        with contextlib.suppress(*CONNECTION_LOST):
            if tell:
                await client.send(fatal(broken.sqlstate, broken.message).encode())
            await client.aclose()

    async def handle_websocket(self, client: anyio.abc.ByteStream) -> None:
        """Serve one client connection of the ``wss://`` listener: TLS, the WebSocket
        upgrade, then the same session as :meth:`handle` over the WebSocket's byte stream."""
        self.connections += 1
        place = self._admission.handshake()
        if isinstance(place, Rule):
            # The client expects TLS first: no error it could read can be sent.
            await self._refuse_on_arrival(client, place, tell=False)
            return
        try:
            await self._serve_websocket(client, place)
        finally:
            place.release()

    async def _serve_websocket(self, client: anyio.abc.ByteStream, place: HandshakePlace) -> None:
        """TLS, the WebSocket upgrade, then the session."""
        sni: list[str | None] = []
        try:
            # TimeoutError, from fail_after, is an OSError: one of CONNECTION_LOST.
            with anyio.fail_after(HANDSHAKE_TIMEOUT):
                context = self._certificates.server_context(WEBSOCKET_ALPN, sni)
                stream = await accept_tls(client, context)
                websocket = await accept_websocket(stream)
        except CONNECTION_LOST as exc:
            logger.debug("WebSocket handshake failed: %s", type(exc).__name__, exc_info=True)
            with contextlib.suppress(*CONNECTION_LOST):
                await client.aclose()
            return
        if websocket is None:
            self.refusals.append("WebSocket upgrade refused")
            with contextlib.suppress(*CONNECTION_LOST):
                await stream.aclose()
            return
        await self._serve(websocket, sni, place)

    # ----------------------------------------------------------------------------------
    # One connection
    # ----------------------------------------------------------------------------------

    async def _serve(
        self,
        client: anyio.abc.ByteStream,
        websocket_sni: list[str | None] | None,
        place: HandshakePlace,
    ) -> None:
        """One session on ``client``; ``websocket_sni``: the client came through the
        WebSocket listener, whose TLS recorded this SNI name; ``place``: its place among the
        connections not yet authenticated, released once it is."""
        core = ServerConnection(max_protocol_minor=PROTOCOL_3_0[1])
        # The stream to the client, TLS once negotiated: a refusal goes out on it.
        current = [client]
        self._admission.open += 1
        try:
            with anyio.fail_after(HANDSHAKE_TIMEOUT):
                stream, startup, sni = await self._start(core, current, websocket_sni)
                if startup is None or sni is None:
                    return
                refused = self._admission.refused()
                if refused is not None:
                    raise Refused(fatal(refused.sqlstate, refused.message))
                pipelined = await authenticate(
                    core,
                    stream,
                    sni,
                    region=self.region,
                    credentials=self.credentials,
                    now=self.clock(),
                )
                place.release()
                upstream, process_id = await self._connect_upstream(core, stream, startup)
            try:
                self.sessions += 1
                await self._relay(stream, upstream, pipelined, core.database, process_id)
            finally:
                await upstream.aclose()
        except Refused as refused:
            reason = refused.error.fields.get("M", "")
            self.refusals.append(reason)
            logger.info("refused a connection: %s", reason)
            with contextlib.suppress(*CONNECTION_LOST):
                await current[-1].send(refused.error.encode())
        except CONNECTION_LOST as exc:
            logger.debug("connection ended: %s", type(exc).__name__, exc_info=True)
        except Exception:
            # A fault of the endpoint itself: one connection ends, the listener goes on.
            logger.exception("the local endpoint failed serving a connection")
        finally:
            self._admission.open -= 1
            with contextlib.suppress(*CONNECTION_LOST):
                await current[-1].aclose()

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
            event = await next_event(core, stream)
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
                stream = await accept_tls(stream, self._certificates.server_context(ALPN, sni))
                current.append(stream)
                encrypted = True
            elif isinstance(event, GSSENCRequest):
                await stream.send(core.send(EncryptionResponse("gss", False)))
            elif isinstance(event, DirectTLSHandshake):
                context = self._certificates.server_context(ALPN, sni)
                stream = await accept_tls(stream, context, event.data)
                current.append(stream)
                if stream.extra(TLSAttribute.alpn_protocol) != ALPN:
                    # PostgreSQL 17+: direct TLS without ALPN is closed at once.
                    self.refusals.append("direct TLS without ALPN postgresql")
                    return stream, None, None
                encrypted = True
            elif isinstance(event, CancelRequest):
                self._cancels.note(event.process_id)
                await self.upstream.cancel(event)
                return stream, None, None
            elif isinstance(event, StartupMessage):
                return stream, event, check_server_name(self.hostnames, encrypted, sni)
            else:
                return stream, None, None

    async def _connect_upstream(
        self, core: ServerConnection, stream: anyio.abc.ByteStream, startup: StartupMessage
    ) -> tuple[anyio.abc.ByteStream, int]:
        """Log in to the real server (and prepare the session for DSQL's rules); pass its
        session parameters on to the client."""
        settings = {} if self.postgres_rules else DSQL_SETTINGS
        try:
            upstream, started = await self.upstream.log_in(startup.params, core.database, settings)
        except LoginFailed as exc:
            raise Refused(fatal(exc.sqlstate, str(exc))) from None
        try:
            if not self.postgres_rules:
                database = self.upstream.database or core.database
                await self.upstream.prepare_for_dsql(upstream, database, self._installed)
            await stream.send(core.send(*started))
        except LoginFailed as exc:
            await upstream.aclose()
            raise Refused(fatal(exc.sqlstate, str(exc))) from None
        except BaseException:
            await upstream.aclose()
            raise
        keys = [message.process_id for message in started if isinstance(message, BackendKeyData)]
        return upstream, keys[0] if keys else 0

    async def _relay(
        self,
        client: anyio.abc.ByteStream,
        upstream: anyio.abc.ByteStream,
        pipelined: bytes,
        database: str,
        process_id: int,
    ) -> None:
        """Relay the session until either side closes or it reaches ``max_lifetime``."""
        relay: Relay
        if self.postgres_rules:
            relay = EndpointRelay(WireDecoder(started=True), faults=self._faults)
        else:
            schema = self._schemas.setdefault(self.upstream.database or database, SchemaClock())
            cancelled = self._cancels.checker(process_id)
            session = DsqlSession(schema, self.limits, self.monotonic, cancelled)
            relay = DsqlRelay(session, WireDecoder(started=True), faults=self._faults)
        first = relay.decoder.feed("F", pipelined)
        async with anyio.create_task_group() as group:
            group.start_soon(self._end_at_lifetime, relay)
            await relay.run(client, upstream, first)
            group.cancel_scope.cancel()
        logger.info("session %d (database %r) ended: %s", process_id, database, relay.ended)

    async def _end_at_lifetime(self, relay: Relay) -> None:
        await anyio.sleep(self.max_lifetime)
        self.expired += 1
        lifetime = rule("connection-lifetime")
        await relay.stop(
            fatal(lifetime.sqlstate, f"{lifetime.message} of {self.max_lifetime:g} seconds")
        )
