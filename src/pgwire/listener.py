"""Listening for clients, for pgwire's server-side tools (mock server, proxy, DSQL endpoint).

Each tool has a ``handle(stream)`` coroutine that serves one accepted connection; this module
runs it for every client of a TCP port or a Unix socket:

* :func:`running_tcp` / :func:`running_unix`: for an ``async with`` block, in the caller's
  event loop (port 0: a free one, told by the block's value);
* :func:`serve_tcp` / :func:`serve_unix`: until cancelled;
* :func:`in_thread`: any of these from a background thread with its own event loop, for
  blocking code and tests.

When the block ends the listener closes and the connections still served are cancelled.
It also holds what the tools do to an accepted stream: :func:`accept_tls` turns it to TLS,
after an SSLRequest or at once (direct TLS, whose ClientHello :class:`ReplayStream` hands
back to the TLS layer). It knows nothing of PostgreSQL messages.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

__all__ = [
    "CONNECTION_LOST",
    "ConnectionHandler",
    "ReplayStream",
    "accept_tls",
    "in_thread",
    "running_tcp",
    "running_unix",
    "serve_tcp",
    "serve_unix",
]

#: Serves one accepted connection until it ends.
ConnectionHandler = Callable[[anyio.abc.ByteStream], Awaitable[None]]

#: How a served connection ends other than by a clean close: the peer resets or drops it
#: (``BrokenResourceError``, ``OSError``), it ends in the middle of an exchange
#: (``EndOfStream``), our own side closed it already (``ClosedResourceError``), or its TLS
#: failed (``ssl.SSLError``).
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    ssl.SSLError,
    OSError,
)

T = TypeVar("T")


@asynccontextmanager
async def _serving(
    listener: anyio.abc.Listener[Any], handler: ConnectionHandler
) -> AsyncIterator[None]:
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handler)
        yield
        group.cancel_scope.cancel()


@asynccontextmanager
async def running_tcp(
    handler: ConnectionHandler, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[int]:
    """Serve ``host:port`` with ``handler`` for the ``async with`` block; yield the port."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    bound: int = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with _serving(listener, handler):
        yield bound


@asynccontextmanager
async def running_unix(handler: ConnectionHandler, path: str | Path) -> AsyncIterator[str]:
    """Serve the Unix socket ``path`` with ``handler`` for the ``async with`` block; yield
    the path."""
    listener = await anyio.create_unix_listener(path)
    async with _serving(listener, handler):
        yield str(path)


async def serve_tcp(handler: ConnectionHandler, host: str, port: int) -> None:
    """Serve ``host:port`` with ``handler`` until cancelled."""
    async with running_tcp(handler, host, port):
        await anyio.sleep_forever()


async def serve_unix(handler: ConnectionHandler, path: str | Path) -> None:
    """Serve the Unix socket ``path`` with ``handler`` until cancelled."""
    async with running_unix(handler, path):
        await anyio.sleep_forever()


@contextmanager
def in_thread(running: AbstractAsyncContextManager[T], backend: str = "asyncio") -> Iterator[T]:
    """Enter ``running`` (such as ``running_tcp(...)``) in a background thread's event loop
    (``backend``: ``asyncio`` or ``trio``) for the ``with`` block; yield its value."""
    from anyio.from_thread import start_blocking_portal

    with (
        start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(running) as value,
    ):
        yield value


class ReplayStream(anyio.abc.ByteStream):
    """A byte stream that first returns bytes already read (a direct-TLS ClientHello)."""

    def __init__(self, stream: anyio.abc.ByteStream, data: bytes) -> None:
        self._stream = stream
        self._data = data

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._data:
            data, self._data = self._data, b""
            return data
        return await self._stream.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._stream.send(item)

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._stream.extra_attributes


async def accept_tls(
    stream: anyio.abc.ByteStream, context: ssl.SSLContext, already_read: bytes = b""
) -> TLSStream:
    """Run the server side of a TLS handshake on ``stream``; ``already_read``: the bytes of
    the client's ClientHello read before (direct TLS)."""
    if already_read:
        stream = ReplayStream(stream, already_read)
    # PostgreSQL clients close without TLS's close_notify exchange.
    return await TLSStream.wrap(
        stream, server_side=True, ssl_context=context, standard_compatible=False
    )
