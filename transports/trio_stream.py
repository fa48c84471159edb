"""A TCP or Unix-domain stream built directly on a non-blocking socket and trio's I/O waits.

The async driver runs on anyio, but on trio the anyio socket stream costs a good part of
every query (a cancel scope around each write, checkpoints, resource guards), and its
``send_all`` can be cancelled with part of the bytes written, so the driver had to shield
every write. :class:`TrioStream` is the ``AsyncStream`` of ``async_tcp.py`` made of the
socket itself (``asyncio_stream.py`` is its counterpart on asyncio):

* ``send_all`` writes what the kernel takes at once; the rest joins an output buffer that
  later calls keep writing, ahead of any later bytes. Its bytes are committed before it
  first waits: a cancellation can stop it waiting for the socket, never cut the bytes short
  (:attr:`TrioStream.atomic_send`). ``receive_some`` finishes writing that buffer first
  (the peer may be waiting for the rest of a message before it answers).
* ``receive_some`` returns what the socket has without waiting; otherwise it waits until the
  socket is readable. A cancelled wait loses nothing: the bytes stay in the kernel.
* ``start_tls`` runs TLS through :class:`~pgwire.transports.memory_tls_base.TLSMachine`
  (``ssl.MemoryBIO``, as anyio's TLS stream does); the ciphertext goes through the same
  output buffer, so a write under TLS is as atomic.

Errors are ``OSError`` subclasses, as in ``async_tcp.py``. Only moves bytes; imports trio,
so only :func:`~pgwire.transports.async_tcp.connect_tcp_async` on trio imports this module.
"""

from __future__ import annotations

import socket
import ssl

import anyio
import anyio.abc
import trio

from pgwire.transports.base import TLSInfo
from pgwire.transports.memory_tls_base import TLSMachine

__all__ = ["TrioStream", "connect_tcp", "connect_unix"]

#: What one receive asks of the kernel (ciphertext, under TLS).
_RECEIVE_SIZE = 1 << 16


class TrioStream:
    """A connected stream on a non-blocking socket, for trio.

    Use :func:`connect_tcp` or :func:`connect_unix` to open one.
    """

    __slots__ = ("_closed", "_pending", "_sock", "_tls")

    #: ``send_all`` commits all of its bytes before it first waits: a cancellation can stop
    #: it waiting for the socket, never cut the bytes short.
    atomic_send = True

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        #: Bytes committed by ``send_all`` and not yet taken by the kernel.
        self._pending = bytearray()
        self._tls: TLSMachine | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<TrioStream {state}{' tls' if self._tls else ''}>"

    @property
    def pending(self) -> int:
        """How many committed bytes wait for the kernel (after a cancelled ``send_all``)."""
        return len(self._pending)

    async def send_all(self, data: bytes) -> None:
        """Write all of ``data`` (encrypted once TLS runs): commit it at once, then wait while
        the socket cannot take the rest."""
        if self._closed:
            raise ConnectionResetError("the stream is closed")
        tls = self._tls
        if tls is not None:
            tls.encrypt(data)
            data = tls.data_to_send()
        if self._pending:
            self._pending += data
        else:
            sent = self._send_now(data)
            if sent == len(data):
                return
            self._pending += memoryview(data)[sent:]
        await self._flush()

    def _send_now(self, data: bytes | bytearray | memoryview) -> int:
        """What the kernel takes of ``data`` without waiting."""
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise ConnectionResetError(f"the connection was lost: {_describe(exc)}") from None

    async def _flush(self) -> None:
        """Write the output buffer; a cancellation leaves the rest there, to go first later."""
        pending = self._pending
        while pending:
            try:
                await trio.lowlevel.wait_writable(self._sock)
            except trio.ClosedResourceError:
                raise ConnectionResetError("the stream is closed") from None
            if self._closed:
                raise ConnectionResetError("the stream is closed")
            del pending[: self._send_now(pending)]

    async def receive_some(self, max_bytes: int = 65536) -> bytes:
        """Read up to ``max_bytes`` (decrypted once TLS runs); ``b""`` means the peer closed."""
        tls = self._tls
        if tls is None:
            return await self._receive_raw(max_bytes)
        while True:
            data = tls.decrypt(max_bytes)
            out = tls.data_to_send()  # e.g. the answer to a TLS 1.3 key update
            if out:
                self._pending += out
                await self._flush()
            if data is not None:
                return data
            tls.receive_data(await self._receive_raw(_RECEIVE_SIZE))

    async def _receive_raw(self, max_bytes: int) -> bytes:
        if self._pending:
            await self._flush()
        sock = self._sock
        while True:
            if self._closed:
                raise ConnectionResetError("the stream is closed")
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise ConnectionResetError(f"the connection was lost: {_describe(exc)}") from None
            try:
                await trio.lowlevel.wait_readable(sock)
            except trio.ClosedResourceError:
                raise ConnectionResetError("the stream is closed") from None

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> TLSInfo:
        """Run the TLS handshake (SNI is sent for host names, never for IP addresses)."""
        if self._closed:
            raise ConnectionResetError("the stream is closed")
        if self._tls is not None:
            raise ValueError("TLS is already running on this stream; start_tls can run only once")
        tls = TLSMachine(context, server_hostname)
        while not tls.handshake():
            await self._send_ciphertext(tls)
            received = await self._receive_raw(_RECEIVE_SIZE)
            if not received:
                raise ssl.SSLEOFError("the peer closed the connection during the TLS handshake")
            tls.receive_data(received)
        await self._send_ciphertext(tls)
        self._tls = tls
        return tls.info()

    async def _send_ciphertext(self, tls: TLSMachine) -> None:
        out = tls.data_to_send()
        if out:
            self._pending += out
            await self._flush()

    async def close(self) -> None:
        """Close the stream; closing twice is harmless. Bytes still in the output buffer are
        dropped with the connection."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        # Tasks waiting on the socket get ClosedResourceError instead of a dead descriptor.
        trio.lowlevel.notify_closing(self._sock)
        self._sock.close()


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _own_socket(stream: anyio.abc.SocketStream) -> socket.socket:
    """The socket of an anyio stream, taken over (the anyio stream is left without one)."""
    raw: socket.socket = stream.extra(anyio.abc.SocketAttribute.raw_socket)
    return socket.socket(fileno=raw.detach())


async def connect_tcp(host: str, port: int) -> TrioStream:
    """Connect to ``host:port`` as ``anyio.connect_tcp`` does (happy eyeballs, the same
    errors, TCP_NODELAY set), then run the stream on its socket."""
    return TrioStream(_own_socket(await anyio.connect_tcp(host, port)))


async def connect_unix(path: str) -> TrioStream:
    """Connect to the Unix-domain socket at ``path``."""
    return TrioStream(_own_socket(await anyio.connect_unix(path)))
