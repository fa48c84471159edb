"""DSQL's session rules without I/O: what PostgreSQL gets for the client's messages, and what
the client gets for PostgreSQL's answers (hidden messages dropped, DSQL's errors in place of
PostgreSQL's, conflicts turned into OC000/OC001), and how statements are classified."""

from __future__ import annotations

import pytest

from pgwire.dsql_local.rules import rule
from pgwire.dsql_local.session import REFUSED_SQL, DsqlSession, SchemaClock, dsql_error
from pgwire.dsql_local.statements import classify
from pgwire.dsql_local.sysschema import GUARD, MISSING_PORTAL, ROLLBACK
from pgwire.protocol import (
    Bind,
    BindComplete,
    Close,
    CloseComplete,
    CommandComplete,
    ErrorResponse,
    Execute,
    Parse,
    ParseComplete,
    Query,
    ReadyForQuery,
    Sync,
)


def error(code: str, message: str = "boom") -> ErrorResponse:
    return ErrorResponse({"S": "ERROR", "V": "ERROR", "C": code, "M": message, "P": "7"})


def answer(session: DsqlSession, *messages: object) -> list[object]:
    out: list[object] = []
    for message in messages:
        out += session.from_server(message)  # type: ignore[arg-type]
    return out


def test_a_refused_parse_fails_on_postgresql_and_the_client_gets_dsqls_error() -> None:
    session = DsqlSession()
    sent = session.from_client(Parse("s1", "TRUNCATE t"))
    assert sent == [Parse("s1", REFUSED_SQL)]
    truncate = dsql_error(rule("truncate"))
    assert answer(session, error("42883")) == [truncate]
    # PostgreSQL ignores the rest of the batch: nothing of it is checked or awaited.
    assert session.from_client(Bind("", "s1", (), (), ())) == [Bind("", "s1", (), (), ())]
    session.from_client(Sync())
    assert answer(session, ReadyForQuery("I")) == [ReadyForQuery("I")]


def test_the_guard_after_dml_is_hidden_and_holds_the_statements_answer() -> None:
    session = DsqlSession()
    session.from_client(Parse("", "UPDATE t SET n = 1"))
    session.from_client(Bind("", "", (), (), ()))
    sent = session.from_client(Execute(""))
    assert [type(m).__name__ for m in sent] == ["Execute", "Bind", "Execute", "Close"]
    assert isinstance(sent[1], Bind) and sent[1].statement == GUARD
    session.from_client(Sync())
    out = answer(
        session,
        ParseComplete(),
        BindComplete(),
        CommandComplete("UPDATE 1"),
        BindComplete(),
        CommandComplete("CALL"),
        CloseComplete(),
        ReadyForQuery("I"),
    )
    assert out == [ParseComplete(), BindComplete(), CommandComplete("UPDATE 1"), ReadyForQuery("I")]


def test_a_guard_that_fails_replaces_the_statements_answer_with_its_error() -> None:
    session = DsqlSession()
    session.from_client(Query("INSERT INTO t VALUES (1)"))
    rows = rule("transaction-rows")
    limit = ErrorResponse(
        {"S": "ERROR", "C": "54000", "M": rows.message, "W": "PL/pgSQL function ..."}
    )
    out = answer(session, CommandComplete("INSERT 0 1"), limit, ReadyForQuery("I"))
    assert out == [
        ErrorResponse({"S": "ERROR", "C": "54000", "M": rows.message}),
        ReadyForQuery("I"),
    ]


@pytest.mark.parametrize("code", ["55P03", "40001", "40P01"])
def test_lock_timeouts_and_serialization_failures_are_oc000(code: str) -> None:
    session = DsqlSession()
    session.from_client(Query("UPDATE t SET n = 1"))
    out = answer(session, error(code), ReadyForQuery("I"))
    assert out == [dsql_error(rule("occ-data")), ReadyForQuery("I")]


def test_a_conflict_of_a_ddl_statement_is_oc001() -> None:
    session = DsqlSession()
    session.from_client(Query("ALTER TABLE t ADD COLUMN c int"))
    assert answer(session, error("55P03"))[0] == dsql_error(rule("occ-schema"))


