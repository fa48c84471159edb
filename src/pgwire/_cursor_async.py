"""Server-side cursors of the async driver: ``cursor()`` reads a portal in batches, with
bounded memory.

This is the async source; ``scripts/gen_sync.py`` generates ``_cursor_sync.py``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pgwire import _compat_async as _io
from pgwire._queries_async import AsyncQueries
from pgwire.operations import (
    ExecutePortal,
)
from pgwire.record import Record

__all__ = ["AsyncCursors"]


class AsyncCursors(AsyncQueries):
    """Iterating over a large result in batches."""

    async def cursor(
        self, sql: str, *args: Any, batch_size: int = 1000
    ) -> AsyncGenerator[Record, None]:
        """Iterate over the rows of ``sql`` in batches of ``batch_size``, with bounded memory.

        The rows come from a portal read ``batch_size`` rows at a time, which needs a
        transaction: outside one, a transaction is opened for the duration of the loop.
        """
        own_transaction = self.transaction_status == "I"
        self._portal_counter += 1
        portal = f"_pgwire_cursor_{self._portal_counter}"
        owner = _io.current_owner()
        try:
            if own_transaction:
                # Inside the try: a cancellation may land after the server ran the BEGIN.
                await self.execute("BEGIN")
            statement = await self.prepare(sql)
            batch = ExecutePortal(statement, portal, batch_size, args)
            await self._run(batch)
            for row in batch.rows:
                yield row
            while batch.suspended:
                batch = ExecutePortal(statement, portal, batch_size)
                await self._run(batch)
                for row in batch.rows:
                    yield row
        finally:
            if _io.current_owner() != owner:
                # A loop left early (``break`` without ``aclosing``) leaves the generator to
                # be finalized later, in a task of the event loop's, maybe while the
                # connection is busy: end the cursor before its next operation instead.
                self._deferred_cursors.append((own_transaction, portal))
            else:
                with _io.shield():
                    await self._end_cursor(own_transaction, portal)
