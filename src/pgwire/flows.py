"""Connection procedures shared by the blocking and the async drivers, written once, with no I/O.

A *flow* is a generator that yields I/O requests (:class:`OpenStream`, :class:`Send`,
:class:`Receive`, :class:`StartTLS`, :class:`CallPassword`, :class:`CloseStream`) and
receives their results; an I/O failure is thrown into it as ``OSError`` (``TimeoutError``
once an attempt's ``connect_timeout`` is spent, ``ssl.SSLError`` for TLS) so that it can
decide what to do: try another encryption method, try the next host, or give up. The
blocking driver runs flows with plain sockets and the async driver with anyio, so the logic
of opening a session lives here only, with libpq's rules:

* hosts are tried in order (shuffled with ``load_balance_hosts=random``); only a failure to
  reach a server, ``connect_timeout``, "cannot connect now" (57P03) and a session that does
  not match ``target_session_attrs`` move on to the next host. A server that refuses the
  client (authentication, missing database, TLS refused by ``require``) ends the attempt,
  as in libpq;
* ``sslmode``: ``disable`` plaintext; ``allow`` plaintext, then TLS if the server rejects
  the plaintext session; ``prefer`` TLS, then plaintext if the server declines TLS, the TLS
  handshake fails or the server rejects the TLS session; ``require`` and the ``verify-*``
  modes TLS or nothing. ``sslnegotiation=direct`` starts TLS at the first byte, with ALPN.
  Unix sockets never use TLS (libpq's rule);
* a password callable is called for every new physical connection.
"""

from __future__ import annotations

import random
import secrets
import ssl
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pgwire import tls
from pgwire._frozen import frozen_dataclass
from pgwire.conninfo import ConnectInfo, Encryption, HostSpec, WebSocketTarget
from pgwire.errors import OperationalError, error_from_fields
from pgwire.protocol import (
    NEED_DATA,
    AuthenticationOk,
    BackendMessage,
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    DataRow,
    EncryptionResponse,
    ErrorResponse,
    NoticeResponse,
    Query,
    ReadyForQuery,
    SSLRequest,
    StartupMessage,
    Terminate,
)
from pgwire.transports import TLSInfo

__all__ = [
    "CallPassword",
    "CloseStream",
    "IORequest",
    "OpenStream",
    "Receive",
    "Send",
    "Session",
    "StartTLS",
    "cancel_flow",
    "connect_flow",
]


@frozen_dataclass(slots=False)
class OpenStream:
    """Open a stream to ``host:port``, or to the Unix socket ``path`` when it is set,
    closing the current one.

    ``timeout`` bounds everything done on the new stream (resolving, connecting, TLS, every
    read and write) until the next ``OpenStream`` or the end of the flow: past it, the
    pending request fails with ``TimeoutError``. ``shuffle_addresses``: try the host's
    addresses in random order.
    """

    host: str
    port: int
    path: str | None = None
    timeout: float | None = None
    shuffle_addresses: bool = False
    #: Go through this WebSocket instead: its URL names the server (Host header, TLS server
    #: name); ``host``/``port`` are where to connect (``hostaddr`` when one was given, else
    #: the URL's host and port).
    websocket: WebSocketTarget | None = None
    #: For a ``wss://`` WebSocket: the TLS context of the WebSocket layer (see
    #: :func:`pgwire.tls.websocket_context`); ``None``: the transport's strict default.
    websocket_tls: ssl.SSLContext | None = field(default=None, repr=False)


@frozen_dataclass(slots=False)
class Send:
    """Write all of ``data``."""

    data: bytes = field(repr=False)


@frozen_dataclass(slots=False)
class Receive:
    """Read some bytes (``b""`` when the peer closed); the flow receives them."""


@frozen_dataclass(slots=False)
class StartTLS:
    """Run a TLS client handshake on the current stream with ``context``; the flow receives
    a :class:`~pgwire.transports.TLSInfo` (peer certificate, ALPN protocol, version).

    ``server_hostname`` is sent as SNI (unless it is an IP address) and checked against the
    certificate when the context checks host names.
    """

    context: ssl.SSLContext = field(repr=False)
    server_hostname: str | None


@frozen_dataclass(slots=False)
class CallPassword:
    """Call the password callable (awaiting its result if that is awaitable); the flow
    receives the password."""

    password: Callable[[], Any] = field(repr=False)


@frozen_dataclass(slots=False)
class CloseStream:
    """Close the current stream."""


IORequest = OpenStream | Send | Receive | StartTLS | CallPassword | CloseStream

#: SQLSTATE cannot_connect_now: the server is starting up or shutting down.
_CANNOT_CONNECT_NOW = "57P03"


