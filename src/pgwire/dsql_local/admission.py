"""The local endpoint's bookkeeping of connections: DSQL's limits, and cancel requests.

:class:`Admission` counts the endpoint's open connections and those not yet authenticated,
and keeps the token bucket of new ones (refilled at ``connection_rate`` per second, holding
``connection_burst``); it says which rule of :mod:`pgwire.dsql_local.rules` a new
connection breaks, if any.  :class:`Cancels`
remembers the CancelRequests forwarded to PostgreSQL, so that a session can tell a client's
cancel from a lock timeout that lost its race (PostgreSQL reports both as a cancel "due to
user request").  No I/O; the clock is given.
"""

from __future__ import annotations

from collections.abc import Callable

from pgwire.dsql_local.rules import Limits, Rule, rule

__all__ = ["Admission", "Cancels", "HandshakePlace"]


class HandshakePlace:
    """A connection's place among those not yet authenticated, until :meth:`release`."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._held = True
        admission.unauthenticated += 1

    def release(self) -> None:
        """The connection authenticated, or ended: its place is free (once)."""
        if self._held:
            self._held = False
            self._admission.unauthenticated -= 1


class Admission:
    """The open connections and the connection rate of one endpoint."""

    def __init__(self, limits: Limits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self.monotonic = monotonic
        #: Client connections open now, and those of them not yet authenticated.
        self.open = 0
        self.unauthenticated = 0
        self._tokens = float(limits.connection_burst)
        self._filled = monotonic()

    def handshake(self) -> HandshakePlace | Rule:
        """A place for a connection that just arrived, or the rule that refuses it (too many
        connections not yet authenticated)."""
        if self.unauthenticated >= self.limits.max_unauthenticated:
            return rule("max-unauthenticated")
        return HandshakePlace(self)

    def refused(self) -> Rule | None:
        """The rule a connection that just sent its startup message breaks (it takes a token
        of the bucket when it breaks none)."""
        limits = self.limits
        if self.open > limits.max_connections:
            return rule("max-connections")
        now = self.monotonic()
        self._tokens = min(
            float(limits.connection_burst),
            self._tokens + (now - self._filled) * limits.connection_rate,
        )
        self._filled = now
        if self._tokens < 1:
            return rule("connection-rate")
        self._tokens -= 1
        return None


class Cancels:
    """CancelRequests forwarded to PostgreSQL and not yet answered, by server process id."""

    def __init__(self) -> None:
        self._pending: dict[int, int] = {}

    def note(self, process_id: int) -> None:
        """A client asked to cancel the query of server process ``process_id``."""
        self._pending[process_id] = self._pending.get(process_id, 0) + 1

    def checker(self, process_id: int) -> Callable[[], bool]:
        """For the session of ``process_id``: whether a client asked to cancel its query
        (each request answers once)."""

        def cancelled() -> bool:
            pending = self._pending.pop(process_id, 0)
            if pending > 1:
                self._pending[process_id] = pending - 1
            return pending > 0

        return cancelled
