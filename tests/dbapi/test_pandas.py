"""pandas with a pgwire.dbapi connection: ``read_sql_query`` works on a raw PEP 249
connection (pandas warns that it tests only SQLAlchemy and sqlite3); ``DataFrame.to_sql``
needs SQLAlchemy or sqlite3, so a frame is written with ``executemany`` instead."""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Callable, Iterator

import pytest

import pgwire.dbapi as dbapi
from pgwire.dbapi import Connection

pd = pytest.importorskip("pandas")

pytestmark = [
    pytest.mark.pg,
    pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy:UserWarning"),
]


@pytest.fixture
def frame() -> Iterator[object]:
    yield pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["one", "two", "three"],
            "score": [1.5, 2.25, -3.0],
            "at": pd.to_datetime(["2024-01-01", "2024-06-30", "2025-12-31"], utc=True),
        }
    )


def test_read_sql_query_with_named_parameters(conn: Connection) -> None:
    df = pd.read_sql_query(
        "SELECT i AS id, 'row ' || i AS name FROM generate_series(1, %(n)s) AS i WHERE i > %(m)s",
        conn,
        params={"n": 5, "m": 2},
    )
    assert list(df.columns) == ["id", "name"]
    assert df["id"].tolist() == [3, 4, 5]
    assert df["name"].tolist() == ["row 3", "row 4", "row 5"]


def test_read_sql_query_with_positional_parameters_and_dates(conn: Connection) -> None:
    df = pd.read_sql_query(
        "SELECT %s::date AS d, %s::timestamptz AS t",
        conn,
        params=(
            datetime.date(2024, 2, 29),
            datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        ),
        parse_dates=["d"],
    )
    assert df["d"][0] == pd.Timestamp("2024-02-29")
    assert df["t"][0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_read_sql_query_in_chunks(conn: Connection) -> None:
    chunks = list(pd.read_sql_query("SELECT generate_series(1, 10) AS a", conn, chunksize=4))
    assert [len(chunk) for chunk in chunks] == [4, 4, 2]
    assert pd.concat(chunks)["a"].tolist() == list(range(1, 11))


def test_a_frame_written_with_executemany_reads_back_equal(
    conn: Connection, new_table: Callable[[str], str], frame: object
) -> None:
    table = new_table("id int PRIMARY KEY, name text, score float8, at timestamptz")
    cur = conn.cursor()
    cur.executemany(
        f"INSERT INTO {table} (id, name, score, at) VALUES (%s, %s, %s, %s)",
        frame.itertuples(index=False, name=None),  # type: ignore[attr-defined]
    )
    assert cur.rowcount == 3
    conn.commit()
    back = pd.read_sql_query(f"SELECT id, name, score, at FROM {table} ORDER BY id", conn)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_to_sql_on_a_raw_connection_is_not_supported_by_pandas(
    conn: Connection, frame: object
) -> None:
    # pandas treats any DB-API connection other than SQLAlchemy's as sqlite3 (it queries
    # sqlite_master with ? placeholders): to_sql needs SQLAlchemy (see docs/dbapi.md).
    # pandas 3 lets the driver's error through; pandas 2 wraps it in its DatabaseError.
    wrapper = getattr(pd.errors, "DatabaseError", dbapi.ProgrammingError)
    with warnings.catch_warnings(), pytest.raises((dbapi.ProgrammingError, wrapper)) as raised:
        warnings.simplefilter("ignore")
        frame.to_sql("frame", conn)  # type: ignore[attr-defined]
    error = raised.value
    assert isinstance(error, dbapi.ProgrammingError) or isinstance(
        error.__cause__ or error.__context__, dbapi.ProgrammingError
    )
