"""A mock PostgreSQL server: answer real clients' queries from Python handlers or a script.

Built on the server role of the sans-IO core (:class:`pgwire.protocol.ServerConnection`) and
anyio, so it runs on asyncio and trio.  It speaks enough of the protocol for real drivers
(psql/libpq, psycopg and its pipeline mode, asyncpg, pg8000, pgwire): trust, cleartext, MD5
and SCRAM-SHA-256 authentication, SCRAM-SHA-256-PLUS over TLS, TLS after SSLRequest and
direct TLS, the simple and the extended protocol (Parse/Describe answered with
ParameterDescription and RowDescription), text and binary result formats, transaction status
for BEGIN/COMMIT/ROLLBACK, and CancelRequest.

A handler is ``async def handler(query: str, params: tuple) -> result``.  It may return:

* a :class:`Result` (rows, column names and types, command tag);
* a list of tuples or dicts (the rows; columns are text, named from the dict keys);
* a string (a command tag such as ``"CREATE TABLE"``) or ``None`` (no rows);
* or raise (or return) a :class:`pgwire.errors.PostgresError` subclass, which the client
  receives as an ErrorResponse with that class's SQLSTATE.

For a Describe of a prepared statement (before any parameter is bound) the handler is called
with every parameter ``None`` (a :class:`Describing` tuple), only to learn the result's
columns: keep handlers free of side effects, or check for ``Describing``.

The package, by concern: ``results`` (what a handler returns, :class:`Script`), ``sql``
(the little SQL the server reads itself), ``server`` (:class:`MockServer` and the session of
each client).  Listening is :mod:`pgwire.listener`'s.
"""

from pgwire.listener import ReplayStream
from pgwire.mockserver.results import (
    TYPE_OIDS,
    Column,
    Describing,
    Handler,
    Result,
    Script,
    type_oid,
)
from pgwire.mockserver.server import DEFAULT_PARAMETERS, AuthName, MockServer
from pgwire.mockserver.sql import split_statements

__all__ = [
    "DEFAULT_PARAMETERS",
    "TYPE_OIDS",
    "AuthName",
    "Column",
    "Describing",
    "Handler",
    "MockServer",
    "ReplayStream",
    "Result",
    "Script",
    "split_statements",
    "type_oid",
]
