"""Table-level COPY: records in binary format, tables and queries out, streaming output."""

from __future__ import annotations

import datetime
import decimal
import io
import uuid

import pytest

import pgwire
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


@pytest.fixture
def conn(pg_server):  # type: ignore[no-untyped-def]
    with pgwire.connect(pg_server.dsn("scram_user", "pw-scram")) as connection:
        connection.execute(
            "CREATE TEMP TABLE item (id int, name text, price numeric, seen timestamptz,"
            " tag uuid, raw bytea, ok bool, score float8)"
        )
        yield connection


def test_copy_records_to_table_loads_every_type_in_binary(conn: pgwire.Connection) -> None:
    seen = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
    tag = uuid.UUID(int=7)
    records = [
        (1, "apple", decimal.Decimal("1.25"), seen, tag, b"\x00\xff", True, 0.5),
        (2, None, None, None, None, None, None, None),
    ]
    assert conn.copy_records_to_table("item", records=records) == "COPY 2"
    rows = conn.fetch("SELECT * FROM item ORDER BY id")
    assert [tuple(r) for r in rows] == records


def test_copy_records_to_table_takes_a_generator_and_a_column_subset(
    conn: pgwire.Connection,
) -> None:
    tag = conn.copy_records_to_table(
        "item", records=((i, f"n{i}") for i in range(5000)), columns=["id", "name"]
    )
    assert tag == "COPY 5000"
    assert conn.fetchval("SELECT count(name) FROM item WHERE price IS NULL") == 5000


def test_copy_records_with_a_wrong_value_fails_naming_the_column_and_keeps_the_connection(
    conn: pgwire.Connection,
) -> None:
    with pytest.raises(errors.DataError, match="column 1"):
        conn.copy_records_to_table("item", records=[("not an int",)], columns=["id"])
    assert conn.fetchval("SELECT count(*) FROM item") == 0
    assert conn.fetchval("SELECT 1") == 1


def test_copy_records_with_the_wrong_number_of_values_fails(conn: pgwire.Connection) -> None:
    with pytest.raises(errors.DataError, match="2 values for 1 columns"):
        conn.copy_records_to_table("item", records=[(1, "x")], columns=["id"])
    assert conn.fetchval("SELECT 1") == 1


def test_copy_to_table_and_back_in_csv(conn: pgwire.Connection) -> None:
    data = 'id,name\n1,one\n2,"t,wo"\n'
    assert (
        conn.copy_to_table("item", source=data, columns=["id", "name"], format="csv", header=True)
        == "COPY 2"
    )
    out = io.BytesIO()
    tag = conn.copy_from_table(
        "item", output=out, columns=["id", "name"], format="csv", header=True
    )
    assert tag == "COPY 2"
    assert out.getvalue().decode() == data


def test_copy_from_query_to_a_callback(conn: pgwire.Connection) -> None:
    chunks: list[bytes] = []
    tag = conn.copy_from_query("SELECT g FROM generate_series(1, 3) g", output=chunks.append)
    assert tag == "COPY 3"
    assert b"".join(chunks) == b"1\n2\n3\n"


def test_copy_out_stream_yields_chunks_and_survives_an_early_exit(
    conn: pgwire.Connection,
) -> None:
    sql = "COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT"
    with conn.copy_out_stream(sql) as chunks:
        total = sum(len(chunk) for chunk in chunks)
    assert total == len("".join(f"{i}\n" for i in range(1, 200001)))
    with conn.copy_out_stream(sql) as chunks:
        for _ in chunks:
            break
    assert conn.fetchval("SELECT 42") == 42


def test_copy_out_stream_refuses_a_statement_that_is_not_copy_out(
    conn: pgwire.Connection,
) -> None:
    with (
        pytest.raises(errors.InterfaceError, match="expects COPY"),
        conn.copy_out_stream("SELECT 1") as chunks,
    ):
        list(chunks)
    assert conn.fetchval("SELECT 1") == 1


def test_copy_records_keeps_each_copy_data_small_however_wide_the_records(
    conn: pgwire.Connection,
) -> None:
    # 300 records of 2 MB: the batches shrink to about one record each (the first batch
    # is one record), instead of one CopyData of 600 MB.
    sent: list[int] = []
    write = conn._write

    def spy(data: bytes, interruptible: bool = False) -> None:
        sent.append(len(data))
        write(data, interruptible)

    conn._write = spy  # type: ignore[method-assign]
    wide = b"\xab" * (2 << 20)
    tag = conn.copy_records_to_table(
        "item", records=((i, wide) for i in range(300)), columns=["id", "raw"]
    )
    assert tag == "COPY 300"
    assert max(sent) < 5 << 20
    assert conn.fetchval("SELECT sum(length(raw)) FROM item") == 300 * len(wide)
    # Narrow records still go about 1,000 to a batch.
    sent.clear()
    conn.copy_records_to_table(
        "item", records=[(i, b"x") for i in range(5000)], columns=["id", "raw"]
    )
    assert len(sent) < 15
