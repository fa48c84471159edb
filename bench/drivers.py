"""The benchmark's workloads and one adapter per driver.

Every adapter turns a workload name into an *op*: a function (a coroutine function for the
async drivers) that takes one open connection and does one unit of work, returning what the
driver returned so that :func:`check` can verify it once, untimed. Each driver uses its
idiomatic fast path; where it has none (pipelining, COPY of Python records, batched
``executemany``) the adapter says so in :data:`NOTES`.

Two workloads are not one query on an open connection. ``pool``: the op's argument is a pool
(``open_pool``, the driver's own, ``POOL_SIZE`` connections) shared by ``POOL_TASKS`` tasks
or threads, and one op borrows a connection, runs ``SELECT 1`` and gives it back; a driver
with no pool has no ``open_pool`` and is skipped (:func:`missing`). ``connect``: one op opens
a connection, runs ``SELECT 1`` and closes it (:func:`op_for`), one at a time.

This module imports no driver at module level: a driver is imported when its adapter is
built, in the worker subprocess that runs it (psycopg picks its implementation from
``PSYCOPG_IMPL`` at import time). The ORM workloads and their SQLAlchemy adapters are in
:mod:`bench.orm`; the two kinds never mix (an ORM driver runs only the ORM workloads).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bench.orm import (
    ORM_ADAPTERS,
    ORM_DRIVERS,
    ORM_SETUP_SQL,
    ORM_TRUNCATE_SQL,
    ORM_WORKLOADS,
    check_orm,
    is_orm_workload,
)

# ---------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------

PGTYPE_SQL = (
    "SELECT typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred,"
    " typisdefined, typdelim, typrelid, typelem, typarray FROM pg_type"
    " WHERE typtypmod = $1 AND typisdefined = $2"
)
SERIES_SQL = "SELECT * FROM generate_series(1, 1000)"
BYTEA_SQL = "SELECT * FROM bench_bytea"
INTARRAY_SQL = "SELECT * FROM bench_intarray"
SELECT_SQL = "SELECT 1+1"
PIPELINE_SQL = "SELECT $1::int"
PIPELINE_QUERIES = 1000
INSERT_SQL = "INSERT INTO bench_copy (a, b, c, d, e, f, g) VALUES ($1, $2, $3, $4, $5, $6, $7)"
COPY_ROWS = 10_000
MANY_ROWS = 1_000
STREAM_BATCH = 10_000
POOL_SQL = CONNECT_SQL = "SELECT 1"
#: The pool workload: tasks (threads for the blocking drivers) sharing one pool of
#: ``POOL_SIZE`` connections (min_size = max_size), each doing acquire, SELECT 1, release.
POOL_TASKS = 20
POOL_SIZE = 5

# Per-connection temporary tables: no superuser needed, no contention between connections.
SETUP_SQL = {
    "bytea": [
        "CREATE TEMP TABLE bench_bytea AS"
        " SELECT convert_to(left(repeat(md5(i::text), 32), 1000), 'UTF8') AS a"
        " FROM generate_series(1, 100) AS i",
    ],
    "intarray": [
        "CREATE TEMP TABLE bench_intarray AS SELECT"
        " (SELECT array_agg(j)::int4[] FROM generate_series(i, i + 99) AS j) AS a"
        " FROM generate_series(1, 100) AS i",
    ],
    "copy": [
        "CREATE TEMP TABLE bench_copy (a int4, b int8, c text, d float8, e timestamptz,"
        " f bool, g date)",
    ],
}
SETUP_SQL["executemany"] = SETUP_SQL["copy"]
SETUP_SQL.update(ORM_SETUP_SQL)
TRUNCATE_SQL = "TRUNCATE bench_copy"
COUNT_SQL = "SELECT count(*) FROM bench_copy"
#: The workloads that fill a table: emptied before each measurement, counted after an op.
RESET_SQL = {"copy": TRUNCATE_SQL, "executemany": TRUNCATE_SQL, "orm-insert": ORM_TRUNCATE_SQL}

_T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
_D0 = datetime.date(2024, 1, 1)
COPY_RECORDS = [
    (
        i,
        i * 1_000_003,
        f"row number {i}",
        i / 7,
        _T0 + datetime.timedelta(seconds=i),
        i % 2 == 0,
        _D0 + datetime.timedelta(days=i % 1000),
    )
    for i in range(COPY_ROWS)
]
MANY_RECORDS = COPY_RECORDS[:MANY_ROWS]
COPY_COLUMNS = ["a", "b", "c", "d", "e", "f", "g"]
COPY_TYPES = ["int4", "int8", "text", "float8", "timestamptz", "bool", "date"]


def stream_sql(rows: int) -> str:
    return f"SELECT i, 'row number ' || i AS t FROM generate_series(1, {int(rows)}) AS i"


# key -> (title, what one op is, concurrency, rows per op; None: counted from the result)
WORKLOADS: dict[str, tuple[str, str, int, int | None]] = {
    "pgtype": ("pg_type catalog scan", "1 query, ~600 rows x 12 columns", 10, None),
    "series": ("generate_series(1, 1000)", "1 query, 1,000 rows", 10, 1000),
    "bytea": ("100 rows of 1,000-byte bytea", "1 query, 100 rows", 10, 100),
    "intarray": ("100 rows of int[100]", "1 query, 100 rows", 10, 100),
    "copy": ("COPY 10,000 rows x 7 cols", "1 COPY of 10,000 rows", 10, COPY_ROWS),
    "executemany": ("executemany 1,000 rows", "1 call, 1,000 rows", 10, MANY_ROWS),
    "select": ("SELECT 1+1", "1 query", 10, 1),
    "pipeline": (
        "1,000 SELECT $1::int pipelined",
        "1,000 queries",
        1,
        PIPELINE_QUERIES,
    ),
    "stream": ("stream N rows through a cursor", "N rows", 1, None),
    "pool": ("connection pool", "acquire + SELECT 1 + release", POOL_TASKS, 1),
    "connect": ("connect, SELECT 1, close", "TCP + SCRAM-SHA-256 + SELECT 1 + close", 1, 1),
    **ORM_WORKLOADS,
}

#: The workloads whose number of connections ``--connections`` leaves alone: ``pool`` has its
#: own tasks and pool size, the others use one connection (at a time) by design.
FIXED_CONCURRENCY = frozenset({"pipeline", "stream", "pool", "connect"})


def concurrency_of(workload: str, connections: int | None = None) -> int:
    """Connections (tasks, threads) of ``workload``: ``connections`` when given and the
    workload is not one of :data:`FIXED_CONCURRENCY`, else the workload's own."""
    if connections and workload not in FIXED_CONCURRENCY:
        return connections
    return WORKLOADS[workload][2]