def _nonce() -> str:
    return secrets.token_urlsafe(18)


def next_event(core: ClientConnection) -> Generator[IORequest, Any, BackendMessage]:
    """The next server message, reading as needed; a closed stream is an OperationalError."""
    while True:
        event = core.next_event()
        if event is NEED_DATA:
            data = yield Receive()
            core.receive_data(data)
            continue
        if isinstance(event, ConnectionClosed):
            raise OperationalError(
                "the server closed the connection unexpectedly; it probably terminated "
                "abnormally before or while processing the request"
            )
        assert isinstance(event, BackendMessage)
        return event


#: The notices kept from a session's startup, to deliver once the connection exists; a
#: server sending more (until ReadyForQuery) cannot make the client hold them all.
MAX_STARTUP_NOTICES = 100


@dataclass
class Session:
    """What ``connect_flow`` returns: the ready core, the first notices sent during startup
    (``dropped_notices``: how many more came), and the settings narrowed to the host reached
    (a cancel request goes there, the same way)."""

    core: ClientConnection
    info: ConnectInfo
    notices: list[NoticeResponse] = field(default_factory=list)
    dropped_notices: int = 0


class _HostFailed(Exception):
    """This host cannot serve the session: libpq moves on to the next one."""


class _TryNextMethod(Exception):
    """This encryption method failed in a way that lets the next one be tried."""


class _TLSSetup:
    """The TLS context, built on first use (so that a plaintext-only connection never reads
    certificate files)."""

    def __init__(self, info: ConnectInfo) -> None:
        self._info = info
        self._context: ssl.SSLContext | None = None
        self._websocket_context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = tls.client_context(self._info)
        return self._context

    def websocket_context(self) -> ssl.SSLContext | None:
        """The TLS context of a ``wss://`` WebSocket (``None`` for no WebSocket or ``ws://``)."""
        if self._websocket_context is None and _secure_websocket(self._info):
            self._websocket_context = tls.websocket_context(self._info)
        return self._websocket_context


def _secure_websocket(info: ConnectInfo) -> bool:
    return info.websocket is not None and info.websocket.secure


def _methods(info: ConnectInfo, spec: HostSpec) -> list[Encryption]:
    """The encryption methods to try for one host, in libpq's order."""
    if spec.is_unix_socket:
        return ["plain"]
    return {
        "disable": ["plain"],
        "allow": ["plain", "tls"],
        "prefer": ["tls", "plain"],
    }.get(info.sslmode, ["tls"])  # type: ignore[return-value]


def connect_flow(
    info: ConnectInfo, *, rng: random.Random | None = None
) -> Generator[IORequest, Any, Session]:
    """Open a session on the first host that can serve it; return the ready session.

    ``rng`` orders the hosts when ``load_balance_hosts=random`` (default: a fresh
    ``random.Random``).
    """
    hosts = list(info.hosts)
    if info.load_balance_hosts == "random":
        (rng or random.Random()).shuffle(hosts)
    setup = _TLSSetup(info)
    wanted = info.target_session_attrs
    passes = ["standby", "any"] if wanted == "prefer-standby" else [wanted]
    failures: list[str] = []
    for attrs in passes:
        for spec in hosts:
            try:
                return (yield from _connect_host(info, spec, setup, attrs))
            except _HostFailed as failure:
                failures.append(str(failure))
    if len(failures) == 1:
        raise OperationalError(failures[0])
    raise OperationalError(
        f"could not connect to any of {len(info.hosts)} hosts:\n" + "\n".join(failures)
    )


def _connect_host(
    info: ConnectInfo, spec: HostSpec, setup: _TLSSetup, attrs: str
) -> Generator[IORequest, Any, Session]:
    where = spec.describe()
    methods = _methods(info, spec)
    while methods:
        method = methods.pop(0)
        try:
            return (yield from _attempt(info, spec, setup, method, methods, attrs))
        except _TryNextMethod as retry:
            if not methods:
                raise OperationalError(f"connection to server at {where} failed: {retry}") from None
    raise AssertionError("unreachable: there is always one method")


def _password(info: ConnectInfo, spec: HostSpec) -> Generator[IORequest, Any, str | bytes | None]:
    password = info.password
    if callable(password):
        value = yield CallPassword(password)
        return value  # type: ignore[no-any-return]
    if password is None:
        return spec.passfile_password
    return password


