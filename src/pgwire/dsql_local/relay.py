"""The proxy's relay with DSQL's session rules in the middle.

:class:`DsqlRelay` is a :class:`pgwire.proxy.Relay` whose every message, in both directions,
first goes through a :class:`~pgwire.dsql_local.session.DsqlSession`: what comes out (none,
one or several messages) then goes through the relay's faults (the injected conflicts of
:mod:`pgwire.dsql_local.occ`) as any relayed message does, and is traced the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgwire.dsql_local.session import DsqlSession
from pgwire.protocol import BackendMessage, FrontendMessage, Message
from pgwire.proxy import Fault, Relay
from pgwire.trace import Frame, WireDecoder

__all__ = ["DsqlRelay"]


class DsqlRelay(Relay):
    """Relays one session through ``session``'s rules (see the module's docstring)."""

    def __init__(
        self, session: DsqlSession, decoder: WireDecoder, *, faults: Sequence[Fault] = ()
    ) -> None:
        super().__init__(decoder, faults=faults)
        self.session = session

    async def _apply_faults(self, frame: Frame, pending: bytearray) -> bytes:
        message = frame.message
        out: Sequence[Message]
        if isinstance(message, FrontendMessage) and frame.direction == "F":
            out = self.session.from_client(message)
        elif isinstance(message, BackendMessage) and frame.direction == "B":
            out = self.session.from_server(message)
        else:
            return await super()._apply_faults(frame, pending)
        data = bytearray()
        for item in out:
            relayed = frame
            if item is not message:
                relayed = Frame(frame.direction, item.encode(), type(item).__name__, item)
            data += await super()._apply_faults(relayed, pending)
        return bytes(data)
