"""The stream interfaces every transport implements.

A stream moves bytes, in order, to and from one peer.  It never looks inside them.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SyncStream"]


class SyncStream(Protocol):
    """A blocking byte stream."""

    def send_all(self, data: bytes) -> None:
        """Write every byte of ``data``, or raise ``OSError``."""

    def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Return at least one byte, or ``b""`` once the peer has closed its side."""

    def set_timeout(self, seconds: float | None) -> None:
        """Bound every later send and receive (``None``: wait forever)."""

    def close(self) -> None:
        """Close the stream; closing twice is harmless."""