def _attempt(
    info: ConnectInfo,
    spec: HostSpec,
    setup: _TLSSetup,
    method: Encryption,
    remaining: list[Encryption],
    attrs: str,
) -> Generator[IORequest, Any, Session]:
    """One physical connection with one encryption method. ``remaining`` are the methods
    left to try; a plaintext fallback on the same stream (SSLRequest declined) uses one up."""
    where = spec.describe()
    password = yield from _password(info, spec)
    context = setup.context() if method == "tls" else None
    try:
        yield OpenStream(
            spec.address,
            spec.port,
            spec.socket_path if spec.is_unix_socket else None,
            info.connect_timeout,
            info.load_balance_hosts == "random",
            info.websocket,
            setup.websocket_context(),
        )
    except OSError as exc:
        raise _HostFailed(_failed(info, where, exc)) from None
    core = ClientConnection(
        password=password,
        nonce_source=_nonce,
        channel_binding=info.channel_binding,
        require_auth=info.require_auth,
        min_protocol_version=info.min_protocol_version,
    )
    session = Session(core, info)
    try:
        encryption: Encryption = "plain"
        if context is not None:
            encryption = yield from _start_tls(info, spec, core, context, remaining)
        yield Send(core.send(StartupMessage(info.startup_params(), info.max_protocol_version)))
        authenticated = False
        while core.state is not ConnectionState.READY:
            event = yield from next_event(core)
            pending = core.data_to_send()
            if pending:
                yield Send(pending)
            if isinstance(event, AuthenticationOk):
                authenticated = True
            if isinstance(event, ErrorResponse):
                # libpq retries with the other encryption method only before authentication
                # succeeded (pg_hba.conf "hostssl"/"hostnossl" lines, or a password that
                # the other method's rule does not ask for).
                yield from _startup_error(event, [] if authenticated else remaining)
            if isinstance(event, NoticeResponse):
                if len(session.notices) < MAX_STARTUP_NOTICES:
                    session.notices.append(event)
                else:
                    session.dropped_notices += 1
        yield from _check_session(core, attrs, where)
    except OSError as exc:
        raise _HostFailed(_failed(info, where, exc)) from None
    session.info = info.connected(spec, encryption)
    return session


