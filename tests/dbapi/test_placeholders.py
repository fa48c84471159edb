"""pyformat placeholders become $n: psycopg's rules, with quoted text, comments and dollar
quotes left alone, and every mismatch a ProgrammingError naming it. No server needed."""

from __future__ import annotations

from typing import Any

import pytest

from pgwire.dbapi._placeholders import parse_query
from pgwire.errors import ProgrammingError


def convert(query: str, params: Any) -> tuple[str, tuple[Any, ...]]:
    parsed = parse_query(query)
    return parsed.sql, parsed.bind(params)


def test_positional_placeholders_become_numbered_parameters() -> None:
    assert convert("SELECT %s, %s", (1, "a")) == ("SELECT $1, $2", (1, "a"))


def test_a_list_serves_as_the_sequence() -> None:
    assert convert("SELECT %s", [7]) == ("SELECT $1", (7,))


def test_named_placeholders_become_numbered_parameters_in_order_of_appearance() -> None:
    sql, args = convert("SELECT %(b)s, %(a)s", {"a": 1, "b": 2})
    assert (sql, args) == ("SELECT $1, $2", (2, 1))


def test_a_repeated_name_is_one_parameter() -> None:
    sql, args = convert("SELECT %(x)s + %(x)s, %(y)s, %(x)s", {"x": 1, "y": 2})
    assert (sql, args) == ("SELECT $1 + $1, $2, $1", (1, 2))


def test_extra_keys_of_the_mapping_are_ignored() -> None:
    assert convert("SELECT %(a)s", {"a": 1, "unused": 2}) == ("SELECT $1", (1,))


def test_b_and_t_formats_read_as_s() -> None:
    assert convert("SELECT %b, %t", (1, 2))[0] == "SELECT $1, $2"
    assert convert("SELECT %(a)b", {"a": 1})[0] == "SELECT $1"


def test_double_percent_is_a_literal_percent() -> None:
    assert convert("SELECT 7 %% 3, %s", (1,)) == ("SELECT 7 % 3, $1", (1,))


def test_double_percent_inside_a_string_literal_is_a_literal_percent() -> None:
    sql, _ = convert("SELECT 'thi%%s :may ca%%(u)se? troub:1e', %s", ("x",))
    assert sql == "SELECT 'thi%s :may ca%(u)se? troub:1e', $1"


def test_placeholder_text_inside_quotes_or_comments_is_not_a_placeholder() -> None:
    # %% is unescaped everywhere, but no $n appears inside quoted text.
    sql, args = convert(
        "SELECT '%%s', \"a%%s\", $$%%s$$, $f$%%(x)s$f$ -- %%s\n/* %%s /* %%s */ */, %s",
        (1,),
    )
    assert sql == "SELECT '%s', \"a%s\", $$%s$$, $f$%(x)s$f$ -- %s\n/* %s /* %s */ */, $1"
    assert args == (1,)


def test_a_quote_inside_an_escape_string_does_not_end_it() -> None:
    assert convert(r"SELECT E'it\'s %%s', %s", (1,))[0] == r"SELECT E'it\'s %s', $1"


def test_a_doubled_quote_does_not_end_a_string() -> None:
    assert convert("SELECT 'it''s', %s", (1,))[0] == "SELECT 'it''s', $1"


def test_dollar_signs_inside_identifiers_are_not_quotes() -> None:
    assert convert("SELECT a$b, %s FROM t$1", (1,))[0] == "SELECT a$b, $1 FROM t$1"


@pytest.mark.parametrize(
    ("query", "params", "problem"),
    [
        ("SELECT %s, %s", (1,), "2 placeholder(s) but 1 parameter"),
        ("SELECT %s", (1, 2), "1 placeholder(s) but 2 parameter"),
        ("SELECT 1", (1,), "0 placeholder(s) but 1 parameter"),
        ("SELECT %(a)s, %(b)s", {"a": 1}, "'b'"),
        ("SELECT %(a)s", (1,), "needs a mapping"),
        ("SELECT %s", {"a": 1}, "pass a sequence"),
        ("SELECT %s", "x", "not str"),
        ("SELECT %s", 5, "not int"),
        ("SELECT %s, %(a)s", {"a": 1}, "mixes positional"),
        ("SELECT %d", (1,), "unknown placeholder '%d'"),
        ("SELECT 5 % 3", (), "unknown placeholder '% '"),
        ("SELECT %s, 1 %", (1,), "ends with '%'"),
        ("SELECT %(a", {"a": 1}, "no ')'"),
        ("SELECT %(a)d", {"a": 1}, "only %(name)s"),
        ("SELECT '100%'", (), "must be doubled"),
        ("SELECT '%s'", ("x",), "placeholders do not work inside quoted text"),
        ("SELECT 1 -- 50% off", (), "in a comment"),
        ("SELECT $1", (1,), "holds $1"),
    ],
)
def test_every_mismatch_is_a_programming_error_naming_it(
    query: str, params: Any, problem: str
) -> None:
    with pytest.raises(ProgrammingError) as info:
        convert(query, params)
    assert problem in str(info.value)


def test_a_query_without_placeholders_takes_an_empty_sequence_or_mapping() -> None:
    assert convert("SELECT 1", ()) == ("SELECT 1", ())
    assert convert("SELECT 1", {}) == ("SELECT 1", ())


@pytest.mark.parametrize(
    ("query", "statements"),
    [
        ("SELECT 1", 1),
        ("SELECT 1;", 1),
        ("  ;; ", 0),
        ("", 0),
        ("-- only a comment", 0),
        ("SELECT 1; SELECT 2", 2),
        ("SELECT ';'; SELECT \";\"", 2),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 2 $$ LANGUAGE sql", 1),
        ("SELECT 1 /* ; */ -- ;\n", 1),
    ],
)
def test_statements_are_counted_outside_quotes_and_comments(query: str, statements: int) -> None:
    assert parse_query(query).statements == statements


def test_an_unterminated_quote_runs_to_the_end() -> None:
    parsed = parse_query("SELECT 'abc; SELECT 2")
    assert parsed.statements == 1


def test_parsing_is_cached_by_the_query_text() -> None:
    assert parse_query("SELECT %s -- cached") is parse_query("SELECT %s -- cached")
