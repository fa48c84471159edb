"""pgwire.mockserver's own behaviours: scripts, result shapes, auth methods, Unix sockets, trio."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

import pgwire.errors as errors
from pgwire.mockserver import Column, MockServer, Result, Script, split_statements
from pgwire.protocol import (
    NEED_DATA,
    Bind,
    ClientConnection,
    DataRow,
    Execute,
    Parse,
    PortalSuspended,
    StartupMessage,
    Sync,
)


def conninfo(port: int, **extra: str) -> str:
    options = {"user": "u", "password": "pw", "dbname": "d", "sslmode": "disable", **extra}
    return f"host=127.0.0.1 port={port} " + " ".join(f"{k}={v}" for k, v in options.items())


def test_a_script_answers_its_queries_in_order_and_refuses_others() -> None:
    script = Script(
        [
            ("SELECT  1", Result([(1,)], ["n"])),
            ("DROP TABLE x", errors.UndefinedTable('table "x" does not exist')),
        ]
    )
    with (
        MockServer(script).running_in_thread() as port,
        psycopg.connect(conninfo(port), autocommit=True) as conn,
    ):
        assert conn.execute("SELECT 1").fetchall() == [("1",)]
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("DROP TABLE x")
        with pytest.raises(psycopg.errors.InternalError_, match="script is over"):
            conn.execute("SELECT 2")
    assert script.remaining == []


def test_a_script_names_the_query_it_expected() -> None:
    script = Script([("SELECT 1", None)])
    with (
        MockServer(script).running_in_thread() as port,
        psycopg.connect(conninfo(port), autocommit=True) as conn,
        pytest.raises(psycopg.Error, match="expected 'SELECT 1', got 'SELECT 2'"),
    ):
        conn.execute("SELECT 2")
    assert script.remaining == ["SELECT 1"]


@pytest.mark.parametrize(
    ("answer", "rows", "status"),
    [
        ([{"a": 1, "b": True}], [("1", "t")], "SELECT 1"),
        ([(b"\x01", None)], [("\\x01", None)], "SELECT 1"),
        ("CREATE TABLE", None, "CREATE TABLE"),
        (None, None, "VACUUM"),
        (Result([(1.5,)], {"x": "float8"}, tag="FETCH 1"), [(1.5,)], "FETCH 1"),
        (Result([(7,)], [Column("n", 20)]), [(7,)], "SELECT 1"),
        (Result([{"j": {"k": 1}}], [("j", "jsonb")]), [({"k": 1},)], "SELECT 1"),
    ],
)
def test_handler_answers_become_rows_and_tags(answer: Any, rows: Any, status: str) -> None:
    async def handler(query: str, params: tuple[Any, ...]) -> Any:
        return answer

    with (
        MockServer(handler).running_in_thread() as port,
        psycopg.connect(conninfo(port), autocommit=True) as conn,
    ):
        cursor = conn.execute("VACUUM")
        assert cursor.statusmessage == status
        if rows is not None:
            assert cursor.fetchall() == rows
        # The same through the extended protocol (binary results where known).
        cursor = conn.execute("VACUUM", prepare=True, binary=True)
        assert cursor.statusmessage == status


def test_a_handler_bug_reaches_the_client_as_an_internal_error() -> None:
    def handler(query: str, params: tuple[Any, ...]) -> Any:
        raise RuntimeError("oops")

    with (
        MockServer(handler).running_in_thread() as port,
        psycopg.connect(conninfo(port), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InternalError_, match="RuntimeError: oops"),
    ):
        conn.execute("select 1")


def test_an_empty_query_gets_an_empty_query_response() -> None:
    with (
        MockServer(lambda q, p: None).running_in_thread() as port,
        psycopg.connect(conninfo(port), autocommit=True) as conn,
    ):
        assert conn.execute("-- nothing").statusmessage is None


@pytest.mark.parametrize("auth", ["password", "md5", "scram-sha-256"])
def test_each_password_method_accepts_the_right_password_only(auth: str) -> None:
    server = MockServer(lambda q, p: [(1,)], users={"u": "pw"}, auth=auth)  # type: ignore[arg-type]
    with server.running_in_thread() as port:
        with psycopg.connect(conninfo(port), autocommit=True) as conn:
            assert conn.execute("select 1").fetchall() == [("1",)]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(conninfo(port, password="bad"))
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(conninfo(port, user="nobody"))


def test_execute_with_a_row_limit_suspends_the_portal() -> None:
    rows = [(i,) for i in range(5)]
    with MockServer(lambda q, p: Result(rows, [("n", "int4")])).running_in_thread() as port:
        import socket

        client = ClientConnection()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(client.send(StartupMessage({"user": "u"})))
            events = _until_ready(client, sock)
            bind = Bind("", "", (), (), ())
            sock.sendall(client.send(Parse("", "x"), bind, Execute("", 2), Execute("", 0), Sync()))
            events = _until_ready(client, sock)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("DataRow") == 5
    assert kinds.index("PortalSuspended") == kinds.index("DataRow") + 2
    assert isinstance(events[kinds.index("PortalSuspended")], PortalSuspended)
    assert events[kinds.index("DataRow")] == DataRow((b"0",))


def _until_ready(client: ClientConnection, sock: Any) -> list[Any]:
    events: list[Any] = []
    while True:
        event = client.next_event()
        if event is NEED_DATA:
            client.receive_data(sock.recv(65536))
            continue
        events.append(event)
        if type(event).__name__ == "ReadyForQuery":
            return events


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_mock_server_runs_on_asyncio_and_trio_over_a_unix_socket(
    backend: str, tmp_path: Path
) -> None:
    path = tmp_path / ".s.PGSQL.5432"

    async def main() -> list[Any]:
        server = MockServer(lambda q, p: Result([(1,)], [("n", "int4")]))
        async with server.running_unix(path):
            return await anyio.to_thread.run_sync(_query_unix, str(tmp_path))

    assert anyio.run(main, backend=backend) == [(1,)]


def _query_unix(folder: str) -> list[Any]:
    with psycopg.connect(f"host={folder} user=u dbname=d", autocommit=True) as conn:
        return conn.execute("select 1").fetchall()


def test_a_cancel_request_interrupts_a_running_handler() -> None:
    import asyncpg

    async def handler(query: str, params: tuple[Any, ...]) -> Any:
        if query == "slow":
            await anyio.sleep(30)
        return [(1,)]

    async def main() -> None:
        server = MockServer(handler)
        async with server.running() as port:
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user="u", ssl=False)
            # asyncpg's timeout sends a CancelRequest; without it the handler would sleep
            # for 30 s and the next query would wait behind it.
            with pytest.raises(asyncio.TimeoutError):
                await conn.execute("slow", timeout=0.5)
            assert await asyncio.wait_for(conn.fetchval("select 1"), 5) == "1"
            await conn.close()

    asyncio.run(main())


def test_statements_are_split_at_top_level_semicolons_only() -> None:
    sql = "select ';'; select \"a;b\"; -- c;\nselect $$x;y$$; /* ; */ select 1;"
    assert [s.strip() for s in split_statements(sql)] == [
        "select ';'",
        'select "a;b"',
        "-- c;\nselect $$x;y$$",
        "/* ; */ select 1",
    ]
    assert split_statements("  ; -- only a comment") == []
