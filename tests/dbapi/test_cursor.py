"""Cursors against the real server: execute and its results, description for 30 types,
rowcount from the command tag, fetching, nextset, row factories, COPY, closed cursors."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from decimal import Decimal

import pytest

import pgwire
import pgwire.dbapi as dbapi
from pgwire.dbapi import Connection

pytestmark = pytest.mark.pg


def test_rows_are_plain_tuples_by_default(conn: Connection) -> None:
    cur = conn.execute("SELECT 1 AS a, 'x' AS b")
    row = cur.fetchone()
    assert type(row) is tuple and row == (1, "x")


def test_parameters_travel_out_of_band(conn: Connection) -> None:
    cur = conn.cursor()
    nasty = "'); DROP TABLE x; --"
    cur.execute("SELECT %s::text", (nasty,))
    assert cur.fetchone() == (nasty,)
    assert cur.query == "SELECT $1::text"


def test_named_placeholders_repeated_bind_one_value(conn: Connection) -> None:
    cur = conn.execute("SELECT %(n)s::int + %(n)s, %(s)s::text", {"n": 20, "s": "a"})
    assert cur.fetchone() == (40, "a")


def test_percent_is_untouched_without_parameters(conn: Connection) -> None:
    cur = conn.execute("SELECT 7 % 3, '100%'")
    assert cur.fetchone() == (1, "100%")


def test_doubled_percent_with_parameters_is_one_percent(conn: Connection) -> None:
    cur = conn.execute("SELECT 7 %% 3, '100%%', %s::text", ("x",))
    assert cur.fetchone() == (1, "100%", "x")


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("INSERT INTO {t} VALUES (4), (5)", 2),
        ("UPDATE {t} SET a = a + 10 WHERE a < 3", 2),
        ("DELETE FROM {t} WHERE a = 3", 1),
        ("SELECT * FROM {t}", 3),
        ("SELECT * FROM {t} WHERE false", 0),
        (
            "MERGE INTO {t} USING (VALUES (1), (9)) v(a) ON {t}.a = v.a "
            "WHEN MATCHED THEN UPDATE SET a = 100 WHEN NOT MATCHED THEN INSERT VALUES (v.a)",
            2,
        ),
        ("UPDATE {t} SET a = a RETURNING a", 3),
        ("CREATE TEMP TABLE copy_{t} AS SELECT * FROM {t}", 3),
        ("CREATE TEMP TABLE other_{t} (a int)", -1),
        ("SET search_path = public", -1),
    ],
)
def test_rowcount_comes_from_the_command_tag(
    conn: Connection, new_table: Callable[[str], str], sql: str, count: int
) -> None:
    table = new_table("a int")
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (1), (2), (3)")
    cur.execute(sql.format(t=table))
    assert cur.rowcount == count
    assert cur.statusmessage is not None and cur.statusmessage.split()[0] in sql.upper()


# (SQL type, value expression, type_code, display_size, internal_size, precision, scale)
DESCRIPTIONS = [
    ("bool", "true", 16, None, 1, None, None),
    ("int2", "1", 21, None, 2, None, None),
    ("int4", "1", 23, None, 4, None, None),
    ("int8", "1", 20, None, 8, None, None),
    ("float4", "1.5", 700, None, 4, None, None),
    ("float8", "1.5", 701, None, 8, None, None),
    ("numeric", "1.5", 1700, None, None, None, None),
    ("numeric(10,2)", "1.5", 1700, 12, None, 10, 2),
    ("numeric(5,0)", "1", 1700, 6, None, 5, 0),
    ("numeric(3,-2)", "100", 1700, 4, None, 3, -2),
    ("text", "'a'", 25, None, None, None, None),
    ("varchar", "'a'", 1043, None, None, None, None),
    ("varchar(20)", "'a'", 1043, 20, None, None, None),
    ("char(5)", "'a'", 1042, 5, None, None, None),
    ('"char"', "'a'", 18, None, 1, None, None),
    ("name", "'a'", 19, None, 64, None, None),
    ("bytea", "'\\x00'", 17, None, None, None, None),
    ("date", "'2024-01-01'", 1082, None, 4, None, None),
    ("time", "'12:00'", 1083, None, 8, None, None),
    ("time(3)", "'12:00'", 1083, None, 8, 3, None),
    ("timetz", "'12:00+01'", 1266, None, 12, None, None),
    ("timestamp", "'2024-01-01'", 1114, None, 8, None, None),
    ("timestamp(0)", "'2024-01-01'", 1114, None, 8, 0, None),
    ("timestamptz(6)", "'2024-01-01'", 1184, None, 8, 6, None),
    ("interval", "'1 day'", 1186, None, 16, None, None),
    ("interval day to second(2)", "'1 day'", 1186, None, 16, 2, None),
    ("uuid", "'00000000-0000-0000-0000-000000000000'", 2950, None, 16, None, None),
    ("json", "'{}'", 114, None, None, None, None),
    ("jsonb", "'{}'", 3802, None, None, None, None),
    ("oid", "1", 26, None, 4, None, None),
    ("bit(8)", "B'00000000'", 1560, 8, None, None, None),
    ("varbit(16)", "B'1'", 1562, 16, None, None, None),
    ("int4[]", "'{1}'", 1007, None, None, None, None),
    ("varchar(7)[]", "'{a}'", 1015, 7, None, None, None),
    ("numeric(4,1)[]", "'{1}'", 1231, 6, None, 4, 1),
    ("inet", "'127.0.0.1'", 869, None, None, None, None),
]


@pytest.mark.parametrize(
    ("sql_type", "value", "oid", "display", "internal", "precision", "scale"),
    DESCRIPTIONS,
    ids=[d[0] for d in DESCRIPTIONS],
)
def test_description_of_a_column(
    conn: Connection,
    new_table: Callable[[str], str],
    sql_type: str,
    value: str,
    oid: int,
    display: int | None,
    internal: int | None,
    precision: int | None,
    scale: int | None,
) -> None:
    table = new_table(f"c {sql_type}")
    cur = conn.execute(f"SELECT c FROM {table}")
    (column,) = cur.description or ()
    assert tuple(column) == ("c", oid, display, internal, precision, scale, None)
    assert column.type_code == oid and len(column) == 7


def test_description_is_none_after_a_statement_without_rows(conn: Connection) -> None:
    cur = conn.execute("SELECT 1")
    assert cur.description is not None
    cur.execute("SET search_path = public")
    assert cur.description is None


def test_type_objects_compare_equal_to_the_type_codes(conn: Connection) -> None:
    cur = conn.execute(
        "SELECT 'a'::text, 'b'::varchar, 1::int4, 1.5::numeric, now(), 'x'::bytea, 1::oid,"
        " '{a}'::text[], '{1}'::int8[], '{2024-01-01}'::date[], '{x}'::bytea[]"
    )
    codes = [column.type_code for column in cur.description or ()]
    assert codes[0] == dbapi.STRING and codes[1] == dbapi.STRING
    assert codes[2] == dbapi.NUMBER and codes[3] == dbapi.NUMBER
    assert codes[4] == dbapi.DATETIME and codes[5] == dbapi.BINARY
    assert codes[6] == dbapi.ROWID and codes[6] == dbapi.NUMBER
    assert codes[7] == dbapi.STRINGARRAY and codes[7] != dbapi.STRING
    assert codes[8] == dbapi.NUMBERARRAY and codes[9] == dbapi.DATETIMEARRAY
    assert codes[10] == dbapi.BINARYARRAY
    assert dbapi.STRING != dbapi.NUMBER and dbapi.STRING == dbapi.STRING


def test_constructors_give_values_the_codecs_take(conn: Connection) -> None:
    cur = conn.execute(
        "SELECT %s::date, %s::time, %s::timestamp, %s::bytea",
        (
            dbapi.Date(2024, 2, 29),
            dbapi.Time(13, 45, 30),
            dbapi.Timestamp(2024, 2, 29, 13, 45, 30),
            dbapi.Binary(b"\x00\xff"),
        ),
    )
    assert cur.fetchone() == (
        datetime.date(2024, 2, 29),
        datetime.time(13, 45, 30),
        datetime.datetime(2024, 2, 29, 13, 45, 30),
        b"\x00\xff",
    )
    ticks = datetime.datetime(2024, 2, 29, 13, 45, 30).timestamp()
    assert dbapi.DateFromTicks(ticks) == datetime.date(2024, 2, 29)
    assert dbapi.TimeFromTicks(ticks) == datetime.time(13, 45, 30)
    assert dbapi.TimestampFromTicks(ticks) == datetime.datetime(2024, 2, 29, 13, 45, 30)


def test_fetchone_fetchmany_fetchall_and_arraysize(conn: Connection) -> None:
    cur = conn.execute("SELECT generate_series(1, 10)")
    assert cur.arraysize == 1
    assert cur.rownumber == 0
    assert cur.fetchone() == (1,)
    assert cur.fetchmany() == [(2,)]
    cur.arraysize = 3
    assert cur.fetchmany() == [(3,), (4,), (5,)]
    assert cur.fetchmany(2) == [(6,), (7,)]
    assert cur.rownumber == 7
    assert cur.fetchall() == [(8,), (9,), (10,)]
    assert cur.fetchone() is None and cur.fetchmany() == [] and cur.fetchall() == []


def test_iteration_reads_the_rest(conn: Connection) -> None:
    cur = conn.execute("SELECT generate_series(1, 5)")
    cur.fetchone()
    assert next(cur) == (2,) and cur.next() == (3,)
    assert list(cur) == [(4,), (5,)]
    with pytest.raises(StopIteration):
        next(cur)


def test_scroll_moves_within_the_result(conn: Connection) -> None:
    cur = conn.execute("SELECT generate_series(0, 9)")
    cur.scroll(3)
    assert cur.fetchone() == (3,)
    cur.scroll(1, mode="absolute")
    assert cur.fetchone() == (1,)
    cur.scroll(-2)
    assert cur.fetchone() == (0,)
    with pytest.raises(IndexError):
        cur.scroll(20)


def test_fetch_without_a_result_is_a_programming_error(conn: Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="nothing was executed"):
        cur.fetchone()
    cur.execute("SET search_path = public")
    with pytest.raises(dbapi.ProgrammingError, match="returned no rows"):
        cur.fetchall()


def test_nextset_walks_the_results_of_a_script(conn: Connection) -> None:
    cur = conn.execute("SELECT 1; SET search_path = public; SELECT 'a', 'b'")
    assert cur.fetchall() == [(1,)]
    assert cur.nextset() is True
    assert cur.description is None and cur.statusmessage == "SET"
    assert cur.nextset() is True
    assert cur.fetchall() == [("a", "b")]
    assert cur.nextset() is None


def test_a_single_query_has_no_next_set(conn: Connection) -> None:
    cur = conn.execute("SELECT 1")
    assert cur.nextset() is None


def test_lastrowid_is_none_and_returning_gives_the_id(
    conn: Connection, new_table: Callable[[str], str]
) -> None:
    table = new_table("id serial PRIMARY KEY, a int")
    cur = conn.execute(f"INSERT INTO {table} (a) VALUES (%s) RETURNING id", (5,))
    assert cur.lastrowid is None
    assert cur.fetchone() == (1,)


def test_setinputsizes_and_setoutputsize_change_nothing(conn: Connection) -> None:
    cur = conn.cursor()
    cur.setinputsizes([20, None])
    cur.setoutputsize(10)
    cur.setoutputsize(10, 0)
    assert cur.execute("SELECT repeat('x', 100)").fetchone() == ("x" * 100,)


def test_executemany_inserts_every_row_and_counts_them(
    conn: Connection, new_table: Callable[[str], str]
) -> None:
    table = new_table("a int, b text")
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO {table} VALUES (%(a)s, %(b)s)", [{"a": i, "b": str(i)} for i in range(100)]
    )
    assert cur.rowcount == 100
    assert cur.execute(f"SELECT count(*), sum(a) FROM {table}").fetchone() == (100, 4950)


def test_executemany_is_atomic_in_autocommit_mode(
    connect: Callable[..., Connection], new_table: Callable[[str], str]
) -> None:
    # One batch: the failing row undoes the rows before it, though each would commit alone.
    conn = connect(autocommit=True)
    table = new_table("a int PRIMARY KEY")
    cur = conn.cursor()
    with pytest.raises(pgwire.errors.UniqueViolation):
        cur.executemany(f"INSERT INTO {table} VALUES (%s)", [(1,), (2,), (1,), (3,)])
    assert cur.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_executemany_of_nothing_counts_zero(conn: Connection) -> None:
    cur = conn.cursor()
    cur.executemany("SELECT %s", [])
    assert cur.rowcount == 0


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (dbapi.tuple_row, (1, "x")),
        (dbapi.dict_row, {"a": 1, "b": "x"}),
    ],
)
def test_row_factories(conn: Connection, factory: dbapi.RowFactory, expected: object) -> None:
    cur = conn.cursor(row_factory=factory)
    cur.execute("SELECT 1 AS a, 'x' AS b")
    assert cur.fetchone() == expected
    cur.execute("SELECT 1 AS a, 'x' AS b")
    assert cur.fetchall() == [expected]


def test_record_rows_read_by_name_and_index(connect: Callable[..., Connection]) -> None:
    conn = connect(row_factory=dbapi.record_row)
    row = conn.execute("SELECT 1 AS a, 'x' AS b").fetchone()
    assert isinstance(row, pgwire.Record)
    assert row["b"] == "x" and row[0] == 1 and dict(row) == {"a": 1, "b": "x"}


def test_a_custom_row_factory_gets_the_cursor(conn: Connection) -> None:
    def upper_names(cursor: dbapi.Cursor) -> dbapi.RowMaker:
        names = [c.name.upper() for c in cursor.description or ()]
        return lambda values: dict(zip(names, values, strict=True))

    conn.row_factory = upper_names
    assert conn.execute("SELECT 1 AS a").fetchall() == [{"A": 1}]


def test_callproc_calls_a_function(conn: Connection) -> None:
    cur = conn.cursor()
    assert cur.callproc("lower", ("FOO",)) == ("FOO",)
    assert cur.fetchall() == [("foo",)]
    assert cur.callproc("make_interval", {"days": 2}) == {"days": 2}
    assert cur.fetchone() == (datetime.timedelta(days=2),)


def test_copy_expert_in_and_out(conn: Connection, new_table: Callable[[str], str]) -> None:
    table = new_table("a int, b text")
    cur = conn.cursor()
    cur.copy_expert(f"COPY {table} FROM STDIN", io.StringIO("1\tone\n2\ttwo\n"))
    assert cur.rowcount == 2
    cur.copy_expert(f"COPY {table} (a) FROM STDIN WITH (FORMAT csv)", io.BytesIO(b"3\n"))
    text = io.StringIO()
    cur.copy_expert(f"COPY (SELECT * FROM {table} ORDER BY a) TO STDOUT", text)
    assert text.getvalue() == "1\tone\n2\ttwo\n3\t\\N\n"
    assert cur.rowcount == 3
    binary = io.BytesIO()
    cur.copy_expert(f"COPY {table} TO STDOUT WITH (FORMAT csv)", binary)
    assert binary.getvalue().count(b"\n") == 3


def test_copy_expert_refuses_other_statements(conn: Connection) -> None:
    with pytest.raises(dbapi.ProgrammingError, match="FROM STDIN or COPY"):
        conn.cursor().copy_expert("SELECT 'FROM STDIN'", io.StringIO())


def test_copy_through_execute_points_to_copy_expert_or_the_driver(conn: Connection) -> None:
    for sql in ("COPY (SELECT 1) TO STDOUT", " copy t (a) FROM stdin"):
        with pytest.raises(dbapi.ProgrammingError, match="copy_expert"):
            conn.execute(sql)
    assert conn.execute("SELECT 'COPY x FROM STDIN'").fetchone() == ("COPY x FROM STDIN",)


def test_a_failed_execute_leaves_no_earlier_result(conn: Connection) -> None:
    cur = conn.execute("SELECT 1")
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT * FROM no_such_table")
    assert cur.description is None and cur.rowcount == -1
    with pytest.raises(dbapi.ProgrammingError):
        cur.fetchone()


def test_every_operation_on_a_closed_cursor_raises_interface_error(conn: Connection) -> None:
    cur = conn.execute("SELECT 1")
    cur.close()
    assert cur.closed
    for call in (
        lambda: cur.execute("SELECT 1"),
        lambda: cur.executemany("SELECT %s", [(1,)]),
        cur.fetchone,
        cur.fetchall,
        cur.fetchmany,
        cur.nextset,
        lambda: cur.setinputsizes([]),
        cur.close,
    ):
        with pytest.raises(dbapi.InterfaceError):
            call()


def test_a_cursor_as_context_manager_closes(conn: Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    assert cur.closed


@pytest.mark.parametrize(
    ("sql", "value", "result"),
    [
        ("SELECT %s::int4", None, None),
        ("SELECT %s::numeric", Decimal("NaN"), "NaN"),
        ("SELECT %s::numeric", 1 << 80, Decimal(1 << 80)),
        ("SELECT %s::float8", float("inf"), float("inf")),
        ("SELECT %s::int8", -(1 << 63), -(1 << 63)),
        ("SELECT %s::text", "", ""),
        ("SELECT %s::text", "\u00e9\U0001f600", "\u00e9\U0001f600"),
    ],
)
def test_edge_values_of_parameters(
    conn: Connection, sql: str, value: object, result: object
) -> None:
    got = conn.execute(sql, (value,)).fetchone()[0]
    if result == "NaN":
        assert isinstance(got, Decimal) and got.is_nan()
    else:
        assert got == result


@pytest.mark.parametrize(
    ("sql", "params", "named"),
    [
        ("SELECT %s::int8", (1 << 63,), "parameter 1 (positional %s number 1)"),
        ("SELECT %(big)s::int4", {"big": 1 << 40}, "parameter %(big)s"),
        ("SELECT 1, %s::int4", (Decimal("NaN"),), "parameter 1"),
        ("SELECT %s::int4", ("12",), "parameter 1"),
        ("SELECT %s", (42,), "parameter 1"),
    ],
)
def test_a_value_that_cannot_be_sent_is_a_data_error_naming_the_parameter(
    conn: Connection, sql: str, params: object, named: str
) -> None:
    with pytest.raises(dbapi.DataError) as info:
        conn.execute(sql, params)
    assert str(info.value).startswith(named)
