"""A local Aurora DSQL endpoint, to develop and test DSQL code without an AWS account.

:class:`LocalDsqlEndpoint` listens on TCP and behaves as DSQL does:

* TLS only: classic (SSLRequest) and direct (TLS first, ALPN ``postgresql``) negotiation; SNI
  is required; a plaintext StartupMessage is refused. The certificate comes from a local test
  CA (``trustme``) written to ``ca_file`` for clients (``sslrootcert=``);
* the cleartext password must be a DSQL IAM token for the SNI host name: the endpoint
  recomputes its SigV4 signature with the configured test credentials (its own code, not
  botocore's, so it checks the client's signer independently) and refuses a wrong signature,
  a wrong action for the user (``admin`` needs ``DbConnectAdmin``), an expired token, an
  ``X-Amz-Expires`` above 604800, a token for another host, another region or another key;
* then it logs in to a real PostgreSQL itself (``upstream``: host, port, user, password,
  database; the client's own authentication ended here) and relays the session with the
  proxy's relay, whole messages at a time;
* connections are closed after ``max_lifetime`` seconds (3600, as DSQL), open connections
  and the connection rate are limited (53300, 53400), and :meth:`LocalDsqlEndpoint.inject_occ`
  makes the next COMMITs fail with an optimistic-concurrency conflict (SQLSTATE 40001,
  ``OC000``), after rolling back on the real server, so that retry logic can be tested;
* by default, DSQL's SQL and transaction rules (:mod:`pgwire.dsql_local.rules`, as data):
  every statement is classified with PostgreSQL's own parser (``pglast``, the extra
  ``pgwire[dsql-local]``) and what DSQL refuses gets DSQL's error before PostgreSQL sees it;
  one DDL statement per transaction, no DDL with DML, DSQL's row, size and time limits;
  ``CREATE INDEX ASYNC`` with ``sys.jobs`` and ``sys.wait_for_job``; and real optimistic
  concurrency (writers never wait for each other; the loser gets ``OC000``).
  ``postgres_rules=True`` relays any SQL instead.

With ``websocket_port``, it also listens for ``wss://`` as DSQL's WebSocket endpoint does:
TLS with the same certificate (ALPN ``http/1.1``), an HTTP upgrade on path ``/`` with no
subprotocol, binary frames carrying the PostgreSQL byte stream (cut anywhere), pings
answered; no SSLRequest inside (one is declined), the SNI of the WebSocket's TLS checked as
above, and the same token check and relay. A CancelRequest sent over the WebSocket is
forwarded as over TCP.

Only COMMIT sent with the simple protocol (what ``transaction()`` blocks send) is turned into
an injected conflict. Tokens never reach a log line or an error message.
``python -m pgwire dsql-local`` runs one.

The package, one module per concern: ``endpoint`` (the connection's steps), ``handshake``
(reading the client's handshake and its password as a token), ``tokens`` (the SigV4
check), ``certs`` (test CA and TLS contexts), ``upstream`` (the real server), ``occ``
(injected conflicts as proxy faults), ``websocket`` (the ``wss://`` server side),
``admission`` (connection limits), ``rules`` (DSQL's rules, as data), ``statements``
(classifying SQL), ``session`` (the rules of one session, no I/O), ``relay`` (the relay with
the session in the middle), ``sysschema`` (what is installed in PostgreSQL), ``cli``.
"""

from pgwire.dsql_local.endpoint import (
    ALPN,
    DEFAULT_CLUSTER_ID,
    DEFAULT_MAX_LIFETIME,
    LocalDsqlEndpoint,
)
from pgwire.dsql_local.handshake import MAX_AUTH_MESSAGE
from pgwire.dsql_local.occ import OCC_MESSAGES
from pgwire.dsql_local.rules import LIMITS, RULES, Limits, Rule
from pgwire.dsql_local.tokens import TEST_CREDENTIALS, TokenRejected, verify_token
from pgwire.dsql_local.upstream import Upstream
from pgwire.dsql_local.websocket import WEBSOCKET_ALPN, WEBSOCKET_PATH

__all__ = [
    "ALPN",
    "DEFAULT_CLUSTER_ID",
    "DEFAULT_MAX_LIFETIME",
    "LIMITS",
    "MAX_AUTH_MESSAGE",
    "OCC_MESSAGES",
    "RULES",
    "TEST_CREDENTIALS",
    "WEBSOCKET_ALPN",
    "WEBSOCKET_PATH",
    "Limits",
    "LocalDsqlEndpoint",
    "Rule",
    "TokenRejected",
    "Upstream",
    "verify_token",
]
