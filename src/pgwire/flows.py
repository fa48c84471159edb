"""Connection procedures shared by the blocking and the async drivers, written once, with no I/O.

A *flow* is a generator that yields I/O requests (:class:`OpenStream`, :class:`Send`,
:class:`Receive`, :class:`CloseStream`) and receives their results; an I/O failure is thrown
into it as ``OSError`` so that it can decide what to do (try the next host, or give up).
The blocking driver runs flows with plain sockets and the async driver with anyio, so the
logic of opening a session (choosing a host, negotiating, starting up, authenticating)
and of sending a CancelRequest lives here only.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from pgwire.conninfo import ConnectInfo
from pgwire.errors import OperationalError, error_from_fields
from pgwire.protocol import (
    NEED_DATA,
    BackendMessage,
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    ErrorResponse,
    NoticeResponse,
    StartupMessage,
)

__all__ = [
    "CloseStream",
    "IORequest",
    "OpenStream",
    "Receive",
    "Send",
    "cancel_flow",
    "connect_flow",
    "describe_target",
]


@dataclass(frozen=True)
class OpenStream:
    """Open a stream to ``host:port``, or to the Unix socket ``path`` when it is set."""

    host: str
    port: int
    path: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Send:
    """Write all of ``data``."""

    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Receive:
    """Read some bytes (``b""`` when the peer closed); the flow receives them."""


@dataclass(frozen=True)
class CloseStream:
    """Close the current stream."""


IORequest = OpenStream | Send | Receive | CloseStream


def describe_target(info: ConnectInfo) -> str:
    """``host:port`` or the socket path, for messages."""
    return info.socket_path if info.is_unix_socket else f"{info.host}:{info.port}"


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


@dataclass
class Session:
    """What ``connect_flow`` returns: the ready core and the notices sent during startup."""

    core: ClientConnection
    notices: list[NoticeResponse] = field(default_factory=list)


def connect_flow(
    info: ConnectInfo, password: str | bytes | None
) -> Generator[IORequest, Any, Session]:
    """Open a stream, start the session and authenticate; return the ready session.

    ``password`` is already resolved (the drivers call a password callable, sync or async,
    before running the flow).
    """
    where = describe_target(info)
    try:
        yield OpenStream(
            info.host,
            info.port,
            info.socket_path if info.is_unix_socket else None,
            info.connect_timeout,
        )
    except OSError as exc:
        raise OperationalError(f"connection to server at {where} failed: {exc}") from None
    core = ClientConnection(password=password, nonce_source=_nonce)
    session = Session(core)
    try:
        yield Send(core.send(StartupMessage(info.startup_params())))
        while core.state is not ConnectionState.READY:
            event = yield from next_event(core)
            pending = core.data_to_send()
            if pending:
                yield Send(pending)
            if isinstance(event, ErrorResponse):
                raise error_from_fields(event.fields)
            if isinstance(event, NoticeResponse):
                session.notices.append(event)
    except TimeoutError:
        raise OperationalError(
            f"connection to server at {where} failed: no answer within "
            f"connect_timeout={info.connect_timeout or 0:g} seconds"
        ) from None
    except OSError as exc:
        raise OperationalError(f"connection to server at {where} failed: {exc}") from None
    return session


def cancel_flow(info: ConnectInfo, request: bytes) -> Generator[IORequest, Any, None]:
    """Send a CancelRequest on a new connection and wait for the server to close it."""
    try:
        yield OpenStream(
            info.host,
            info.port,
            info.socket_path if info.is_unix_socket else None,
            info.connect_timeout,
        )
    except OSError as exc:
        raise OperationalError(
            f"could not connect to {describe_target(info)} to send the cancel request: {exc}"
        ) from None
    try:
        yield Send(request)
        yield Receive()  # the server closes the connection once it has read the request
    except OSError:
        pass
    yield CloseStream()
