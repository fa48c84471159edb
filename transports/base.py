"""The stream interfaces every transport implements.

A stream moves bytes, in order, to and from one peer.  It never looks inside them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SyncStream", "TLSInfo"]


@dataclass(frozen=True)
class TLSInfo:
    """What a finished TLS handshake established."""

    #: The peer's certificate, DER-encoded (``None`` if it sent none).
    peer_certificate: bytes | None
    #: The ALPN protocol the peer selected (``None``: it selected none).
    alpn_protocol: str | None
    #: The TLS version in use, e.g. ``TLSv1.3``.
    version: str | None


class SyncStream(Protocol):
    """A blocking byte stream."""

    def send_all(self, data: bytes) -> None:
        """Write every byte of ``data``, or raise ``OSError``."""

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Return at least one byte, or ``b""`` once the peer has closed its side."""

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later send and receive (``None``: wait forever)."""

    def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run a TLS client handshake over the stream; later bytes travel encrypted.

        ``server_hostname`` is checked against the certificate when the context says so, and
        sent as SNI unless it is an IP address. Raises ``ssl.SSLError`` (an ``OSError``)."""

    def close(self) -> None:
        """Close the stream; closing twice is harmless."""
