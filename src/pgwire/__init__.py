"""pgwire: a pure-Python PostgreSQL client built on one sans-IO protocol core.

``pgwire.connect()`` opens a blocking connection and ``await pgwire.connect_async()`` an
async one (asyncio, uvloop or trio); ``await pgwire.create_pool()`` and
``pgwire.create_blocking_pool()`` open pools of them; ``pgwire.protocol`` is the sans-IO core
(importing it pulls in no socket, TLS or event-loop module); ``pgwire.errors`` holds the
exception tree; ``pgwire.types`` the codecs.

The driver names below are imported on first use, so that ``import pgwire.protocol`` stays
free of I/O modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pgwire.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PostgresError,
    ProgrammingError,
    ProtocolError,
)

if TYPE_CHECKING:
    from pgwire.connection import AsyncConnection, AsyncPipeline, connect_async
    from pgwire.operations import Notification, PipelineResult
    from pgwire.pool import AsyncPool, create_pool
    from pgwire.record import Record
    from pgwire.sync import Connection, Pipeline, connect
    from pgwire.sync_pool import Pool
    from pgwire.sync_pool import create_pool as create_blocking_pool

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncConnection",
    "AsyncPipeline",
    "AsyncPool",
    "Connection",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "Notification",
    "OperationalError",
    "Pipeline",
    "PipelineResult",
    "Pool",
    "PostgresError",
    "ProgrammingError",
    "ProtocolError",
    "Record",
    "connect",
    "connect_async",
    "create_blocking_pool",
    "create_pool",
]

_LAZY = {
    "connect": "pgwire.sync",
    "Connection": "pgwire.sync",
    "Pipeline": "pgwire.sync",
    "connect_async": "pgwire.connection",
    "AsyncConnection": "pgwire.connection",
    "AsyncPipeline": "pgwire.connection",
    "Notification": "pgwire.operations",
    "PipelineResult": "pgwire.operations",
    "Record": "pgwire.record",
    "create_pool": "pgwire.pool",
    "AsyncPool": "pgwire.pool",
    "create_blocking_pool": "pgwire.sync_pool",
    "Pool": "pgwire.sync_pool",
}

#: Lazy names that differ from the name in their module.
_RENAMED = {"create_blocking_pool": "create_pool"}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pgwire' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), _RENAMED.get(name, name))
    globals()[name] = value
    return value
