"""DSQL's statement rules through the local endpoint: every rule of pgwire.dsql_local.rules
refuses its example with DSQL's SQLSTATE, message and hint, through the simple protocol, the
extended protocol, a pipeline and the wss:// listener; its allowed equivalent succeeds; and
the same example reaches PostgreSQL with --postgres-rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pgwire import dsql, errors
from pgwire.dsql_local.rules import RULES, Rule
from tests.dsql.conftest import RunningEndpoint
from tests.pg import TRUST_USER, PostgresServer

STATEMENT_RULES = [pytest.param(r, id=r.id) for r in RULES if r.kind == "statement"]


@pytest.fixture
def schema(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh schema of the test's own (owned by the endpoints' user), dropped afterwards."""
    name = f"rules_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE SCHEMA {name} AUTHORIZATION {TRUST_USER.name}")
    yield name
    pg_server.psql(f"DROP SCHEMA {name} CASCADE")


def prepare(pg_server: PostgresServer, schema: str, r: Rule) -> None:
    """Run the rule's setup as the endpoints' user, with PostgreSQL's rules."""
    for statement in r.setup:
        pg_server.psql(f"SET ROLE {TRUST_USER.name}; SET search_path TO {schema}; {statement}")


def simple(conn: Any, sql: str) -> None:
    conn.execute(sql)


def extended(conn: Any, sql: str) -> None:
    conn.fetch(sql)


def pipelined(conn: Any, sql: str) -> None:
    with conn.pipeline() as pipe:
        pipe.execute("SELECT 1")
        pipe.execute(sql)


MODES: dict[str, Callable[[Any, str], None]] = {
    "simple": simple,
    "extended": extended,
    "pipeline": pipelined,
}


def connect(endpoint: RunningEndpoint, schema: str, *, wss: bool = False) -> Any:
    params = endpoint.wss_params() if wss else endpoint.params()
    conn = dsql.connect(**params)
    conn.execute(f"SET search_path TO {schema}")
    return conn


def assert_refused(caught: pytest.ExceptionInfo[errors.Error], r: Rule) -> None:
    error = caught.value
    assert (error.sqlstate, error.message, error.hint) == (r.sqlstate, r.message, r.instead)


@pytest.mark.parametrize("mode", [*MODES, "wss"])
@pytest.mark.parametrize("r", STATEMENT_RULES)
def test_a_statement_dsql_refuses_is_refused_with_its_error(
    rules_endpoint: RunningEndpoint,
    pg_server: PostgresServer,
    schema: str,
    r: Rule,
    mode: str,
) -> None:
    prepare(pg_server, schema, r)
    with connect(rules_endpoint, schema, wss=mode == "wss") as conn:
        run = simple if mode == "wss" else MODES[mode]
        with pytest.raises(errors.Error) as caught:
            run(conn, r.example)
        assert_refused(caught, r)
        # The session goes on.
        assert conn.fetchval("SELECT 1") == 1


@pytest.mark.parametrize("r", STATEMENT_RULES)
def test_the_equivalent_dsql_offers_succeeds(
    rules_endpoint: RunningEndpoint, pg_server: PostgresServer, schema: str, r: Rule
) -> None:
    prepare(pg_server, schema, r)
    with connect(rules_endpoint, schema) as conn:
        conn.execute(r.allowed)


@pytest.mark.parametrize("r", STATEMENT_RULES)
def test_postgres_rules_relay_the_statement_to_postgresql(
    postgres_endpoint: RunningEndpoint, pg_server: PostgresServer, schema: str, r: Rule
) -> None:
    prepare(pg_server, schema, r)
    with connect(postgres_endpoint, schema) as conn:
        try:
            conn.execute(r.example)
        except errors.Error as exc:
            # PostgreSQL's own refusal (privileges, a missing extension), not DSQL's.
            assert exc.message != r.message
            assert exc.hint != r.instead


def test_a_refused_statement_in_a_transaction_fails_the_transaction(
    rules_endpoint: RunningEndpoint, schema: str
) -> None:
    with connect(rules_endpoint, schema) as conn:
        conn.execute("BEGIN")
        with pytest.raises(errors.FeatureNotSupported):
            conn.execute("TRUNCATE anything")
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.execute("ROLLBACK")


def test_statements_before_a_refused_one_in_a_simple_query_run_and_the_rest_do_not(
    rules_endpoint: RunningEndpoint, schema: str
) -> None:
    with connect(rules_endpoint, schema) as conn:
        conn.execute("CREATE TABLE counted (n int PRIMARY KEY)")
        with pytest.raises(errors.FeatureNotSupported):
            conn.execute(
                "INSERT INTO counted VALUES (1); TRUNCATE counted; INSERT INTO counted VALUES (2)"
            )
        # One implicit transaction: the first INSERT is rolled back with it.
        assert conn.fetchval("SELECT count(*) FROM counted") == 0


def test_strings_comments_and_quoted_names_are_not_mistaken_for_sql(
    rules_endpoint: RunningEndpoint, schema: str
) -> None:
    with connect(rules_endpoint, schema) as conn:
        conn.execute('CREATE TABLE "truncate" ("savepoint" text)')
        conn.execute(
            "INSERT INTO \"truncate\" VALUES ('TRUNCATE x; SAVEPOINT y') -- ; VACUUM\n"
            "/* ; CREATE TEMP TABLE z (a int) */"
        )
        assert conn.fetchval("SELECT $$ ; LISTEN x $$") == " ; LISTEN x "


def test_the_isolation_level_is_dsqls(rules_endpoint: RunningEndpoint, schema: str) -> None:
    with connect(rules_endpoint, schema) as conn:
        assert conn.fetchval("SHOW transaction_isolation") == "repeatable read"
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(errors.FeatureNotSupported):
            conn.execute(
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"
            )


def test_identity_columns_follow_dsqls_cache_rule(
    rules_endpoint: RunningEndpoint, schema: str
) -> None:
    with connect(rules_endpoint, schema) as conn:
        with pytest.raises(errors.FeatureNotSupported, match="explicit cache size"):
            conn.execute("CREATE TABLE t1 (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")
        with pytest.raises(errors.FeatureNotSupported, match="explicit cache size"):
            conn.execute(
                "CREATE TABLE t2 (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 100) PRIMARY KEY)"
            )
        conn.execute(
            "CREATE TABLE t3 (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 65536) PRIMARY KEY)"
        )
        conn.execute("INSERT INTO t3 DEFAULT VALUES")