def test_a_cancel_the_client_asked_for_stays_a_cancel() -> None:
    cancel = error("57014", "canceling statement due to user request")
    asked = DsqlSession(cancelled=lambda: True)
    asked.from_client(Query("SELECT pg_sleep(10)"))
    assert answer(asked, cancel)[0] == cancel
    raced = DsqlSession(cancelled=lambda: False)
    raced.from_client(Query("UPDATE t SET n = 1"))
    assert answer(raced, cancel)[0] == dsql_error(rule("occ-data"))


def test_a_commit_after_a_schema_change_becomes_a_rollback_answered_with_oc001() -> None:
    schema = SchemaClock()
    session = DsqlSession(schema)
    session.from_client(Query("BEGIN"))
    answer(session, CommandComplete("BEGIN"), ReadyForQuery("T"))
    schema.version += 1
    assert session.from_client(Query("COMMIT")) == [Query("ROLLBACK")]
    out = answer(session, CommandComplete("ROLLBACK"), ReadyForQuery("I"))
    assert out == [dsql_error(rule("occ-schema")), ReadyForQuery("I")]


def test_an_extended_commit_that_must_fail_is_bound_to_the_endpoints_rollback() -> None:
    clock = [0.0]
    session = DsqlSession(clock=lambda: clock[0])
    session.from_client(Query("BEGIN"))
    answer(session, CommandComplete("BEGIN"), ReadyForQuery("T"))
    clock[0] = 301.0
    session.from_client(Parse("", "COMMIT"))
    sent = session.from_client(Bind("", "", (), (), ()))
    assert sent == [Bind("", ROLLBACK, (), (), ())]
    session.from_client(Execute(""))
    session.from_client(Sync())
    out = answer(
        session, ParseComplete(), BindComplete(), CommandComplete("ROLLBACK"), ReadyForQuery("I")
    )
    assert out[2] == dsql_error(rule("transaction-age"))


def test_a_transaction_rule_refuses_at_execute_with_a_missing_portal() -> None:
    session = DsqlSession()
    session.from_client(Query("BEGIN; CREATE TABLE a (id int)"))
    answer(session, CommandComplete("BEGIN"), CommandComplete("CREATE TABLE"), ReadyForQuery("T"))
    session.from_client(Parse("", "CREATE TABLE b (id int)"))
    session.from_client(Bind("", "", (), (), ()))
    assert session.from_client(Execute("")) == [Execute(MISSING_PORTAL)]


def test_after_discard_all_the_endpoints_statements_are_prepared_again() -> None:
    session = DsqlSession()
    session.from_client(Query("DISCARD ALL"))
    answer(session, CommandComplete("DISCARD ALL"), ReadyForQuery("I"))
    session.from_client(Parse("", "DELETE FROM t"))
    session.from_client(Bind("", "", (), (), ()))
    sent = session.from_client(Execute(""))
    assert [type(m).__name__ for m in sent] == [
        "Execute",
        "Parse",
        "Parse",
        "Bind",
        "Execute",
        "Close",
    ]
    session.from_client(Sync())
    out = answer(
        session,
        ParseComplete(),
        BindComplete(),
        CommandComplete("DELETE 0"),
        ParseComplete(),
        ParseComplete(),
        BindComplete(),
        CommandComplete("CALL"),
        CloseComplete(),
        ReadyForQuery("I"),
    )
    assert out == [ParseComplete(), BindComplete(), CommandComplete("DELETE 0"), ReadyForQuery("I")]
    assert isinstance(sent[-1], Close)


def test_create_index_async_is_dsqls_keyword_only_before_a_name() -> None:
    (named_async,) = classify("CREATE INDEX async ON t (a)")
    assert not named_async.async_index and named_async.index_name == "async"
    (real,) = classify("CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON s.t (a)")
    assert real.async_index and real.index_table == '"s"."t"' and "ASYNC" not in real.sql


def test_unparsable_sql_goes_to_postgresql_untouched() -> None:
    (statement,) = classify("SELEC 1; TRUNCATE t")
    assert statement.sql == "SELEC 1; TRUNCATE t" and statement.refused is None
