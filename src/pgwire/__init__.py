"""pgwire: a pure-Python PostgreSQL client built on one sans-IO protocol core.

``pgwire.connect()`` opens a blocking connection and ``await pgwire.connect_async()`` an
async one (asyncio, uvloop or trio); ``pgwire.protocol`` is the sans-IO core
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
    from pgwire.record import Record
    from pgwire.sync import Connection, Pipeline, connect

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncConnection",
    "AsyncPipeline",
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
    "PostgresError",
    "ProgrammingError",
    "ProtocolError",
    "Record",
    "connect",
    "connect_async",
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
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pgwire' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
