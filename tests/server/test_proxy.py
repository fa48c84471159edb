"""The recording proxy between real clients (psql, asyncpg) and the real PostgreSQL 18.

Results through the proxy must equal direct results; the trace must show every message both
ways with secrets redacted; faults must drop, delay, replace and cut as asked.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pgwire.protocol import CommandComplete, ErrorResponse, Message, Query
from pgwire.proxy import Fault, RecordingProxy
from pgwire.trace import DumpWriter
from tests.pg import SCRAM_USER, PostgresServer
from tests.server.conftest import psql

SQL = ("select 1 as a, 'x' as b", "select n from generate_series(1, 3) n", "select 1/0")


def _psql(pg: PostgresServer, port: int, *commands: str) -> subprocess.CompletedProcess[str]:
    assert SCRAM_USER.password is not None
    return psql(
        f"host=127.0.0.1 port={port} user={SCRAM_USER.name} dbname={pg.database} sslmode=prefer",
        *commands,
        password=SCRAM_USER.password,
    )


async def _asyncpg(port: int, database: str) -> list[Any]:
    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=port,
        user=SCRAM_USER.name,
        password=SCRAM_USER.password,
        database=database,
        ssl=False,
    )
    try:
        results: list[Any] = [await conn.fetchval("select $1::int + 1", 41)]
        results.append([tuple(r) for r in await conn.fetch(SQL[1])])
        try:
            await conn.fetch(SQL[2])
        except asyncpg.PostgresError as exc:
            results.append(exc.sqlstate)
        return results
    finally:
        await conn.close()


def test_psql_through_the_proxy_gets_what_it_gets_directly(pg_server: PostgresServer) -> None:
    trace = io.StringIO()
    direct = _psql(pg_server, pg_server.port, *SQL)
    with RecordingProxy(pg_server.host, pg_server.port, trace=trace).running_in_thread() as port:
        relayed = _psql(pg_server, port, *SQL)
    assert (relayed.stdout, relayed.returncode) == (direct.stdout, direct.returncode)
    assert "22012" in relayed.stderr
    lines = trace.getvalue().splitlines()
    assert "\tF\t8\tSSLRequest\t[answered by the proxy]" in lines[0]
    assert "SSLResponse\t 'N'" in lines[1]
    assert any("\tF\t28\tQuery\t \"select 1 as a, 'x' as b\"" in line for line in lines)
    assert any("\tB\t16\tDataRow\t 2 1 '1' 1 'x'" in line for line in lines)
    assert any('C "22012"' in line for line in lines)
    auth = [line for line in lines if "SASL" in line and "AuthenticationSASL\t" not in line]
    assert len(auth) == 4
    assert all("<redacted" in line for line in auth)
    assert "BackendKeyData" in trace.getvalue()


def test_asyncpg_through_the_proxy_gets_what_it_gets_directly(
    pg_server: PostgresServer,
) -> None:
    dump = io.BytesIO()
    direct = asyncio.run(_asyncpg(pg_server.port, pg_server.database))
    proxy = RecordingProxy(pg_server.host, pg_server.port, dump=DumpWriter(dump))
    with proxy.running_in_thread() as port:
        relayed = asyncio.run(_asyncpg(port, pg_server.database))
    assert relayed == direct == [42, [(1,), (2,), (3,)], "22012"]
    assert dump.getvalue().startswith(b"PGWIREDUMP1\n")


def test_the_dump_decodes_with_python_m_pgwire_trace(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    path = tmp_path / "session.dump"
    with path.open("wb") as out:
        proxy = RecordingProxy(pg_server.host, pg_server.port, dump=DumpWriter(out))
        with proxy.running_in_thread() as port:
            _psql(pg_server, port, "select 42")
    done = subprocess.run(
        [sys.executable, "-m", "pgwire", "trace", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'Query\t "select 42"' in done.stdout
    assert "DataRow\t 1 2 '42'" in done.stdout
    assert "pw-scram" not in done.stdout


def test_a_dropped_message_never_reaches_the_server(pg_server: PostgresServer) -> None:
    trace = io.StringIO()
    fault = Fault("drop", "Query", "F", when=lambda m: isinstance(m, Query) and "2" in m.sql)
    proxy = RecordingProxy(pg_server.host, pg_server.port, trace=trace, faults=[fault])
    # psql waits forever for the answer to a dropped query: the timeout cuts it.
    with proxy.running_in_thread() as port, pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            ["/usr/bin/psql", "-X", "-c", "select 2", proxy_conninfo(pg_server, port)],
            capture_output=True,
            timeout=3,
            env=_env(),
        )
    assert "dropped by a fault" in trace.getvalue()
    assert fault.applied == 1


def test_a_replaced_message_changes_what_the_client_sees(pg_server: PostgresServer) -> None:
    fault = Fault("replace", "CommandComplete", "B", replacement=CommandComplete("SELECT 99"))
    proxy = RecordingProxy(pg_server.host, pg_server.port, faults=[fault])

    async def status(port: int) -> str:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user=SCRAM_USER.name,
            password=SCRAM_USER.password,
            database=pg_server.database,
            ssl=False,
        )
        try:
            return str(await conn.execute("select 1"))
        finally:
            await conn.close()

    with proxy.running_in_thread() as port:
        assert asyncio.run(status(port)) == "SELECT 99"


def test_a_cut_connection_is_an_error_for_the_client(pg_server: PostgresServer) -> None:
    trace = io.StringIO()
    proxy = RecordingProxy(
        pg_server.host, pg_server.port, trace=trace, faults=[Fault("cut", "DataRow")]
    )
    with proxy.running_in_thread() as port:
        done = _psql(pg_server, port, "select 1")
    assert done.returncode != 0
    assert "connection cut by a fault" in trace.getvalue()


def test_a_delay_holds_the_message_back(pg_server: PostgresServer) -> None:
    trace = io.StringIO()
    fault = Fault("delay", "ReadyForQuery", "B", seconds=0.3, skip=1)
    proxy = RecordingProxy(pg_server.host, pg_server.port, trace=trace, faults=[fault])
    with proxy.running_in_thread() as port:
        done = _psql(pg_server, port, "select 7")
    assert done.stdout.strip() == "7"
    assert "delayed 0.3s by a fault" in trace.getvalue()


def test_a_replace_fault_needs_a_replacement() -> None:
    with pytest.raises(ValueError, match="needs a replacement"):
        Fault("replace", "Query")


def _is_commit(message: Message) -> bool:
    return isinstance(message, Query) and message.sql.upper() == "COMMIT"


def test_a_fail_fault_fails_a_commit_in_a_transaction_and_rolls_it_back(
    pg_server: PostgresServer,
) -> None:
    trace = io.StringIO()
    conflict = ErrorResponse({"S": "ERROR", "V": "ERROR", "C": "40001", "M": "lost a conflict"})
    fault = Fault("fail", "Query", "F", when=_is_commit, status="T", error=conflict)
    proxy = RecordingProxy(pg_server.host, pg_server.port, trace=trace, faults=[fault])

    async def session(port: int) -> tuple[str, int]:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user=SCRAM_USER.name,
            password=SCRAM_USER.password,
            database=pg_server.database,
            ssl=False,
        )
        try:
            await conn.execute("CREATE TEMP TABLE kept (n int)")
            await conn.execute("COMMIT")  # outside a transaction block: not failed
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO kept VALUES (1)")
            with pytest.raises(asyncpg.SerializationError) as caught:
                await conn.execute("COMMIT")
            rows: int = await conn.fetchval("SELECT count(*) FROM kept")
            return caught.value.args[0], rows
        finally:
            await conn.close()

    with proxy.running_in_thread() as port:
        message, rows = asyncio.run(session(port))
    assert (message, rows) == ("lost a conflict", 0)
    assert (fault.matched, fault.applied, fault.remaining) == (1, 1, 0)
    assert "failed by a fault: ROLLBACK sent instead" in trace.getvalue()
    assert "the failed query's answer, replaced by its error" in trace.getvalue()


@pytest.mark.parametrize(
    ("message", "direction", "error"),
    [
        ("Query", None, None),
        ("Sync", None, ErrorResponse({"M": "e"})),
        ("Query", "B", ErrorResponse({"M": "e"})),
    ],
)
def test_a_fail_fault_needs_the_clients_query_and_an_error(
    message: str, direction: Any, error: ErrorResponse | None
) -> None:
    with pytest.raises(ValueError, match="fails the client's Query messages"):
        Fault("fail", message, direction, error=error)


def proxy_conninfo(pg: PostgresServer, port: int) -> str:
    return f"host=127.0.0.1 port={port} user={SCRAM_USER.name} dbname={pg.database}"


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PGPASSWORD": SCRAM_USER.password or ""}
