"""Classifying SQL the way Aurora DSQL does, with PostgreSQL's own parser (``pglast``).

:func:`classify` cuts a query string into statements with ``pglast`` (libpg_query: the
parser of PostgreSQL itself, so strings, comments, quoted identifiers and dollar quotes are
never mistaken for SQL), and tells of each one its :class:`Statement` kind (transaction
control, DDL, DML, a read, or other) and the rule of :mod:`pgwire.dsql_local.rules` it breaks,
if any.  DSQL's own syntax, ``CREATE [UNIQUE] INDEX ASYNC``, is found with pglast's scanner
(PostgreSQL's lexer) and blanked out before parsing; the statement is marked ``async_index``.

``pglast`` is the optional extra ``pgwire[dsql-local]``: it is imported here only, when the
endpoint enforces DSQL's rules.  SQL that PostgreSQL cannot parse is passed on untouched, so
that PostgreSQL reports the syntax error itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pgwire.dsql_local.rules import Rule, rule

__all__ = ["MissingParser", "Statement", "classify", "require_parser"]

Kind = Literal["begin", "commit", "rollback", "ddl", "dml", "read", "discard", "other"]

#: DSQL's CACHE rule for sequences and identity columns: 1, or at least this.
MIN_SEQUENCE_CACHE = 65536
_SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})
_BIGINT = frozenset({"int8", "bigint"})
_ISOLATION = "repeatable read"


class MissingParser(ImportError):
    """DSQL's rules need ``pglast``, which is not installed."""


def require_parser() -> None:
    """Import ``pglast`` or raise :class:`MissingParser` saying how to get it."""
    try:
        import pglast  # noqa: F401
    except ImportError:
        raise MissingParser(
            "the local DSQL endpoint needs pglast (PostgreSQL's parser) to apply DSQL's SQL "
            "rules: pip install 'pgwire[dsql-local]', or relay everything with "
            "postgres_rules=True (--postgres-rules)"
        ) from None


@dataclass(frozen=True)
class Statement:
    """One statement of a query string, as DSQL sees it."""

    #: The statement's SQL as PostgreSQL is to get it (``ASYNC`` blanked out).
    sql: str
    kind: Kind
    #: The rule the statement breaks, if any.
    refused: Rule | None = None
    #: ``CREATE [UNIQUE] INDEX ASYNC``.
    async_index: bool = False
    #: For CREATE INDEX: the table (as written) and the index's name.
    index_table: str | None = None
    index_name: str | None = None


