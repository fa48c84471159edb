"""``postgresql+pgwire://``: the SQLAlchemy dialect on :mod:`pgwire.dbapi` (blocking).

A page of overrides on SQLAlchemy's PostgreSQL dialect, as its ``pg8000`` and ``psycopg``
dialects are: everything SQL-shaped (compilation, reflection, DDL) stays in the base
dialect. What is pgwire's here: connection arguments from the URL (handed to
:func:`pgwire.connect` as they are, so host lists, ``sslmode``, ``sslrootcert``,
``websocket_url`` and ``iam=dsql|rds`` work), the type adaptations of
:mod:`pgwire.sqlalchemy._types`, isolation levels on the PEP 249 connection's attributes,
named cursors for ``stream_results``, two-phase commit through ``tpc_*``, and which errors
mean the connection is gone. The asyncio dialect (:mod:`pgwire.sqlalchemy.aio`) extends this
one. Only SQLAlchemy imports this module (through the ``sqlalchemy.dialects`` entry point);
``import pgwire`` never does. See docs/sqlalchemy.md.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import util
from sqlalchemy.dialects.postgresql.base import PGDialect, PGExecutionContext
from sqlalchemy.engine import URL, Engine

from pgwire.operations import is_stale
from pgwire.sqlalchemy._types import colspecs, json_passthrough

__all__ = ["PGDialect_pgwire", "connect_params"]

#: URL query parameters that are numbers for the driver (a URL's values are strings), and
#: asyncpg's dialect's name for the statement cache, accepted as an alias.
_INT_PARAMS = ("statement_cache_size",)
_FLOAT_PARAMS = ("command_timeout", "cancel_timeout")
_ALIASES = {"prepared_statement_cache_size": "statement_cache_size"}

#: SQLSTATEs that end the session: connection exceptions (class 08), and the server
#: shutting down or terminating the backend (57P01..57P03).
_DISCONNECT_STATES = ("57P01", "57P02", "57P03")

#: DSQL closes connections after 60 minutes; pools recycle them before that.
IAM_POOL_RECYCLE = 3300

_ISOLATION_LEVELS = ("READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE")


def connect_params(url: URL, split_hosts: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`pgwire.connect` for ``url``: user, password, host,
    port and database from its parts, everything in its query as it is (numbers made
    numbers), and ``?host=a:5432&host=b:5433`` as libpq's lists ``host=a,b port=5432,5433``."""
    params: dict[str, Any] = url.translate_connect_args(username="user", database="dbname")
    for key, value in url.query.items():
        params[_ALIASES.get(key, key)] = value
    hosts, ports = split_hosts(url)
    if hosts:
        params["host"] = ",".join(hosts)
        if any(ports):
            params["port"] = ",".join(str(port or "") for port in ports)
    for key, value in params.items():
        if isinstance(value, tuple):
            raise ValueError(f"URL parameter {key!r} is given more than once: give it once")
    for key in _INT_PARAMS:
        if key in params:
            params[key] = int(params[key])
    for key in _FLOAT_PARAMS:
        if key in params:
            params[key] = float(params[key])
    return params


def _run_fresh(connection: Any, run: Any, *args: Any) -> Any:
    """Run a statement; if it is the first of a transaction the connection opens for it and
    fails because its cached prepared statement went stale (a table changed under it, e.g.
    dropped and created again), roll back the empty transaction and run it once more. The
    driver has already dropped the stale statement, so the second run prepares it anew.
    (In autocommit mode the driver retries by itself.)"""
    fresh = not connection.autocommit and connection.transaction_status == "I"
    try:
        return run(*args)
    except Exception as exc:
        if not (fresh and is_stale(exc)) or connection.closed:
            raise
    connection.rollback()
    return run(*args)


