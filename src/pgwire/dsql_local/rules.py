"""Aurora DSQL's rules, as data: what the local endpoint refuses and limits, and where AWS says so.

Each :class:`Rule` names the feature, the error DSQL gives (SQLSTATE and message: DSQL's own
where AWS documents it or DSQL is known to report it, ``DSQL_MESSAGE``; otherwise
``feature_not_supported`` with a message of ours naming the feature), what DSQL offers
instead (sent as the error's HINT), the page of AWS's Aurora DSQL user guide it comes from,
and, for statement rules, an example the rule refuses and the equivalent DSQL accepts (the
tests run both).  :mod:`pgwire.dsql_local.statements` decides which rule a statement breaks;
:mod:`pgwire.dsql_local.session` enforces the transaction rules; the endpoint the connection
rules.  :func:`render_markdown` writes the table that ``docs/dsql-local.md`` holds (a test
fails when that copy is stale).

This module holds no logic beyond lookups and rendering: change DSQL's rules here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LIMITS",
    "PAGES",
    "RULES",
    "Limits",
    "Page",
    "Rule",
    "render_markdown",
    "rule",
]

_GUIDE = "https://docs.aws.amazon.com/aurora-dsql/latest/userguide/"


@dataclass(frozen=True)
class Page:
    """A page of AWS's Aurora DSQL user guide."""

    title: str
    url: str


#: The user guide's pages the rules come from, by short name.
PAGES = {
    "unsupported": Page(
        "Unsupported PostgreSQL features in Aurora DSQL",
        _GUIDE + "working-with-postgresql-compatibility-unsupported-features.html",
    ),
    "ddl": Page(
        "DDL and distributed transactions in Aurora DSQL", _GUIDE + "working-with-ddl.html"
    ),
    "async-indexes": Page(
        "Asynchronous indexes in Aurora DSQL", _GUIDE + "working-with-create-index-async.html"
    ),
    "concurrency": Page(
        "Concurrency control in Aurora DSQL", _GUIDE + "working-with-concurrency-control.html"
    ),
    "quotas": Page(
        "Cluster quotas and database limits in Amazon Aurora DSQL", _GUIDE + "CHAP_quotas.html"
    ),
    "sequences": Page(
        "CREATE SEQUENCE (Aurora DSQL)", _GUIDE + "create-sequence-syntax-support.html"
    ),
    "troubleshooting": Page(
        "Troubleshooting issues in Aurora DSQL", _GUIDE + "troubleshooting.html"
    ),
}

RuleKind = Literal["statement", "transaction", "connection"]


@dataclass(frozen=True)
class Rule:
    """One of DSQL's rules and the error that enforces it."""

    id: str
    kind: RuleKind
    feature: str
    sqlstate: str
    message: str
    #: What DSQL offers instead: the error's HINT.
    instead: str
    #: The key of the user guide page in :data:`PAGES`.
    page: str
    #: Whether ``message`` is DSQL's own wording (else ours, naming the feature).
    dsql_message: bool = False
    #: A statement the rule refuses, and the equivalent DSQL accepts (statement rules).
    example: str = ""
    allowed: str = ""
    #: What ``example`` and ``allowed`` need first (run with PostgreSQL's rules).
    setup: tuple[str, ...] = ()

    @property
    def source(self) -> Page:
        return PAGES[self.page]


def _unsupported(
    id: str,
    feature: str,
    instead: str,
    example: str,
    allowed: str,
    *,
    page: str = "unsupported",
    setup: tuple[str, ...] = (),
) -> Rule:
    return Rule(
        id,
        "statement",
        feature,
        "0A000",
        f"{feature} not supported in Aurora DSQL",
        instead,
        page,
        example=example,
        allowed=allowed,
        setup=setup,
    )


_PARENT = ("CREATE TABLE parent (id uuid PRIMARY KEY)",)
_ITEMS = ("CREATE TABLE items (id int PRIMARY KEY, n int)", "INSERT INTO items VALUES (1, 1)")

