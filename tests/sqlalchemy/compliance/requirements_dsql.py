"""What Aurora DSQL and ``auroradsql+pgwire`` support, for SQLAlchemy's compliance suite.

DSQL speaks PostgreSQL, so this starts from the PostgreSQL requirements (``requirements.py``)
and closes what DSQL lacks, each with its reason, following AWS's Aurora DSQL user guide (the
pages the local endpoint's rules cite, ``pgwire.dsql_local.rules``). The suite runs against
the local endpoint with DSQL's rules, so a feature left open here that DSQL refuses fails the
run. ``dsql/setup.cfg`` names this class.
"""

from __future__ import annotations

from typing import Any

from requirements import Requirements
from sqlalchemy.testing import exclusions


def _lacks(what: str) -> Any:
    return exclusions.closed(f"Aurora DSQL has no {what}")


_NO_FOREIGN_KEYS = "foreign key constraints (the dialect leaves them out)"
_NO_TEMPORARY = "temporary tables or views"


class DSQLRequirements(Requirements):
    # ------------------------------------------------------------------------------------
    # No foreign keys. (Foreign keys may still be declared, "foreign_key_ddl": the dialect
    # compiles CREATE TABLE without them.)
    # ------------------------------------------------------------------------------------

    @property
    def foreign_keys(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def self_referential_foreign_keys(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def foreign_key_constraint_reflection(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def cross_schema_fk_reflection(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def foreign_key_constraint_name_reflection(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def deferrable_fks(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Any:
        return _lacks(_NO_FOREIGN_KEYS)

    # ------------------------------------------------------------------------------------
    # No temporary tables or views, no CREATE TABLE ... AS, no materialized views
    # ------------------------------------------------------------------------------------

    @property
    def temp_table_reflection(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def temp_table_names(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def has_temp_table(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def temporary_tables(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def temporary_views(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def temp_table_comment_reflection(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def create_table_as(self) -> Any:
        return _lacks("CREATE TABLE ... AS or SELECT ... INTO")

    @property
    def create_temp_table_as(self) -> Any:
        return _lacks(_NO_TEMPORARY)

    @property
    def materialized_views(self) -> Any:
        return _lacks("materialized views")

    # ------------------------------------------------------------------------------------
    # Transactions: REPEATABLE READ only, no savepoints, no two-phase commit
    # ------------------------------------------------------------------------------------

    @property
    def savepoints(self) -> Any:
        return _lacks("savepoints")

    @property
    def two_phase_transactions(self) -> Any:
        return _lacks("two-phase commit (PREPARE TRANSACTION)")

    @property
    def non_default_isolation_level(self) -> Any:
        return _lacks("isolation level but REPEATABLE READ")

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {"default": "REPEATABLE READ", "supported": ["AUTOCOMMIT", "REPEATABLE READ"]}

    # ------------------------------------------------------------------------------------
    # Indexes: CREATE INDEX ASYNC takes column names only, without ASC or DESC
    # ------------------------------------------------------------------------------------

    @property
    def indexes_with_ascdesc(self) -> Any:
        return _lacks("ASC or DESC in CREATE INDEX ASYNC")

    @property
    def indexes_with_expressions(self) -> Any:
        return _lacks("expressions in CREATE INDEX ASYNC, only column names")

    # ------------------------------------------------------------------------------------
    # Types and DDL
    # ------------------------------------------------------------------------------------

    @property
    def sequence_cache_any(self) -> Any:
        return _lacks("sequence CACHE but 1 or 65536 and more")

    @property
    def array_type(self) -> Any:
        return _lacks("array columns (arrays are runtime types only)")

    @property
    def column_collation_reflection(self) -> Any:
        return _lacks("COLLATE clauses in CREATE TABLE")