class WrongResult(Exception):
    pass


def check(workload: str, result: Any, count: int | None = None, rows: int = 0) -> int:
    """Raise `WrongResult` unless ``result`` (what the op returned; ``count`` is the table's
    row count for COPY and executemany) is right; return the number of rows of one op."""

    def need(condition: bool, what: str) -> None:
        if not condition:
            raise WrongResult(f"{workload}: {what}")

    if workload == "pgtype":
        need(len(result) > 100 and len(result[0]) == 12, f"{len(result)} pg_type rows")
        return len(result)
    if workload == "series":
        need(len(result) == 1000 and result[-1][0] == 1000, "generate_series rows")
        return 1000
    if workload == "bytea":
        need(len(result) == 100 and len(bytes(result[0][0])) == 1000, "bytea rows")
        return 100
    if workload == "intarray":
        need(len(result) == 100 and list(result[-1][0]) == list(range(100, 200)), "int[] rows")
        return 100
    if workload == "copy":
        need(count == COPY_ROWS, f"copied {count} rows")
        return COPY_ROWS
    if workload == "executemany":
        need(count == MANY_ROWS, f"inserted {count} rows")
        return MANY_ROWS
    if workload == "select":
        need(result == 2, f"SELECT 1+1 gave {result!r}")
        return 1
    if workload == "pipeline":
        need(list(result) == list(range(PIPELINE_QUERIES)), "pipelined results")
        return PIPELINE_QUERIES
    if workload == "stream":
        need(result == rows, f"streamed {result} rows of {rows}")
        return rows
    if workload in ("pool", "connect"):
        need(result == 1, f"SELECT 1 gave {result!r}")
        return 1
    if is_orm_workload(workload):
        try:
            return check_orm(workload, result, count)
        except ValueError as exc:
            raise WrongResult(str(exc)) from None
    raise ValueError(workload)


def sql_for(style: str, sql: str) -> str:
    """Rewrite ``$n`` placeholders: ``format`` is psycopg's ``%s``, ``named`` pg8000's ``:pN``."""
    if style == "dollar":
        return sql
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", "%s" if style == "format" else f":p{n}")
    return sql


# ---------------------------------------------------------------------------------------
# Drivers
# ---------------------------------------------------------------------------------------

