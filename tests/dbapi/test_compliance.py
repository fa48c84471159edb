"""PEP 249's compliance suite (``dbapi-compliance``, Stuart Bishop's dbapi20 tests) against
PostgreSQL 18 through pgwire.dbapi: every test of the suite runs and must pass."""

from __future__ import annotations

import pytest

from tests.dbapi.compliance import connect_arguments, suite_for
from tests.pg import TRUST_USER, PostgresServer

pytestmark = pytest.mark.pg


class TestCompliance(suite_for("pgwire.dbapi")):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _server(self, pg_server: PostgresServer) -> None:
        args, kwargs = connect_arguments("pgwire.dbapi", pg_server.dsn(TRUST_USER.name))
        type(self).connect_args, type(self).connect_kw_args = args, kwargs
