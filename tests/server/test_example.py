"""examples/mock_server.py, run as a user runs it, with psql, asyncpg and pg8000 as clients."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pg8000.native
import pytest

from tests.server.conftest import psql

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mock_server.py"


@pytest.fixture(scope="module")
def example_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("listening on")
        # It prints before it binds: wait until the port answers.
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_psql_gets_1_and_an_error(example_port: int) -> None:
    done = psql(
        f"host=127.0.0.1 port={example_port} user=anyone dbname=x sslmode=disable",
        "SELECT 1",
        "SELECT 2",
        password="secret",
    )
    assert done.stdout.strip() == "1"
    assert "ERROR:  42601:" in done.stderr


def test_asyncpg_gets_1_and_an_error(example_port: int) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=example_port, user="bob", password="secret", ssl=False
        )
        try:
            assert await conn.fetchval("SELECT 1") == 1
            with pytest.raises(asyncpg.PostgresSyntaxError):
                await conn.fetch("SELECT 2")
        finally:
            await conn.close()

    asyncio.run(run())


def test_pg8000_gets_1_and_an_error(example_port: int) -> None:
    conn = pg8000.native.Connection("carol", password="secret", port=example_port)
    try:
        assert conn.run("SELECT 1") == [[1]]
        with pytest.raises(pg8000.native.DatabaseError) as info:
            conn.run("SELECT 2")
        assert info.value.args[0]["C"] == "42601"
    finally:
        conn.close()
