"""Real clients against the pgwire mock server: psql/libpq, asyncpg, psycopg, pg8000, pgwire.

Each client authenticates with SCRAM-SHA-256, runs simple and extended queries, and must get
the handler's rows, command tags and errors (with their SQLSTATE), over plain TCP and TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import asyncpg
import pg8000.native
import psycopg
import pytest

import pgwire
from tests.server.conftest import PASSWORD, USER, Certificates, psql

PAIRS = [(1, "one"), (2, "two"), (3, None)]


# --------------------------------------------------------------------------------------
# psql (libpq)
# --------------------------------------------------------------------------------------


def test_psql_runs_simple_queries_and_sees_errors_with_sqlstate(mock_port: int) -> None:
    done = psql(
        f"host=127.0.0.1 port={mock_port} user={USER} dbname=d sslmode=disable",
        "select 1",
        "select n, word from pairs",
        "create table t (a int)",
        "select * from missing",
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["1", "1|one", "2|two", "3|", "CREATE TABLE"]
    assert 'ERROR:  42P01: relation "missing" does not exist' in done.stderr


def test_psql_sends_several_statements_in_one_query(mock_port: int) -> None:
    # psql 15 has no \\bind: libpq's extended protocol is covered by psycopg below.
    done = psql(
        f"host=127.0.0.1 port={mock_port} user={USER} dbname=d sslmode=disable",
        "select 1; select n, word from pairs; bogus; select 1",
    )
    assert done.stdout.splitlines() == ["1", "1|one", "2|two", "3|"]
    assert "ERROR:  42601:" in done.stderr


def test_psql_with_a_wrong_password_is_refused(mock_port: int) -> None:
    done = psql(
        f"host=127.0.0.1 port={mock_port} user={USER} dbname=d sslmode=disable",
        "select 1",
        password="wrong",
    )
    assert done.returncode == 2
    assert "28P01" in done.stderr or "password authentication failed" in done.stderr


def test_psql_over_tls_binds_the_channel_with_scram_sha_256_plus(
    tls_port: int, certificates: Certificates
) -> None:
    # channel_binding=require makes libpq refuse anything but SCRAM-SHA-256-PLUS.
    done = psql(
        f"host=127.0.0.1 port={tls_port} user={USER} dbname=d sslmode=verify-full "
        f"sslrootcert={certificates.ca} channel_binding=require",
        "select 1",
        r"\conninfo",
        "bogus",
    )
    assert done.stdout.splitlines()[0] == "1"
    assert "SSL connection (protocol: TLSv1.3" in done.stdout
    assert "ERROR:  42601:" in done.stderr


def test_psql_requiring_channel_binding_without_tls_is_refused(mock_port: int) -> None:
    done = psql(
        f"host=127.0.0.1 port={mock_port} user={USER} dbname=d sslmode=disable "
        "channel_binding=require",
        "select 1",
    )
    assert done.returncode == 2
    assert "channel binding" in done.stderr


# --------------------------------------------------------------------------------------
# asyncpg
# --------------------------------------------------------------------------------------


async def _asyncpg_session(port: int, **options: Any) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=USER, password=PASSWORD, database="d", **options
    )
    try:
        assert await conn.fetchval("select 1") == 1
        rows = await conn.fetch("select n, word from pairs")
        assert [tuple(r) for r in rows] == PAIRS
        assert await conn.fetchval("select $1", "hi") == "hi"
        assert await conn.execute("create table t (a int)") == "CREATE TABLE"
        with pytest.raises(asyncpg.UndefinedTableError) as info:
            await conn.fetch("select * from missing")
        assert info.value.sqlstate == "42P01"
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await conn.execute("bogus")
    finally:
        await conn.close()


def test_asyncpg_prepares_fetches_and_gets_errors(mock_port: int) -> None:
    asyncio.run(_asyncpg_session(mock_port, ssl=False))


def test_asyncpg_over_tls_and_direct_tls(tls_port: int, certificates: Certificates) -> None:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    asyncio.run(_asyncpg_session(tls_port, ssl=context))
    asyncio.run(_asyncpg_session(tls_port, ssl=context, direct_tls=True))


# --------------------------------------------------------------------------------------
# psycopg (libpq), including pipeline mode
# --------------------------------------------------------------------------------------


def _psycopg_session(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("select 1").fetchall() == [(1,)]
        assert conn.execute("select n, word from pairs").fetchall() == PAIRS
        assert conn.execute("select %s", ["hi"]).fetchone() == ("hi",)
        cursor = conn.execute("insert into t values (1), (2)")
        assert cursor.statusmessage == "INSERT 0 2"
        with pytest.raises(psycopg.errors.UndefinedTable) as info:
            conn.execute("select * from missing")
        assert info.value.sqlstate == "42P01"


def test_psycopg_runs_queries_and_gets_errors(mock_port: int) -> None:
    _psycopg_session(
        f"host=127.0.0.1 port={mock_port} user={USER} password={PASSWORD} dbname=d sslmode=disable"
    )


def test_psycopg_over_tls_with_channel_binding(tls_port: int, certificates: Certificates) -> None:
    _psycopg_session(
        f"host=127.0.0.1 port={tls_port} user={USER} password={PASSWORD} dbname=d "
        f"sslmode=verify-full sslrootcert={certificates.ca} channel_binding=require"
    )


def test_psycopg_pipeline_mode(mock_port: int) -> None:
    conninfo = (
        f"host=127.0.0.1 port={mock_port} user={USER} password={PASSWORD} dbname=d sslmode=disable"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.pipeline():
            first = conn.execute("select 1")
            second = conn.execute("select n, word from pairs")
            third = conn.execute("select %s", ["x"])
        assert first.fetchall() == [(1,)]
        assert second.fetchall() == PAIRS
        assert third.fetchall() == [("x",)]
        with pytest.raises(psycopg.errors.SyntaxError), conn.pipeline():
            conn.execute("select 1")
            conn.execute("bogus")
            conn.execute("select 1")
        assert conn.execute("select 1").fetchone() == (1,)


def test_psycopg_transactions_report_their_status(mock_port: int) -> None:
    conninfo = (
        f"host=127.0.0.1 port={mock_port} user={USER} password={PASSWORD} dbname=d sslmode=disable"
    )
    with psycopg.connect(conninfo) as conn:
        conn.execute("select 1")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("bogus")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


# --------------------------------------------------------------------------------------
# pg8000
# --------------------------------------------------------------------------------------


def _pg8000_session(port: int, **options: Any) -> None:
    conn = pg8000.native.Connection(
        USER, password=PASSWORD, host="127.0.0.1", port=port, database="d", **options
    )
    try:
        assert conn.run("select 1") == [[1]]
        assert conn.run("select n, word from pairs") == [list(p) for p in PAIRS]
        assert conn.run("select :v", v="hi") == [["hi"]]
        conn.run("create table t (a int)")
        with pytest.raises(pg8000.native.DatabaseError) as info:
            conn.run("select * from missing")
        assert info.value.args[0]["C"] == "42P01"
    finally:
        conn.close()


def test_pg8000_runs_queries_and_gets_errors(mock_port: int) -> None:
    _pg8000_session(mock_port)


def test_pg8000_over_tls(tls_port: int, certificates: Certificates) -> None:
    _pg8000_session(tls_port, ssl_context=ssl.create_default_context(cafile=str(certificates.ca)))


# --------------------------------------------------------------------------------------
# pgwire's own blocking driver
# --------------------------------------------------------------------------------------


def test_the_pgwire_blocking_driver(mock_port: int) -> None:
    with pgwire.connect(
        host="127.0.0.1",
        port=mock_port,
        user=USER,
        password=PASSWORD,
        dbname="d",
        sslmode="disable",
    ) as conn:
        assert conn.fetchval("select 1") == 1
        assert [tuple(r) for r in conn.fetch("select n, word from pairs")] == PAIRS
        assert conn.fetchval("select $1", "hi") == "hi"
        with pytest.raises(pgwire.errors.UndefinedTable) as info:
            conn.fetch("select * from missing")
        assert info.value.sqlstate == "42P01"
        assert conn.fetchval("select 1") == 1