class PGExecutionContext_pgwire(PGExecutionContext):
    def pre_exec(self) -> None:
        # DDL run through SQLAlchemy may change what statements the driver has cached
        # return, on any connection of the engine: each connection forgets its cached
        # statements before its first statement after the DDL (as the asyncpg dialect does).
        dialect = self.dialect
        if self.isddl:
            dialect._ddl_generation += 1  # type: ignore[attr-defined]
        generation = dialect._ddl_generation  # type: ignore[attr-defined]
        try:
            info = self._dbapi_connection.info
        except NotImplementedError:  # the engine's first connect: nothing cached yet
            return
        if info.setdefault(_DDL_GENERATION, generation) != generation:
            info[_DDL_GENERATION] = generation
            dialect._clear_statement_cache(self._dbapi_connection.dbapi_connection)  # type: ignore[attr-defined]

    def create_server_side_cursor(self) -> Any:
        # A named cursor reads its portal itersize rows at a time: flat memory.
        ident = f"c_{id(self):x}_{_cursor_ids():x}"
        return self._dbapi_connection.cursor(ident)


#: The key, in a pooled connection's ``info``, of the DDL generation its cache knows.
_DDL_GENERATION = "pgwire_ddl_generation"


_cursor_ids = util.counter()


class PGDialect_pgwire(PGDialect):
    """``postgresql+pgwire://user:password@host:port/dbname?key=value``."""

    driver = "pgwire"
    supports_statement_cache = True
    supports_server_side_cursors = True
    default_paramstyle = "pyformat"
    supports_sane_multi_rowcount = True
    render_bind_cast = True
    # SQLAlchemy serializes JSON itself (json_serializer); pgwire decodes it
    # (json_deserializer, set on each connection).
    supports_native_json_serialization = False
    supports_native_json_deserialization = True
    dialect_injects_custom_json_deserializer = True

    execution_ctx_cls = PGExecutionContext_pgwire
    colspecs = colspecs(PGDialect.colspecs)

    @classmethod
    def import_dbapi(cls) -> Any:
        import pgwire.dbapi

        return pgwire.dbapi

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        # The IAM parameters (with their token provider), made on the first connect and
        # shared by every connection after it, so tokens are cached across the pool.
        self._iam: tuple[dict[str, Any], dict[str, Any]] | None = None
        #: How many DDL statements ran through this engine (see pre_exec).
        self._ddl_generation = 0

    @classmethod
    def load_provisioning(cls) -> None:
        # SQLAlchemy's test provisioning for PostgreSQL (its compliance suite) applies.
        import sqlalchemy.dialects.postgresql.provision  # noqa: F401

    # ------------------------------------------------------------------------------------
    # Connecting
    # ------------------------------------------------------------------------------------

    def create_connect_args(self, url: URL) -> Any:
        return [], connect_params(url, self._split_multihost_from_url)

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return super().connect(*cargs, **self._with_iam(cparams))

    def _with_iam(self, cparams: dict[str, Any]) -> dict[str, Any]:
        """With ``iam=dsql|rds``: DSQL's (or RDS's) defaults and one token provider, made
        once for the engine (so every physical connection gets a cached, fresh token)."""
        if not cparams.get("iam"):
            return cparams
        if self._iam is None or self._iam[0] != cparams:
            from pgwire.iam_params import connection_params

            self._iam = (dict(cparams), connection_params(None, for_async=self.is_async, **cparams))
        return self._iam[1]

    @classmethod
    def engine_created(cls, engine: Engine) -> None:
        # DSQL ends connections at 60 minutes: recycle before, unless the user chose.
        if engine.url.query.get("iam") and engine.pool._recycle < 0:
            engine.pool._recycle = IAM_POOL_RECYCLE

    def on_connect(self) -> Any:
        # pgwire hands loads the JSON text as bytes (json.loads takes them); a
        # json_deserializer gets str, as with SQLAlchemy's other dialects.
        custom = self._json_deserializer
        loads = json.loads if custom is None else (lambda data: custom(data.decode()))
        dumps = json_passthrough(self._json_serializer or json.dumps)
        parent = super().on_connect()

        def on_connect(dbapi_connection: Any) -> None:
            self.get_driver_connection(dbapi_connection).registry.set_json(loads=loads, dumps=dumps)
            if parent is not None:
                parent(dbapi_connection)

        return on_connect

    def get_driver_connection(self, connection: Any) -> Any:
        return connection.driver_connection

    def _clear_statement_cache(self, dbapi_connection: Any) -> None:
        dbapi_connection.driver_connection.clear_statement_cache()

    # ------------------------------------------------------------------------------------
    # Transactions
    # ------------------------------------------------------------------------------------

    def get_isolation_level_values(self, dbapi_connection: Any) -> Any:
        return ["AUTOCOMMIT", *_ISOLATION_LEVELS]

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        if level == "AUTOCOMMIT":
            dbapi_connection.autocommit = True
        else:
            dbapi_connection.autocommit = False
            dbapi_connection.isolation_level = level

    def detect_autocommit_setting(self, dbapi_connection: Any) -> bool:
        return bool(dbapi_connection.autocommit)

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return self._asking(dbapi_connection, super().get_isolation_level)

    def get_default_isolation_level(self, dbapi_connection: Any) -> Any:
        return self._asking(dbapi_connection, super().get_default_isolation_level)

    def _asking(self, dbapi_connection: Any, ask: Any) -> Any:
        """Ask the server without leaving open the transaction the question began."""
        idle = dbapi_connection.transaction_status == "I"
        try:
            return ask(dbapi_connection)
        finally:
            if idle and not dbapi_connection.closed:
                dbapi_connection.rollback()

    def set_readonly(self, connection: Any, value: bool) -> None:
        connection.read_only = value

    def get_readonly(self, connection: Any) -> bool:
        return bool(connection.read_only)

    def set_deferrable(self, connection: Any, value: bool) -> None:
        connection.deferrable = value

    def get_deferrable(self, connection: Any) -> bool:
        return bool(connection.deferrable)

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        _run_fresh(cursor.connection, cursor.execute, statement, parameters)

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        _run_fresh(cursor.connection, cursor.executemany, statement, parameters)

    def do_ping(self, dbapi_connection: Any) -> bool:
        # An empty simple query: one round trip, no transaction begun (also behind
        # PgBouncer in transaction mode).
        self.get_driver_connection(dbapi_connection).execute(";")
        return True

    def is_disconnect(self, e: Exception, connection: Any, cursor: Any) -> bool:
        if connection is not None and connection.closed:
            return True
        sqlstate = getattr(e, "sqlstate", None) or ""
        if sqlstate.startswith("08") or sqlstate in _DISCONNECT_STATES:
            return True
        return isinstance(e, self.loaded_dbapi.InterfaceError) and "is closed" in str(e)

    # ------------------------------------------------------------------------------------
    # Two-phase commit, on PEP 249's tpc_* methods
    # ------------------------------------------------------------------------------------

    def do_begin_twophase(self, connection: Any, xid: Any) -> None:
        connection.connection.tpc_begin(xid)

    def do_prepare_twophase(self, connection: Any, xid: Any) -> None:
        connection.connection.tpc_prepare()

    def do_rollback_twophase(
        self, connection: Any, xid: Any, is_prepared: bool = True, recover: bool = False
    ) -> None:
        self._end_twophase(connection, "tpc_rollback", xid, recover)

    def do_commit_twophase(
        self, connection: Any, xid: Any, is_prepared: bool = True, recover: bool = False
    ) -> None:
        self._end_twophase(connection, "tpc_commit", xid, recover)

    def _end_twophase(self, connection: Any, method: str, xid: Any, recover: bool) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if recover:
            # Ending another session's prepared transaction happens outside any.
            if dbapi_connection.transaction_status != "I":
                dbapi_connection.rollback()
            getattr(dbapi_connection, method)(xid)
        else:
            getattr(dbapi_connection, method)()

    def do_recover_twophase(self, connection: Any) -> list[str]:
        return [xid.name for xid in connection.connection.tpc_recover()]


dialect = PGDialect_pgwire
