"""Opening, authenticating, closing and losing connections, against the real PostgreSQL 18,
on the blocking driver and on asyncio, uvloop and trio (one source,
``test_connect_async.py``, for both drivers)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.concurrency_async import running, sleep
from tests.driver.fixtures_async import Connector
from tests.pg import MD5_USER, PASSWORD_USER, ROLES, SCRAM_USER, TRUST_USER, PostgresServer, Role

if True:  # ASYNC
    pytestmark = pytest.mark.anyio

PASSWORD_ROLES = [PASSWORD_USER, MD5_USER, SCRAM_USER]
WRONG_PASSWORD = "Wr0ng-s3cret-do-not-print"


def _dsn(server: PostgresServer, role: Role, transport: str, password: str | None) -> str:
    if transport == "unix":
        return server.dsn(role.name, password, host=server.unix_socket_dir)
    return server.dsn(role.name, password)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.auth_method)
async def test_each_auth_method_logs_in(
    aconnect: Connector, pg_server: PostgresServer, role: Role, transport: str
) -> None:
    conn = await aconnect(_dsn(pg_server, role, transport, role.password))
    row = await conn.fetchrow("SELECT current_user::text, system_user, inet_server_addr() IS NULL")
    assert row is not None
    user, system_user, over_unix = row
    assert user == role.name
    # system_user is "<method>:<identity>" once a password was checked, NULL under trust.
    expected = None if role.auth_method == "trust" else f"{role.auth_method}:{role.name}"
    assert system_user == expected
    assert over_unix is (transport == "unix")


async def test_scram_connection_runs_a_parameterised_query(
    aconnect: Connector, pg_server: PostgresServer
) -> None:
    conn = await aconnect(pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password))
    assert await conn.fetchval("SELECT $1::int + 1", 41) == 42


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("role", PASSWORD_ROLES, ids=lambda role: role.auth_method)
async def test_wrong_password_raises_invalid_password(
    pg_server: PostgresServer, role: Role, transport: str
) -> None:
    with pytest.raises(errors.InvalidPassword) as caught:
        await pgwire.connect_async(_dsn(pg_server, role, transport, WRONG_PASSWORD))
    assert caught.value.sqlstate == "28P01"
    assert f'password authentication failed for user "{role.name}"' in str(caught.value)


@pytest.mark.parametrize("role", PASSWORD_ROLES, ids=lambda role: role.auth_method)
async def test_wrong_password_error_does_not_reveal_the_password(
    pg_server: PostgresServer, role: Role
) -> None:
    with pytest.raises(errors.InvalidPassword) as caught:
        await pgwire.connect_async(pg_server.dsn(role.name, WRONG_PASSWORD))
    exc = caught.value
    shown = [str(exc), repr(exc), *map(str, exc.args), *exc.fields.values()]
    assert not [text for text in shown if WRONG_PASSWORD in text]


@pytest.mark.parametrize("role", PASSWORD_ROLES, ids=lambda role: role.auth_method)
async def test_connection_repr_does_not_reveal_the_password(
    aconnect: Connector, pg_server: PostgresServer, role: Role
) -> None:
    assert role.password is not None
    conn = await aconnect(pg_server.dsn(role.name, role.password))
    assert role.password not in repr(conn)
    assert role.password not in str(conn)
    assert role.name in repr(conn)
    await conn.close()
    assert role.password not in repr(conn)


@pytest.mark.parametrize("role", PASSWORD_ROLES, ids=lambda role: role.auth_method)
async def test_missing_password_raises_operational_error(
    pg_server: PostgresServer, role: Role
) -> None:
    with pytest.raises(pgwire.OperationalError, match="no password was supplied"):
        await pgwire.connect_async(pg_server.dsn(role.name))


async def test_password_may_be_given_as_a_keyword_argument(
    aconnect: Connector, pg_server: PostgresServer
) -> None:
    conn = await aconnect(pg_server.dsn(SCRAM_USER.name), password=SCRAM_USER.password)
    assert await conn.fetchval("SELECT current_user::text") == SCRAM_USER.name


async def test_password_callable_is_called_once_per_connection(
    aconnect: Connector, pg_server: PostgresServer
) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        assert SCRAM_USER.password is not None
        return SCRAM_USER.password

    dsn = pg_server.dsn(SCRAM_USER.name)
    first = await aconnect(dsn, password=token)
    assert len(calls) == 1
    await first.fetchval("SELECT 1")
    await first.fetchval("SELECT 2")
    assert len(calls) == 1
    await aconnect(dsn, password=token)
    assert len(calls) == 2


if True:  # ASYNC

    async def test_async_password_callable_is_awaited_once_per_connection(
        aconnect: Connector, pg_server: PostgresServer
    ) -> None:
        calls: list[int] = []

        async def token() -> str:
            await sleep(0)
            calls.append(1)
            assert MD5_USER.password is not None
            return MD5_USER.password

        dsn = pg_server.dsn(MD5_USER.name)
        first = await aconnect(dsn, password=token)
        assert await first.fetchval("SELECT current_user::text") == MD5_USER.name
        assert len(calls) == 1
        await aconnect(dsn, password=token)
        assert len(calls) == 2


async def test_password_callable_may_return_bytes(
    aconnect: Connector, pg_server: PostgresServer
) -> None:
    conn = await aconnect(pg_server.dsn(MD5_USER.name), password=lambda: b"pw-md5")
    assert await conn.fetchval("SELECT current_user::text") == MD5_USER.name


# --------------------------------------------------------------------------------------
# Failing to connect
# --------------------------------------------------------------------------------------


async def test_refused_port_raises_operational_error_naming_host_and_port() -> None:
    port = _free_port()  # nothing listens on it
    with pytest.raises(pgwire.OperationalError, match=rf"127\.0\.0\.1:{port}\b"):
        await pgwire.connect_async(host="127.0.0.1", port=port, user="nobody", dbname="nothing")


async def test_missing_unix_socket_raises_operational_error_naming_the_socket(
    tmp_path: Path,
) -> None:
    with pytest.raises(pgwire.OperationalError, match=r"\.s\.PGSQL\.5432"):
        await pgwire.connect_async(host=str(tmp_path), port=5432, user="nobody")


async def test_connect_timeout_bounds_the_wait_for_a_server_that_never_answers() -> None:
    # A listening socket nobody accepts on: the kernel completes the TCP handshake, and
    # the server never speaks.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(pgwire.OperationalError) as caught:
            await pgwire.connect_async(
                host="127.0.0.1", port=port, user="nobody", connect_timeout=0.3
            )
    assert "connect_timeout" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_connect_timeout_does_not_limit_queries(aconnect: Connector) -> None:
    conn = await aconnect(connect_timeout=0.3)
    assert await conn.fetchval("SELECT pg_sleep(0.6)::text") == ""


async def test_unknown_database_raises_invalid_catalog_name(pg_server: PostgresServer) -> None:
    with pytest.raises(errors.InvalidCatalogName, match="no_such_database"):
        await pgwire.connect_async(pg_server.dsn(TRUST_USER.name, dbname="no_such_database"))


# --------------------------------------------------------------------------------------
# Session facts and startup parameters
# --------------------------------------------------------------------------------------


async def test_session_reports_server_version_pid_and_parameters(aconn: AsyncConnection) -> None:
    assert aconn.server_version.startswith("18")
    assert aconn.backend_pid == await aconn.fetchval("SELECT pg_backend_pid()")
    assert aconn.parameters["client_encoding"] == "UTF8"
    assert aconn.parameters["DateStyle"].startswith("ISO")
    assert aconn.transaction_status == "I"


async def test_parameter_changes_reach_the_connection(aconn: AsyncConnection) -> None:
    await aconn.execute("SET application_name = 'renamed'")
    assert aconn.parameters["application_name"] == "renamed"


async def test_application_name_and_options_are_sent_at_startup(aconnect: Connector) -> None:
    conn = await aconnect(application_name="pgwire-tests", options="-c search_path=elsewhere")
    assert await conn.fetchval("SELECT current_setting('application_name')") == "pgwire-tests"
    assert await conn.fetchval("SELECT current_setting('search_path')") == "elsewhere"


async def test_keyword_arguments_override_the_dsn(
    aconnect: Connector, pg_server: PostgresServer
) -> None:
    dsn = pg_server.dsn(TRUST_USER.name, dbname="postgres")
    conn = await aconnect(dsn, dbname=pg_server.database)
    assert await conn.fetchval("SELECT current_database()::text") == pg_server.database


async def test_repr_names_the_class_user_and_state(aconn: AsyncConnection) -> None:
    if True:  # ASYNC
        start = "<pgwire.AsyncConnection ready trust_user@"
    else:
        start = "<pgwire.Connection ready trust_user@"
    assert repr(aconn).startswith(start)


# --------------------------------------------------------------------------------------
# Closing, and losing the connection
# --------------------------------------------------------------------------------------


async def test_context_manager_closes_the_connection(pg_server: PostgresServer) -> None:
    async with await pgwire.connect_async(pg_server.dsn(TRUST_USER.name)) as conn:
        assert await conn.fetchval("SELECT 1") == 1
        assert not conn.closed
    assert conn.closed
    assert "closed" in repr(conn)


async def test_closing_twice_is_harmless(aconn: AsyncConnection) -> None:
    await aconn.close()
    await aconn.close()
    assert aconn.closed


async def test_close_ends_the_server_session(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    pid = aconn.backend_pid
    await aconn.close()
    sessions = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
    # The backend leaves pg_stat_activity a moment after the client said goodbye.
    for _ in range(250):
        if not await aother.fetchval(sessions, pid):
            break
        await sleep(0.02)
    assert await aother.fetchval(sessions, pid) == 0


async def _use(conn: AsyncConnection, use: str) -> None:
    """One way of using a connection, by name."""
    if use == "execute":
        await conn.execute("SELECT 1")
    elif use == "execute-with-args":
        await conn.execute("SELECT $1::int", 1)
    elif use == "fetch":
        await conn.fetch("SELECT 1")
    elif use == "fetchrow":
        await conn.fetchrow("SELECT 1")
    elif use == "fetchval":
        await conn.fetchval("SELECT 1")
    elif use == "executemany":
        await conn.executemany("SELECT $1::int", [(1,)])
    elif use == "cursor":
        async for _ in conn.cursor("SELECT 1"):
            pass
    elif use == "copy_in":
        await conn.copy_in("COPY nowhere FROM STDIN", b"")
    elif use == "copy_out":
        await conn.copy_out("COPY (SELECT 1) TO STDOUT")
    elif use == "transaction":
        async with conn.transaction():
            pass
    elif use == "pipeline":
        async with conn.pipeline() as pipeline:
            pipeline.fetchval("SELECT 1")
    else:
        assert use == "wait_for_notification"
        await conn.wait_for_notification(timeout=0.1)


USES = [
    "execute",
    "execute-with-args",
    "fetch",
    "fetchrow",
    "fetchval",
    "executemany",
    "cursor",
    "copy_in",
    "copy_out",
    "transaction",
    "pipeline",
    "wait_for_notification",
]


@pytest.mark.parametrize("use", USES)
async def test_using_a_closed_connection_raises_interface_error(
    aconn: AsyncConnection, use: str
) -> None:
    await aconn.fetchval("SELECT 1")  # warm the statement cache: cached statements must not help
    await aconn.close()
    with pytest.raises(pgwire.InterfaceError, match="closed"):
        await _use(aconn, use)


async def test_backend_terminated_while_idle_fails_the_next_query_and_closes(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    assert await aother.fetchval("SELECT pg_terminate_backend($1)", aconn.backend_pid) is True
    with pytest.raises(pgwire.OperationalError) as caught:
        await aconn.fetchval("SELECT 1")
    # Usually the server's last words (57P01) are read; a write to the dead socket may fail
    # first, which is an OperationalError too.
    assert isinstance(caught.value, errors.AdminShutdown) or "server" in str(caught.value)
    assert aconn.closed


async def test_backend_terminated_mid_query_fails_that_query_and_closes(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    pid = aconn.backend_pid

    async def terminate_soon() -> None:
        await sleep(0.2)
        await aother.fetchval("SELECT pg_terminate_backend($1)", pid)

    async with running(terminate_soon):
        with pytest.raises(errors.AdminShutdown) as caught:
            await aconn.fetchval("SELECT pg_sleep(30)")
    assert caught.value.sqlstate == "57P01"
    assert aconn.closed


async def test_connection_lost_then_used_raises_interface_error(
    aconn: AsyncConnection, aother: AsyncConnection
) -> None:
    await aother.fetchval("SELECT pg_terminate_backend($1)", aconn.backend_pid)
    with pytest.raises(pgwire.OperationalError):
        await aconn.fetchval("SELECT 1")
    with pytest.raises(pgwire.InterfaceError, match="closed"):
        await aconn.fetchval("SELECT 1")
    await aconn.close()  # still harmless
