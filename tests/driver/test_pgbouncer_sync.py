# GENERATED from tests/driver/test_pgbouncer_async.py by scripts/gen_sync.py: do not edit.
"""Behind PgBouncer in transaction pooling mode (Debian's pgbouncer, a real one), on the
blocking driver and on asyncio, uvloop and trio (one source, ``test_pgbouncer_async.py``,
for both drivers).

In transaction mode consecutive Sync batches of one client may run on different server
sessions, so named prepared statements break; ``statement_cache_size=0`` makes pgwire
run every statement in one self-contained batch on the unnamed statement.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.driver.fixtures_sync import Connector
from tests.pg import SERVER_OS_USER, PostgresServer, _ensure_os_user, _free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture(scope="module")
def bouncer(pg_server: PostgresServer) -> Iterator[int]:
    if not os.path.exists(PGBOUNCER):
        pytest.fail("pgbouncer is not installed: run scripts/install-debian-packages (as root)")
    base = Path(tempfile.mkdtemp(prefix="pgwire-bouncer-"))
    port = _free_port()
    (base / "users.txt").write_text('"trust_user" ""\n')
    (base / "pgbouncer.ini").write_text(
        f"""[databases]
pgwire_test = host=127.0.0.1 port={pg_server.port} dbname=pgwire_test user=trust_user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {base}/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 50
server_reset_query =
ignore_startup_parameters = IntervalStyle
logfile = {base}/pgbouncer.log
pidfile = {base}/pgbouncer.pid
"""
    )
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        account = _ensure_os_user(SERVER_OS_USER)
        for path in [base, *base.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    process = subprocess.Popen(
        [PGBOUNCER, str(base / "pgbouncer.ini")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **run_as,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (base / "pgbouncer.log").read_text()
                        if (base / "pgbouncer.log").exists()
                        else ""
                    )
                    pytest.fail(f"pgbouncer did not start: {log}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def _dsn(port: int) -> str:
    return f"postgresql://trust_user@127.0.0.1:{port}/pgwire_test"


def test_statements_run_without_a_cache_from_many_clients_sharing_two_server_sessions(
    connect: Connector, bouncer: int
) -> None:
    clients = [connect(_dsn(bouncer), statement_cache_size=0) for _ in range(4)]
    for round_ in range(30):
        for number, conn in enumerate(clients):
            value = round_ * 10 + number
            assert conn.fetchval("SELECT $1::int + 1", value) == value + 1
            assert conn.fetchrow("SELECT $1::text AS t, $2 AS n", "x", 2.5) == ("x", 2.5)
            rows = conn.fetch("SELECT g FROM generate_series(1, $1) g", 3)
            assert rows[-1][0] == 3


def test_executemany_pipelines_and_transactions_work_through_the_pooler(
    connect: Connector, bouncer: int
) -> None:
    conn = connect(_dsn(bouncer), statement_cache_size=0)
    table = "bounced"
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
    try:
        conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(i, f"n{i}") for i in range(50)])
        with conn.pipeline() as pipe:
            count = pipe.fetchval(f"SELECT count(*) FROM {table}")
            name = pipe.fetchval(f"SELECT name FROM {table} WHERE id = $1", 7)
        assert (count.result(), name.result()) == (50, "n7")
        with conn.transaction():
            cursor = conn.cursor(f"SELECT id FROM {table} ORDER BY id", batch_size=7)
            rows = [row for row in cursor]
        assert len(rows) == 50
    finally:
        conn.execute(f"DROP TABLE {table}")
