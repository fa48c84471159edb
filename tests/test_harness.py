"""The test harness itself: the server from tests/pg.py behaves as the other tests assume.

Checked with real third-party clients (psycopg over libpq, and asyncpg), never with pgwire,
so a failure here points at the harness and not at the code under test.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import psycopg
import pytest

from tests.pg import MD5_USER, PASSWORD_USER, ROLES, SCRAM_USER, TRUST_USER, PostgresServer, Role

T = TypeVar("T")

PASSWORD_ROLES = [role for role in ROLES if role.password is not None]


def run(coroutine_function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coroutine_function())


def libpq_require_auth(role: Role) -> str:
    # libpq's require_auth names trust "none"; the other methods keep their pg_hba.conf names.
    return "none" if role.auth_method == "trust" else role.auth_method


def test_server_is_postgresql_18(pg_server: PostgresServer) -> None:
    [(version,)] = pg_server.psql("SHOW server_version")
    assert version.startswith("18")


def test_server_is_built_with_openssl(pg_server: PostgresServer) -> None:
    assert pg_server.psql("SHOW ssl_library") == [("OpenSSL",)]


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_each_role_logs_in_over_tcp_with_its_own_auth_method(
    pg_server: PostgresServer, role: Role
) -> None:
    # require_auth makes libpq refuse any other method the server might ask for.
    dsn = pg_server.dsn(role.name, role.password, require_auth=libpq_require_auth(role))
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1, current_user").fetchone() == (1, role.name)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_each_role_logs_in_over_tcp_with_asyncpg(pg_server: PostgresServer, role: Role) -> None:
    async def select_one() -> object:
        conn = await asyncpg.connect(pg_server.dsn(role.name, role.password))
        try:
            return await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    assert run(select_one) == 1


@pytest.mark.parametrize("role", PASSWORD_ROLES, ids=lambda role: role.name)
def test_wrong_password_fails_with_sqlstate_28P01(pg_server: PostgresServer, role: Role) -> None:
    async def connect() -> None:
        await asyncpg.connect(pg_server.dsn(role.name, "wrong-password"))

    with pytest.raises(asyncpg.PostgresError) as excinfo:
        run(connect)
    assert excinfo.value.sqlstate == "28P01"


def test_unix_socket_accepts_trust_user(pg_server: PostgresServer) -> None:
    dsn = pg_server.dsn(TRUST_USER.name, host=pg_server.unix_socket_dir, require_auth="none")
    with psycopg.connect(dsn) as conn:
        assert conn.info.host == pg_server.unix_socket_dir
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_unix_socket_asks_password_roles_for_their_auth_method(pg_server: PostgresServer) -> None:
    dsn = pg_server.dsn(
        SCRAM_USER.name,
        SCRAM_USER.password,
        host=pg_server.unix_socket_dir,
        require_auth="scram-sha-256",
    )
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (SCRAM_USER.name,)


def test_md5_user_password_is_stored_as_an_md5_hash(pg_server: PostgresServer) -> None:
    [(stored,)] = pg_server.psql(
        f"SELECT rolpassword FROM pg_authid WHERE rolname = '{MD5_USER.name}'"
    )
    assert stored.startswith("md5")


def test_other_roles_must_use_scram(pg_server: PostgresServer) -> None:
    pg_server.psql("CREATE ROLE harness_other_user LOGIN PASSWORD 'pw-other'")
    try:
        dsn = pg_server.dsn("harness_other_user", "pw-other", require_auth="scram-sha-256")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg_server.psql("DROP ROLE harness_other_user")


def test_superuser_is_trusted_over_tcp(pg_server: PostgresServer) -> None:
    dsn = pg_server.dsn(pg_server.superuser, require_auth="none")
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (True,)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_each_role_can_create_tables_in_the_test_database(
    pg_server: PostgresServer, role: Role
) -> None:
    with psycopg.connect(pg_server.dsn(role.name, role.password)) as conn:
        conn.execute(f"CREATE TABLE public.harness_{role.name} (x int)")
        conn.execute(f"DROP TABLE public.harness_{role.name}")


def test_psql_returns_the_rows_of_the_last_statement(pg_server: PostgresServer) -> None:
    assert pg_server.psql("SELECT 1; SELECT 2 UNION ALL SELECT 3") == [(2,), (3,)]
    assert pg_server.psql("SET application_name = 'x'") == []


def test_dsn_quotes_user_password_and_query_parameters(pg_server: PostgresServer) -> None:
    dsn = pg_server.dsn("a user", "p@ss:/word", dbname="db", sslmode="disable")
    assert (
        dsn
        == f"postgresql://a%20user:p%40ss%3A%2Fword@127.0.0.1:{pg_server.port}/db?sslmode=disable"
    )


def test_extra_conf_hba_lines_and_files_are_applied() -> None:
    with PostgresServer(
        conf_lines=["max_connections = 20"],
        hba_lines=[f"host all {TRUST_USER.name} 127.0.0.1/32 reject"],
        files={"extra.txt": b"hello"},
    ) as server:
        assert server.psql("SHOW max_connections") == [("20",)]
        with pytest.raises(psycopg.OperationalError, match="rejects connection"):
            psycopg.connect(server.dsn(TRUST_USER.name))
        extra = server.data_dir / "extra.txt"
        assert extra.read_bytes() == b"hello"
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600
        [(data_directory,)] = server.psql("SHOW data_directory")
        assert os.stat(data_directory).st_uid == extra.stat().st_uid


def test_stop_removes_the_temporary_directories() -> None:
    server = PostgresServer().start()
    base_dir = server.base_dir
    server.stop()
    assert not base_dir.exists()
    server.stop()


def test_password_user_cannot_log_in_without_a_password(pg_server: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_server.dsn(PASSWORD_USER.name), connect_timeout=5)
