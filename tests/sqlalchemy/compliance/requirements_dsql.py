"""What Aurora DSQL and ``auroradsql+pgwire`` support, for SQLAlchemy's compliance suite.

DSQL speaks PostgreSQL, so this starts from the PostgreSQL requirements (``requirements.py``)
and closes what DSQL lacks, each with the reason, following AWS's Aurora DSQL user guide (the
same pages as the local endpoint's rules, ``pgwire.dsql_local.rules``). The suite runs
against the local endpoint with DSQL's rules, so a feature left open here that DSQL refuses
fails the run.
"""

from __future__ import annotations

from typing import Any

from requirements import Requirements
from sqlalchemy.testing import exclusions


def _dsql_lacks(what: str) -> Any:
    return exclusions.closed()  # the reason is the property's docstring


class DSQLRequirements(Requirements):
    # ------------------------------------------------------------------------------------
    # No foreign keys
    # ------------------------------------------------------------------------------------

    @property
    def foreign_keys(self) -> Any:
        """DSQL has no foreign key constraints: the dialect leaves them out."""
        return exclusions.closed()

    @property
    def self_referential_foreign_keys(self) -> Any:
        return exclusions.closed()

    @property
    def foreign_key_constraint_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def cross_schema_fk_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def foreign_key_constraint_name_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def deferrable_fks(self) -> Any:
        return exclusions.closed()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Any:
        return exclusions.closed()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Any:
        return exclusions.closed()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Any:
        return exclusions.closed()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Any:
        return exclusions.closed()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Any:
        return exclusions.closed()

    # ------------------------------------------------------------------------------------
    # No temporary tables or views, no CREATE TABLE ... AS, no materialized views
    # ------------------------------------------------------------------------------------

    @property
    def temp_table_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def temp_table_names(self) -> Any:
        return exclusions.closed()

    @property
    def has_temp_table(self) -> Any:
        return exclusions.closed()

    @property
    def temporary_tables(self) -> Any:
        return exclusions.closed()

    @property
    def temporary_views(self) -> Any:
        return exclusions.closed()

    @property
    def temp_table_comment_reflection(self) -> Any:
        return exclusions.closed()

    @property
    def create_table_as(self) -> Any:
        return exclusions.closed()

    @property
    def create_temp_table_as(self) -> Any:
        return exclusions.closed()

    @property
    def materialized_views(self) -> Any:
        return exclusions.closed()

    # ------------------------------------------------------------------------------------
    # Transactions: REPEATABLE READ only, no savepoints, no two-phase commit
    # ------------------------------------------------------------------------------------

    @property
    def savepoints(self) -> Any:
        return exclusions.closed()

    @property
    def two_phase_transactions(self) -> Any:
        return exclusions.closed()

    @property
    def non_default_isolation_level(self) -> Any:
        return exclusions.closed()

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {"default": "REPEATABLE READ", "supported": ["AUTOCOMMIT", "REPEATABLE READ"]}

    # ------------------------------------------------------------------------------------
    # Indexes: CREATE INDEX ASYNC takes column names only
    # ------------------------------------------------------------------------------------

    @property
    def indexes_with_ascdesc(self) -> Any:
        return exclusions.closed()

    @property
    def indexes_with_expressions(self) -> Any:
        return exclusions.closed()

    # ------------------------------------------------------------------------------------
    # Types and DDL
    # ------------------------------------------------------------------------------------

    @property
    def sequence_cache_any(self) -> Any:
        return exclusions.closed()

    @property
    def array_type(self) -> Any:
        return exclusions.closed()

    @property
    def column_collation_reflection(self) -> Any:
        return exclusions.closed()
