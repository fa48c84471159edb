"""Runs inside Pyodide (see run_in_pyodide.mjs): opens pgwire's browser WebSocket stream to a
bridge, opens a session with pgwire's connection flow, and runs a parameterized query on the
async driver (anyio on Pyodide's asyncio loop). Prints one JSON line per result.

ARGS: ``url`` (the bridge), ``dsn`` (the database behind it).
"""

import json
import sys

from wsessions import open_connection

from pgwire.errors import OperationalError
from pgwire.transports.pyodide import connect_browser_websocket

url, dsn = ARGS["url"], ARGS["dsn"]  # type: ignore[name-defined]  # noqa: F821

print(json.dumps({"python": sys.version.split()[0], "platform": sys.platform}))
stream = await connect_browser_websocket(url, subprotocols=["binary"], timeout=10)  # noqa: F704
try:
    conn = await open_connection(stream, dsn)  # noqa: F704
except OperationalError as exc:
    print(json.dumps({"error": str(exc)}))
    await stream.close()  # noqa: F704
    conn = None
if conn is not None:
    try:
        rows = await conn.fetch(  # noqa: F704
            "SELECT g AS n, $1::text || g AS label FROM generate_series(1, $2::int) AS g",
            "row ",
            3,
        )
        print(json.dumps({"rows": [list(row) for row in rows]}))
        ssl = await conn.fetchval(  # noqa: F704
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        print(json.dumps({"ssl": ssl}))
    finally:
        await conn.close()  # noqa: F704