# name -> (adapter class name, run on: "sync" or the anyio backend, extra environment, what)
DRIVERS: dict[str, tuple[str, str, dict[str, str], str]] = {
    "pgwire-asyncio": ("PgwireAsync", "asyncio", {}, "pgwire async on asyncio"),
    "pgwire-uvloop": ("PgwireAsync", "uvloop", {}, "pgwire async on uvloop"),
    "pgwire-trio": ("PgwireAsync", "trio", {}, "pgwire async on trio"),
    "pgwire-sync": ("PgwireSync", "sync", {}, "pgwire blocking"),
    "asyncpg": ("Asyncpg", "uvloop", {}, "asyncpg on uvloop (Cython)"),
    "asyncpg-asyncio": ("Asyncpg", "asyncio", {}, "asyncpg on plain asyncio (Cython)"),
    "psycopg-c-async": (
        "PsycopgAsync",
        "asyncio",
        {"PSYCOPG_IMPL": "binary"},
        "psycopg 3 async on asyncio, C implementation (psycopg-binary)",
    ),
    "psycopg-c": (
        "PsycopgSync",
        "sync",
        {"PSYCOPG_IMPL": "binary"},
        "psycopg 3 blocking, C implementation (psycopg-binary)",
    ),
    "psycopg-py-async": (
        "PsycopgAsync",
        "asyncio",
        {"PSYCOPG_IMPL": "python"},
        "psycopg 3 async on asyncio, PSYCOPG_IMPL=python (Python adaptation over libpq)",
    ),
    "psycopg-py": (
        "PsycopgSync",
        "sync",
        {"PSYCOPG_IMPL": "python"},
        "psycopg 3 blocking, PSYCOPG_IMPL=python (Python adaptation over libpq)",
    ),
    "pg8000": ("Pg8000", "sync", {}, "pg8000 native API (pure Python)"),
    # The same workloads through each driver's PEP 249 (DB-API 2.0) module.
    "pgwire-dbapi": ("PgwireDbapi", "sync", {}, "pgwire.dbapi (PEP 249 on the blocking driver)"),
    "psycopg-c-dbapi": (
        "PsycopgDbapi",
        "sync",
        {"PSYCOPG_IMPL": "binary"},
        "psycopg 3 through PEP 249 calls only, C implementation",
    ),
    "psycopg-py-dbapi": (
        "PsycopgDbapi",
        "sync",
        {"PSYCOPG_IMPL": "python"},
        "psycopg 3 through PEP 249 calls only, PSYCOPG_IMPL=python",
    ),
    "pg8000-dbapi": ("Pg8000Dbapi", "sync", {}, "pg8000.dbapi (pure Python)"),
    # The ORM workloads through SQLAlchemy's dialects (bench/orm.py).
    **ORM_DRIVERS,
}

#: ``BENCH_PGWIRE_BASELINE=<another checkout's src directory>`` adds pgwire's drivers a second
#: time, named ``<driver>-base``, importing pgwire from there: an earlier commit measured in the
#: same run as the working tree, interleaved round by round, so outside load hits both alike.
BASELINE_SRC = os.environ.get("BENCH_PGWIRE_BASELINE", "")
if BASELINE_SRC:
    for _name in ("pgwire-asyncio", "pgwire-uvloop", "pgwire-trio", "pgwire-sync", "pgwire-dbapi"):
        _cls, _runs_on, _env, _what = DRIVERS[_name]
        DRIVERS[f"{_name}-base"] = (
            _cls,
            _runs_on,
            {**_env, "PYTHONPATH": BASELINE_SRC},
            f"{_what}, pgwire imported from {BASELINE_SRC}",
        )

#: The drivers that run the workloads through PEP 249 calls.
DBAPI_DRIVERS = ["pgwire-dbapi", "psycopg-c-dbapi", "psycopg-py-dbapi", "pg8000-dbapi"]

# (driver family, workload) -> how the driver does it, when not the obvious way.
NOTES: dict[tuple[str, str], str] = {
    ("Asyncpg", "pipeline"): "sequential: asyncpg has no pipeline for queries returning rows",
    ("Pg8000", "pipeline"): "sequential: pg8000 has no pipeline mode",
    ("Pg8000", "executemany"): "sequential: one round trip per row, in one transaction",
    ("Pg8000", "copy"): "text COPY FROM STDIN from a generated text stream",
    ("Pg8000", "stream"): "DECLARE CURSOR + FETCH FORWARD 10000 in a transaction",
    ("PsycopgSync", "copy"): "binary COPY with Copy.write_row",
    ("PsycopgAsync", "copy"): "binary COPY with AsyncCopy.write_row",
    # PEP 249 has no COPY: each module's own way, the fastest it has.
    ("PgwireDbapi", "copy"): "binary COPY with conn.driver_connection.copy_records_to_table",
    ("PsycopgDbapi", "copy"): "binary COPY with cursor.copy() and Copy.write_row",
    ("Pg8000Dbapi", "copy"): "text COPY FROM STDIN from a generated text stream",
    ("PgwireDbapi", "pipeline"): "sequential: PEP 249 has no pipeline",
    ("PsycopgDbapi", "pipeline"): "sequential: PEP 249 has no pipeline",
    ("Pg8000Dbapi", "pipeline"): "sequential: PEP 249 has no pipeline",
    ("PgwireDbapi", "stream"): "named cursor, itersize 10000, between BEGIN and COMMIT",
    ("PsycopgDbapi", "stream"): "named cursor, itersize 10000, between BEGIN and COMMIT",
    ("Pg8000Dbapi", "stream"): "DECLARE CURSOR + FETCH FORWARD 10000 between BEGIN and COMMIT",
    ("Pg8000Dbapi", "executemany"): "pg8000's executemany: one round trip per row",
    # The pools, each with its default settings; what a release does differs.
    ("Asyncpg", "pool"): "asyncpg.create_pool; release runs Connection.reset(): ROLLBACK if in"
    " a transaction, then SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL",
    ("PsycopgAsync", "pool"): "psycopg_pool.AsyncConnectionPool of autocommit connections;"
    " release checks the transaction status (ROLLBACK only if in one) and runs no reset query"
    " (reset=None, the default)",
    ("PsycopgSync", "pool"): "psycopg_pool.ConnectionPool of autocommit connections, threads;"
    " release checks the transaction status (ROLLBACK only if in one) and runs no reset query"
    " (reset=None, the default)",
    ("Pg8000", "pool"): "no pool: pg8000 has none",
    ("PgwireDbapi", "pool"): "no pool: PEP 249 defines none",
    ("PsycopgDbapi", "pool"): "no pool: PEP 249 defines none",
    ("Pg8000Dbapi", "pool"): "no pool: PEP 249 defines none",
}


