"""pgwire.errors: the DB-API tree, SQLSTATE classes, error and notice fields, the generator."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import pickle
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
    for sqlstate, cls in errors._BY_SQLSTATE.items():
        assert cls.sqlstate == sqlstate
        class_class = errors._BY_SQLSTATE.get(sqlstate[:2] + "000")
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
    assert not any(code.startswith(("00", "01")) for code in errors._BY_SQLSTATE)
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
    for cls in errors._BY_SQLSTATE.values():
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
    for module in imported:
        assert module.split(".")[0] in sys.stdlib_module_names, module


# --- the generator -------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_ERRCODES.is_file(), reason=f"no {SHARED_ERRCODES}")
def test_generated_classes_are_up_to_date(tmp_path: Path) -> None:
    output = tmp_path / "errors.py"
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--errcodes",
            str(SHARED_ERRCODES),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    current = (REPO_ROOT / "src" / "pgwire" / "errors.py").read_text(encoding="utf-8")
    assert output.read_text(encoding="utf-8") == current, (
        "src/pgwire/errors.py is out of date: run python scripts/gen_errors.py"
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
