"""COPY in the async driver: ``copy_out``, ``copy_in``, ``copy_out_stream`` and the
table/record helpers, on the I/O-free pieces of :mod:`pgwire.copy`.

This is the async source; ``scripts/gen_sync.py`` generates ``_copy_sync.py``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from typing import IO, Any

from pgwire import _compat_async as _io
from pgwire._queries_async import AsyncQueries
from pgwire.copy import (
    BINARY_HEADER,
    BINARY_TRAILER,
    BinaryCopyEncoder,
    copy_query_statement,
    copy_statement,
    qualified_name,
    quote_identifier,
)
from pgwire.errors import (
    InterfaceError,
)
from pgwire.operations import (
    CopyIn,
    CopyOut,
)
from pgwire.protocol import (
    CopyData,
    CopyDone,
    CopyFail,
)

__all__ = ["AsyncCopy"]

logger = logging.getLogger("pgwire")
_COPY_CHUNK = 256 << 10
#: At most this many records per encode_many call in copy_records_to_table (500 to 2,000
#: measured best for 7 columns), and about this many bytes per CopyData.
_COPY_BATCH = 1000


class AsyncCopy(AsyncQueries):
    """COPY ... TO STDOUT and COPY ... FROM STDIN, streaming either way."""

    async def copy_out(
        self,
        sql: str,
        sink: Callable[[bytes], object] | IO[bytes] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Run ``COPY ... TO STDOUT``.

        With no ``sink`` return all the data as bytes; otherwise hand each chunk to
        ``sink`` (a callable, sync or async, or a binary file) as it arrives and return the
        command tag, so memory stays bounded however large the data.
        """
        chunks: list[bytes] = []
        if sink is None:
            write: Callable[[bytes], Any] = chunks.append
        elif callable(sink):
            write = sink
        else:
            write = sink.write
        operation = CopyOut(sql)
        with self._in_use():
            await self._exchange([operation], timeout, write)
            operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_out() expects COPY ... TO STDOUT, but the statement ran as "
                f"{operation.tag or 'no command'!r}"
            )
        return b"".join(chunks) if sink is None else operation.tag

    async def copy_in(self, sql: str, source: Any) -> str:
        """Run ``COPY ... FROM STDIN`` with data from ``source``: bytes, str, a file, or an
        iterable (or async iterable) of chunks; return the command tag, e.g. ``COPY 3``.

        If ``source`` raises, the COPY is aborted with CopyFail, the exception propagates
        and the connection stays usable.
        """
        self._check_open()
        operation = CopyIn(sql)
        with self._in_use():
            await self._send(operation.messages)
            try:
                while not operation.started and not operation.done:
                    await self._step(operation)
                if operation.started:
                    async for chunk in _io.chunks(source):
                        if chunk:
                            await self._write(self._core.send(CopyData(chunk)))
                        if not self._core.copy_in_active:
                            break
                    if not self._closed:
                        await self._write(self._core.send(CopyDone()))
                await self._drain(operation)
            except BaseException as exc:
                # The source raised, or the task was cancelled at any step of the COPY.
                if not self._closed and not operation.done:
                    with _io.shield():
                        reason = f"client error: {type(exc).__name__}"
                        await self._abandon_copy_in(operation, reason)
                raise
        operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_in() expects COPY ... FROM STDIN, but the statement ran as "
                f"{operation.tag or 'no command'!r} and took none of the data"
            )
        return operation.tag or ""

    async def _abandon_copy_in(self, operation: CopyIn, reason: str) -> None:
        """Stop an interrupted COPY ... FROM STDIN wherever it stands, and read to its
        ReadyForQuery: CopyFail while the server takes data, a CancelRequest while it works
        (on the statement before the data starts, or on the data after CopyDone). If it
        does not end within ``cancel_timeout``, close the connection."""
        try:
            with _io.fail_after(self.cancel_timeout):
                if not self._core.copy_in_active:
                    await self.cancel()
                while not operation.done:
                    if self._core.copy_in_active:
                        await self._write(self._core.send(CopyFail(reason)))
                    await self._step(operation)
        except BaseException as exc:
            logger.warning("closing the connection: the interrupted COPY did not end: %r", exc)
            await self._abort()

    @asynccontextmanager
    async def copy_out_stream(self, sql: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Run ``COPY ... TO STDOUT`` and read its data chunk by chunk as it arrives::

            async with conn.copy_out_stream(sql) as chunks:
                async for chunk in chunks:
                    ...

        Leaving the block early reads the rest of the data and drops it, so the
        connection stays usable.
        """
        self._check_open()
        operation = CopyOut(sql)
        with self._in_use():
            await self._send(operation.messages)
            try:
                yield self._copy_chunks(operation)
            finally:
                if not operation.done and not self._closed:
                    operation.misuse = InterfaceError("the COPY output was abandoned")
                    with _io.shield():
                        await self._drain(operation)
                    operation.misuse = None
        operation.check()
        if not operation.started:
            raise InterfaceError(
                f"copy_out_stream() expects COPY ... TO STDOUT, but the statement ran as "
                f"{operation.tag or 'no command'!r}"
            )

    async def _copy_chunks(self, operation: CopyOut) -> AsyncIterator[bytes]:
        while not operation.done:
            await self._step(operation)
            while operation.chunks and operation.misuse is None:
                yield operation.chunks.pop(0)

    async def copy_to_table(
        self,
        table: str,
        *,
        source: Any,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
        format: str | None = None,
        **options: Any,
    ) -> str:
        """Load ``source`` (bytes, str, a file, or an iterable or async iterable of chunks) into
        ``table`` with COPY; ``format`` is ``text`` (default), ``csv`` or ``binary`` and
        ``options`` are COPY's (``delimiter``, ``null``, ``header``, ``quote``, ...)."""
        sql = copy_statement(
            table, "FROM STDIN", columns=columns, schema=schema, format=format, **options
        )
        return await self.copy_in(sql, source)

    async def copy_records_to_table(
        self,
        table: str,
        *,
        records: Any,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
    ) -> str:
        """Load Python records (an iterable or async iterable of sequences) into ``table``
        with binary COPY, each value encoded by its column's codec; return the tag."""
        target = qualified_name(table, schema)
        selected = ", ".join(quote_identifier(c) for c in columns) if columns else "*"
        probe = await self.prepare(f"SELECT {selected} FROM {target} LIMIT 0")
        assert probe.columns is not None
        encoder = BinaryCopyEncoder([c.type_oid for c in probe.columns], self.registry)
        if columns is None:
            columns = [c.name for c in probe.columns]
        sql = copy_statement(table, "FROM STDIN", columns=columns, schema=schema, format="binary")
        return await self.copy_in(sql, _binary_copy_data(encoder, records))

    async def copy_from_table(
        self,
        table: str,
        *,
        output: Callable[[bytes], object] | IO[bytes] | None = None,
        columns: Sequence[str] | None = None,
        schema: str | None = None,
        format: str | None = None,
        **options: Any,
    ) -> Any:
        """COPY ``table`` out to ``output`` (a callable, sync or async, or a binary file),
        returning the tag; without ``output`` return the data as bytes."""
        sql = copy_statement(
            table, "TO STDOUT", columns=columns, schema=schema, format=format, **options
        )
        return await self.copy_out(sql, output)

    async def copy_from_query(
        self,
        query: str,
        *,
        output: Callable[[bytes], object] | IO[bytes] | None = None,
        format: str | None = None,
        **options: Any,
    ) -> Any:
        """COPY the result of ``query`` out to ``output`` (as :meth:`copy_from_table`).

        COPY takes no parameters: ``query`` must be complete SQL.
        """
        return await self.copy_out(copy_query_statement(query, format=format, **options), output)


async def _binary_copy_data(encoder: BinaryCopyEncoder, records: Any) -> AsyncIterator[bytes]:
    """Binary COPY data for ``records`` (a sync or async iterable), encoded in batches:
    one record first, then as many as make about :data:`_COPY_CHUNK` bytes (at most
    :data:`_COPY_BATCH`), so that one CopyData stays small however wide the records."""
    yield BINARY_HEADER
    size = 1
    if hasattr(records, "__aiter__"):
        batch: list[Any] = []
        async for record in records:
            batch.append(record)
            if len(batch) >= size:
                data = encoder.encode_many(batch)
                yield data
                size = _next_batch_size(len(batch), len(data))
                batch = []
        if batch:
            yield encoder.encode_many(batch)
    else:
        iterator = iter(records)
        while True:
            batch = list(islice(iterator, size))
            if not batch:
                break
            data = encoder.encode_many(batch)
            yield data
            size = _next_batch_size(len(batch), len(data))
    yield BINARY_TRAILER


def _next_batch_size(records: int, size: int) -> int:
    """Records per batch for about _COPY_CHUNK bytes, from the last batch's size."""
    return max(1, min(_COPY_BATCH, _COPY_CHUNK * records // max(size, 1)))
