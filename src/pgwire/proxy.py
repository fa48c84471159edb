"""A recording proxy between real PostgreSQL clients and a real server, with fault injection.

Design: a byte-level relay that decodes both directions with the core's decoders
(:class:`pgwire.trace.WireDecoder`), not a client role facing a server role.  Terminating
the session on both sides would need the user's password and would break SCRAM, whose proofs
bind the client's and the server's nonces (and, with SCRAM-SHA-256-PLUS, the server's
certificate): the proxy would have to re-authenticate, and the client would see different
nonces and messages than the server sent.  Relaying every message's exact bytes keeps the
conversation unchanged, authentication included, while each message is still decoded,
traced, and open to faults one whole message at a time.

TLS: by default the proxy answers the client's SSLRequest (and GSSENCRequest) with ``N``
itself, so the client goes on in plaintext (``sslmode=prefer`` or ``disable``; a client that
requires TLS gives up).  With ``client_tls`` it answers ``S`` and terminates TLS from the
client (direct TLS too); with ``server_tls`` it opens TLS to the server after its own
SSLRequest.  Terminated TLS breaks SCRAM-SHA-256-PLUS channel binding (the client binds to
the proxy's certificate), as it would for any man in the middle: use SCRAM-SHA-256 through it.

Faults (for tests): a :class:`Fault` matches messages by direction, name, predicate and the
session's transaction status, and drops, delays, replaces them, fails a query, or cuts the
connection.  Every fault is noted in the trace.

:class:`Relay` is the relay of one session, on its own: :class:`RecordingProxy` runs one per
client from the startup packet on; the local DSQL endpoint (:mod:`pgwire.dsql_local`) runs
one after authenticating the client itself.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, TextIO

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from pgwire.listener import CONNECTION_LOST, accept_tls, in_thread, running_tcp, serve_tcp
from pgwire.protocol import (
    BackendMessage,
    CancelRequest,
    CommandComplete,
    ErrorResponse,
    GSSENCRequest,
    Message,
    Query,
    ReadyForQuery,
    SSLRequest,
    StartupMessage,
    Sync,
)
from pgwire.trace import Direction, DumpWriter, Frame, TraceWriter, WireDecoder

__all__ = ["Fault", "RecordingProxy", "Relay"]

logger = logging.getLogger("pgwire.proxy")

FaultAction = Literal["drop", "delay", "cut", "replace", "fail"]
TransactionStatus = Literal["I", "T", "E"]
#: What a failed query is turned into on its way to the server.
_ROLLBACK = Query("ROLLBACK")


@dataclass
class Fault:
    """What to do to matching messages: ``drop``, ``delay`` (by ``seconds``), ``cut`` the
    connection (both sides, before the message is relayed), ``replace`` it with
    ``replacement`` (a message or raw bytes), or ``fail`` a Query with ``error``.

    ``fail`` is how a COMMIT loses a serialization conflict: the server gets ``ROLLBACK``
    instead of the query, and the client gets ``error`` instead of ROLLBACK's
    CommandComplete, then ReadyForQuery: the transaction is gone, as PostgreSQL leaves it.

    A message matches when its direction (``"F"`` client to server, ``"B"`` back) and name
    (``"Query"``, ``"DataRow"``, ...) match those given, ``when(message)`` is true, and the
    session's transaction status (``"I"``, ``"T"``, ``"E"``, as the server's last
    ReadyForQuery told) is ``status``, if given.  The first ``skip`` matches pass untouched;
    then the fault applies ``times`` times (``None``: always).  Counts are shared by every
    connection of the proxy.
    """

    action: FaultAction
    message: str | None = None
    direction: Direction | None = None
    when: Callable[[Message], bool] | None = None
    seconds: float = 0.0
    replacement: Message | bytes | None = None
    skip: int = 0
    times: int | None = 1
    status: TransactionStatus | None = None
    error: ErrorResponse | None = None
    matched: int = field(default=0, init=False)
    applied: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.action == "replace" and self.replacement is None:
            raise ValueError("a replace fault needs a replacement")
        if self.action == "fail" and (
            self.error is None or self.message != "Query" or self.direction == "B"
        ):
            raise ValueError(
                "a fail fault fails the client's Query messages with an error: give "
                "message='Query' and error=ErrorResponse(...)"
            )

    @property
    def remaining(self) -> int | None:
        """How many more times the fault will apply (``None``: always)."""
        return None if self.times is None else self.times - self.applied

    def applies(self, frame: Frame, status: TransactionStatus = "I") -> bool:
        """Count a frame against the fault; whether the fault acts on it.  ``status``: the
        session's transaction status now."""
        if self.direction is not None and frame.direction != self.direction:
            return False
        if self.message is not None and frame.name != self.message:
            return False
        if self.status is not None and status != self.status:
            return False
        if self.when is not None and (frame.message is None or not self.when(frame.message)):
            return False
        self.matched += 1
        if self.matched <= self.skip or (self.times is not None and self.applied >= self.times):
            return False
        self.applied += 1
        return True


