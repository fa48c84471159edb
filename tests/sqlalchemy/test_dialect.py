"""``postgresql+pgwire``: connection arguments from the URL, transactions and isolation
levels, disconnects, server-side cursors, executemany and insertmanyvalues, two-phase
commit, DDL and the statement cache, against the real PostgreSQL 18."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import pgwire.dbapi
from pgwire.sqlalchemy.aio import PGDialectAsync_pgwire
from pgwire.sqlalchemy.base import PGDialect_pgwire
from tests.pg import PostgresServer
from tests.sqlalchemy.conftest import url
from tests.websocket.conftest import start_websockify, stop_websockify

# ----------------------------------------------------------------------------------------
# Registration, imports
# ----------------------------------------------------------------------------------------


def test_the_entry_points_name_both_dialects() -> None:
    assert make_url("postgresql+pgwire://h/db").get_dialect() is PGDialect_pgwire
    assert make_url("postgresql+pgwire_async://h/db").get_dialect() is PGDialectAsync_pgwire


def test_importing_pgwire_never_imports_sqlalchemy() -> None:
    code = (
        "import sys, pgwire, pgwire.dbapi, pgwire.dsql, pgwire.pool\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------------------
# Connection arguments from the URL
# ----------------------------------------------------------------------------------------


def _connect_args(text: str) -> dict[str, object]:
    dialect = PGDialect_pgwire()
    args, params = dialect.create_connect_args(make_url(text))
    assert args == []
    return dict(params)


def test_url_parts_and_query_become_pgwire_parameters() -> None:
    params = _connect_args(
        "postgresql+pgwire://app:s%40cret@db.internal:6432/appdb"
        "?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=web"
        "&statement_cache_size=0&command_timeout=2.5&websocket_url=wss://edge/v2"
    )
    assert params == {
        "user": "app",
        "password": "s@cret",
        "host": "db.internal",
        "port": 6432,
        "dbname": "appdb",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "application_name": "web",
        "statement_cache_size": 0,
        "command_timeout": 2.5,
        "websocket_url": "wss://edge/v2",
    }


def test_host_lists_become_libpq_lists() -> None:
    params = _connect_args(
        "postgresql+pgwire://app@/appdb?host=a:5432&host=b:5433&target_session_attrs=read-write"
    )
    assert (params["host"], params["port"]) == ("a,b", "5432,5433")
    assert params["target_session_attrs"] == "read-write"


def test_asyncpgs_name_for_the_statement_cache_is_accepted() -> None:
    params = _connect_args("postgresql+pgwire://h/db?prepared_statement_cache_size=0")
    assert params["statement_cache_size"] == 0


def test_a_host_list_reaches_the_second_host_when_the_first_refuses(
    pg_server: PostgresServer,
) -> None:
    engine = sa.create_engine(
        f"postgresql+pgwire://trust_user@/pgwire_test"
        f"?host=127.0.0.1:1&host=127.0.0.1:{pg_server.port}"
    )
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT inet_server_port()")) == pg_server.port
    engine.dispose()


@pytest.mark.parametrize("driver", ["pgwire", "pgwire_async"])
def test_a_websocket_url_in_the_query_goes_through_a_bridge(
    pg_server: PostgresServer, tmp_path: Path, driver: str
) -> None:
    bridge = start_websockify(pg_server.port, tmp_path)
    try:
        target = (
            f"postgresql+{driver}://trust_user@/pgwire_test"
            f"?websocket_url={bridge.url}&websocket_subprotocols=binary"
        )

        async def through_async() -> Any:
            engine = create_async_engine(target)
            async with engine.connect() as conn:
                value = await conn.scalar(sa.text("SELECT inet_server_port()"))
            await engine.dispose()
            return value

        if driver == "pgwire_async":
            port = asyncio.run(through_async())
        else:
            engine = sa.create_engine(target)
            with engine.connect() as conn:
                port = conn.scalar(sa.text("SELECT inet_server_port()"))
            engine.dispose()
        assert port == pg_server.port
    finally:
        stop_websockify(bridge)


def test_sslmode_from_the_url_reaches_the_driver(pg_server: PostgresServer) -> None:
    # The suite's server has no TLS: sslmode=require must fail, and say why.
    engine = sa.create_engine(url(pg_server, sslmode="require"))
    with pytest.raises(exc.OperationalError, match=r"(?i)ssl|tls"):
        engine.connect()
    engine.dispose()


def test_a_missing_sslrootcert_file_is_reported(pg_server: PostgresServer) -> None:
    engine = sa.create_engine(
        url(pg_server, sslmode="verify-full", sslrootcert="/nonexistent/ca.pem")
    )
    with pytest.raises(exc.DBAPIError, match=r"ca\.pem"):
        engine.connect()
    engine.dispose()


# ----------------------------------------------------------------------------------------
# Transactions
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "level", ["READ COMMITTED", "READ UNCOMMITTED", "REPEATABLE READ", "SERIALIZABLE"]
)
def test_each_isolation_level_is_the_one_the_transaction_runs_at(
    engine: sa.Engine, level: str
) -> None:
    with engine.connect().execution_options(isolation_level=level) as conn:
        assert conn.get_isolation_level() == level
        shown = conn.scalar(sa.text("SHOW transaction_isolation"))
        assert shown == level.lower()
        assert conn.in_transaction()


def test_autocommit_runs_each_statement_in_a_transaction_of_its_own(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("CREATE TABLE counter (n int)"))
        conn.execute(sa.text("INSERT INTO counter VALUES (1)"))
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        assert dbapi_connection.transaction_status == "I"
        conn.rollback()  # nothing to undo
    with engine.connect() as other:
        assert other.scalar(sa.text("SELECT count(*) FROM counter")) == 1


def test_the_isolation_level_returns_to_the_default_at_checkin(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="SERIALIZABLE") as conn:
        assert conn.get_isolation_level() == "SERIALIZABLE"
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SHOW transaction_isolation")) == "read committed"


def test_read_only_and_deferrable_transactions(engine: sa.Engine) -> None:
    options = {
        "isolation_level": "SERIALIZABLE",
        "postgresql_readonly": True,
        "postgresql_deferrable": True,
    }
    with engine.connect().execution_options(**options) as conn:
        assert conn.scalar(sa.text("SHOW transaction_read_only")) == "on"
        assert conn.scalar(sa.text("SHOW transaction_deferrable")) == "on"
        with pytest.raises(exc.InternalError, match="read-only transaction"):
            conn.execute(sa.text("CREATE TABLE refused (n int)"))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SHOW transaction_read_only")) == "off"


def test_two_phase_commit(engine: sa.Engine, pg_server: PostgresServer) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE ledger (n int)"))
    with engine.connect() as conn:
        transaction = conn.begin_twophase()
        conn.execute(sa.text("INSERT INTO ledger VALUES (1)"))
        transaction.prepare()
        assert transaction.xid in conn.recover_twophase()
        transaction.commit()
    with engine.connect() as conn:
        transaction = conn.begin_twophase()
        conn.execute(sa.text("INSERT INTO ledger VALUES (2)"))
        transaction.prepare()
        xid = transaction.xid
        # The session ends; the prepared transaction outlives it.
        conn.invalidate()
    # Recovered from another connection, and rolled back.
    with engine.connect() as conn:
        assert xid in conn.recover_twophase()
        conn.rollback_prepared(xid, recover=True)
        assert conn.scalar(sa.text("SELECT array_agg(n) FROM ledger")) == [1]
    assert pg_server.psql("SELECT count(*) FROM pg_prepared_xacts") == [(0,)]


# ----------------------------------------------------------------------------------------
# Disconnects
# ----------------------------------------------------------------------------------------


def _terminate(pg_server: PostgresServer, pid: int) -> None:
    assert pg_server.psql(f"SELECT pg_terminate_backend({pid})") == [(True,)]


def test_a_terminated_backend_is_a_disconnect_and_the_pool_recovers(
    engine: sa.Engine, pg_server: PostgresServer
) -> None:
    with engine.connect() as conn:
        _terminate(pg_server, conn.scalar(sa.text("SELECT pg_backend_pid()")))
        with pytest.raises(exc.DBAPIError) as caught:
            conn.execute(sa.text("SELECT 1"))
        assert caught.value.connection_invalidated
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1


def test_pool_pre_ping_replaces_a_dead_connection_before_use(
    make_engine: Callable[..., sa.Engine], pg_server: PostgresServer
) -> None:
    engine = make_engine(pool_pre_ping=True, pool_size=1)
    with engine.connect() as conn:
        pid = conn.scalar(sa.text("SELECT pg_backend_pid()"))
    _terminate(pg_server, pid)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_backend_pid()")) != pid


def test_do_ping_answers_without_opening_a_transaction(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        dbapi_connection = conn.connection.dbapi_connection
        assert engine.dialect.do_ping(dbapi_connection) is True
        assert dbapi_connection.transaction_status == "I"


# ----------------------------------------------------------------------------------------
# Statements
# ----------------------------------------------------------------------------------------


def _items(engine: sa.Engine) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table(
        "item",
        metadata,
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    metadata.create_all(engine)
    return table


def test_insertmanyvalues_returns_the_rows_in_parameter_order(engine: sa.Engine) -> None:
    item = _items(engine)
    rows = [{"name": f"n{i}"} for i in range(2500)]
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(item).returning(item.c.id, item.c.name, sort_by_parameter_order=True), rows
        )
        returned = result.all()
    assert [name for _, name in returned] == [row["name"] for row in rows]
    assert len({id_ for id_, _ in returned}) == 2500


def test_executemany_without_returning_counts_every_row(engine: sa.Engine) -> None:
    item = _items(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(item), [{"name": f"n{i}"} for i in range(20)])
        result = conn.execute(
            sa.update(item).where(item.c.name == sa.bindparam("old")).values(name="renamed"),
            [{"old": "n1"}, {"old": "n2"}, {"old": "missing"}],
        )
        assert result.rowcount == 2


def test_percent_signs_and_named_parameters_survive_pyformat(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        value = conn.scalar(
            sa.select(sa.literal("100%") + sa.bindparam("tail", "!") + sa.literal_column("'%'"))
        )
        assert value == "100%!%"
        assert conn.scalar(sa.select(sa.literal(7) % 4)) == 3


def test_stream_results_uses_a_named_cursor(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=50).execute(
            sa.text("SELECT g FROM generate_series(1, 1000) g")
        )
        assert isinstance(result.cursor, pgwire.dbapi.ServerCursor)
        assert sum(row[0] for row in result) == 500500


def test_yield_per_streams_in_partitions(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=100).execute(
            sa.text("SELECT g FROM generate_series(1, 1050) g")
        )
        assert isinstance(result.cursor, pgwire.dbapi.ServerCursor)
        sizes = [len(partition) for partition in result.partitions(100)]
    assert sizes == [100] * 10 + [50]


def test_ddl_through_sqlalchemy_refreshes_cached_statements(engine: sa.Engine) -> None:
    """A statement cached while ``t.x`` was an int runs again after ``t`` is recreated
    with ``x`` as text, in one transaction (the server would say "cached plan must not
    change result type" otherwise)."""

    def table(type_: sa.types.TypeEngine[object]) -> sa.Table:
        return sa.Table("t", sa.MetaData(), sa.Column("x", type_))

    with engine.begin() as conn:
        first = table(sa.Integer())
        first.create(conn)
        conn.execute(sa.insert(first), {"x": 1})
        assert conn.scalar(sa.select(first.c.x)) == 1
        first.drop(conn)
        second = table(sa.Text())
        second.create(conn)
        conn.execute(sa.insert(second), {"x": "one"})
        assert conn.scalar(sa.select(second.c.x)) == "one"


def test_a_table_changed_by_someone_else_is_prepared_again(
    engine: sa.Engine, pg_server: PostgresServer
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE changing (x int)"))
        conn.execute(sa.text("INSERT INTO changing VALUES (1)"))
    with engine.connect() as conn:
        schema = conn.scalar(sa.text("SELECT current_schema()"))
        assert conn.execute(sa.text("SELECT * FROM changing")).all() == [(1,)]
        conn.commit()
        pg_server.psql(f"ALTER TABLE {schema}.changing ALTER x TYPE text")
        assert conn.execute(sa.text("SELECT * FROM changing")).all() == [("1",)]
