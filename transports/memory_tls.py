"""TLS over any byte stream, run in memory with ``ssl.MemoryBIO`` and ``ssl.SSLObject``.

This is how PostgreSQL-level TLS (``sslmode`` as usual, the SSLRequest first) travels inside
a stream that is not a socket: a plain ``ws://`` WebSocket tunnel whose bridge does not
terminate TLS, or the browser's WebSocket. The handshake and the record layer run in
:class:`TLSMachine`, which does no I/O (``memory_tls_base.py``); :class:`MemoryTLSStream`
(blocking, ``memory_tls_sync.py``, generated) and :class:`AsyncMemoryTLSStream` (async, its
source ``memory_tls_async.py``) pump its bytes over an inner stream, and pass bytes through
untouched until ``start_tls`` has run. :class:`TunnelStream` and :class:`AsyncTunnelStream`
are the base of the WebSocket streams, which run it inside their own messages.

This module gathers them under one name. Moves bytes only: what TLS versions, ALPN and
verification apply is the context's business.
"""

from __future__ import annotations

from pgwire.transports.memory_tls_async import AsyncMemoryTLSStream, AsyncTunnelStream
from pgwire.transports.memory_tls_base import TLSMachine, TLSUnavailableError
from pgwire.transports.memory_tls_sync import MemoryTLSStream, TunnelStream

__all__ = [
    "AsyncMemoryTLSStream",
    "AsyncTunnelStream",
    "MemoryTLSStream",
    "TLSMachine",
    "TLSUnavailableError",
    "TunnelStream",
]