#: Every rule the endpoint enforces, in the order the documentation lists them.
RULES: tuple[Rule, ...] = (
    _unsupported(
        "temporary-table",
        "temporary tables",
        "create an ordinary table, and drop it when done",
        "CREATE TEMPORARY TABLE scratch (id int)",
        "CREATE TABLE scratch (id int)",
    ),
    _unsupported(
        "trigger",
        "triggers",
        "do the work in the application, or in the statements of the transaction itself",
        "CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW "
        "EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "UPDATE items SET n = n + 1 WHERE id = 1",
        setup=_ITEMS,
    ),
    _unsupported(
        "foreign-key",
        "foreign key constraints",
        "keep the reference column without REFERENCES and check it in the application",
        "CREATE TABLE child (id uuid PRIMARY KEY, parent_id uuid REFERENCES parent (id))",
        "CREATE TABLE child (id uuid PRIMARY KEY, parent_id uuid)",
        setup=_PARENT,
    ),
    _unsupported(
        "exclusion-constraint",
        "exclusion constraints",
        "use a primary key or a unique index (CREATE UNIQUE INDEX ASYNC)",
        "CREATE TABLE booking (room int, EXCLUDE USING btree (room WITH =))",
        "CREATE TABLE booking (room int PRIMARY KEY)",
    ),
    _unsupported(
        "truncate",
        "TRUNCATE",
        "DELETE the rows, in batches of at most 3,000 rows per transaction",
        "TRUNCATE items",
        "DELETE FROM items",
        setup=_ITEMS,
    ),
    _unsupported(
        "savepoint",
        "SAVEPOINT, RELEASE and ROLLBACK TO",
        "retry the whole transaction (pgwire.dsql.run_transaction)",
        "SAVEPOINT before_change",
        "ROLLBACK",
    ),
    _unsupported(
        "vacuum",
        "VACUUM",
        "nothing: Aurora DSQL maintains statistics and storage itself (ANALYZE is allowed)",
        "VACUUM",
        "ANALYZE",
    ),
    _unsupported(
        "alter-system",
        "ALTER SYSTEM",
        "set parameters for the session with SET",
        "ALTER SYSTEM SET work_mem = '8MB'",
        "SET work_mem = '8MB'",
    ),
    _unsupported(
        "extension",
        "extensions (CREATE, ALTER and DROP EXTENSION)",
        "use the built-in functions, e.g. gen_random_uuid() instead of uuid-ossp",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "SELECT gen_random_uuid()",
    ),
    _unsupported(
        "database",
        "more than one database (CREATE, ALTER and DROP DATABASE)",
        "use the single database postgres, with schemas to separate applications",
        "CREATE DATABASE other",
        "CREATE SCHEMA other",
    ),
    _unsupported(
        "partition",
        "partitioned tables",
        "use one table whose primary key spreads the rows; Aurora DSQL distributes it",
        "CREATE TABLE events (day date, n int) PARTITION BY RANGE (day)",
        "CREATE TABLE events (day date PRIMARY KEY, n int)",
    ),
    _unsupported(
        "inherits",
        "table inheritance (INHERITS)",
        "create each table with all its columns",
        "CREATE TABLE special (extra int) INHERITS (items)",
        "CREATE TABLE special (id int PRIMARY KEY, n int, extra int)",
        setup=_ITEMS,
    ),
    _unsupported(
        "tablespace",
        "tablespaces",
        "leave storage to Aurora DSQL: drop the TABLESPACE clause",
        "CREATE TABLE placed (id int) TABLESPACE pg_default",
        "CREATE TABLE placed (id int)",
    ),
    _unsupported(
        "materialized-view",
        "materialized views",
        "use a view, or a table the application refreshes",
        "CREATE MATERIALIZED VIEW totals AS SELECT count(*) FROM items",
        "CREATE VIEW totals AS SELECT count(*) FROM items",
        setup=_ITEMS,
    ),
    _unsupported(
        "create-table-as",
        "CREATE TABLE ... AS and SELECT ... INTO",
        "CREATE TABLE first, then INSERT INTO ... SELECT in its own transaction",
        "CREATE TABLE copied AS SELECT * FROM items",
        "CREATE TABLE copied (id int PRIMARY KEY, n int)",
        setup=_ITEMS,
    ),
    _unsupported(
        "collate",
        "COLLATE clauses in CREATE TABLE",
        "drop the clause: Aurora DSQL uses the C collation",
        'CREATE TABLE named (name text COLLATE "C")',
        "CREATE TABLE named (name text)",
    ),
    _unsupported(
        "function-language",
        "functions in languages other than SQL (including DO blocks)",
        "write the function in LANGUAGE sql, or move the logic to the application",
        "CREATE FUNCTION one() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
        "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    ),
    _unsupported(
        "type",
        "user-defined types (CREATE TYPE)",
        "use a built-in type, e.g. text with a CHECK constraint instead of an enum",
        "CREATE TYPE mood AS ENUM ('sad', 'happy')",
        "CREATE TABLE moods (mood text CHECK (mood IN ('sad', 'happy')))",
    ),
    _unsupported(
        "listen-notify",
        "LISTEN, NOTIFY and UNLISTEN",
        "poll a table, or use a messaging service",
        "LISTEN changes",
        "SELECT 1",
    ),
    Rule(
        "isolation-level",
        "statement",
        "isolation levels other than REPEATABLE READ",
        "0A000",
        "isolation levels other than REPEATABLE READ not supported in Aurora DSQL",
        "leave the default: every Aurora DSQL transaction runs at REPEATABLE READ (optimistic "
        "concurrency control)",
        "concurrency",
        example="BEGIN ISOLATION LEVEL SERIALIZABLE",
        allowed="BEGIN ISOLATION LEVEL REPEATABLE READ",
    ),
    Rule(
        "sequence-cache",
        "statement",
        "sequences and identity columns without CACHE 1 or CACHE >= 65536",
        "0A000",
        "CREATE SEQUENCE is not supported without an explicit cache size. please define CACHE "
        "greater than or equal to 65536 or equal to 1",
        "give CACHE 1 (ordered) or CACHE 65536 or more (fast), or use a UUID key",
        "sequences",
        dsql_message=True,
        example="CREATE SEQUENCE ticket_numbers",
        allowed="CREATE SEQUENCE ticket_numbers CACHE 65536",
    ),
    Rule(
        "sequence-type",
        "statement",
        "sequences of types other than BIGINT",
        "0A000",
        "sequences of types other than BIGINT not supported in Aurora DSQL",
        "declare the sequence or identity column AS bigint",
        "sequences",
        example="CREATE SEQUENCE small_numbers AS integer CACHE 1",
        allowed="CREATE SEQUENCE small_numbers AS bigint CACHE 1",
    ),
    Rule(
        "serial",
        "statement",
        "SERIAL, SMALLSERIAL and BIGSERIAL columns",
        "0A000",
        "SERIAL columns not supported in Aurora DSQL: their sequence has no explicit cache size",
        "use bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536), or a UUID key with DEFAULT "
        "gen_random_uuid()",
        "sequences",
        example="CREATE TABLE tickets (id serial PRIMARY KEY)",
        allowed="CREATE TABLE tickets (id uuid PRIMARY KEY DEFAULT gen_random_uuid())",
    ),
    Rule(
        "index-order",
        "statement",
        "ASC and DESC in CREATE INDEX ASYNC",
        "0A000",
        "ASC and DESC not supported in Aurora DSQL's CREATE INDEX ASYNC",
        "drop ASC/DESC: the index serves both directions",
        "unsupported",
        example="CREATE INDEX ASYNC items_n ON items (n DESC)",
        allowed="CREATE INDEX ASYNC items_n ON items (n)",
        setup=_ITEMS,
    ),
    Rule(
        "synchronous-index",
        "statement",
        "CREATE INDEX without ASYNC on a table that has rows",
        "0A000",
        "use CREATE INDEX ASYNC instead",
        "CREATE INDEX ASYNC returns a job_id; wait with CALL sys.wait_for_job(job_id)",
        "troubleshooting",
        dsql_message=True,
        example="CREATE INDEX items_n ON items (n)",
        allowed="CREATE INDEX ASYNC items_n ON items (n)",
        setup=_ITEMS,
    ),
    Rule(
        "one-ddl",
        "transaction",
        "more than one DDL statement in a transaction",
        "0A000",
        "multiple ddl statements not supported in a transaction",
        "commit after each DDL statement",
        "ddl",
        dsql_message=True,
    ),
    Rule(
        "ddl-and-dml",
        "transaction",
        "DDL and DML in the same transaction",
        "0A000",
        "ddl and dml are not supported in the same transaction",
        "commit the DDL statement in a transaction of its own",
        "ddl",
        dsql_message=True,
    ),
    Rule(
        "transaction-rows",
        "transaction",
        "more than 3,000 rows modified in one transaction",
        "54000",
        "transaction row limit exceeded",
        "modify at most 3,000 rows per transaction: split the work into batches",
        "quotas",
        dsql_message=True,
    ),
    Rule(
        "transaction-size",
        "transaction",
        "more than 10 MiB of data modified in one transaction",
        "54000",
        "transaction size limit 10mb exceeded",
        "modify at most 10 MiB per transaction: split the work into batches",
        "quotas",
        dsql_message=True,
    ),
    Rule(
        "transaction-age",
        "transaction",
        "transactions longer than 5 minutes",
        "54000",
        "transaction age limit of 300s exceeded",
        "keep transactions under 5 minutes",
        "quotas",
        dsql_message=True,
    ),
    Rule(
        "occ-data",
        "transaction",
        "two transactions changing the same row (optimistic concurrency control)",
        "40001",
        "change conflicts with another transaction, please retry: (OC000)",
        "retry the transaction (pgwire.dsql.run_transaction)",
        "concurrency",
        dsql_message=True,
    ),
    Rule(
        "occ-schema",
        "transaction",
        "a schema changed under a running transaction",
        "40001",
        "schema has been updated by another transaction, please retry: (OC001)",
        "retry the transaction (pgwire.dsql.run_transaction)",
        "ddl",
        dsql_message=True,
    ),
    Rule(
        "max-connections",
        "connection",
        "more than 10,000 open connections per cluster",
        "53300",
        "Unable to accept connection, too many open connections.",
        "close idle connections, or share them with a pool",
        "quotas",
        dsql_message=True,
    ),
    Rule(
        "max-unauthenticated",
        "connection",
        "more than 100 connections at once that have not authenticated yet (the local "
        "endpoint's limit)",
        "53300",
        "Unable to accept connection, too many unauthenticated connections.",
        "authenticate promptly, and open fewer connections at once",
        "quotas",
    ),
    Rule(
        "connection-rate",
        "connection",
        "more than 100 new connections per second (bursts of up to 1,000)",
        "53400",
        "Unable to accept connection, rate exceeded.",
        "reuse connections with a pool, and retry with backoff",
        "quotas",
        dsql_message=True,
    ),
    Rule(
        "connection-lifetime",
        "connection",
        "connections older than 60 minutes",
        "57P01",
        "terminating the connection: it reached the maximum connection lifetime",
        "recycle connections before 60 minutes (pgwire.dsql pools do, at 55)",
        "quotas",
    ),
)

_BY_ID = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    """The rule called ``rule_id``; a KeyError names the known ones."""
    try:
        return _BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"no DSQL rule {rule_id!r}; the rules are {', '.join(_BY_ID)}") from None


