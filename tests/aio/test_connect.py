"""Opening, authenticating and losing async connections, against the real PostgreSQL 18,
on asyncio, uvloop and trio."""

from __future__ import annotations

import time

import anyio
import anyio.abc
import pytest

import pgwire
from pgwire import errors
from pgwire.connection import AsyncConnection
from tests.aio.conftest import AsyncConnector
from tests.pg import MD5_USER, ROLES, SCRAM_USER, TRUST_USER, PostgresServer, Role

pytestmark = pytest.mark.anyio


# --------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.auth_method)
async def test_each_auth_method_logs_in(
    connect: AsyncConnector, pg_server: PostgresServer, role: Role, transport: str
) -> None:
    if transport == "unix":
        dsn = pg_server.dsn(role.name, role.password, host=pg_server.unix_socket_dir)
    else:
        dsn = pg_server.dsn(role.name, role.password)
    conn = await connect(dsn)
    row = await conn.fetchrow("SELECT current_user::text, system_user, inet_server_addr() IS NULL")
    assert row is not None
    user, system_user, over_unix = row
    assert user == role.name
    expected = None if role.auth_method == "trust" else f"{role.auth_method}:{role.name}"
    assert system_user == expected
    assert over_unix is (transport == "unix")


async def test_wrong_password_raises_invalid_password(pg_server: PostgresServer) -> None:
    with pytest.raises(errors.InvalidPassword) as caught:
        await pgwire.connect_async(pg_server.dsn(SCRAM_USER.name, "not-the-password"))
    assert caught.value.sqlstate == "28P01"
    assert "not-the-password" not in str(caught.value)


async def test_sync_password_callable_is_called_once_per_connection(
    connect: AsyncConnector, pg_server: PostgresServer
) -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        assert SCRAM_USER.password is not None
        return SCRAM_USER.password

    dsn = pg_server.dsn(SCRAM_USER.name)
    first = await connect(dsn, password=token)
    await first.fetchval("SELECT 1")
    await first.fetchval("SELECT 2")
    assert len(calls) == 1
    await connect(dsn, password=token)
    assert len(calls) == 2


async def test_async_password_callable_is_awaited_once_per_connection(
    connect: AsyncConnector, pg_server: PostgresServer
) -> None:
    calls: list[int] = []

    async def token() -> str:
        await anyio.sleep(0)
        calls.append(1)
        assert MD5_USER.password is not None
        return MD5_USER.password

    dsn = pg_server.dsn(MD5_USER.name)
    first = await connect(dsn, password=token)
    assert await first.fetchval("SELECT current_user::text") == MD5_USER.name
    assert len(calls) == 1
    await connect(dsn, password=token)
    assert len(calls) == 2


# --------------------------------------------------------------------------------------
# Failing to connect
# --------------------------------------------------------------------------------------


async def test_connect_timeout_bounds_the_wait_for_a_server_that_never_answers() -> None:
    accepted: list[anyio.abc.SocketStream] = []

    async def hold_silently(client: anyio.abc.SocketStream) -> None:
        accepted.append(client)
        await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, hold_silently)
        started = time.monotonic()
        with pytest.raises(pgwire.OperationalError) as caught:
            await pgwire.connect_async(
                host="127.0.0.1", port=port, user="nobody", connect_timeout=0.3
            )
        elapsed = time.monotonic() - started
        tasks.cancel_scope.cancel()
    assert accepted, "the client never reached the listener"
    assert 0.25 <= elapsed < 5
    assert "connect_timeout" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_connect_timeout_does_not_limit_queries(connect: AsyncConnector) -> None:
    conn = await connect(connect_timeout=0.3)
    assert await conn.fetchval("SELECT pg_sleep(0.5)::text") == ""


async def test_refused_port_raises_operational_error() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens on the port any more
    with pytest.raises(pgwire.OperationalError, match=rf"127\.0\.0\.1:{port}\b"):
        await pgwire.connect_async(host="127.0.0.1", port=port, user="nobody")


# --------------------------------------------------------------------------------------
# Session facts, closing, and losing the connection
# --------------------------------------------------------------------------------------


async def test_session_reports_server_version_and_pid(conn: AsyncConnection) -> None:
    assert conn.server_version.startswith("18")
    assert conn.backend_pid == await conn.fetchval("SELECT pg_backend_pid()")
    assert conn.parameters["client_encoding"] == "UTF8"
    assert conn.transaction_status == "I"


async def test_async_with_closes_the_connection(pg_server: PostgresServer) -> None:
    async with await pgwire.connect_async(pg_server.dsn(TRUST_USER.name)) as conn:
        assert await conn.fetchval("SELECT 1") == 1
        assert not conn.closed
    assert conn.closed
    assert "closed" in repr(conn)
    await conn.close()  # closing twice is harmless


async def test_using_a_closed_connection_raises_interface_error(conn: AsyncConnection) -> None:
    await conn.fetchval("SELECT 1")
    await conn.close()
    with pytest.raises(pgwire.InterfaceError, match="closed"):
        await conn.fetchval("SELECT 1")
    with pytest.raises(pgwire.InterfaceError, match="closed"):
        await conn.execute("SELECT 1")


async def test_backend_terminated_while_idle_fails_the_next_query_and_closes(
    conn: AsyncConnection, other: AsyncConnection
) -> None:
    assert await other.fetchval("SELECT pg_terminate_backend($1)", conn.backend_pid) is True
    with pytest.raises(pgwire.OperationalError) as caught:
        await conn.fetchval("SELECT 1")
    assert isinstance(caught.value, errors.AdminShutdown) or "server" in str(caught.value)
    assert conn.closed
    with pytest.raises(pgwire.InterfaceError, match="closed"):
        await conn.fetchval("SELECT 1")


async def test_backend_terminated_mid_query_raises_operational_error_and_closes(
    conn: AsyncConnection, other: AsyncConnection
) -> None:
    pid = conn.backend_pid

    async def terminate_soon() -> None:
        await anyio.sleep(0.2)
        await other.fetchval("SELECT pg_terminate_backend($1)", pid)

    started = time.monotonic()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(terminate_soon)
        with pytest.raises(pgwire.OperationalError) as caught:
            await conn.fetchval("SELECT pg_sleep(30)")
    assert time.monotonic() - started < 10
    assert isinstance(caught.value, errors.AdminShutdown)
    assert caught.value.sqlstate == "57P01"
    assert conn.closed


async def test_repr_names_user_and_state(conn: AsyncConnection) -> None:
    text = repr(conn)
    assert text.startswith("<pgwire.AsyncConnection ")
    assert TRUST_USER.name in text