def _failed(info: ConnectInfo, where: str, exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return (
            f"connection to server at {where} failed: no answer within "
            f"connect_timeout={info.connect_timeout or 0:g} seconds"
        )
    if isinstance(exc, ssl.SSLError):  # the TLS of a wss:// WebSocket
        return f"connection to server at {where} failed: {tls.describe_tls_error(exc)}"
    return f"connection to server at {where} failed: {exc}"


def _startup_error(
    error: ErrorResponse, remaining: list[Encryption]
) -> Generator[IORequest, Any, None]:
    """libpq's answer to an ErrorResponse while the session starts."""
    sqlstate = error.fields.get("C")
    if sqlstate == _CANNOT_CONNECT_NOW:
        yield CloseStream()
        message = error.fields.get("M", "the server cannot accept connections now")
        raise _HostFailed(f"{message} (SQLSTATE {sqlstate})")
    if remaining:
        yield CloseStream()
        raise _TryNextMethod(error_from_fields(error.fields))
    raise error_from_fields(error.fields)


def _start_tls(
    info: ConnectInfo,
    spec: HostSpec,
    core: ClientConnection,
    context: ssl.SSLContext,
    remaining: list[Encryption],
) -> Generator[IORequest, Any, Encryption]:
    """Negotiate and run TLS; return ``plain`` when the server declined and plaintext may
    follow on the same stream (``prefer``)."""
    direct = info.sslnegotiation == "direct"
    if not direct:
        yield Send(core.send(SSLRequest()))
        answer = yield from _encryption_answer(core)
        if not answer.accepted:
            if "plain" in remaining:
                remaining.remove("plain")
                return "plain"
            raise OperationalError(
                f"connection to server at {spec.describe()} failed: the server does not "
                f"support SSL, but SSL was required (sslmode={info.sslmode})"
            )
    server_name = spec.server_name if info.sslsni or info.sslmode == "verify-full" else None
    try:
        established: TLSInfo = yield StartTLS(context, server_name)
    except TimeoutError:
        raise
    except OSError as exc:
        reason = tls.describe_tls_error(exc)
        if direct and not isinstance(exc, ssl.SSLCertVerificationError):
            reason += (
                "; the server may not support direct TLS (sslnegotiation=direct needs "
                "PostgreSQL 17 or later): try sslnegotiation=postgres"
            )
        if "plain" in remaining:
            yield CloseStream()
            raise _TryNextMethod(reason) from None
        raise OperationalError(
            f"connection to server at {spec.describe()} failed: {reason}"
        ) from None
    alpn = established.alpn_protocol
    if direct and alpn is None:
        raise OperationalError(
            f"connection to server at {spec.describe()} failed: the direct TLS connection "
            "was established without ALPN protocol negotiation"
        )
    if alpn is not None and alpn != tls.ALPN_PROTOCOL:
        raise OperationalError(
            f"connection to server at {spec.describe()} failed: the TLS connection was "
            f"established with the unexpected ALPN protocol {alpn!r}"
        )
    core.tls_established(established.peer_certificate)
    return "tls"


def _encryption_answer(core: ClientConnection) -> Generator[IORequest, Any, EncryptionResponse]:
    while True:
        event = core.next_event()
        if event is NEED_DATA:
            core.receive_data((yield Receive()))
            continue
        if isinstance(event, EncryptionResponse):
            return event
        if isinstance(event, ErrorResponse):
            raise error_from_fields(event.fields)
        raise OperationalError(
            "the server closed the connection in answer to the SSLRequest; it probably "
            "terminated abnormally"
        )


#: target_session_attrs -> (parameter the server reports, value that refuses the session,
#: libpq's reason), checked in order.
_SESSION_RULES: dict[str, list[tuple[str, str, str]]] = {
    "any": [],
    "read-write": [
        ("default_transaction_read_only", "on", "session is read-only"),
        ("in_hot_standby", "on", "session is read-only"),
    ],
    "primary": [("in_hot_standby", "on", "server is in hot standby mode")],
    "standby": [("in_hot_standby", "off", "server is not in hot standby mode")],
}
#: What servers older than PostgreSQL 14 (which report neither parameter) are asked.
_FALLBACK_QUERIES = {
    "default_transaction_read_only": ("SHOW transaction_read_only", {"on": "on", "off": "off"}),
    "in_hot_standby": ("SELECT pg_catalog.pg_is_in_recovery()", {"t": "on", "f": "off"}),
}


def _check_session(
    core: ClientConnection, attrs: str, where: str
) -> Generator[IORequest, Any, None]:
    """Refuse (and close) a session that does not match ``target_session_attrs``."""
    if attrs == "read-only":
        read_only = yield from _parameter(core, "default_transaction_read_only")
        standby = yield from _parameter(core, "in_hot_standby")
        if read_only == "off" and standby == "off":
            yield from _refuse_session(core, where, "session is not read-only")
        return
    for name, refused, reason in _SESSION_RULES[attrs]:
        if (yield from _parameter(core, name)) == refused:
            yield from _refuse_session(core, where, reason)


def _parameter(core: ClientConnection, name: str) -> Generator[IORequest, Any, str]:
    value = core.parameters.get(name)
    if value is not None:
        return value
    sql, meaning = _FALLBACK_QUERIES[name]
    yield Send(core.send(Query(sql)))
    answer = ""
    while True:
        event = yield from next_event(core)
        if isinstance(event, DataRow) and event.values and event.values[0] is not None:
            answer = meaning.get(bytes(event.values[0]).decode(), "")
        elif isinstance(event, ErrorResponse):
            raise error_from_fields(event.fields)
        elif isinstance(event, ReadyForQuery):
            return answer


def _refuse_session(
    core: ClientConnection, where: str, reason: str
) -> Generator[IORequest, Any, None]:
    yield Send(core.send(Terminate()))
    yield CloseStream()
    raise _HostFailed(f"connection to server at {where} failed: {reason}")


def cancel_flow(info: ConnectInfo, request: bytes) -> Generator[IORequest, Any, None]:
    """Send a CancelRequest on a new connection to the session's host, protected as the
    session was (TLS with the same settings, or plaintext), and wait for the server to
    close it."""
    spec = info.hosts[0]
    where = spec.describe()
    encryption = info.encryption
    if encryption is None:
        encryption = "plain" if info.sslmode in ("disable", "allow", "prefer") else "tls"
    if spec.is_unix_socket:
        encryption = "plain"
    context = tls.client_context(info) if encryption == "tls" else None
    websocket_tls = tls.websocket_context(info) if _secure_websocket(info) else None
    try:
        yield OpenStream(
            spec.address,
            spec.port,
            spec.socket_path if spec.is_unix_socket else None,
            info.connect_timeout,
            websocket=info.websocket,
            websocket_tls=websocket_tls,
        )
    except OSError as exc:
        reason = tls.describe_tls_error(exc) if isinstance(exc, ssl.SSLError) else str(exc)
        raise OperationalError(
            f"could not connect to {where} to send the cancel request: {reason}"
        ) from None
    try:
        if context is not None:
            core = ClientConnection()
            yield from _start_tls(info, spec, core, context, [])
        yield Send(request)
        yield Receive()  # the server closes the connection once it has read the request
    except (TimeoutError, ssl.SSLError) as exc:
        raise OperationalError(f"could not send the cancel request to {where}: {exc}") from None
    except OSError:
        pass
    yield CloseStream()
