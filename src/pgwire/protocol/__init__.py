"""pgwire's sans-IO protocol core: messages, framing and the state machines.

Nothing in this package does I/O, reads the clock or draws randomness: bytes go in with
``receive_data()``, events come out of ``next_event()``, and ``send()`` returns the bytes
to write.  It imports only the standard library, ``pgwire.errors`` and (for SCRAM) ``scramp``.
"""

from pgwire.protocol.client import (
    NEED_DATA,
    AuthRequirement,
    ChannelBinding,
    ClientConnection,
    ConnectionClosed,
    ConnectionState,
    EncryptionResponse,
    Event,
    NeedData,
    Phase,
    tls_server_end_point,
)
from pgwire.protocol.framing import DEFAULT_MAX_MESSAGE_SIZE, ReceiveBuffer
from pgwire.protocol.messages import *  # noqa: F403
from pgwire.protocol.messages import __all__ as _message_names
from pgwire.protocol.server import (
    Authenticated,
    AuthenticationFailed,
    AuthMethod,
    DirectTLSHandshake,
    MD5Auth,
    PasswordAuth,
    ScramAuth,
    ScramSecret,
    ServerConnection,
    ServerEvent,
    ServerState,
    TrustAuth,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "NEED_DATA",
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
