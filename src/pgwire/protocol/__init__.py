"""pgwire's sans-IO protocol core: messages, framing and the state machines.

Nothing in this package does I/O, reads the clock or draws randomness: bytes go in with
``receive_data()``, events come out of ``next_event()``, and ``send()`` returns the bytes
to write.  It imports only the standard library, ``pgwire.errors``, ``pgwire._frozen`` (its
value classes) and (for SCRAM) ``scramp``.

The modules, each using only those above it:

* ``messages.py``: every protocol message, both directions, with ``encode()``/``decode()``;
* ``framing.py``: the receive buffer that cuts a byte stream into whole messages;
* ``conversation.py``: the states and the tables of what is legal when, for both roles
  (the place to start reading);
* ``auth.py``: password, MD5 and SCRAM(-PLUS) authentication, both roles;
* ``peer.py``: the byte plumbing both roles share, and the one way a connection fails;
* ``startup.py`` and ``client.py``: the client role, its startup and its session;
* ``server_startup.py`` and ``server.py``: the server role, its startup and its session
  (imported on first use of its names here, so that a client does not load it).
"""

from typing import TYPE_CHECKING, Any

from pgwire.protocol.auth import (
    MAX_PASSWORD_MESSAGE,
    MAX_SASL_MESSAGE,
    MIN_SERVER_NONCE,
    AuthMethod,
    AuthRequirement,
    ChannelBinding,
    MD5Auth,
    PasswordAuth,
    ScramAuth,
    ScramSecret,
    TrustAuth,
    tls_server_end_point,
)
from pgwire.protocol.client import ClientConnection
from pgwire.protocol.conversation import (
    NEED_DATA,
    ConnectionClosed,
    ConnectionState,
    EncryptionResponse,
    Event,
    NeedData,
    Phase,
    ServerState,
)
from pgwire.protocol.framing import (
    CLIENT_SMALL_MESSAGE_LIMIT,
    DEFAULT_MAX_MESSAGE_SIZE,
    LONG_CLIENT_MESSAGES,
    LONG_SERVER_MESSAGES,
    SERVER_SMALL_MESSAGE_LIMIT,
    ReceiveBuffer,
)
from pgwire.protocol.messages import *  # noqa: F403
from pgwire.protocol.messages import __all__ as _message_names

if TYPE_CHECKING:
    from pgwire.protocol.server import (
        MAX_STARTUP_PACKET,
        Authenticated,
        AuthenticationFailed,
        DirectTLSHandshake,
        ServerConnection,
        ServerEvent,
    )

#: The server role's names, imported on first use: a client never needs them.
_SERVER_NAMES = frozenset(
    {
        "MAX_STARTUP_PACKET",
        "Authenticated",
        "AuthenticationFailed",
        "DirectTLSHandshake",
        "ServerConnection",
        "ServerEvent",
    }
)

__all__ = [
    "CLIENT_SMALL_MESSAGE_LIMIT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "LONG_CLIENT_MESSAGES",
    "LONG_SERVER_MESSAGES",
    "MAX_PASSWORD_MESSAGE",
    "MAX_SASL_MESSAGE",
    "MAX_STARTUP_PACKET",
    "MIN_SERVER_NONCE",
    "NEED_DATA",
    "SERVER_SMALL_MESSAGE_LIMIT",
    "AuthMethod",
    "AuthRequirement",
    "Authenticated",
    "AuthenticationFailed",
    "ChannelBinding",
    "ClientConnection",
    "ConnectionClosed",
    "ConnectionState",
    "DirectTLSHandshake",
    "EncryptionResponse",
    "Event",
    "MD5Auth",
    "NeedData",
    "PasswordAuth",
    "Phase",
    "ReceiveBuffer",
    "ScramAuth",
    "ScramSecret",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
    "TrustAuth",
    "tls_server_end_point",
    *_message_names,
]


def __getattr__(name: str) -> Any:
    if name not in _SERVER_NAMES:
        raise AttributeError(f"module 'pgwire.protocol' has no attribute {name!r}")
    from pgwire.protocol import server

    value = getattr(server, name)
    globals()[name] = value
    return value
