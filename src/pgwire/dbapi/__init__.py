"""``pgwire.dbapi``: a DB-API 2.0 (PEP 249) module on pgwire's blocking driver.

For the tools that speak PEP 249 (pandas, SQLAlchemy, Airflow, notebooks), and for code
written for psycopg, which moves over by changing the import where PEP 249 leaves a choice::

    import pgwire.dbapi

    with pgwire.dbapi.connect("postgresql://app@localhost/appdb") as conn:
        cur = conn.cursor()
        cur.execute("SELECT name FROM item WHERE id = %(id)s", {"id": 2})
        print(cur.fetchone())

Placeholders are psycopg's (``%s``, ``%(name)s``, ``%%`` for ``%``); they become ``$1,
$2, ...`` and the values travel out of band, never inside the SQL. Autocommit is off: the
first statement opens a transaction. Threads may share a connection (not a cursor).
See docs/dbapi.md. This package only translates PEP 249 calls into calls of
:class:`pgwire.Connection`'s public methods: it never speaks the protocol itself.
"""

from __future__ import annotations

from pgwire.dbapi._connection import Connection, IsolationLevel, connect
from pgwire.dbapi._cursor import (
    Cursor,
    RowFactory,
    RowMaker,
    ServerCursor,
    dict_row,
    record_row,
    tuple_row,
)
from pgwire.dbapi._tpc import Xid
from pgwire.dbapi._types import (
    BINARY,
    BINARYARRAY,
    DATETIME,
    DATETIMEARRAY,
    NUMBER,
    NUMBERARRAY,
    ROWID,
    ROWIDARRAY,
    STRING,
    STRINGARRAY,
    Binary,
    Column,
    Date,
    DateFromTicks,
    DBAPITypeObject,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from pgwire.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)

#: PEP 249's module globals.
apilevel = "2.0"
#: Threads may share the module and connections, not cursors: a connection serialises
#: its statements with a lock.
threadsafety = 2
paramstyle = "pyformat"

__all__ = [
    "BINARY",
    "BINARYARRAY",
    "DATETIME",
    "DATETIMEARRAY",
    "NUMBER",
    "NUMBERARRAY",
    "ROWID",
    "ROWIDARRAY",
    "STRING",
    "STRINGARRAY",
    "Binary",
    "Column",
    "Connection",
    "Cursor",
    "DBAPITypeObject",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "IsolationLevel",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "RowFactory",
    "RowMaker",
    "ServerCursor",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "Xid",
    "apilevel",
    "connect",
    "dict_row",
    "paramstyle",
    "record_row",
    "threadsafety",
    "tuple_row",
]