def pgwire_pool_note(kind: str) -> str:
    """What pgwire's pool does on release, from the module itself (its reset may change)."""
    from pgwire.pool import DEFAULT_RESET

    return f"{kind}; release runs ROLLBACK if in a transaction, then DEFAULT_RESET: {DEFAULT_RESET}"


def note_of(adapter: Any, driver: str, workload: str) -> str:
    """The footnote of ``driver`` on ``workload`` ("" for none)."""
    own = getattr(adapter, "note", None)
    return (own(workload) if own is not None else "") or NOTES.get(
        (DRIVERS[driver][0], workload), ""
    )


def missing(adapter: Any, driver: str, workload: str) -> str:
    """Why ``driver`` cannot run ``workload`` at all ("" when it can): only a pool can be
    missing. The workload is then skipped for the driver, not failed."""
    if workload == "pool" and not hasattr(adapter, "open_pool"):
        return NOTES.get((DRIVERS[driver][0], "pool"), "no pool")
    return ""


def op_for(adapter: Any, workload: str, rows: int = 0) -> Op:
    """The op of ``workload`` for ``adapter``: its own, or for ``connect`` one built from the
    adapter's connect, fetchval and close (the op's argument is then unused)."""
    if workload != "connect":
        return adapter.op(workload, rows)
    if adapter.is_async:

        async def connect(_: Any) -> Any:
            conn = await adapter.connect()
            try:
                return await adapter.fetchval(conn, CONNECT_SQL)
            finally:
                await adapter.close(conn)

        return connect

    def connect_sync(_: Any) -> Any:
        conn = adapter.connect()
        try:
            return adapter.fetchval(conn, CONNECT_SQL)
        finally:
            adapter.close(conn)

    return connect_sync


def conn_params(dsn: str) -> dict[str, Any]:
    """host, port, user, password, database of a ``postgresql://`` URI (for pg8000), and
    ``ssl_context=False`` for ``sslmode=disable``: pg8000's default tries TLS first, and
    builds a TLS context for it on every connect even when the server says no."""
    parts = urlsplit(dsn)
    params: dict[str, Any] = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password) if parts.password is not None else None,
        "database": unquote(parts.path.lstrip("/")),
    }
    if parse_qs(parts.query).get("sslmode") == ["disable"]:
        params["ssl_context"] = False
    return params


def pgwire_source() -> dict[str, str]:
    """Where this worker imported pgwire from (the working tree, or a baseline checkout)."""
    import pgwire

    return {"pgwire_from": os.path.dirname(os.path.dirname(pgwire.__file__))}


def versions_of(*names: str) -> dict[str, str]:
    import importlib.metadata

    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


Op = Callable[[Any], Any]


