"""What the local DSQL endpoint installs on its PostgreSQL: DSQL's ``sys`` schema, emulated.

* ``sys.jobs``: DSQL's view of asynchronous jobs (here a table), one row per
  ``CREATE INDEX ASYNC``: job_id, status (``completed`` or ``failed``), details (the error),
  job_type ``INDEX_BUILD``, class_id, object_id, object_name, start_time, update_time;
* ``CALL sys.wait_for_job(job_id)``: a procedure, as on DSQL (``SELECT sys.wait_for_job``
  fails there too), answering whether the job completed;
* ``sys.pgwire_create_index_async(ddl, table)``: how the endpoint runs ``CREATE INDEX ASYNC``:
  it builds the index at once (a failure, such as duplicates under a UNIQUE index, fails the
  job, not the statement) and returns the job's id;
* ``sys.pgwire_create_index(ddl, table)``: a plain ``CREATE INDEX``, refused when the table
  has rows, as DSQL does;
* ``sys.pgwire_guard(written, row_limit, byte_limit)``: run after each DML statement, it
  fails the transaction that modified more rows (counted by PostgreSQL in
  ``pg_stat_xact_user_tables``) or wrote more bytes (counted by the endpoint) than allowed.

All of it is written once per database, under an advisory lock, by :func:`setup_sql`.  The
endpoint prepares :data:`HIDDEN_STATEMENTS` in each session it opens.
"""

from __future__ import annotations

from pgwire.dsql_local.rules import Rule, rule

__all__ = ["GUARD", "HIDDEN_PORTAL", "HIDDEN_STATEMENTS", "MISSING_PORTAL", "ROLLBACK", "setup_sql"]

#: Names of the endpoint's own prepared statements and portal in each session.
GUARD = "pgwire_dsql_local_guard"
ROLLBACK = "pgwire_dsql_local_rollback"
HIDDEN_PORTAL = "pgwire_dsql_local_portal"
#: A portal that never exists: executing it fails the batch where a statement is refused.
MISSING_PORTAL = "pgwire_dsql_local_refused"
HIDDEN_STATEMENTS = {
    GUARD: "CALL sys.pgwire_guard($1::bigint, $2::bigint, $3::bigint)",
    ROLLBACK: "ROLLBACK",
}
#: The version of what is installed, written as the schema's comment.
VERSION = "pgwire.dsql_local sys schema 1"
#: The advisory lock key serialising installs (any constant; "DSQL" in ASCII).
_LOCK_KEY = 0x4453514C


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def setup_sql() -> str:
    """One simple query that installs (or updates) the ``sys`` schema, unless this version of
    it is there already (whoever installed it: other users of the database only use it)."""
    rows = rule("transaction-rows")
    size = rule("transaction-size")
    index = rule("synchronous-index")
    statements = _install_statements(rows, size, index)
    executes = "\n".join(f"        EXECUTE {_literal(statement)};" for statement in statements)
    return f"""
BEGIN;
SET LOCAL lock_timeout = 0;
SELECT pg_advisory_xact_lock({_LOCK_KEY});
DO $pgwire_setup$
BEGIN
    IF obj_description(to_regnamespace('sys'), 'pg_namespace') IS DISTINCT FROM
            {_literal(VERSION)} THEN
{executes}
    END IF;
END
$pgwire_setup$;
COMMIT;
"""


def _install_statements(rows: Rule, size: Rule, index: Rule) -> list[str]:
    return [
        """CREATE SCHEMA IF NOT EXISTS sys""",
        """CREATE TABLE IF NOT EXISTS sys.jobs (
    job_id text PRIMARY KEY,
    status text NOT NULL,
    details text,
    job_type text NOT NULL,
    class_id oid,
    object_id oid,
    object_name text,
    start_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz
)""",
        """CREATE OR REPLACE PROCEDURE sys.wait_for_job(
    job_id text, INOUT completed boolean DEFAULT NULL)
LANGUAGE plpgsql AS $pgwire$
DECLARE
    found_status text;
BEGIN
    SELECT j.status INTO found_status FROM sys.jobs j WHERE j.job_id = wait_for_job.job_id;
    IF found_status IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('job %s does not exist', job_id);
    END IF;
    completed := found_status = 'completed';
END
$pgwire$""",
        """CREATE OR REPLACE FUNCTION sys.pgwire_create_index_async(ddl text, table_name text)
RETURNS TABLE (job_id text) LANGUAGE plpgsql SET lock_timeout = '60s' AS $pgwire$
DECLARE
    new_id text := substr(translate(encode(sha256(
        (random()::text || clock_timestamp()::text)::bytea), 'hex'), '0189', 'wxyz'), 1, 26);
    before oid[] := ARRAY(SELECT indexrelid FROM pg_index WHERE indrelid = table_name::regclass);
    made oid;
    why text;
BEGIN
    BEGIN
        EXECUTE ddl;
        SELECT indexrelid INTO made FROM pg_index
        WHERE indrelid = table_name::regclass AND indexrelid <> ALL (before);
        INSERT INTO sys.jobs VALUES (new_id, 'completed', NULL, 'INDEX_BUILD',
            'pg_class'::regclass, made, made::regclass::text, now(), clock_timestamp());
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
        INSERT INTO sys.jobs VALUES (new_id, 'failed',
            SQLERRM || coalesce(nullif(': ' || why, ': '), ''), 'INDEX_BUILD',
            'pg_class'::regclass, NULL, NULL, now(), clock_timestamp());
    END;
    RETURN QUERY SELECT new_id;
END
$pgwire$""",
        f"""CREATE OR REPLACE PROCEDURE sys.pgwire_create_index(ddl text, table_name text)
LANGUAGE plpgsql AS $pgwire$
DECLARE
    has_rows boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT FROM %s)', table_name::regclass) INTO has_rows;
    IF has_rows THEN
        RAISE EXCEPTION USING ERRCODE = {_literal(index.sqlstate)},
            MESSAGE = {_literal(index.message)}, HINT = {_literal(index.instead)};
    END IF;
    EXECUTE ddl;
END
$pgwire$""",
        f"""CREATE OR REPLACE PROCEDURE sys.pgwire_guard(
    written bigint, row_limit bigint, byte_limit bigint)
LANGUAGE plpgsql AS $pgwire$
DECLARE
    changed bigint;
BEGIN
    SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) INTO changed
    FROM pg_stat_xact_user_tables WHERE schemaname <> 'sys';
    IF changed > row_limit THEN
        RAISE EXCEPTION USING ERRCODE = {_literal(rows.sqlstate)},
            MESSAGE = {_literal(rows.message)}, HINT = {_literal(rows.instead)};
    END IF;
    IF written > byte_limit THEN
        RAISE EXCEPTION USING ERRCODE = {_literal(size.sqlstate)},
            MESSAGE = {_literal(size.message)}, HINT = {_literal(size.instead)},
            DETAIL = format('Current transaction size %smb %smb',
                written / 1048576, byte_limit / 1048576);
    END IF;
END
$pgwire$""",
        f"COMMENT ON SCHEMA sys IS {_literal(VERSION)}",
        "GRANT USAGE ON SCHEMA sys TO PUBLIC",
        "GRANT SELECT, INSERT ON sys.jobs TO PUBLIC",
    ]
