"""A TCP or Unix-domain stream built directly on an asyncio transport (asyncio and uvloop).

The async driver runs on anyio, but on an asyncio event loop the anyio socket stream costs a
good part of every query (checkpoints, resource guards, pausing and resuming the reader on
every receive). :class:`AsyncioStream` is the ``AsyncStream`` of ``async_tcp.py`` made of an
``asyncio.BufferedProtocol`` (``trio_stream.py`` is its counterpart on trio):

* The transport reads into a buffer the stream keeps (``get_buffer``), handed on in chunks
  of at most 64 KiB, which ``receive_some`` returns whole, uncopied. A plain ``Protocol``
  gets a fresh 256 KiB ``bytes`` per read, shrunk to what arrived: above malloc's mmap
  threshold, so every large answer paid an mmap, page faults, an mremap and a munmap
  (about twice the client CPU of the blocking driver for 100 kB answers). The buffer starts
  at 16 KiB (an idle connection keeps little) and grows, up to 256 KiB, each time a read
  fills it.

* ``send_all`` hands every byte to ``transport.write()`` before its first suspension point,
  and waits only while the transport has paused writing (its buffer is full). A cancellation
  therefore never cuts a write halfway (:attr:`AsyncioStream.atomic_send`).
* ``receive_some`` returns buffered bytes without suspending; otherwise it waits on a future
  that ``data_received``, ``eof_received`` and ``connection_lost`` complete. The bytes live in
  the stream's buffer, never in the future, so a cancelled wait loses nothing. Reading pauses
  while more than 1 MiB waits unread.
* ``start_tls`` is ``loop.start_tls``.

Errors are ``OSError`` subclasses, as in ``async_tcp.py``.  Only moves bytes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections import deque
from ipaddress import ip_address
from typing import cast

import anyio

from pgwire.transports.base import TLSInfo

__all__ = ["AsyncioStream", "connect_tcp", "connect_unix"]

#: Reading pauses while more than this many received bytes wait unread ...
_PAUSE_ABOVE = 1 << 20
#: ... and resumes once no more than this many do.
_RESUME_BELOW = 1 << 18
#: The buffer the transport reads into: its size at first, and the most it grows to ...
_READ_BUFFER_START = 1 << 14
_READ_BUFFER_MAX = 1 << 18
#: ... and the most each chunk taken from it holds: ``receive_some``'s default, so that a
#: chunk is returned as it is, and below malloc's (initial) mmap threshold.
_CHUNK_SIZE = 1 << 16
#: The delay before the next address is tried alongside (happy eyeballs, as in anyio).
_HAPPY_EYEBALLS_DELAY = 0.25


class AsyncioStream(asyncio.BufferedProtocol):
    """A connected stream on an asyncio (or uvloop) transport; also the transport's protocol.

    Use :func:`connect_tcp` or :func:`connect_unix` to open one.
    """

    __slots__ = (
        "_chunks",
        "_closed",
        "_drain_waiters",
        "_eof",
        "_error",
        "_loop",
        "_lost",
        "_read_buffer",
        "_reading_paused",
        "_size",
        "_tls",
        "_waiter",
        "_write_paused",
        "transport",
    )

    #: ``send_all`` hands all of its bytes to the transport before it first suspends: a
    #: cancellation can stop it waiting for the buffer to drain, never cut the bytes short.
    atomic_send = True

    #: The transport (the TLS transport once :meth:`start_tls` has run).
    transport: asyncio.Transport

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        #: Received bytes not read yet (the first may be a view on the rest of a chunk).
        self._chunks: deque[bytes | memoryview] = deque()
        self._size = 0
        #: What the transport reads into (see get_buffer), made on the first read.
        self._read_buffer: memoryview | None = None
        #: The task waiting in ``receive_some`` (its future), if any.
        self._waiter: asyncio.Future[None] | None = None
        #: Tasks waiting in ``send_all`` for the transport to resume writing.
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._reading_paused = False
        self._write_paused = False
        #: The peer closed its side.
        self._eof = False
        #: The transport is gone (``connection_lost``), with ``_error`` if it failed.
        self._lost = False
        self._error: BaseException | None = None
        self._closed = False
        self._tls = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "lost" if self._lost else "open"
        return f"<AsyncioStream {state}{' tls' if self._tls else ''}>"

    # ----------------------------------------------------------------------------------
    # asyncio.Protocol: called by the transport
    # ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small protocol messages must leave at once (asyncio and uvloop set it too).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer = self._read_buffer
        if buffer is None:
            buffer = self._read_buffer = memoryview(bytearray(_READ_BUFFER_START))
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        buffer = self._read_buffer
        assert buffer is not None  # the transport asked for it first
        if nbytes <= _CHUNK_SIZE:
            self.data_received(bytes(buffer[:nbytes]))
        else:
            for start in range(0, nbytes, _CHUNK_SIZE):
                self.data_received(bytes(buffer[start : min(start + _CHUNK_SIZE, nbytes)]))
        if nbytes == len(buffer) and nbytes < _READ_BUFFER_MAX:
            # A full read: more is likely waiting, and answers this large come again.
            # (The transport may still hold the old buffer: a new one, not a resize.)
            self._read_buffer = memoryview(bytearray(min(4 * nbytes, _READ_BUFFER_MAX)))

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _PAUSE_ABOVE and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> None:
        # Returning None lets the transport close itself (connection_lost follows).
        self._eof = True
        self._wake_reader()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._error = exc
        self._wake_reader()
        self._wake_writers()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writers()

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writers(self) -> None:
        waiters = self._drain_waiters
        self._drain_waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ----------------------------------------------------------------------------------
    # The stream
    # ----------------------------------------------------------------------------------

    async def send_all(self, data: bytes) -> None:
        """Write all of ``data``: hand it to the transport at once, then wait while the
        transport's buffer is too full."""
        if self._closed or self._lost or self._eof:
            self._raise_unwritable()
            return
        try:
            self.transport.write(data)
        except RuntimeError as exc:  # uvloop: the handle closed under us
            raise BrokenPipeError(f"the connection is closed: {exc}") from None
        while self._write_paused:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._drain_waiters:
                    self._drain_waiters.remove(waiter)
            if self._closed or self._lost:
                self._raise_unwritable()
                return

    def _raise_unwritable(self) -> None:
        """Fail a write on a closed or lost connection. After the peer closed the connection
        cleanly the bytes are dropped as on a half-closed socket (and as anyio does): the
        reader then finds what the peer said last, then the end of the stream."""
        if self._closed:
            raise ConnectionResetError("the stream is closed")
        error = self._error
        if error is not None:
            raise ConnectionResetError(f"the connection was lost: {_describe(error)}") from error

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes``; ``b""`` means the peer closed."""
        chunks = self._chunks
        while not chunks:
            if self._closed:
                raise ConnectionResetError("the stream is closed")
            if self._lost or self._eof:
                error = self._error
                if error is not None:
                    raise ConnectionResetError(
                        f"the connection was lost: {_describe(error)}"
                    ) from error
                return b""
            if self._waiter is not None:
                raise RuntimeError("another task is already reading from this stream")
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        data = chunks.popleft()
        size = len(data)
        if size > max_bytes:
            view = data if isinstance(data, memoryview) else memoryview(data)
            chunks.appendleft(view[max_bytes:])
            data = view[:max_bytes]
            size = max_bytes
        elif chunks and size < max_bytes:
            parts = [data]
            while chunks and size < max_bytes:
                more = chunks.popleft()
                room = max_bytes - size
                if len(more) > room:
                    view = more if isinstance(more, memoryview) else memoryview(more)
                    chunks.appendleft(view[room:])
                    more = view[:room]
                parts.append(more)
                size += len(more)
            data = b"".join(parts)
        self._size -= size
        if self._reading_paused and self._size <= _RESUME_BELOW and not self._lost:
            self._reading_paused = False
            self.transport.resume_reading()
        return data if type(data) is bytes else bytes(data)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run the TLS handshake (SNI is sent for host names, never for IP addresses)."""
        if self._closed or self._lost:
            raise ConnectionResetError("the stream is closed")
        if self._chunks:
            # Bytes that came before the handshake did not come through TLS: take none.
            raise ssl.SSLError("the peer sent unencrypted data before the TLS handshake")
        transport = self.transport
        try:
            tls = await self._loop.start_tls(
                transport, self, context, server_side=False, server_hostname=server_hostname
            )
        except ConnectionResetError as exc:
            self._handshake_failed(exc)
            if exc.errno is None:  # asyncio's word for the peer's EOF in the handshake
                raise ssl.SSLEOFError(
                    "the peer closed the connection during the TLS handshake"
                ) from None
            raise ConnectionResetError(
                f"the stream broke during the TLS handshake: {_describe(exc)}"
            ) from None
        except BaseException as exc:
            # loop.start_tls has closed the transport; this stream can do nothing more.
            self._handshake_failed(exc if isinstance(exc, Exception) else None)
            raise
        if tls is None:  # the connection went away as the handshake finished
            self._handshake_failed(None)
            raise ssl.SSLEOFError("the peer closed the connection during the TLS handshake")
        self.transport = tls
        self._tls = True
        # The TLS transport starts with writing running and its own flow control.
        self._write_paused = False
        self._reading_paused = False
        tls_object = tls.get_extra_info("ssl_object")
        return TLSInfo(
            tls_object.getpeercert(binary_form=True),
            tls_object.selected_alpn_protocol(),
            tls_object.version(),
        )

    def _handshake_failed(self, exc: Exception | None) -> None:
        self.transport.close()
        self._lost = True
        self._error = exc if exc is not None else ConnectionResetError("TLS handshake failed")
        self._wake_writers()

    async def close(self) -> None:
        """Close the stream; closing twice is harmless. What is still buffered for sending
        gets one turn of the event loop to leave (as anyio's streams do), then the
        connection is dropped."""
        if self._closed:
            return
        self._closed = True
        self._chunks.clear()
        self._size = 0
        self._wake_reader()
        self._wake_writers()
        if not self._lost:
            transport = self.transport
            transport.close()
            self._loop.call_soon(transport.abort)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def connect_tcp(host: str, port: int) -> AsyncioStream:
    """Connect to ``host:port`` on the running asyncio loop, trying every resolved address
    the way ``anyio.connect_tcp`` does (happy eyeballs: IPv6 first, then IPv4, a new attempt
    every 0.25 s while earlier ones still run), with the same errors: ``OSError("All
    connection attempts failed")`` caused by the attempts' errors."""
    loop = asyncio.get_running_loop()
    try:
        literal = ip_address(host)
    except ValueError:
        targets: list[str] = []
        v6_found = v4_found = False
        for family, *_, sockaddr in await anyio.getaddrinfo(
            host, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM
        ):
            target = str(sockaddr[0])
            if family == socket.AF_INET6 and not v6_found:
                v6_found = True
                targets.insert(0, target)
            elif family == socket.AF_INET and not v4_found and v6_found:
                v4_found = True
                targets.insert(1, target)
            else:
                targets.append(target)
    else:
        targets = [literal.compressed]

    connected: AsyncioStream | None = None
    errors: list[OSError] = []

    async def attempt(address: str, done: anyio.Event) -> None:
        nonlocal connected
        stream = AsyncioStream(loop)
        try:
            await loop.create_connection(lambda: stream, address, port)
        except OSError as exc:
            errors.append(exc)
            return
        else:
            if connected is None:
                connected = stream
                group.cancel_scope.cancel()
            else:
                await stream.close()
        finally:
            done.set()

    try:
        async with anyio.create_task_group() as group:
            for address in targets:
                done = anyio.Event()
                group.start_soon(attempt, address, done)
                with anyio.move_on_after(_HAPPY_EYEBALLS_DELAY):
                    await done.wait()
        if connected is None:
            raise OSError("All connection attempts failed") from _cause(errors)
    except BaseException:
        if connected is not None:
            await connected.close()
        raise
    finally:
        errors.clear()
    return connected


def _cause(errors: list[OSError]) -> BaseException:
    """What anyio gives as the cause: the error, or a group of them (Python 3.11+)."""
    if len(errors) > 1 and sys.version_info >= (3, 11):
        return ExceptionGroup("multiple connection attempts failed", errors)  # noqa: F821
    return errors[0]


async def connect_unix(path: str) -> AsyncioStream:
    """Connect to the Unix-domain socket at ``path`` on the running asyncio loop."""
    loop = asyncio.get_running_loop()
    stream = AsyncioStream(loop)
    await loop.create_unix_connection(lambda: stream, path)
    return stream