class PgwireAsync:
    is_async = True

    def __init__(self, dsn: str) -> None:
        import pgwire

        self.pgwire, self.dsn = pgwire, dsn

    def versions(self) -> dict[str, str]:
        return {**versions_of("pgwire", "anyio", "trio", "uvloop"), **pgwire_source()}

    async def connect(self) -> Any:
        return await self.pgwire.connect_async(self.dsn)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def open_pool(self, size: int) -> Any:
        return await self.pgwire.create_pool(self.dsn, min_size=size, max_size=size)

    async def close_pool(self, pool: Any) -> None:
        await pool.close()

    def note(self, workload: str) -> str:
        return pgwire_pool_note("pgwire.create_pool") if workload == "pool" else ""

    async def execute(self, conn: Any, sql: str) -> Any:
        return await conn.execute(sql)

    async def fetchval(self, conn: Any, sql: str) -> Any:
        return await conn.fetchval(sql)

    async def count(self, conn: Any) -> int:
        return int(await conn.fetchval(COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        if workload == "pgtype":

            async def op(c: Any) -> Any:
                return await c.fetch(PGTYPE_SQL, -1, True)

        elif workload in ("series", "bytea", "intarray"):
            sql = {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]

            async def op(c: Any) -> Any:
                return await c.fetch(sql)

        elif workload == "copy":

            async def op(c: Any) -> Any:
                return await c.copy_records_to_table("bench_copy", records=COPY_RECORDS)

        elif workload == "executemany":

            async def op(c: Any) -> Any:
                return await c.executemany(INSERT_SQL, MANY_RECORDS)

        elif workload == "select":

            async def op(c: Any) -> Any:
                return await c.fetchval(SELECT_SQL)

        elif workload == "pipeline":

            async def op(c: Any) -> Any:
                async with c.pipeline() as p:
                    results = [p.fetchval(PIPELINE_SQL, i) for i in range(PIPELINE_QUERIES)]
                return [r.result() for r in results]

        elif workload == "stream":
            sql = stream_sql(rows)

            async def op(c: Any) -> Any:
                n = 0
                async for _row in c.cursor(sql, batch_size=STREAM_BATCH):
                    n += 1
                return n

        elif workload == "pool":

            async def op(c: Any) -> Any:
                async with c.acquire() as conn:
                    return await conn.fetchval(POOL_SQL)

        else:
            raise ValueError(workload)
        return op


class PgwireSync:
    is_async = False

    def __init__(self, dsn: str) -> None:
        import pgwire

        self.pgwire, self.dsn = pgwire, dsn

    def versions(self) -> dict[str, str]:
        return {**versions_of("pgwire"), **pgwire_source()}

    def connect(self) -> Any:
        return self.pgwire.connect(self.dsn)

    def close(self, conn: Any) -> None:
        conn.close()

    def open_pool(self, size: int) -> Any:
        return self.pgwire.create_blocking_pool(self.dsn, min_size=size, max_size=size)

    def close_pool(self, pool: Any) -> None:
        pool.close()

    def note(self, workload: str) -> str:
        if workload == "pool":
            return pgwire_pool_note("pgwire.create_blocking_pool, threads")
        return ""

    def execute(self, conn: Any, sql: str) -> Any:
        return conn.execute(sql)

    def fetchval(self, conn: Any, sql: str) -> Any:
        return conn.fetchval(sql)

    def count(self, conn: Any) -> int:
        return int(conn.fetchval(COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        if workload == "pgtype":
            return lambda c: c.fetch(PGTYPE_SQL, -1, True)
        if workload in ("series", "bytea", "intarray"):
            sql = {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]
            return lambda c: c.fetch(sql)
        if workload == "copy":
            return lambda c: c.copy_records_to_table("bench_copy", records=COPY_RECORDS)
        if workload == "executemany":
            return lambda c: c.executemany(INSERT_SQL, MANY_RECORDS)
        if workload == "select":
            return lambda c: c.fetchval(SELECT_SQL)
        if workload == "pipeline":

            def op(c: Any) -> Any:
                with c.pipeline() as p:
                    results = [p.fetchval(PIPELINE_SQL, i) for i in range(PIPELINE_QUERIES)]
                return [r.result() for r in results]

            return op
        if workload == "stream":
            sql = stream_sql(rows)

            def stream(c: Any) -> int:
                n = 0
                for _row in c.cursor(sql, batch_size=STREAM_BATCH):
                    n += 1
                return n

            return stream
        if workload == "pool":

            def pool(p: Any) -> Any:
                with p.acquire() as conn:
                    return conn.fetchval(POOL_SQL)

            return pool
        raise ValueError(workload)


class Asyncpg:
    is_async = True

    def __init__(self, dsn: str) -> None:
        import asyncpg

        self.asyncpg, self.dsn = asyncpg, dsn

    def versions(self) -> dict[str, str]:
        return versions_of("asyncpg", "uvloop")

    async def connect(self) -> Any:
        return await self.asyncpg.connect(self.dsn)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def open_pool(self, size: int) -> Any:
        return await self.asyncpg.create_pool(self.dsn, min_size=size, max_size=size)

    async def close_pool(self, pool: Any) -> None:
        await pool.close()

    async def execute(self, conn: Any, sql: str) -> Any:
        return await conn.execute(sql)

    async def fetchval(self, conn: Any, sql: str) -> Any:
        return await conn.fetchval(sql)

    async def count(self, conn: Any) -> int:
        return int(await conn.fetchval(COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        if workload == "pgtype":

            async def op(c: Any) -> Any:
                return await c.fetch(PGTYPE_SQL, -1, True)

        elif workload in ("series", "bytea", "intarray"):
            sql = {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]

            async def op(c: Any) -> Any:
                return await c.fetch(sql)

        elif workload == "copy":

            async def op(c: Any) -> Any:
                return await c.copy_records_to_table(
                    "bench_copy", records=COPY_RECORDS, columns=COPY_COLUMNS
                )

        elif workload == "executemany":

            async def op(c: Any) -> Any:
                return await c.executemany(INSERT_SQL, MANY_RECORDS)

        elif workload == "select":

            async def op(c: Any) -> Any:
                return await c.fetchval(SELECT_SQL)

        elif workload == "pipeline":

            async def op(c: Any) -> Any:
                return [await c.fetchval(PIPELINE_SQL, i) for i in range(PIPELINE_QUERIES)]

        elif workload == "stream":
            sql = stream_sql(rows)

            async def op(c: Any) -> Any:
                n = 0
                async with c.transaction():
                    async for _row in c.cursor(sql, prefetch=STREAM_BATCH):
                        n += 1
                return n

        elif workload == "pool":

            async def op(c: Any) -> Any:
                async with c.acquire() as conn:
                    return await conn.fetchval(POOL_SQL)

        else:
            raise ValueError(workload)
        return op


class PsycopgSync:
    is_async = False

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.psycopg, self.dsn = psycopg, dsn

    def versions(self) -> dict[str, str]:
        out = versions_of("psycopg", "psycopg-binary", "psycopg-pool")
        out["impl"] = self.psycopg.pq.__impl__
        out["libpq"] = str(self.psycopg.pq.version())
        return out

    def connect(self) -> Any:
        # autocommit: no implicit BEGIN per query, like the other drivers.
        return self.psycopg.connect(self.dsn, autocommit=True)

    def close(self, conn: Any) -> None:
        conn.close()

    def open_pool(self, size: int) -> Any:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            self.dsn, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False
        )
        pool.open(wait=True)
        return pool

    def close_pool(self, pool: Any) -> None:
        pool.close()

    def execute(self, conn: Any, sql: str) -> Any:
        return conn.execute(sql)

    def fetchval(self, conn: Any, sql: str) -> Any:
        return conn.execute(sql).fetchone()[0]

    def count(self, conn: Any) -> int:
        return int(self.fetchval(conn, COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        if workload == "pgtype":
            sql = sql_for("format", PGTYPE_SQL)
            return lambda c: c.execute(sql, (-1, True)).fetchall()
        if workload in ("series", "bytea", "intarray"):
            sql = {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]
            return lambda c: c.execute(sql).fetchall()
        if workload == "copy":
            copy_sql = "COPY bench_copy (a, b, c, d, e, f, g) FROM STDIN (FORMAT BINARY)"

            def copy(c: Any) -> None:
                with c.cursor() as cur, cur.copy(copy_sql) as cp:
                    cp.set_types(COPY_TYPES)
                    for record in COPY_RECORDS:
                        cp.write_row(record)

            return copy
        if workload == "executemany":
            sql = sql_for("format", INSERT_SQL)

            def many(c: Any) -> None:
                # In a transaction, atomic like the other drivers' executemany.
                with c.transaction(), c.cursor() as cur:
                    cur.executemany(sql, MANY_RECORDS)

            return many
        if workload == "select":
            return lambda c: c.execute(SELECT_SQL).fetchone()[0]
        if workload == "pipeline":
            sql = sql_for("format", PIPELINE_SQL)

            def pipeline(c: Any) -> Any:
                cursors = []
                with c.pipeline():
                    for i in range(PIPELINE_QUERIES):
                        cur = c.cursor()
                        cur.execute(sql, (i,))
                        cursors.append(cur)
                return [cur.fetchone()[0] for cur in cursors]

            return pipeline
        if workload == "stream":
            sql = stream_sql(rows)

            def stream(c: Any) -> int:
                n = 0
                with c.transaction(), c.cursor(name="bench_stream") as cur:
                    cur.itersize = STREAM_BATCH
                    cur.execute(sql)
                    for _row in cur:
                        n += 1
                return n

            return stream
        if workload == "pool":

            def pool(p: Any) -> Any:
                with p.connection() as conn:
                    return conn.execute(POOL_SQL).fetchone()[0]

            return pool
        raise ValueError(workload)


class PsycopgAsync:
    is_async = True

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.psycopg, self.dsn = psycopg, dsn

    versions = PsycopgSync.versions

    async def connect(self) -> Any:
        return await self.psycopg.AsyncConnection.connect(self.dsn, autocommit=True)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def open_pool(self, size: int) -> Any:
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            self.dsn, min_size=size, max_size=size, kwargs={"autocommit": True}, open=False
        )
        await pool.open(wait=True)
        return pool

    async def close_pool(self, pool: Any) -> None:
        await pool.close()

    async def execute(self, conn: Any, sql: str) -> Any:
        return await conn.execute(sql)

    async def fetchval(self, conn: Any, sql: str) -> Any:
        cur = await conn.execute(sql)
        return (await cur.fetchone())[0]

    async def count(self, conn: Any) -> int:
        return int(await self.fetchval(conn, COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        if workload in ("pgtype", "series", "bytea", "intarray"):
            sql, args = {
                "pgtype": (sql_for("format", PGTYPE_SQL), (-1, True)),
                "series": (SERIES_SQL, None),
                "bytea": (BYTEA_SQL, None),
                "intarray": (INTARRAY_SQL, None),
            }[workload]

            async def op(c: Any) -> Any:
                cur = await c.execute(sql, args)
                return await cur.fetchall()

        elif workload == "copy":
            copy_sql = "COPY bench_copy (a, b, c, d, e, f, g) FROM STDIN (FORMAT BINARY)"

            async def op(c: Any) -> Any:
                async with c.cursor() as cur, cur.copy(copy_sql) as cp:
                    cp.set_types(COPY_TYPES)
                    for record in COPY_RECORDS:
                        await cp.write_row(record)

        elif workload == "executemany":
            sql = sql_for("format", INSERT_SQL)

            async def op(c: Any) -> Any:
                async with c.transaction(), c.cursor() as cur:
                    await cur.executemany(sql, MANY_RECORDS)

        elif workload == "select":

            async def op(c: Any) -> Any:
                cur = await c.execute(SELECT_SQL)
                return (await cur.fetchone())[0]

        elif workload == "pipeline":
            sql = sql_for("format", PIPELINE_SQL)

            async def op(c: Any) -> Any:
                cursors = []
                async with c.pipeline():
                    for i in range(PIPELINE_QUERIES):
                        cur = c.cursor()
                        await cur.execute(sql, (i,))
                        cursors.append(cur)
                return [(await cur.fetchone())[0] for cur in cursors]

        elif workload == "stream":
            sql = stream_sql(rows)

            async def op(c: Any) -> Any:
                n = 0
                async with c.transaction(), c.cursor(name="bench_stream") as cur:
                    cur.itersize = STREAM_BATCH
                    await cur.execute(sql)
                    async for _row in cur:
                        n += 1
                return n

        elif workload == "pool":

            async def op(c: Any) -> Any:
                async with c.connection() as conn:
                    cur = await conn.execute(POOL_SQL)
                    return (await cur.fetchone())[0]

        else:
            raise ValueError(workload)
        return op


class Pg8000:
    is_async = False

    def __init__(self, dsn: str) -> None:
        import pg8000.native

        self.native = pg8000.native
        self.params = conn_params(dsn)

    def versions(self) -> dict[str, str]:
        return versions_of("pg8000")

    def connect(self) -> Any:
        return self.native.Connection(**self.params)

    def close(self, conn: Any) -> None:
        conn.close()

    def execute(self, conn: Any, sql: str) -> Any:
        return conn.run(sql)

    def fetchval(self, conn: Any, sql: str) -> Any:
        return conn.run(sql)[0][0]

    def count(self, conn: Any) -> int:
        return int(self.fetchval(conn, COUNT_SQL))

    def op(self, workload: str, rows: int = 0) -> Op:
        # Prepared statements are per connection: made on the connection's first use.
        statements: dict[int, Any] = {}

        def prepared(c: Any, sql: str) -> Any:
            ps = statements.get(id(c))
            if ps is None:
                ps = statements[id(c)] = c.prepare(sql)
            return ps

        if workload == "pgtype":
            sql = sql_for("named", PGTYPE_SQL)
            return lambda c: prepared(c, sql).run(p1=-1, p2=True)
        if workload in ("series", "bytea", "intarray"):
            sql = {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]
            return lambda c: prepared(c, sql).run()
        if workload == "copy":
            copy_sql = "COPY bench_copy (a, b, c, d, e, f, g) FROM STDIN"

            def copy(c: Any) -> None:
                lines = (
                    f"{a}\t{b}\t{t}\t{d!r}\t{e.isoformat()}\t{'t' if f else 'f'}\t{g.isoformat()}\n"
                    for a, b, t, d, e, f, g in COPY_RECORDS
                )
                c.run(copy_sql, stream=lines)

            return copy
        if workload == "executemany":
            sql = sql_for("named", INSERT_SQL)
            params = [{f"p{n}": v for n, v in enumerate(r, 1)} for r in MANY_RECORDS]

            def many(c: Any) -> None:
                # pg8000 has no batched executemany (its DB-API one is this same loop).
                ps = prepared(c, sql)
                c.run("BEGIN")
                for p in params:
                    ps.run(**p)
                c.run("COMMIT")

            return many
        if workload == "select":
            return lambda c: prepared(c, SELECT_SQL).run()[0][0]
        if workload == "pipeline":
            sql = sql_for("named", PIPELINE_SQL)

            def pipeline(c: Any) -> Any:
                ps = prepared(c, sql)
                return [ps.run(p1=i)[0][0] for i in range(PIPELINE_QUERIES)]

            return pipeline
        if workload == "stream":
            sql = stream_sql(rows)

            def stream(c: Any) -> int:
                n = 0
                c.run("BEGIN")
                c.run(f"DECLARE bench_stream NO SCROLL CURSOR FOR {sql}")
                while batch := c.run(f"FETCH FORWARD {STREAM_BATCH} FROM bench_stream"):
                    n += len(batch)
                c.run("COMMIT")
                return n

            return stream
        raise ValueError(workload)


def copy_text_lines() -> Any:
    """COPY_RECORDS as lines of COPY's text format (generated while timed: the encoding)."""
    return (
        f"{a}\t{b}\t{t}\t{d!r}\t{e.isoformat()}\t{'t' if f else 'f'}\t{g.isoformat()}\n"
        for a, b, t, d, e, f, g in COPY_RECORDS
    )


class Dbapi:
    """The workloads through PEP 249 calls only (connection, cursor, execute, executemany,
    fetch*), on an autocommit connection as the other adapters; what PEP 249 lacks (COPY,
    named cursors) each driver does its own way. Subclasses say how to connect."""

    is_async = False
    COPY_SQL = "COPY bench_copy (a, b, c, d, e, f, g) FROM STDIN"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def connect(self) -> Any:
        raise NotImplementedError

    def close(self, conn: Any) -> None:
        conn.close()

    def execute(self, conn: Any, sql: str) -> Any:
        cur = conn.cursor()
        cur.execute(sql)
        cur.close()

    def fetchval(self, conn: Any, sql: str) -> Any:
        cur = conn.cursor()
        cur.execute(sql)
        value = cur.fetchone()[0]
        cur.close()
        return value

    def count(self, conn: Any) -> int:
        return int(self.fetchval(conn, COUNT_SQL))

    def copy(self, conn: Any) -> None:
        raise NotImplementedError

    def stream(self, conn: Any, sql: str) -> int:
        cur = conn.cursor("bench_stream")
        cur.itersize = STREAM_BATCH
        cur.execute(sql)
        n = 0
        for _row in cur:
            n += 1
        cur.close()
        return n

    def op(self, workload: str, rows: int = 0) -> Op:
        def fetchall(sql: str, args: Any = None) -> Op:
            def op(c: Any) -> Any:
                cur = c.cursor()
                if args is None:  # pg8000 takes no None for "no parameters"
                    cur.execute(sql)
                else:
                    cur.execute(sql, args)
                return cur.fetchall()

            return op

        if workload == "pgtype":
            return fetchall(sql_for("format", PGTYPE_SQL), (-1, True))
        if workload in ("series", "bytea", "intarray"):
            return fetchall(
                {"series": SERIES_SQL, "bytea": BYTEA_SQL, "intarray": INTARRAY_SQL}[workload]
            )
        if workload == "copy":
            return lambda c: self.copy(c)
        if workload == "executemany":
            sql = sql_for("format", INSERT_SQL)

            def many(c: Any) -> None:
                cur = c.cursor()
                cur.execute("BEGIN")
                cur.executemany(sql, MANY_RECORDS)
                cur.execute("COMMIT")

            return many
        if workload == "select":

            def select(c: Any) -> Any:
                cur = c.cursor()
                cur.execute(SELECT_SQL)
                return cur.fetchone()[0]

            return select
        if workload == "pipeline":
            sql = sql_for("format", PIPELINE_SQL)

            def pipeline(c: Any) -> Any:
                cur = c.cursor()
                out = []
                for i in range(PIPELINE_QUERIES):
                    cur.execute(sql, (i,))
                    out.append(cur.fetchone()[0])
                return out

            return pipeline
        if workload == "stream":
            sql = stream_sql(rows)

            def stream(c: Any) -> int:
                cur = c.cursor()
                cur.execute("BEGIN")
                n = self.stream(c, sql)
                cur.execute("COMMIT")
                return n

            return stream
        raise ValueError(workload)


class PgwireDbapi(Dbapi):
    def versions(self) -> dict[str, str]:
        return {**versions_of("pgwire"), **pgwire_source()}

    def connect(self) -> Any:
        import pgwire.dbapi

        return pgwire.dbapi.connect(self.dsn, autocommit=True)

    def copy(self, conn: Any) -> None:
        conn.driver_connection.copy_records_to_table("bench_copy", records=COPY_RECORDS)


class PsycopgDbapi(Dbapi):
    def __init__(self, dsn: str) -> None:
        import psycopg

        super().__init__(dsn)
        self.psycopg = psycopg

    versions = PsycopgSync.versions

    def connect(self) -> Any:
        return self.psycopg.connect(self.dsn, autocommit=True)

    def copy(self, conn: Any) -> None:
        copy_sql = "COPY bench_copy (a, b, c, d, e, f, g) FROM STDIN (FORMAT BINARY)"
        with conn.cursor() as cur, cur.copy(copy_sql) as cp:
            cp.set_types(COPY_TYPES)
            for record in COPY_RECORDS:
                cp.write_row(record)


class Pg8000Dbapi(Dbapi):
    def versions(self) -> dict[str, str]:
        return versions_of("pg8000")

    def connect(self) -> Any:
        import pg8000.dbapi

        conn = pg8000.dbapi.connect(**conn_params(self.dsn))
        conn.autocommit = True
        return conn

    def copy(self, conn: Any) -> None:
        conn.cursor().execute(self.COPY_SQL, stream=copy_text_lines())

    def stream(self, conn: Any, sql: str) -> int:
        # pg8000.dbapi has no named cursors: DECLARE and FETCH by hand.
        cur = conn.cursor()
        cur.execute(f"DECLARE bench_stream NO SCROLL CURSOR FOR {sql}")
        n = 0
        while True:
            cur.execute(f"FETCH FORWARD {STREAM_BATCH} FROM bench_stream")
            batch = cur.fetchall()
            if not batch:
                return n
            n += len(batch)


ADAPTERS = {
    cls.__name__: cls
    for cls in (
        PgwireAsync,
        PgwireSync,
        Asyncpg,
        PsycopgSync,
        PsycopgAsync,
        Pg8000,
        PgwireDbapi,
        PsycopgDbapi,
        Pg8000Dbapi,
    )
} | ORM_ADAPTERS


def make_adapter(driver: str, dsn: str) -> Any:
    return ADAPTERS[DRIVERS[driver][0]](dsn)
