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

Faults (for tests): a :class:`Fault` matches messages by direction, name and predicate, and
drops, delays, replaces them, or cuts the connection.  Every fault is noted in the trace.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Literal, TextIO

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from pgwire.mockserver import ReplayStream
from pgwire.protocol import CancelRequest, GSSENCRequest, Message, SSLRequest, StartupMessage
from pgwire.trace import Direction, DumpWriter, Frame, TraceWriter, WireDecoder

__all__ = ["Fault", "RecordingProxy"]

FaultAction = Literal["drop", "delay", "cut", "replace"]


@dataclass
class Fault:
    """What to do to matching messages: ``drop``, ``delay`` (by ``seconds``), ``cut`` the
    connection (both sides, before the message is relayed), or ``replace`` it with
    ``replacement`` (a message or raw bytes).

    A message matches when its direction (``"F"`` client to server, ``"B"`` back) and name
    (``"Query"``, ``"DataRow"``, ...) match those given, and ``when(message)`` is true.
    The first ``skip`` matches pass untouched; then the fault applies ``times`` times
    (``None``: always).  Counts are shared by every connection of the proxy.
    """

    action: FaultAction
    message: str | None = None
    direction: Direction | None = None
    when: Callable[[Message], bool] | None = None
    seconds: float = 0.0
    replacement: Message | bytes | None = None
    skip: int = 0
    times: int | None = 1
    matched: int = field(default=0, init=False)
    applied: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.action == "replace" and self.replacement is None:
            raise ValueError("a replace fault needs a replacement")

    def applies(self, frame: Frame) -> bool:
        """Count a frame against the fault; whether the fault acts on it."""
        if self.direction is not None and frame.direction != self.direction:
            return False
        if self.message is not None and frame.name != self.message:
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
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        await listener.serve(self.handle)

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
        """Listen for the ``async with`` block (port 0: a free one); yield the port."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        bound = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, self.handle)
            yield bound
            group.cancel_scope.cancel()

    @contextmanager
    def running_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, backend: str = "asyncio"
    ) -> Iterator[int]:
        """Listen from a background thread for the ``with`` block; yield the port."""
        from anyio.from_thread import start_blocking_portal

        with (
            start_blocking_portal(backend) as portal,
            portal.wrap_async_context_manager(self.running(host, port)) as bound,
        ):
            yield bound

    # ----------------------------------------------------------------------------------
    # One connection
    # ----------------------------------------------------------------------------------

    def _record(self, frame: Frame, note: str = "") -> None:
        if self.trace is not None:
            self.trace.write(frame, note)

    def _dump(self, direction: Direction, data: bytes) -> None:
        if self.dump is not None and data:
            self.dump.write(direction, data)

    async def handle(self, client: anyio.abc.ByteStream) -> None:
        """Relay one client connection until either side closes."""
        self.connections += 1
        decoder = WireDecoder()
        server: anyio.abc.ByteStream | None = None
        try:
            client, first = await self._negotiate(client, decoder)
            if first is None:
                return
            server = await self._connect_upstream()
            await self._relay_frames(first, server)
            async with anyio.create_task_group() as group:
                group.start_soon(self._pump, client, server, decoder, "F", group.cancel_scope)
                group.start_soon(self._pump, server, client, decoder, "B", group.cancel_scope)
        except (_Cut, anyio.BrokenResourceError, anyio.EndOfStream, ssl.SSLError, OSError):
            pass
        finally:
            if server is not None:
                await server.aclose()
            await client.aclose()

    async def _negotiate(
        self, client: anyio.abc.ByteStream, decoder: WireDecoder
    ) -> tuple[anyio.abc.ByteStream, list[Frame] | None]:
        """Answer encryption requests here; return the stream and the startup frames."""
        while True:
            try:
                data = await client.receive()
            except anyio.EndOfStream:
                return client, None
            self._dump("F", data)
            frames = decoder.feed("F", data)
            for index, frame in enumerate(frames):
                if isinstance(frame.message, (StartupMessage, CancelRequest)):
                    return client, frames[index:]
                if frame.name == "(TLS handshake: direct TLS)":
                    if self.client_tls is None:
                        self._record(frame, "direct TLS refused: no client_tls; closing")
                        return client, None
                    self._record(frame, "TLS terminated by the proxy")
                    client = await self._wrap_client(ReplayStream(client, frame.raw))
                    decoder.tls_terminated()
                elif isinstance(frame.message, (SSLRequest, GSSENCRequest)):
                    self._record(frame, "answered by the proxy")
                    accept = isinstance(frame.message, SSLRequest) and self.client_tls is not None
                    answer = b"S" if accept else b"N"
                    self._dump("B", answer)
                    for reply in decoder.feed("B", answer):
                        self._record(reply, "sent by the proxy")
                    await client.send(answer)
                    if accept:
                        client = await self._wrap_client(client)
                        decoder.tls_terminated()
                else:
                    self._record(frame, "before the startup packet; closing")
                    return client, None

    async def _wrap_client(self, stream: anyio.abc.ByteStream) -> anyio.abc.ByteStream:
        assert self.client_tls is not None
        return await TLSStream.wrap(
            stream, server_side=True, ssl_context=self.client_tls, standard_compatible=False
        )

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

    async def _relay_frames(self, frames: list[Frame], target: anyio.abc.ByteStream) -> None:
        out = bytearray()
        for frame in frames:
            out += await self._apply_faults(frame, target, out)
        if out:
            await target.send(bytes(out))

    async def _apply_faults(
        self, frame: Frame, target: anyio.abc.ByteStream, pending: bytearray
    ) -> bytes:
        """The bytes to relay for ``frame`` after the faults; records it in the trace."""
        for fault in self.faults:
            if not fault.applies(frame):
                continue
            if fault.action == "drop":
                self._record(frame, "dropped by a fault")
                return b""
            if fault.action == "cut":
                self._record(frame, "connection cut by a fault")
                raise _Cut
            if fault.action == "delay":
                self._record(frame, f"delayed {fault.seconds}s by a fault")
                if pending:
                    await target.send(bytes(pending))
                    pending.clear()
                await anyio.sleep(fault.seconds)
                return frame.raw
            replacement = fault.replacement
            data = (
                replacement.encode()
                if isinstance(replacement, Message)
                else bytes(replacement or b"")
            )
            self._record(frame, f"replaced by a fault with {len(data)} bytes")
            return data
        self._record(frame)
        return frame.raw

    async def _pump(
        self,
        source: anyio.abc.ByteStream,
        target: anyio.abc.ByteStream,
        decoder: WireDecoder,
        direction: Direction,
        scope: anyio.CancelScope,
    ) -> None:
        try:
            while True:
                try:
                    data = await source.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
                self._dump(direction, data)
                await self._relay_frames(decoder.feed(direction, data), target)
        except (_Cut, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError, OSError):
            pass
        # Either side closing (or a cut) ends the whole relay.
        scope.cancel()