def classify(sql: str) -> list[Statement]:
    """The statements of ``sql`` (a simple Query's string, or one Parse's statement)."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    # pglast reports positions in characters, not bytes.
    blanked, async_at = _blank_async(sql)
    try:
        parsed = parse_sql(blanked)
    except ParseError:
        return [Statement(sql, "other")]
    statements = []
    for raw_statement in parsed:
        start = raw_statement.stmt_location or 0
        length = raw_statement.stmt_len
        end = start + length if length else len(blanked)
        is_async = any(start <= at < end for at in async_at)
        statements.append(_statement(blanked[start:end].strip(), raw_statement.stmt, is_async))
    return statements or [Statement(sql, "other")]


def _blank_async(sql: str) -> tuple[str, list[int]]:
    """``sql`` with the ASYNC of each ``CREATE [UNIQUE] INDEX ASYNC`` replaced by spaces, and
    where they were."""
    from pglast.parser import ParseError, scan

    try:
        tokens = scan(sql)
    except ParseError:
        return sql, []
    found = []
    for index, token in enumerate(tokens):
        if token.name != "CREATE":
            continue
        at = index + 1
        if at < len(tokens) and tokens[at].name == "UNIQUE":
            at += 1
        if at + 1 >= len(tokens) or tokens[at].name != "INDEX":
            continue
        word = tokens[at + 1]
        following = tokens[at + 2].name if at + 2 < len(tokens) else ""
        # "CREATE INDEX async ON t" names the index async: ASYNC is DSQL's keyword only
        # when a name or IF NOT EXISTS follows it.
        if (
            word.name == "IDENT"
            and sql[word.start : word.end + 1].lower() == "async"
            and following not in ("ON", "USING")
        ):
            found.append(word.start)
    blanked = sql
    for start in found:
        blanked = blanked[:start] + " " * len("async") + blanked[start + len("async") :]
    return blanked, found


def _statement(sql: str, node: Any, is_async: bool) -> Statement:
    from pglast import ast

    kind = _kind(node)
    refused = _refusal(node, is_async)
    if isinstance(node, ast.IndexStmt):
        table = _range_name(node.relation)
        return Statement(sql, kind, refused, is_async, table, node.idxname)
    return Statement(sql, kind, refused)


def _range_name(relation: Any) -> str:
    parts = [relation.schemaname, relation.relname]
    return ".".join(_quote(part) for part in parts if part)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------

_DDL_PREFIXES = ("Create", "Alter", "Drop", "Rename", "Comment", "Grant", "Define", "SecLabel")
_DDL_NODES = frozenset(
    {"IndexStmt", "ViewStmt", "CompositeTypeStmt", "RuleStmt", "ReindexStmt", "ClusterStmt"}
)
_DML_NODES = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})


def _kind(node: Any) -> Kind:
    from pglast import ast, enums

    name = type(node).__name__
    if isinstance(node, ast.TransactionStmt):
        kinds = enums.TransactionStmtKind
        if node.kind in (kinds.TRANS_STMT_BEGIN, kinds.TRANS_STMT_START):
            return "begin"
        if node.kind == kinds.TRANS_STMT_COMMIT:
            return "commit"
        if node.kind == kinds.TRANS_STMT_ROLLBACK:
            return "rollback"
        return "other"
    if name in _DML_NODES or (isinstance(node, ast.CopyStmt) and node.is_from):
        return "dml"
    if isinstance(node, ast.SelectStmt):
        if node.lockingClause or _has_dml(node):
            return "dml"
        return "read"
    if isinstance(node, ast.ExplainStmt):
        return _kind(node.query) if _explain_analyze(node) else "read"
    if isinstance(node, ast.DiscardStmt) or (isinstance(node, ast.DeallocateStmt) and node.isall):
        return "discard"
    if name in _DDL_NODES or (name.startswith(_DDL_PREFIXES) and name != "AlterSystemStmt"):
        return "ddl"
    return "other"


def _explain_analyze(node: Any) -> bool:
    return any(option.defname == "analyze" for option in node.options or ())


def _has_dml(node: Any) -> bool:
    return any(type(child).__name__ in _DML_NODES for child in _walk(node))


def _walk(node: Any) -> Iterator[Any]:
    """Every AST node under ``node`` (itself included)."""
    from pglast import ast

    if isinstance(node, (tuple, list)):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, ast.Node):
        yield node
        for slot in getattr(type(node), "__slots__", ()):
            yield from _walk(getattr(node, slot, None))


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


def _refusal(node: Any, is_async: bool) -> Rule | None:
    """The rule of :mod:`pgwire.dsql_local.rules` that ``node`` breaks, if any."""
    rule_id = _refused_by(node, is_async)
    return None if rule_id is None else rule(rule_id)


def _refused_by(node: Any, is_async: bool) -> str | None:
    from pglast import ast, enums

    if isinstance(node, ast.TransactionStmt):
        kinds = enums.TransactionStmtKind
        if node.kind in (
            kinds.TRANS_STMT_SAVEPOINT,
            kinds.TRANS_STMT_RELEASE,
            kinds.TRANS_STMT_ROLLBACK_TO,
        ):
            return "savepoint"
        return "isolation-level" if _bad_isolation(node.options) else None
    if isinstance(node, ast.VariableSetStmt):
        if node.name in ("TRANSACTION", "SESSION CHARACTERISTICS"):
            return "isolation-level" if _bad_isolation(node.args) else None
        if node.name == "default_transaction_isolation" and node.args:
            value = _const(node.args[0])
            return "isolation-level" if str(value).lower() != _ISOLATION else None
        return None
    simple: dict[type[Any], str] = {
        ast.CreateTrigStmt: "trigger",
        ast.CreateEventTrigStmt: "trigger",
        ast.TruncateStmt: "truncate",
        ast.AlterSystemStmt: "alter-system",
        ast.CreateExtensionStmt: "extension",
        ast.AlterExtensionStmt: "extension",
        ast.AlterExtensionContentsStmt: "extension",
        ast.CreatedbStmt: "database",
        ast.AlterDatabaseStmt: "database",
        ast.AlterDatabaseSetStmt: "database",
        ast.DropdbStmt: "database",
        ast.CreateTableSpaceStmt: "tablespace",
        ast.DropTableSpaceStmt: "tablespace",
        ast.AlterTableSpaceOptionsStmt: "tablespace",
        ast.RefreshMatViewStmt: "materialized-view",
        ast.ListenStmt: "listen-notify",
        ast.NotifyStmt: "listen-notify",
        ast.UnlistenStmt: "listen-notify",
        ast.DoStmt: "function-language",
        ast.CreateEnumStmt: "type",
        ast.CreateRangeStmt: "type",
        ast.CompositeTypeStmt: "type",
    }
    for node_type, rule_id in simple.items():
        if isinstance(node, node_type):
            return rule_id
    if isinstance(node, ast.VacuumStmt):
        return "vacuum" if node.is_vacuumcmd else None
    if isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_EXTENSION:
        return "extension"
    if isinstance(node, ast.DefineStmt) and node.kind == enums.ObjectType.OBJECT_TYPE:
        return "type"
    if isinstance(node, ast.CreateTableAsStmt):
        if node.objtype == enums.ObjectType.OBJECT_MATVIEW:
            return "materialized-view"
        into = node.into
        return "temporary-table" if into is not None and _temporary(into.rel) else "create-table-as"
    if isinstance(node, ast.SelectStmt) and node.intoClause is not None:
        return "temporary-table" if _temporary(node.intoClause.rel) else "create-table-as"
    if isinstance(node, ast.ViewStmt) and _temporary(node.view):
        return "temporary-table"
    if isinstance(node, ast.CreateFunctionStmt):
        return _function_language(node)
    if isinstance(node, ast.CreateSeqStmt | ast.AlterSeqStmt):
        return _sequence_options(node.options, isinstance(node, ast.CreateSeqStmt))
    if isinstance(node, ast.IndexStmt):
        return _index(node, is_async)
    if isinstance(node, ast.CreateStmt):
        return _create_table(node)
    if isinstance(node, ast.AlterTableStmt):
        return _alter_table(node)
    return None


def _const(node: Any) -> Any:
    from pglast import ast

    if isinstance(node, ast.A_Const):
        value = node.val
        return getattr(value, "sval", None) or getattr(value, "ival", None)
    return None


def _bad_isolation(options: Any) -> bool:
    for option in options or ():
        if option.defname == "transaction_isolation":
            return str(_const(option.arg)).lower() != _ISOLATION
    return False


def _temporary(relation: Any) -> bool:
    return bool(relation is not None and relation.relpersistence == "t")


def _function_language(node: Any) -> str | None:
    for option in node.options or ():
        if option.defname == "language":
            language = getattr(option.arg, "sval", "")
            return None if language.lower() == "sql" else "function-language"
    # No LANGUAGE clause: a SQL-standard body (BEGIN ATOMIC ... END / RETURN ...) is SQL.
    return None


def _sequence_options(options: Any, creating: bool) -> str | None:
    """Which sequence rule ``options`` (of CREATE/ALTER SEQUENCE or an identity column)
    break; a new sequence needs an explicit CACHE."""
    cache = None
    for option in options or ():
        if option.defname == "cache":
            cache = getattr(option.arg, "ival", None)
        elif option.defname == "as":
            type_name = option.arg.names[-1].sval
            if type_name not in _BIGINT:
                return "sequence-type"
    if cache is None:
        return "sequence-cache" if creating else None
    return None if cache == 1 or cache >= MIN_SEQUENCE_CACHE else "sequence-cache"


def _index(node: Any, is_async: bool) -> str | None:
    from pglast import enums

    if node.tableSpace:
        return "tablespace"
    if is_async and any(
        element.ordering != enums.SortByDir.SORTBY_DEFAULT for element in node.indexParams or ()
    ):
        return "index-order"
    # A plain CREATE INDEX is refused only on a table with rows: the session checks that.
    return None


def _create_table(node: Any) -> str | None:
    from pglast import ast

    if _temporary(node.relation):
        return "temporary-table"
    if node.partspec is not None or node.partbound is not None:
        return "partition"
    if node.inhRelations:
        return "inherits"
    if node.tablespacename:
        return "tablespace"
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            found = _column(element)
            if found:
                return found
        elif isinstance(element, ast.Constraint):
            found = _constraint(element)
            if found:
                return found
    return None


def _column(column: Any) -> str | None:
    if column.collClause is not None:
        return "collate"
    type_name = column.typeName.names[-1].sval if column.typeName is not None else ""
    if type_name in _SERIAL_TYPES:
        return "serial"
    for constraint in column.constraints or ():
        found = _constraint(constraint)
        if found:
            return found
        if _is_identity(constraint):
            if type_name not in _BIGINT:
                return "sequence-type"
            return _sequence_options(constraint.options, creating=True)
    return None


def _is_identity(constraint: Any) -> bool:
    from pglast import enums

    return bool(constraint.contype == enums.ConstrType.CONSTR_IDENTITY)


def _constraint(constraint: Any) -> str | None:
    from pglast import enums

    if constraint.contype == enums.ConstrType.CONSTR_FOREIGN:
        return "foreign-key"
    if constraint.contype == enums.ConstrType.CONSTR_EXCLUSION:
        return "exclusion-constraint"
    return None


def _alter_table(node: Any) -> str | None:
    from pglast import ast, enums

    types = enums.AlterTableType
    for command in node.cmds or ():
        if command.subtype in (types.AT_AttachPartition, types.AT_DetachPartition):
            return "partition"
        if command.subtype in (types.AT_AddInherit, types.AT_DropInherit):
            return "inherits"
        if command.subtype == types.AT_SetTableSpace:
            return "tablespace"
        definition = command.def_
        if isinstance(definition, ast.Constraint):
            found = _constraint(definition)
            if found:
                return found
            if _is_identity(definition):
                return _sequence_options(definition.options, creating=True)
        elif isinstance(definition, ast.ColumnDef):
            found = _column(definition)
            if found:
                return found
        elif isinstance(definition, (list, tuple)) and command.subtype in (types.AT_SetIdentity,):
            return _sequence_options(definition, creating=False)
    return None
