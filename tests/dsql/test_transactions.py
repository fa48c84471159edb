"""DSQL's transaction rules through the local endpoint: one DDL statement per transaction, no
DDL with DML, the row, byte and time limits, CREATE INDEX ASYNC with sys.jobs and
sys.wait_for_job, and optimistic concurrency: writers never wait for each other, the loser
gets OC000 (OC001 for a schema changed under it), and 20 workers incrementing one counter
through pgwire.dsql.run_transaction end at exactly 1,000."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pgwire import dsql, errors
from pgwire.dsql_local.rules import LIMITS, rule
from tests.dsql.conftest import RunningEndpoint, StartEndpoint
from tests.pg import TRUST_USER, PostgresServer

OC000 = rule("occ-data").message
OC001 = rule("occ-schema").message


@pytest.fixture
def schema(pg_server: PostgresServer) -> Iterator[str]:
    name = f"txn_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE SCHEMA {name} AUTHORIZATION {TRUST_USER.name}")
    yield name
    pg_server.psql(f"DROP SCHEMA {name} CASCADE")


def connect(endpoint: RunningEndpoint, schema: str, **overrides: Any) -> Any:
    conn = dsql.connect(**endpoint.params(**overrides))
    conn.execute(f"SET search_path TO {schema}")
    return conn


@pytest.fixture
def conn(rules_endpoint: RunningEndpoint, schema: str) -> Iterator[Any]:
    with connect(rules_endpoint, schema) as connection:
        connection.execute("CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)")
        yield connection


def assert_rule(error: errors.Error, rule_id: str) -> None:
    r = rule(rule_id)
    assert (error.sqlstate, error.message) == (r.sqlstate, r.message)


# One DDL statement per transaction, and no DDL with DML.


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_a_second_ddl_statement_in_a_transaction_is_refused(conn: Any, how: str) -> None:
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE one (id int PRIMARY KEY)")
    with pytest.raises(errors.FeatureNotSupported) as caught:
        run(conn, how, "CREATE TABLE two (id int PRIMARY KEY)")
    assert_rule(caught.value, "one-ddl")
    # The transaction failed, as on DSQL: only ROLLBACK is left.
    with pytest.raises(errors.InFailedSqlTransaction):
        conn.execute("SELECT 1")
    conn.execute("ROLLBACK")
    assert conn.fetchval("SELECT to_regclass('one')") is None


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_dml_after_ddl_in_a_transaction_is_refused(conn: Any, how: str) -> None:
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE fresh (id int PRIMARY KEY)")
    with pytest.raises(errors.FeatureNotSupported) as caught:
        run(conn, how, "INSERT INTO items VALUES (1)")
    assert_rule(caught.value, "ddl-and-dml")
    conn.execute("ROLLBACK")


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_ddl_after_dml_in_a_transaction_is_refused(conn: Any, how: str) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO items VALUES (1)")
    with pytest.raises(errors.FeatureNotSupported) as caught:
        run(conn, how, "CREATE TABLE fresh (id int PRIMARY KEY)")
    assert_rule(caught.value, "ddl-and-dml")
    conn.execute("ROLLBACK")
    assert conn.fetchval("SELECT count(*) FROM items") == 0


def test_ddl_and_dml_in_one_simple_query_are_one_transaction_and_refused(conn: Any) -> None:
    with pytest.raises(errors.FeatureNotSupported) as caught:
        conn.execute("CREATE TABLE fresh (id int PRIMARY KEY); INSERT INTO fresh VALUES (1)")
    assert_rule(caught.value, "ddl-and-dml")
    assert conn.fetchval("SELECT to_regclass('fresh')") is None


def test_one_ddl_per_transaction_with_a_commit_after_each_succeeds(conn: Any) -> None:
    conn.execute("BEGIN; CREATE TABLE a (id int PRIMARY KEY); COMMIT")
    conn.execute("BEGIN; CREATE TABLE b (id int PRIMARY KEY); COMMIT")
    conn.execute("BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); COMMIT")
    assert conn.fetchval("SELECT count(*) FROM a") == 1


def test_ddl_and_dml_pass_in_one_transaction_with_postgres_rules(
    postgres_endpoint: RunningEndpoint, schema: str
) -> None:
    with connect(postgres_endpoint, schema) as conn:
        conn.execute("BEGIN; CREATE TABLE a (id int); CREATE TABLE b (id int)")
        conn.execute("INSERT INTO a VALUES (1); COMMIT")
        assert conn.fetchval("SELECT count(*) FROM a") == 1


def run(conn: Any, how: str, sql: str) -> None:
    if how == "simple":
        conn.execute(sql)
    else:
        conn.fetch(sql)


# The limits.


@pytest.fixture
def small(start_endpoint: StartEndpoint, schema: str) -> Iterator[Any]:
    """A connection to an endpoint with small limits: 5 rows, 1 KiB, 1 s per transaction."""
    limits = dataclasses.replace(
        LIMITS, transaction_rows=5, transaction_bytes=1024, transaction_seconds=1.0
    )
    endpoint = start_endpoint(limits=limits)
    with connect(endpoint, schema) as connection:
        connection.execute("CREATE TABLE items (id int PRIMARY KEY, note text)")
        yield connection


@pytest.mark.parametrize("autocommit", [True, False])
@pytest.mark.parametrize("how", ["simple", "extended"])
def test_more_rows_than_the_limit_fail_the_statement(
    small: Any, how: str, autocommit: bool
) -> None:
    if not autocommit:
        small.execute("BEGIN")
    run(small, how, "INSERT INTO items SELECT g, '' FROM generate_series(1, 5) g")
    with pytest.raises(errors.Error) as caught:
        run(small, how, "INSERT INTO items VALUES (6, '')")
    assert_rule(caught.value, "transaction-rows")
    assert caught.value.hint == rule("transaction-rows").instead
    if not autocommit:
        small.execute("ROLLBACK")
        assert small.fetchval("SELECT count(*) FROM items") == 0
    else:
        assert small.fetchval("SELECT count(*) FROM items") == 5


def test_one_statement_over_the_row_limit_commits_nothing(small: Any) -> None:
    with pytest.raises(errors.Error) as caught:
        small.execute("INSERT INTO items SELECT g, '' FROM generate_series(1, 6) g")
    assert_rule(caught.value, "transaction-rows")
    with pytest.raises(errors.Error):
        small.fetch("INSERT INTO items SELECT g, '' FROM generate_series(1, 6) g")
    assert small.fetchval("SELECT count(*) FROM items") == 0


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_more_bytes_than_the_limit_fail_the_statement(small: Any, how: str) -> None:
    note = "x" * 2000
    with pytest.raises(errors.Error) as caught:
        if how == "simple":
            small.execute(f"INSERT INTO items VALUES (1, '{note}')")
        else:
            small.execute("INSERT INTO items VALUES (1, $1)", note)
    assert_rule(caught.value, "transaction-size")
    assert "Current transaction size" in (caught.value.detail or "")
    assert small.fetchval("SELECT count(*) FROM items") == 0


def test_a_commit_after_the_time_limit_fails_and_rolls_back(small: Any) -> None:
    small.execute("BEGIN")
    small.execute("INSERT INTO items VALUES (1, '')")
    small.execute("SELECT pg_sleep(1.2)")
    with pytest.raises(errors.Error) as caught:
        small.execute("COMMIT")
    assert_rule(caught.value, "transaction-age")
    # The transaction is gone, as after any failed COMMIT.
    assert small.fetchval("SELECT count(*) FROM items") == 0


# CREATE INDEX ASYNC and the sys schema.


@pytest.mark.parametrize("how", ["simple", "extended"])
def test_create_index_async_returns_a_job_that_completes(conn: Any, how: str) -> None:
    conn.execute("INSERT INTO items VALUES (1, 1), (2, 2)")
    if how == "simple":
        job_id = (
            conn.fetchval("SELECT 1")
            and conn.execute_results("CREATE INDEX ASYNC items_n ON items (n)")[0].rows[0][0]
        )
    else:
        job_id = conn.fetchval("CREATE INDEX ASYNC items_n ON items (n)")
    assert isinstance(job_id, str) and len(job_id) == 26
    job = conn.fetchrow("SELECT * FROM sys.jobs WHERE job_id = $1", job_id)
    assert job["status"] == "completed" and job["job_type"] == "INDEX_BUILD"
    assert job["object_name"].endswith("items_n")
    assert conn.fetchval("CALL sys.wait_for_job($1)", job_id) is True
    assert conn.fetchval("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_n'::regclass")


def test_a_unique_index_over_duplicates_fails_its_job_not_the_statement(conn: Any) -> None:
    conn.execute("INSERT INTO items VALUES (1, 7), (2, 7)")
    job_id = conn.fetchval("CREATE UNIQUE INDEX ASYNC items_n ON items (n)")
    job = conn.fetchrow("SELECT status, details FROM sys.jobs WHERE job_id = $1", job_id)
    assert job["status"] == "failed"
    assert job["details"] == 'could not create unique index "items_n": Key (n)=(7) is duplicated.'
    assert conn.fetchval("CALL sys.wait_for_job($1)", job_id) is False
    assert conn.fetchval("SELECT to_regclass('items_n')") is None


def test_wait_for_job_is_a_procedure_as_on_dsql(conn: Any) -> None:
    with pytest.raises(errors.WrongObjectType):
        conn.fetchval("SELECT sys.wait_for_job('nosuchjob')")
    with pytest.raises(errors.UndefinedObject):
        conn.execute("CALL sys.wait_for_job('nosuchjob')")


def test_a_plain_create_index_is_refused_on_a_table_with_rows_only(conn: Any) -> None:
    conn.execute("CREATE TABLE empty (id int PRIMARY KEY, n int)")
    assert conn.execute("CREATE INDEX empty_n ON empty (n)") == "CREATE INDEX"
    conn.execute("INSERT INTO items VALUES (1, 1)")
    with pytest.raises(errors.FeatureNotSupported) as caught:
        conn.execute("CREATE INDEX items_n ON items (n)")
    assert_rule(caught.value, "synchronous-index")


# Optimistic concurrency.


def test_two_writers_of_one_row_never_wait_and_the_second_gets_oc000(
    rules_endpoint: RunningEndpoint, conn: Any, schema: str
) -> None:
    conn.execute("INSERT INTO items VALUES (1, 0)")
    with connect(rules_endpoint, schema) as other:
        conn.execute("BEGIN")
        conn.execute("UPDATE items SET n = n + 1 WHERE id = 1")
        other.execute("BEGIN")
        # Would block forever on PostgreSQL's row lock; DSQL's writers do not wait.
        with pytest.raises(errors.SerializationFailure) as caught:
            other.execute("UPDATE items SET n = n + 10 WHERE id = 1", timeout=10)
        assert caught.value.message == OC000
        other.execute("ROLLBACK")
        conn.execute("COMMIT")
    assert conn.fetchval("SELECT n FROM items WHERE id = 1") == 1


def test_a_write_after_a_concurrent_commit_gets_oc000(
    rules_endpoint: RunningEndpoint, conn: Any, schema: str
) -> None:
    conn.execute("INSERT INTO items VALUES (1, 0)")
    with connect(rules_endpoint, schema) as other:
        other.execute("BEGIN")
        assert other.fetchval("SELECT n FROM items WHERE id = 1") == 0
        conn.execute("UPDATE items SET n = 5 WHERE id = 1")
        with pytest.raises(errors.SerializationFailure) as caught:
            other.execute("UPDATE items SET n = n + 1 WHERE id = 1")
        assert caught.value.message == OC000
        other.execute("ROLLBACK")


def test_a_schema_change_under_a_transaction_fails_it_with_oc001(
    rules_endpoint: RunningEndpoint, conn: Any, schema: str
) -> None:
    with connect(rules_endpoint, schema) as other:
        other.execute("BEGIN")
        other.fetchval("SELECT count(*) FROM items")
        other_table = "CREATE TABLE elsewhere (id int PRIMARY KEY)"
        conn.execute(other_table)
        with pytest.raises(errors.SerializationFailure) as caught:
            other.execute("INSERT INTO items VALUES (1)")
        assert caught.value.message == OC001
        other.execute("ROLLBACK")
        other.execute("BEGIN")
        other.execute("INSERT INTO items VALUES (1)")
        conn.execute("CREATE TABLE again (id int PRIMARY KEY)")
        with pytest.raises(errors.SerializationFailure) as caught:
            other.execute("COMMIT")
        assert caught.value.message == OC001
    assert conn.fetchval("SELECT count(*) FROM items") == 0


def test_twenty_workers_increment_one_counter_to_exactly_1000(
    rules_endpoint: RunningEndpoint, conn: Any, schema: str
) -> None:
    conn.execute("INSERT INTO items VALUES (1, 0)")
    attempts = []
    failures: list[BaseException] = []

    def increment(connection: Any) -> None:
        attempts.append(1)
        connection.execute("UPDATE items SET n = n + 1 WHERE id = 1")

    def worker() -> None:
        try:
            with connect(rules_endpoint, schema) as connection:
                for _ in range(50):
                    dsql.run_transaction(
                        connection, increment, retries=1000, base_delay=0.001, max_delay=0.05
                    )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert conn.fetchval("SELECT n FROM items WHERE id = 1") == 1000
    # Conflicts happened, and were retried.
    assert len(attempts) > 1000


def test_every_session_on_postgresql_has_a_lock_timeout(conn: Any) -> None:
    # No statement of a client waits on a lock for longer than 1 ms.
    assert conn.fetchval("SHOW lock_timeout") == "1ms"


def test_injected_conflicts_still_work_under_dsqls_rules(
    rules_endpoint: RunningEndpoint, conn: Any
) -> None:
    rules_endpoint.endpoint.inject_occ(1)
    with pytest.raises(errors.SerializationFailure), conn.transaction():
        conn.execute("INSERT INTO items VALUES (1)")
    assert conn.fetchval("SELECT count(*) FROM items") == 0
