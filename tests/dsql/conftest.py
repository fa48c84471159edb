"""Fixtures for the DSQL tests: a local DSQL endpoint in front of the suite's PostgreSQL.

``dsql_endpoint`` serves the whole session from a background thread (so the blocking driver,
asyncio and trio tests all reach it); ``dsql_params`` are the keyword arguments that connect
to it with :func:`pgwire.dsql.connect`: the cluster endpoint's name (sent as SNI, checked by
the certificate and signed into the token) at ``127.0.0.1``, the endpoint's test CA and its
test credentials. Tests that change the endpoint's limits start one of their own with
``start_endpoint``.  ``rules_endpoint`` also listens for ``wss://`` (DSQL's rules apply
there as on TCP); ``postgres_endpoint`` relays with PostgreSQL's rules (``--postgres-rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from pgwire.dsql_local import TEST_CREDENTIALS, LocalDsqlEndpoint, Upstream
from tests.pg import TRUST_USER, PostgresServer

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The event loops the async tests run on: asyncio and trio."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


class RunningEndpoint:
    """A local endpoint, the port it listens on, and the parameters that reach it."""

    def __init__(self, endpoint: LocalDsqlEndpoint, port: int) -> None:
        self.endpoint = endpoint
        self.port = port

    def wss_params(self, **overrides: Any) -> dict[str, Any]:
        """Parameters that reach the endpoint's ``wss://`` listener."""
        assert self.endpoint.websocket_port is not None
        return self.params(port=self.endpoint.websocket_port, transport="websocket", **overrides)

    def params(self, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "host": self.endpoint.endpoint,
            "hostaddr": "127.0.0.1",
            "port": self.port,
            "sslrootcert": self.endpoint.ca_file,
            "credentials": TEST_CREDENTIALS,
            "connect_timeout": 10,
        }
        params.update(overrides)
        return params


StartEndpoint = Callable[..., RunningEndpoint]


def _upstream(server: PostgresServer) -> Upstream:
    return Upstream(server.host, server.port, TRUST_USER.name, None, server.database)


@pytest.fixture(scope="session")
def dsql_endpoint(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    """One local DSQL endpoint for the session (relaying to ``pg_server`` as trust_user)."""
    endpoint = LocalDsqlEndpoint(_upstream(pg_server), cert_dir=tmp_path_factory.mktemp("dsql"))
    with endpoint.running_in_thread() as port:
        yield RunningEndpoint(endpoint, port)


@pytest.fixture(scope="session")
def rules_endpoint(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    """An endpoint with DSQL's rules, listening on TCP and for wss://."""
    endpoint = LocalDsqlEndpoint(_upstream(pg_server), cert_dir=tmp_path_factory.mktemp("rules"))
    with endpoint.running_in_thread(websocket_port=0) as port:
        yield RunningEndpoint(endpoint, port)


@pytest.fixture(scope="session")
def postgres_endpoint(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEndpoint]:
    """An endpoint that relays any SQL (``postgres_rules=True``)."""
    endpoint = LocalDsqlEndpoint(
        _upstream(pg_server), cert_dir=tmp_path_factory.mktemp("pg"), postgres_rules=True
    )
    with endpoint.running_in_thread() as port:
        yield RunningEndpoint(endpoint, port)


@pytest.fixture
def start_endpoint(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartEndpoint]:
    """``start_endpoint(max_lifetime=2)`` runs an endpoint of the test's own."""
    with ExitStack() as stack:

        def start(**options: Any) -> RunningEndpoint:
            endpoint = LocalDsqlEndpoint(
                _upstream(pg_server), cert_dir=tmp_path_factory.mktemp("dsql"), **options
            )
            port = stack.enter_context(endpoint.running_in_thread())
            return RunningEndpoint(endpoint, port)

        yield start


@pytest.fixture
def params(dsql_endpoint: RunningEndpoint) -> dict[str, Any]:
    """Keyword arguments for pgwire.dsql.connect() that reach the session's endpoint."""
    return dsql_endpoint.params()
