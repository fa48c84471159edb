"""A mock PostgreSQL server in 20 lines: ``python examples/mock_server.py PORT``.

Any user name, password ``secret`` (SCRAM-SHA-256), no TLS. ``SELECT 1`` returns one int4 row
``1``, in the simple and the extended protocol; anything else is an error with SQLSTATE 42601.
"""

import sys

import anyio

from pgwire import errors
from pgwire.mockserver import MockServer, Result


async def handler(query: str, params: tuple[object, ...]) -> Result:
    if " ".join(query.split()).rstrip(";").lower() == "select 1":
        return Result([(1,)], columns=[("?column?", "int4")])
    raise errors.SyntaxError(f"this mock server answers only SELECT 1, not {query!r}")


server = MockServer(handler, users={"*": "secret"}, auth="scram-sha-256")
print(f"listening on 127.0.0.1:{sys.argv[1]}", flush=True)
anyio.run(server.serve_tcp, "127.0.0.1", int(sys.argv[1]))
