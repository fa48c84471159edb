"""pgwire.errors: the DB-API tree, SQLSTATE classes, error and notice fields, the generator."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import pickle
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pgwire import errors
from pgwire.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PostgresError,
    PostgresNotice,
    ProgrammingError,
    ProtocolError,
    error_from_fields,
    lookup,
    notice_from_fields,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "scripts" / "gen_errors.py"
SHARED_ERRCODES = REPO_ROOT.parent / "shared" / "data" / "errcodes.txt"

DBAPI_CLASSES = (
    DataError,
    OperationalError,
    IntegrityError,
    InternalError,
    ProgrammingError,
    NotSupportedError,
)

# Every field code of an ErrorResponse, and the attribute it becomes.
ALL_FIELDS = {
    "S": "ERREUR",
    "V": "ERROR",
    "C": "23505",
    "M": 'duplicate key value violates unique constraint "t_pkey"',
    "D": "Key (id)=(1) already exists.",
    "H": "Pick another id.",
    "P": "15",
    "p": "3",
    "q": "SELECT 1",
    "W": "SQL function f",
    "s": "public",
    "t": "t",
    "c": "id",
    "d": "int4",
    "n": "t_pkey",
    "F": "nbtinsert.c",
    "L": "666",
    "R": "_bt_check_unique",
}
ATTRIBUTES = {
    "severity": "ERREUR",
    "severity_nonlocalized": "ERROR",
    "sqlstate": "23505",
    "message": 'duplicate key value violates unique constraint "t_pkey"',
    "detail": "Key (id)=(1) already exists.",
    "hint": "Pick another id.",
    "position": 15,
    "internal_position": 3,
    "internal_query": "SELECT 1",
    "where": "SQL function f",
    "schema_name": "public",
    "table_name": "t",
    "column_name": "id",
    "data_type_name": "int4",
    "constraint_name": "t_pkey",
    "source_file": "nbtinsert.c",
    "source_line": "666",
    "source_function": "_bt_check_unique",
}


def fields(sqlstate: str, message: str = "boom", **more: str) -> dict[str, str]:
    return {"S": "ERROR", "V": "ERROR", "C": sqlstate, "M": message, **more}


def all_classes() -> dict[str, type[PostgresError]]:
    """Every SQLSTATE class of the table, by SQLSTATE (made now if not yet)."""
    return {line.split(" ")[0]: lookup(line.split(" ")[0]) for line in errors._TABLE.splitlines()}


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing of pgwire imported yet); its output."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_errors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_errors"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


# --- the DB-API tree ---------------------------------------------------------------------------


def test_dbapi_classes_form_the_pep_249_tree() -> None:
    assert issubclass(errors.Warning, Exception)
    assert not issubclass(errors.Warning, Error)
    assert issubclass(Error, Exception)
    assert issubclass(InterfaceError, Error)
    assert issubclass(DatabaseError, Error)
    for cls in DBAPI_CLASSES:
        assert issubclass(cls, DatabaseError)


def test_protocol_error_is_an_interface_error() -> None:
    assert issubclass(ProtocolError, InterfaceError)
    assert not issubclass(ProtocolError, DatabaseError)


def test_postgres_error_is_a_database_error() -> None:
    assert issubclass(PostgresError, DatabaseError)


# --- SQLSTATE -> class ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlstate", "name", "dbapi"),
    [
        ("28000", "InvalidAuthorizationSpecification", OperationalError),
        ("28P01", "InvalidPassword", OperationalError),
        ("23505", "UniqueViolation", IntegrityError),
        ("23503", "ForeignKeyViolation", IntegrityError),
        ("42601", "SyntaxError", ProgrammingError),
        ("42P01", "UndefinedTable", ProgrammingError),
        ("40001", "SerializationFailure", OperationalError),
        ("40P01", "DeadlockDetected", OperationalError),
        ("57014", "QueryCanceled", OperationalError),
        ("22012", "DivisionByZero", DataError),
        ("0A000", "FeatureNotSupported", NotSupportedError),
        ("25P02", "InFailedSqlTransaction", InternalError),
        ("08006", "ConnectionFailure", OperationalError),
        ("53300", "TooManyConnections", OperationalError),
        ("58000", "SystemError", OperationalError),
        ("P0001", "RaiseException", ProgrammingError),
        ("XX000", "InternalError_", InternalError),
        ("10608", "InvalidArgumentForXquery", ProgrammingError),
    ],
)
def test_sqlstate_maps_to_psycopg_named_class_under_its_dbapi_class(
    sqlstate: str, name: str, dbapi: type[DatabaseError]
) -> None:
    cls = lookup(sqlstate)
    assert cls.__name__ == name
    assert cls is getattr(errors, name)
    assert cls.sqlstate == sqlstate
    assert issubclass(cls, PostgresError)
    assert issubclass(cls, dbapi)
    assert [c for c in DBAPI_CLASSES if issubclass(cls, c)] == [dbapi]


def test_error_from_fields_builds_the_class_of_the_sqlstate() -> None:
    exc = error_from_fields(fields("23505"))
    assert type(exc) is errors.UniqueViolation
    assert isinstance(exc, errors.IntegrityConstraintViolation)
    assert isinstance(exc, IntegrityError)


def test_each_sqlstate_class_subclasses_its_sqlstate_class_class() -> None:
    assert issubclass(errors.InvalidPassword, errors.InvalidAuthorizationSpecification)
    assert issubclass(errors.UniqueViolation, errors.IntegrityConstraintViolation)
    assert issubclass(errors.SerializationFailure, errors.TransactionRollback)
    assert issubclass(errors.QueryCanceled, errors.OperatorIntervention)
    assert issubclass(errors.SyntaxError, errors.SyntaxErrorOrAccessRuleViolation)
    assert issubclass(errors.DataCorrupted, errors.InternalError_)
    by_sqlstate = all_classes()
    for sqlstate, cls in by_sqlstate.items():
        assert cls.sqlstate == sqlstate
        class_class = by_sqlstate.get(sqlstate[:2] + "000")
        if class_class is not None and class_class is not cls:
            assert cls.__bases__ == (class_class,), sqlstate


def test_sqlstate_class_classes_subclass_postgres_error_and_their_dbapi_class() -> None:
    assert errors.IntegrityConstraintViolation.__bases__ == (PostgresError, IntegrityError)
    assert errors.DataException.__bases__ == (PostgresError, DataError)
    assert errors.InvalidAuthorizationSpecification.__bases__ == (PostgresError, OperationalError)


def test_classes_without_a_dbapi_mapping_are_plain_postgres_errors() -> None:
    assert errors.NoData.__bases__ == (PostgresError,)
    assert errors.InvalidTransactionInitiation.__bases__ == (PostgresError,)


def test_repeated_condition_names_get_psycopgs_ext_suffix() -> None:
    assert lookup("2F002") is errors.ModifyingSqlDataNotPermitted
    assert lookup("38002") is errors.ModifyingSqlDataNotPermittedExt
    assert lookup("22004") is errors.NullValueNotAllowed
    assert lookup("39004") is errors.NullValueNotAllowedExt


def test_success_and_warning_codes_have_no_exception_classes() -> None:
    assert not any(code.startswith(("00", "01")) for code in all_classes())
    assert lookup("00000") is PostgresError
    assert lookup("01000") is PostgresError


def test_lookup_ignores_case() -> None:
    assert lookup("42p01") is errors.UndefinedTable


# --- unknown codes -------------------------------------------------------------------------------


def test_unknown_sqlstate_falls_back_to_its_class_class() -> None:
    assert lookup("23999") is errors.IntegrityConstraintViolation
    exc = error_from_fields(fields("23999"))
    assert type(exc) is errors.IntegrityConstraintViolation
    assert exc.sqlstate == "23999"
    assert errors.IntegrityConstraintViolation.sqlstate == "23000"


@pytest.mark.parametrize("sqlstate", ["ZZ123", "OC000", "10999", "", "2"])
def test_sqlstate_of_unknown_class_falls_back_to_postgres_error(sqlstate: str) -> None:
    assert lookup(sqlstate) is PostgresError
    exc = error_from_fields(fields(sqlstate))
    assert type(exc) is PostgresError
    assert exc.sqlstate == sqlstate


def test_fields_without_sqlstate_give_a_postgres_error() -> None:
    exc = error_from_fields({"S": "FATAL", "M": "bye"})
    assert type(exc) is PostgresError
    assert exc.sqlstate is None
    assert str(exc) == "bye"


# --- fields as attributes ------------------------------------------------------------------------


def test_every_error_field_becomes_an_attribute() -> None:
    exc = error_from_fields(ALL_FIELDS)
    for name, value in ATTRIBUTES.items():
        assert getattr(exc, name) == value, name
    assert exc.fields == ALL_FIELDS


def test_positions_are_ints() -> None:
    exc = error_from_fields(fields("42601", P="8", p="12"))
    assert exc.position == 8
    assert exc.internal_position == 12


@pytest.mark.parametrize("position", ["", "-1", "x", "1.5", " 3", "²", "9" * 5000])
def test_malformed_position_becomes_none_and_stays_in_fields(position: str) -> None:
    exc = error_from_fields(fields("42601", P=position))
    assert exc.position is None
    assert exc.fields["P"] == position


def test_missing_fields_are_none() -> None:
    exc = error_from_fields({"C": "42601"})
    for name in ATTRIBUTES:
        if name != "sqlstate":
            assert getattr(exc, name) is None, name


def test_unknown_field_codes_are_kept_in_fields() -> None:
    exc = error_from_fields(fields("42601", Z="future field"))
    assert exc.fields["Z"] == "future field"


def test_fields_are_a_copy_of_the_mapping() -> None:
    raw = fields("42601")
    exc = error_from_fields(raw)
    raw["M"] = "changed"
    assert exc.fields["M"] == "boom"
    assert exc.message == "boom"


def test_args_hold_the_primary_message() -> None:
    assert error_from_fields(fields("42601", "syntax error")).args == ("syntax error",)


def test_raising_a_class_with_a_message_fills_fields_for_an_error_response() -> None:
    exc = errors.UniqueViolation("duplicate key")
    assert exc.fields == {"S": "ERROR", "V": "ERROR", "C": "23505", "M": "duplicate key"}
    assert exc.sqlstate == "23505"
    assert exc.message == "duplicate key"
    assert exc.args == ("duplicate key",)


def test_class_sqlstate_stands_in_when_fields_lack_one() -> None:
    assert errors.QueryCanceled({"M": "canceled"}).sqlstate == "57014"


# --- str and repr --------------------------------------------------------------------------------


def test_str_gives_message_and_sqlstate_then_detail_and_hint_and_nothing_else() -> None:
    assert str(error_from_fields(ALL_FIELDS)) == (
        'duplicate key value violates unique constraint "t_pkey" (SQLSTATE 23505)\n'
        "DETAIL: Key (id)=(1) already exists.\n"
        "HINT: Pick another id."
    )


def test_str_is_one_line_without_detail_or_hint() -> None:
    exc = error_from_fields(fields("42P01", 'relation "nope" does not exist'))
    assert str(exc) == 'relation "nope" does not exist (SQLSTATE 42P01)'


def test_repr_is_short() -> None:
    exc = error_from_fields(ALL_FIELDS)
    assert repr(exc) == (
        "UniqueViolation('duplicate key value violates unique constraint \"t_pkey\"',"
        " sqlstate='23505')"
    )


# --- pickling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sqlstate", ["23505", "28P01", "42601", "XX000", "23999", "ZZ123"])
def test_errors_survive_a_pickle_round_trip(sqlstate: str) -> None:
    exc = error_from_fields({**ALL_FIELDS, "C": sqlstate})
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(exc, protocol))
        assert type(copy) is type(exc)
        assert copy.fields == exc.fields
        assert copy.args == exc.args
        assert str(copy) == str(exc)
        for name in ATTRIBUTES:
            assert getattr(copy, name) == getattr(exc, name), name


def test_dbapi_errors_survive_a_pickle_round_trip() -> None:
    copy = pickle.loads(pickle.dumps(ProtocolError("bad length")))
    assert type(copy) is ProtocolError
    assert copy.args == ("bad length",)


# --- notices -------------------------------------------------------------------------------------

NOTICE_FIELDS = {
    "S": "AVERTISSEMENT",
    "V": "WARNING",
    "C": "01000",
    "M": "there is no transaction in progress",
    "H": "Start one first.",
    "P": "4",
    "F": "xact.c",
}


def test_notice_carries_every_field_as_an_attribute() -> None:
    notice = notice_from_fields(ALL_FIELDS)
    for name, value in ATTRIBUTES.items():
        assert getattr(notice, name) == value, name
    assert notice.fields == ALL_FIELDS


def test_notice_is_not_an_exception() -> None:
    notice = notice_from_fields(NOTICE_FIELDS)
    assert isinstance(notice, PostgresNotice)
    assert not isinstance(notice, BaseException)
    assert errors.Notice is PostgresNotice


def test_notice_is_immutable() -> None:
    notice = notice_from_fields(NOTICE_FIELDS)
    with pytest.raises(AttributeError):
        notice.message = "changed"
    with pytest.raises(AttributeError):
        del notice.message


def test_notices_with_equal_fields_are_equal_and_hash_alike() -> None:
    a = notice_from_fields(NOTICE_FIELDS)
    b = notice_from_fields(dict(NOTICE_FIELDS))
    assert a == b
    assert hash(a) == hash(b)
    assert a != notice_from_fields({**NOTICE_FIELDS, "M": "other"})


def test_notice_str_and_repr() -> None:
    notice = notice_from_fields(NOTICE_FIELDS)
    assert str(notice) == (
        "there is no transaction in progress (SQLSTATE 01000)\nHINT: Start one first."
    )
    assert repr(notice) == (
        "PostgresNotice(severity='AVERTISSEMENT', sqlstate='01000',"
        " message='there is no transaction in progress')"
    )


def test_notice_survives_a_pickle_round_trip() -> None:
    notice = notice_from_fields(NOTICE_FIELDS)
    assert pickle.loads(pickle.dumps(notice)) == notice


# --- module surface ------------------------------------------------------------------------------


def test_star_import_does_not_clobber_builtins() -> None:
    namespace: dict[str, object] = {}
    exec("from pgwire.errors import *", namespace)
    clobbered = [name for name in namespace if name != "__builtins__" and hasattr(builtins, name)]
    assert clobbered == []


def test_names_shadowing_builtins_are_attributes_but_not_exported() -> None:
    for name in ("Warning", "SyntaxError", "SystemError"):
        assert getattr(errors, name) is not getattr(builtins, name)
        assert name not in errors.__all__


def test_all_lists_every_sqlstate_class_that_does_not_shadow_a_builtin() -> None:
    exported = set(errors.__all__)
    for cls in all_classes().values():
        assert (cls.__name__ in exported) != hasattr(builtins, cls.__name__), cls.__name__
    for name in errors.__all__:
        assert hasattr(errors, name), name


def test_errors_imports_only_the_standard_library() -> None:
    tree = ast.parse((REPO_ROOT / "src" / "pgwire" / "errors.py").read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported
    # The stub that declares the SQLSTATE classes for type checkers is imported under
    # TYPE_CHECKING only: it has no module to import at run time.
    imported.remove("pgwire._sqlstate_classes")
    assert not (REPO_ROOT / "src" / "pgwire" / "_sqlstate_classes.py").exists()
    for module in imported:
        assert module.split(".")[0] in sys.stdlib_module_names, module


# --- the SQLSTATE classes are made on first use ---------------------------------------------


def test_importing_pgwire_makes_no_sqlstate_class() -> None:
    out = run_python(
        "import pgwire, pgwire.errors as e; "
        "print(sum(1 for line in e._TABLE.splitlines() if line.split()[1] in vars(e)))"
    )
    assert out == "0"


def test_a_class_is_made_once_with_its_bases_and_is_the_one_lookup_gives() -> None:
    out = run_python(
        "import pgwire.errors as e\n"
        "cls = e.UniqueViolation\n"
        "made = sorted(n for n in (r.split()[1] for r in e._TABLE.splitlines()) if n in vars(e))\n"
        "assert cls is e.UniqueViolation is e.lookup('23505') is vars(e)['UniqueViolation']\n"
        "assert cls.__bases__ == (e.IntegrityConstraintViolation,)\n"
        "assert (cls.__module__, cls.__qualname__) == ('pgwire.errors', 'UniqueViolation')\n"
        "assert cls.__doc__ == 'SQLSTATE 23505: unique_violation.'\n"
        "print(*made)"
    )
    assert out == "IntegrityConstraintViolation UniqueViolation"


def test_except_catches_what_the_server_raised_whichever_is_made_first() -> None:
    # error_from_fields (the driver's way) first, the name second; and the other way round.
    for first in ("error_from_fields({'C': '23505'})", "UniqueViolation"):
        out = run_python(
            "from pgwire import errors\n"
            f"errors.{first}\n"
            "try:\n"
            "    raise errors.error_from_fields({'C': '23505', 'M': 'dup'})\n"
            "except errors.UniqueViolation as exc:\n"
            "    assert isinstance(exc, errors.IntegrityConstraintViolation)\n"
            "    assert isinstance(exc, errors.IntegrityError)\n"
            "    print(exc.sqlstate)\n"
        )
        assert out == "23505"


def test_from_import_and_star_import_make_the_classes() -> None:
    out = run_python(
        "from pgwire.errors import SerializationFailure, lookup\n"
        "namespace = {}\n"
        "exec('from pgwire.errors import *', namespace)\n"
        "assert namespace['SerializationFailure'] is SerializationFailure is lookup('40001')\n"
        "print(len([n for n in namespace if n.endswith('Violation')]))"
    )
    assert int(out) > 10


def test_a_pickled_error_loads_in_an_interpreter_that_has_not_made_its_class() -> None:
    data = pickle.dumps(errors.error_from_fields(fields("40P01", "deadlock")))
    out = run_python(
        "import pickle, sys\n"
        "from pgwire import errors\n"
        f"exc = pickle.loads({data!r})\n"
        "assert type(exc) is errors.DeadlockDetected\n"
        "print(exc.sqlstate, exc.message)"
    )
    assert out == "40P01 deadlock"


def test_threads_asking_at_once_get_the_same_class() -> None:
    out = run_python(
        "import threading\n"
        "from pgwire import errors\n"
        "barrier = threading.Barrier(8)\n"
        "seen = []\n"
        "def ask():\n"
        "    barrier.wait()\n"
        "    seen.append(errors.lookup('23503'))\n"
        "    seen.append(errors.ForeignKeyViolation)\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(len(seen), len(set(map(id, seen))))"
    )
    assert out == "16 1"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"'pgwire\.errors' has no attribute 'NoSuchError'"):
        errors.NoSuchError  # noqa: B018


def test_dir_lists_the_classes_not_made_yet() -> None:
    names = run_python("import pgwire.errors as e; print(' '.join(dir(e)))").split()
    assert {"UniqueViolation", "SyntaxError", "PostgresError", "lookup"} <= set(names)
    assert names == sorted(names)


def test_type_checkers_see_each_class_and_its_bases(tmp_path: Path) -> None:
    mypy = Path(sys.executable).parent / "mypy"
    if not mypy.exists():
        pytest.skip("mypy is not installed")
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from pgwire import errors\n"
        "from pgwire.errors import SyntaxError as PgSyntaxError, UniqueViolation\n"
        "def check(exc: UniqueViolation) -> errors.IntegrityError:\n"
        "    reveal_type(PgSyntaxError.sqlstate)\n"
        "    return exc\n"
        "errors.UniqueViolaton\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(mypy), "--strict", "--no-incremental", "--follow-imports=silent", str(sample)],
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(REPO_ROOT / "src"), "PATH": ""},
        cwd=tmp_path,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("sample.py")]
    assert len(lines) == 2, result.stdout
    # "str" or "builtins.str", as the mypy version spells it.
    assert re.fullmatch(r'sample\.py:4: note: Revealed type is "(builtins\.)?str"', lines[0])
    assert lines[1].startswith('sample.py:6: error: Module has no attribute "UniqueViolaton"')


# --- the generator -------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_ERRCODES.is_file(), reason=f"no {SHARED_ERRCODES}")
def test_generated_classes_are_up_to_date(tmp_path: Path) -> None:
    output = tmp_path / "errors.py"
    stub = tmp_path / "_sqlstate_classes.pyi"
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--errcodes",
            str(SHARED_ERRCODES),
            "--output",
            str(output),
            "--stub",
            str(stub),
        ],
        check=True,
        capture_output=True,
    )
    for written, current in ((output, "errors.py"), (stub, "_sqlstate_classes.pyi")):
        assert written.read_text(encoding="utf-8") == (
            REPO_ROOT / "src" / "pgwire" / current
        ).read_text(encoding="utf-8"), (
            f"src/pgwire/{current} is out of date: run python scripts/gen_errors.py"
        )


def test_generator_refuses_a_sqlstate_class_without_a_dbapi_decision() -> None:
    gen = load_generator()
    text = "Section: Class ZZ - Brand New\nZZ000    E    ERRCODE_BRAND_NEW    brand_new\n"
    with pytest.raises(ValueError, match="DBAPI_CLASS"):
        gen.error_classes(gen.parse(text))


def test_generator_rejects_a_malformed_line() -> None:
    gen = load_generator()
    with pytest.raises(ValueError, match=r"errcodes.txt:2"):
        gen.parse("# comment\n23505 ERRCODE_UNIQUE_VIOLATION\n")


def test_generator_skips_lines_without_a_condition_name() -> None:
    gen = load_generator()
    text = (
        "Section: Class 22 - Data Exception\n"
        "22000    E    ERRCODE_DATA_EXCEPTION    data_exception\n"
        "2202E    E    ERRCODE_ARRAY_ELEMENT_ERROR\n"
        "2202E    E    ERRCODE_ARRAY_SUBSCRIPT_ERROR    array_subscript_error\n"
    )
    assert [(c.sqlstate, c.name) for c in gen.parse(text)] == [
        ("22000", "data_exception"),
        ("2202E", "array_subscript_error"),
    ]
