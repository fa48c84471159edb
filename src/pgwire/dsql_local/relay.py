"""The proxy's relay as the local endpoint runs it, with DSQL's session rules in the middle.

:class:`EndpointRelay` is a :class:`pgwire.proxy.Relay` that lets only whole, decodable
client messages through, framed with the core's limits (see :class:`pgwire.trace.WireDecoder`):
anything else ends the session with FATAL 08P01, as PostgreSQL would, before a byte of it
reaches PostgreSQL.  :class:`DsqlRelay` is one whose every message, in both directions,
first goes through a :class:`~pgwire.dsql_local.session.DsqlSession`: what comes out (none,
one or several messages) then goes through the relay's faults (the injected conflicts of
:mod:`pgwire.dsql_local.occ`) as any relayed message does, and is traced the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgwire.dsql_local.session import DsqlSession
from pgwire.protocol import BackendMessage, ErrorResponse, FrontendMessage, Message
from pgwire.proxy import Fault, Relay
from pgwire.trace import Frame, WireDecoder

__all__ = ["DsqlRelay", "EndpointRelay"]


class EndpointRelay(Relay):
    """Relays one session of the local endpoint (see the module's docstring)."""

    async def _apply_faults(self, frame: Frame, pending: bytearray) -> bytes:
        if frame.direction == "F" and not isinstance(frame.message, FrontendMessage):
            # Never the bytes themselves: they may be anything, a password included.
            why = frame.error or "not a message"
            error = ErrorResponse(
                {
                    "S": "FATAL",
                    "V": "FATAL",
                    "C": "08P01",
                    "M": f"invalid message from the client: {why}",
                }
            )
            self.record(frame, "refused by the endpoint")
            await self.stop(error)
            return b""
        return await super()._apply_faults(frame, pending)


class DsqlRelay(EndpointRelay):
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