class _Cut(Exception):
    """A cut fault fired: both connections close."""


#: How a relay ends: a cut fault, or either connection lost (see CONNECTION_LOST).
_RELAY_ENDED: tuple[type[BaseException], ...] = (_Cut, *CONNECTION_LOST)


class Relay:
    """Relays one session between a client and a server, whole messages at a time.

    ``decoder`` cuts both directions into messages (a fresh :class:`WireDecoder` by default:
    from the startup packet on; ``WireDecoder(started=True)`` for a session already past
    authentication).  Each message is written to ``trace`` and put through ``faults`` (the
    list is read as it is at each message, so faults added later apply too); the raw bytes
    go to ``dump``.  The relay follows the transaction status and which ReadyForQuery
    answers which request, for ``status`` and ``fail`` faults.  Once :meth:`run` returns,
    :attr:`ended` says what ended the relay.
    """

    def __init__(
        self,
        decoder: WireDecoder | None = None,
        *,
        faults: Sequence[Fault] = (),
        trace: TraceWriter | None = None,
        dump: DumpWriter | None = None,
    ) -> None:
        self.decoder = decoder or WireDecoder()
        self.faults = faults
        self.trace = trace
        self.dump = dump
        #: The transaction status, as the server's last ReadyForQuery told.
        self.status: TransactionStatus = "I"
        # Per request (Query or Sync) awaiting its ReadyForQuery: the error to report
        # instead of its CommandComplete, if a fail fault failed it.
        self._owed: deque[ErrorResponse | None] = deque()
        # Writes to one side never interleave (a fault's delay, a farewell message).
        self._locks = {"F": anyio.Lock(), "B": anyio.Lock()}
        self._targets: dict[Direction, anyio.abc.ByteStream] = {}
        self._scope: anyio.CancelScope | None = None
        #: What ended the relay (the first cause), for a log line: a side that closed or
        #: was lost, a cut fault, or :meth:`stop`.
        self.ended: str | None = None

    def _end(self, why: str) -> None:
        if self.ended is None:
            self.ended = why

    def record(self, frame: Frame, note: str = "") -> None:
        """Write one frame to the trace, if any."""
        if self.trace is not None:
            self.trace.write(frame, note)

    def record_bytes(self, direction: Direction, data: bytes) -> None:
        """Write the bytes received in ``direction`` to the dump, if any."""
        if self.dump is not None and data:
            self.dump.write(direction, data)

    async def run(
        self,
        client: anyio.abc.ByteStream,
        server: anyio.abc.ByteStream,
        first: Sequence[Frame] = (),
    ) -> None:
        """Relay ``first`` (client frames read already) to the server, then both ways until
        either side closes, a fault cuts the connection, or :meth:`stop` is called."""
        self._targets = {"F": server, "B": client}
        with anyio.CancelScope() as self._scope:
            try:
                await self._relay_frames("F", first)
                async with anyio.create_task_group() as group:
                    group.start_soon(self._pump, client, "F")
                    group.start_soon(self._pump, server, "B")
            except _RELAY_ENDED as exc:
                self._end(_why(exc, "F"))

    async def stop(self, farewell: BackendMessage | None = None) -> None:
        """End the relay (while :meth:`run` runs); the client gets ``farewell`` first,
        between two whole messages."""
        client = self._targets.get("B")
        said = f": {farewell.fields.get('M', '')}" if isinstance(farewell, ErrorResponse) else ""
        self._end(f"stopped{said}")
        if farewell is not None and client is not None:
            data = farewell.encode()
            self.record(Frame("B", data, type(farewell).__name__, farewell), "sent by the relay")
            async with self._locks["B"]:
                with contextlib.suppress(*CONNECTION_LOST):
                    await client.send(data)
        if self._scope is not None:
            self._scope.cancel()

    async def _pump(self, source: anyio.abc.ByteStream, direction: Direction) -> None:
        try:
            while True:
                data = await source.receive()
                self.record_bytes(direction, data)
                await self._relay_frames(direction, self.decoder.feed(direction, data))
        except _RELAY_ENDED as exc:
            self._end(_why(exc, direction))
        # Either side closing (or a cut) ends the whole relay.
        assert self._scope is not None
        self._scope.cancel()

    async def _send(self, direction: Direction, data: bytes) -> None:
        async with self._locks[direction]:
            await self._targets[direction].send(data)

    async def _relay_frames(self, direction: Direction, frames: Sequence[Frame]) -> None:
        out = bytearray()
        for frame in frames:
            out += await self._apply_faults(frame, out)
        if out:
            await self._send(direction, bytes(out))

    async def _apply_faults(self, frame: Frame, pending: bytearray) -> bytes:
        """The bytes to relay for ``frame`` after the faults; records it in the trace."""
        if frame.direction == "B":
            failed = self._follow_answer(frame)
            if failed is not None:
                self.record(frame, "the failed query's answer, replaced by its error")
                return failed.encode()
        data, relayed, error = await self._fault(frame, pending)
        if frame.direction == "F" and isinstance(relayed, Query | Sync):
            # A ReadyForQuery will answer it.
            self._owed.append(error)
        return data

    async def _fault(
        self, frame: Frame, pending: bytearray
    ) -> tuple[bytes, Message | None, ErrorResponse | None]:
        """What the first fault that applies makes of ``frame``: the bytes to relay, the
        message they are, and the error a failed query is to report."""
        for fault in self.faults:
            if not fault.applies(frame, self.status):
                continue
            if fault.action == "drop":
                self.record(frame, "dropped by a fault")
                return b"", None, None
            if fault.action == "cut":
                self.record(frame, "connection cut by a fault")
                raise _Cut
            if fault.action == "delay":
                self.record(frame, f"delayed {fault.seconds}s by a fault")
                if pending:
                    await self._send(frame.direction, bytes(pending))
                    pending.clear()
                await anyio.sleep(fault.seconds)
                return frame.raw, frame.message, None
            if fault.action == "fail":
                self.record(frame, "failed by a fault: ROLLBACK sent instead")
                return _ROLLBACK.encode(), _ROLLBACK, fault.error
            replacement = fault.replacement
            if isinstance(replacement, Message):
                data = replacement.encode()
                self.record(frame, f"replaced by a fault with {len(data)} bytes")
                return data, replacement, None
            data = bytes(replacement or b"")
            self.record(frame, f"replaced by a fault with {len(data)} bytes")
            return data, None, None
        self.record(frame)
        return frame.raw, frame.message, None

    def _follow_answer(self, frame: Frame) -> ErrorResponse | None:
        """Follow a server message; the error that replaces it, if it answers a failed query."""
        message = frame.message
        if isinstance(message, ReadyForQuery):
            self.status = message.status
            if self._owed:
                self._owed.popleft()
        elif isinstance(message, CommandComplete) and self._owed:
            return self._owed[0]
        return None


