"""The client's handshake at the local DSQL endpoint, step by step: reading the core's
events, the SNI check, and the password step, where the password is checked as a DSQL IAM
token (:mod:`pgwire.dsql_local.tokens`) before the core's server role sees it.

Every refusal is a :class:`Refused` carrying the FATAL ErrorResponse to send; its message
never holds the token.  What is read before the client is authenticated is bounded by
PostgreSQL's limits: the core's startup packet (10,000 bytes), and a password message of at
most :data:`MAX_AUTH_MESSAGE` bytes, refused from its length word.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import cast

import anyio
import anyio.abc

from pgwire.dsql_local.tokens import TokenRejected, verify_token
from pgwire.errors import ProtocolError
from pgwire.iam import StaticCredentials
from pgwire.protocol import (
    NEED_DATA,
    Authenticated,
    ErrorResponse,
    PasswordAuth,
    PasswordMessage,
    ReceiveBuffer,
    ServerConnection,
    ServerEvent,
)

__all__ = [
    "MAX_AUTH_MESSAGE",
    "Refused",
    "authenticate",
    "check_server_name",
    "fatal",
    "next_event",
]

#: PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: the longest password or SASL message it reads.
MAX_AUTH_MESSAGE = 65535


def fatal(code: str, message: str) -> ErrorResponse:
    """A FATAL ErrorResponse with ``code`` and ``message``."""
    return ErrorResponse({"S": "FATAL", "V": "FATAL", "C": code, "M": message})


class Refused(Exception):
    """End the client's connection with this FATAL error."""

    def __init__(self, error: ErrorResponse) -> None:
        super().__init__(error.fields.get("M", ""))
        self.error = error


async def next_event(core: ServerConnection, stream: anyio.abc.ByteStream) -> ServerEvent:
    """The core's next event, reading from the client as needed; the client's bytes
    breaking the protocol refuse the connection."""
    while True:
        try:
            event = core.next_event()
        except ProtocolError as exc:
            raise Refused(fatal("08P01", f"invalid message from the client: {exc}")) from None
        if event is not NEED_DATA:
            return event
        try:
            data = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            data = b""
        core.receive_data(data)


def check_server_name(hostnames: Sequence[str], encrypted: bool, sni: list[str | None]) -> str:
    """The SNI name of a client that sent its StartupMessage, if DSQL would accept it."""
    if not encrypted:
        raise Refused(
            fatal(
                "28000",
                "unable to accept connection, TLS is required: connect with "
                "sslmode=require or stricter",
            )
        )
    name = sni[-1] if sni else None
    if name is None:
        raise Refused(
            fatal(
                "08004",
                "unable to accept connection, no SNI: the client must send the "
                "cluster endpoint's host name (TLS server name indication)",
            )
        )
    if name.lower() not in (host.lower() for host in hostnames):
        raise Refused(fatal("08004", f"unable to accept connection, unknown host {name!r}"))
    return name


async def authenticate(
    core: ServerConnection,
    stream: anyio.abc.ByteStream,
    sni: str,
    *,
    region: str,
    credentials: StaticCredentials,
    now: float,
) -> bytes:
    """Ask for the password and check it as a token for ``sni``; return what the client
    sent after it (requests it pipelined, for the relay)."""
    # The server role compares the password with the bytes it was given: the token is
    # checked here first, and on success the expected bytes become the token itself.
    expected = bytearray(secrets.token_bytes(32))
    await stream.send(core.authenticate(PasswordAuth(cast(bytes, expected))))
    buffer = ReceiveBuffer(MAX_AUTH_MESSAGE)
    # What the client sent with its StartupMessage (a password, requests) comes first.
    buffer.feed(core.take_unread())
    try:
        while (frame := buffer.next_message()) is None:
            buffer.feed(await stream.receive())
        code, payload = frame
        if code != PasswordMessage.code[0]:
            raise Refused(fatal("08P01", "expected a password message"))
        password = PasswordMessage.decode(payload)
    except ProtocolError as exc:
        raise Refused(fatal("08P01", f"invalid password message: {exc}")) from None
    token = password.password.decode("utf-8", "replace")
    try:
        verify_token(
            token,
            host=sni,
            user=core.user,
            region=region,
            credentials=credentials,
            now=now,
        )
    except TokenRejected as exc:
        raise Refused(
            fatal(
                "28P01",
                f'unable to accept connection, access denied for user "{core.user}": {exc}',
            )
        ) from None
    expected[:] = password.password
    core.receive_data(password.encode())
    event = await next_event(core, stream)
    while isinstance(event, PasswordMessage):
        event = await next_event(core, stream)
    if not isinstance(event, Authenticated):
        raise Refused(fatal("28P01", "unable to accept connection, access denied"))
    return buffer.take_all()
