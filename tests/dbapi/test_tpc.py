"""Two-phase commit through PEP 249's tpc_* methods, on PREPARE TRANSACTION of the real
server (started with max_prepared_transactions > 0)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

import pgwire.dbapi as dbapi
from pgwire.dbapi import Connection, Xid

pytestmark = pytest.mark.pg


@pytest.fixture
def gtrid(connect: Callable[..., Connection]) -> Iterator[str]:
    """A global transaction id of this test; whatever it left prepared is rolled back."""
    value = f"gtrid-{uuid.uuid4().hex[:8]}"
    yield value
    with connect(autocommit=True) as admin:
        for xid in admin.tpc_recover():
            if xid.gtrid == value or value in xid.name:
                admin.tpc_rollback(xid)


def rows(connect: Callable[..., Connection], table: str) -> list[int]:
    with connect(autocommit=True) as other:
        return [r[0] for r in other.execute(f"SELECT a FROM {table} ORDER BY a").fetchall()]


def test_prepare_then_commit(
    conn: Connection,
    connect: Callable[..., Connection],
    new_table: Callable[[str], str],
    gtrid: str,
) -> None:
    table = new_table("a int")
    xid = conn.xid(42, gtrid, "branch")
    conn.tpc_begin(xid)
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    conn.tpc_prepare()
    assert conn.transaction_status == "I"
    assert rows(connect, table) == []
    assert xid in conn.tpc_recover()
    conn.tpc_commit()
    assert rows(connect, table) == [1]
    assert xid not in conn.tpc_recover()


def test_prepare_then_rollback(
    conn: Connection,
    connect: Callable[..., Connection],
    new_table: Callable[[str], str],
    gtrid: str,
) -> None:
    table = new_table("a int")
    conn.tpc_begin(conn.xid(1, gtrid, "b"))
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    conn.tpc_prepare()
    conn.tpc_rollback()
    assert rows(connect, table) == []
    assert conn.tpc_recover() == [] or all(x.gtrid != gtrid for x in conn.tpc_recover())


def test_commit_without_prepare_is_one_phase(
    conn: Connection,
    connect: Callable[..., Connection],
    new_table: Callable[[str], str],
    gtrid: str,
) -> None:
    table = new_table("a int")
    conn.tpc_begin(conn.xid(1, gtrid, "b"))
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    conn.tpc_commit()
    assert rows(connect, table) == [1]
    conn.tpc_begin(conn.xid(1, gtrid, "c"))
    conn.execute(f"INSERT INTO {table} VALUES (2)")
    conn.tpc_rollback()
    assert rows(connect, table) == [1]


def test_recovery_from_another_connection(
    connect: Callable[..., Connection], new_table: Callable[[str], str], gtrid: str
) -> None:
    table = new_table("a int")
    first = connect()
    xid = first.xid(7, gtrid, "q")
    first.tpc_begin(xid)
    first.execute(f"INSERT INTO {table} VALUES (1)")
    first.tpc_prepare()
    first.close()  # the prepared transaction outlives its connection
    second = connect()
    (found,) = [x for x in second.tpc_recover() if x.gtrid == gtrid]
    assert (found.format_id, found.gtrid, found.bqual) == (7, gtrid, "q")
    assert found == xid and tuple(found) == (7, gtrid, "q") and found[2] == "q"
    assert found.database == "pgwire_test" and found.owner == "trust_user"
    assert found.prepared is not None
    assert second.transaction_status == "I"
    second.tpc_commit(found)
    assert rows(connect, table) == [1]


def test_a_plain_transaction_name_recovers_by_name(
    connect: Callable[..., Connection], new_table: Callable[[str], str], gtrid: str
) -> None:
    table = new_table("a int")
    conn = connect()
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    conn.execute(f"PREPARE TRANSACTION '{gtrid}'")
    (found,) = [x for x in conn.tpc_recover() if x.gtrid == gtrid]
    assert found.format_id is None and found.bqual is None and found.name == gtrid
    conn.tpc_rollback(gtrid)
    assert rows(connect, table) == []


def test_names_are_psycopgs_so_either_driver_can_recover_them() -> None:
    xid = Xid(42, "gtrid", "bqual")
    assert xid.name == "42_Z3RyaWQ=_YnF1YWw="
    assert Xid.from_name("42_Z3RyaWQ=_YnF1YWw=") == xid


def test_a_failed_statement_makes_prepare_fail(conn: Connection, gtrid: str) -> None:
    conn.tpc_begin(conn.xid(1, gtrid, "b"))
    with pytest.raises(dbapi.ProgrammingError):
        conn.execute("SELECT * FROM no_such_table")
    with pytest.raises(dbapi.InternalError, match="rolled back, not prepared"):
        conn.tpc_prepare()
    assert conn.transaction_status == "I"
    conn.tpc_begin(conn.xid(1, gtrid, "again"))
    conn.tpc_rollback()


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (lambda c, x: (c.tpc_begin(x), c.commit()), "use tpc_commit"),
        (lambda c, x: (c.tpc_begin(x), c.rollback()), "use tpc_rollback"),
        (lambda c, x: (c.tpc_begin(x), c.tpc_begin(x)), "already in progress"),
        (lambda c, x: (c.tpc_begin(x), c.tpc_prepare(), c.execute("SELECT 1")), "is prepared"),
        (lambda c, x: (c.tpc_begin(x), c.tpc_prepare(), c.tpc_prepare()), "already prepared"),
        (lambda c, x: c.tpc_prepare(), "needs a transaction started by tpc_begin"),
        (lambda c, x: c.tpc_commit(), "needs a transaction started by tpc_begin"),
        (lambda c, x: (c.execute("SELECT 1"), c.tpc_begin(x)), "must start the transaction"),
        (lambda c, x: (c.execute("SELECT 1"), c.tpc_commit(x)), "outside any transaction"),
        (lambda c, x: (setattr(c, "autocommit", True), c.tpc_begin(x)), "autocommit off"),
    ],
)
def test_misuse_is_a_programming_error(
    conn: Connection, gtrid: str, steps: Callable[[Connection, Xid], object], problem: str
) -> None:
    with pytest.raises(dbapi.ProgrammingError, match=problem):
        steps(conn, conn.xid(3, gtrid, "b"))


def test_xid_limits() -> None:
    with pytest.raises(dbapi.ProgrammingError, match="format_id"):
        Xid(-1, "a", "b")
    with pytest.raises(dbapi.ProgrammingError, match="at most 64"):
        Xid(1, "a" * 65, "b")
    with pytest.raises(dbapi.ProgrammingError, match="needs a bqual"):
        Xid(1, "a", None)


def test_context_manager_ends_a_two_phase_transaction(
    connect: Callable[..., Connection], new_table: Callable[[str], str], gtrid: str
) -> None:
    table = new_table("a int")
    with connect() as conn:
        conn.tpc_begin(conn.xid(1, gtrid, "b"))
        conn.execute(f"INSERT INTO {table} VALUES (1)")
        conn.tpc_prepare()
    assert rows(connect, table) == [1]