def _why(exc: BaseException, direction: Direction) -> str:
    """What an exception that ended the relay of ``direction`` means, for
    :attr:`Relay.ended`."""
    if isinstance(exc, _Cut):
        return "a cut fault"
    source = "the client" if direction == "F" else "the server"
    if isinstance(exc, anyio.EndOfStream):
        return f"{source} closed the connection"
    return f"a connection was lost relaying what {source} sent ({type(exc).__name__}: {exc})"


class RecordingProxy:
    """Relays clients to the server at ``host:port`` (or the Unix socket ``unix_path``).

    ``trace`` receives one line per message (see :mod:`pgwire.trace`); ``dump`` receives the
    raw dump format, which ``python -m pgwire trace`` decodes later.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5432,
        *,
        unix_path: str | None = None,
        trace: TextIO | None = None,
        dump: DumpWriter | None = None,
        faults: Sequence[Fault] = (),
        client_tls: ssl.SSLContext | None = None,
        server_tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port
        self.unix_path = unix_path
        self.trace = TraceWriter(trace, clock=clock) if trace is not None else None
        self.dump = dump
        self.faults = list(faults)
        self.client_tls = client_tls
        self.server_tls = server_tls
        self.server_hostname = server_hostname or host
        #: How many client connections were relayed.
        self.connections = 0

    # ----------------------------------------------------------------------------------
    # Serving
    # ----------------------------------------------------------------------------------

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 6432) -> None:
        """Listen on ``host:port`` until cancelled."""
        await serve_tcp(self.handle, host, port)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
        """Listen for the ``async with`` block (port 0: a free one); yield the port."""
        async with running_tcp(self.handle, host, port) as bound:
            yield bound

    @contextlib.contextmanager
    def running_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Iterator[int]:
        """Listen from a background thread for the ``with`` block; yield the port."""
        with in_thread(self.running(host, port), backend) as bound:
            yield bound

    # ----------------------------------------------------------------------------------
    # One connection
    # ----------------------------------------------------------------------------------

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Relay one client connection until either side closes."""
        self.connections += 1
        relay = Relay(faults=self.faults, trace=self.trace, dump=self.dump)
        server: anyio.abc.ByteStream | None = None
        try:
            client, first = await self._negotiate(client, relay)
            if first is None:
                return
            server = await self._connect_upstream()
            await relay.run(client, server, first)
            logger.debug("relayed connection %d ended: %s", self.connections, relay.ended)
        except CONNECTION_LOST as exc:
            logger.debug("connection %d ended: %r", self.connections, exc)
        finally:
            if server is not None:
                await server.aclose()
            await client.aclose()

    async def _negotiate(
        self, client: anyio.abc.ByteStream, relay: Relay
    ) -> tuple[anyio.abc.ByteStream, list[Frame] | None]:
        """Answer encryption requests here; return the stream and the startup frames."""
        decoder = relay.decoder
        while True:
            try:
                data = await client.receive()
            except anyio.EndOfStream:
                return client, None
            relay.record_bytes("F", data)
            frames = decoder.feed("F", data)
            for index, frame in enumerate(frames):
                if isinstance(frame.message, (StartupMessage, CancelRequest)):
                    return client, frames[index:]
                if frame.name == "(TLS handshake: direct TLS)":
                    if self.client_tls is None:
                        relay.record(frame, "direct TLS refused: no client_tls; closing")
                        return client, None
                    relay.record(frame, "TLS terminated by the proxy")
                    client = await accept_tls(client, self.client_tls, frame.raw)
                    decoder.tls_terminated()
                elif isinstance(frame.message, (SSLRequest, GSSENCRequest)):
                    relay.record(frame, "answered by the proxy")
                    accept = isinstance(frame.message, SSLRequest) and self.client_tls is not None
                    answer = b"S" if accept else b"N"
                    relay.record_bytes("B", answer)
                    for reply in decoder.feed("B", answer):
                        relay.record(reply, "sent by the proxy")
                    await client.send(answer)
                    if accept:
                        assert self.client_tls is not None
                        client = await accept_tls(client, self.client_tls)
                        decoder.tls_terminated()
                else:
                    relay.record(frame, "before the startup packet; closing")
                    return client, None

    async def _connect_upstream(self) -> anyio.abc.ByteStream:
        stream: anyio.abc.ByteStream
        if self.unix_path is not None:
            stream = await anyio.connect_unix(self.unix_path)
        else:
            stream = await anyio.connect_tcp(self.host, self.port)
        if self.server_tls is None:
            return stream
        await stream.send(SSLRequest().encode())
        answer = await stream.receive(1)
        if answer != b"S":
            await stream.aclose()
            raise OSError(f"the server refused TLS (answered {answer!r} to SSLRequest)")
        return await TLSStream.wrap(
            stream,
            server_side=False,
            hostname=self.server_hostname,
            ssl_context=self.server_tls,
            standard_compatible=False,
        )
