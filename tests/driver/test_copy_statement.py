"""The COPY statements that the table-level COPY methods send, built from names and options
(unit tests: no server; the methods themselves are in ``test_copy_tables_async.py``)."""

from __future__ import annotations

import pytest

from pgwire import errors
from pgwire.copy import copy_query_statement, copy_statement


def test_copy_statement_quotes_every_name_and_literal() -> None:
    sql = copy_statement(
        'my"table', "FROM STDIN", columns=["a", "b c"], schema="s", format="csv", null="\\N'"
    )
    assert sql == ('COPY "s"."my""table" ("a", "b c") FROM STDIN (FORMAT csv, NULL \'\\N\'\'\')')


def test_copy_statement_refuses_unknown_options_and_formats() -> None:
    with pytest.raises(errors.InterfaceError, match="unknown COPY option"):
        copy_statement("t", "TO STDOUT", colour="red")
    with pytest.raises(errors.InterfaceError, match="unknown COPY format"):
        copy_statement("t", "TO STDOUT", format="xml")


def test_copy_query_statement_wraps_the_query() -> None:
    assert copy_query_statement("SELECT 1", format="csv", header=True) == (
        "COPY (SELECT 1) TO STDOUT (FORMAT csv, HEADER true)"
    )
