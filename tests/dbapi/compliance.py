"""The PEP 249 compliance suite (``dbapi20`` from the ``dbapi-compliance`` package), set up
for pgwire.dbapi and, for comparison, for psycopg 3 and pg8000.

``suite_for(driver)`` returns a subclass of the suite's ``DatabaseAPI20Test`` that supplies the
driver, its connect arguments and PostgreSQL DDL, aliases the ``unittest`` assertion names
newer Pythons removed, and fills in the tests the suite leaves to each driver
(``test_nextset``, ``test_setoutputsize``). ``test_compliance.py`` runs pgwire's under
pytest; run this file to see the counts of all three side by side::

    PGWIRE_PG_CACHE=... .venv/bin/python -m tests.dbapi.compliance
"""

from __future__ import annotations

import importlib
import sys
import unittest
from types import ModuleType
from typing import Any

import dbapi20

DRIVERS = ("pgwire.dbapi", "psycopg", "pg8000.dbapi", "pg8000")


def suite_for(driver_name: str) -> type[dbapi20.DatabaseAPI20Test]:
    """The compliance test case for the DB-API module ``driver_name``; its connect
    arguments (``connect_args``/``connect_kw_args``) are set by the caller."""
    module: ModuleType = importlib.import_module(driver_name)

    class Compliance(dbapi20.DatabaseAPI20Test):  # type: ignore[misc]
        driver = module
        table_prefix = "dbapi20test_"
        ddl1 = f"create table {table_prefix}booze (name varchar(20))"
        ddl2 = f"create table {table_prefix}barflys (name varchar(20), drink varchar(30))"
        xddl1 = f"drop table {table_prefix}booze"
        xddl2 = f"drop table {table_prefix}barflys"
        # PostgreSQL has no procedures returning several result sets; see test_nextset.
        lower_func = "lower"

        # Names that Python 3.12 removed from unittest, which the suite may still call.
        failUnless = unittest.TestCase.assertTrue
        failIf = unittest.TestCase.assertFalse
        assertEquals = unittest.TestCase.assertEqual

        def tearDown(self) -> None:
            # The suite's own tearDown drops the tables; an earlier failure may have
            # left a transaction open, so it needs a connection of its own.
            con = self._connect()
            try:
                cur = con.cursor()
                for ddl in (self.xddl1, self.xddl2):
                    try:
                        cur.execute(ddl)
                        con.commit()
                    except self.driver.Error:
                        con.rollback()
            finally:
                con.close()

        def test_nextset(self) -> None:
            # The suite asks for a procedure returning two result sets, which PostgreSQL
            # does not have; a script of two queries gives the same two results.
            con = self._connect()
            try:
                cur = con.cursor()
                if not hasattr(cur, "nextset"):
                    return
                self.executeDDL1(cur)
                for sql in self._populate():
                    cur.execute(sql)
                cur.execute(
                    f"select count(*) from {self.table_prefix}booze; "
                    f"select name from {self.table_prefix}booze"
                )
                self.assertEqual(cur.fetchone()[0], len(self.samples))
                self.assertTrue(cur.nextset())
                self.assertEqual(len(cur.fetchall()), len(self.samples))
                self.assertIsNone(cur.nextset())
            finally:
                con.close()

        def test_setoutputsize(self) -> None:
            # PostgreSQL values are read whole: the call is accepted and changes nothing.
            con = self._connect()
            try:
                cur = con.cursor()
                cur.setoutputsize(10, 0)
                self.executeDDL1(cur)
                cur.execute(f"insert into {self.table_prefix}booze values ('Coopers Pale')")
                cur.execute(f"select name from {self.table_prefix}booze")
                self.assertEqual(cur.fetchone()[0], "Coopers Pale")
            finally:
                con.close()

    Compliance.__name__ = Compliance.__qualname__ = f"Compliance_{driver_name.replace('.', '_')}"
    return Compliance


def connect_arguments(driver_name: str, dsn: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """How ``driver_name`` connects to ``dsn`` (pg8000 takes keywords only)."""
    if driver_name.startswith("pg8000"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(dsn)
        return (), {
            "host": parts.hostname,
            "port": parts.port,
            "user": unquote(parts.username or ""),
            "database": unquote(parts.path.lstrip("/")),
        }
    return (dsn,), {}


def run(driver_name: str, dsn: str) -> unittest.TestResult:
    """Run the suite for ``driver_name`` against ``dsn``; return the unittest result."""
    case = suite_for(driver_name)
    case.connect_args, case.connect_kw_args = connect_arguments(driver_name, dsn)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    return unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(suite)


def main() -> int:
    from tests.pg import TRUST_USER, PostgresServer

    with PostgresServer() as server:
        dsn = server.dsn(TRUST_USER.name)
        rows = []
        for name in DRIVERS:
            result = run(name, dsn)
            failed = [t.id().rsplit(".", 1)[-1] for t, _ in result.failures + result.errors]
            passed = result.testsRun - len(failed) - len(result.skipped)
            rows.append((name, result.testsRun, passed, ", ".join(failed) or "-"))
    print(f"{'driver':14} {'tests':>5} {'passed':>6}  failed")
    for name, total, passed, failed in rows:
        print(f"{name:14} {total:5} {passed:6}  {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
