"""pgwire.transports: streams that move bytes between pgwire and a server.

A transport knows sockets, TLS and WebSocket framing; it knows nothing of PostgreSQL
messages.  The drivers hand it the bytes the protocol core produced and feed the core
what it reads.
"""

from pgwire.transports.base import SyncStream, TLSInfo
from pgwire.transports.tcp import SocketStream, connect_tcp, connect_unix

__all__ = ["SocketStream", "SyncStream", "TLSInfo", "connect_tcp", "connect_unix"]