@dataclass(frozen=True)
class Limits:
    """DSQL's numeric limits (:data:`LIMITS`); the endpoint takes others for tests.  (The
    connection lifetime, 3600 s, is the endpoint's ``max_lifetime``.)"""

    #: Rows one transaction may insert, update or delete.
    transaction_rows: int = 3000
    #: Bytes of data one transaction may write.
    transaction_bytes: int = 10 * 1024 * 1024
    #: Seconds a transaction may last.
    transaction_seconds: float = 300.0
    #: Open connections.
    max_connections: int = 10_000
    #: Connections not yet authenticated (the local endpoint's own limit: each costs a TLS
    #: handshake and up to 30 seconds; DSQL does not document one).
    max_unauthenticated: int = 100
    #: New connections per second, and the burst the token bucket holds.
    connection_rate: float = 100.0
    connection_burst: int = 1000

    def __post_init__(self) -> None:
        for name in (
            "transaction_rows",
            "transaction_bytes",
            "transaction_seconds",
            "max_connections",
            "max_unauthenticated",
            "connection_rate",
            "connection_burst",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")


LIMITS = Limits()


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """The table of rules for ``docs/dsql-local.md``."""
    lines = [
        "| rule | what DSQL refuses | SQLSTATE | message | instead (HINT) | source |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in RULES:
        message = f"`{_cell(r.message)}`" + ("" if r.dsql_message else " (ours)")
        lines.append(
            f"| `{r.id}` | {_cell(r.feature)} | `{r.sqlstate}` | {message} | "
            f"{_cell(r.instead)} | [{r.source.title}]({r.source.url}) |"
        )
    return "\n".join(lines) + "\n"
