"""What PostgreSQL 18 and the pgwire dialects support, for SQLAlchemy's compliance suite.

SQLAlchemy's ``SuiteRequirements`` closes every optional feature; this class opens each one
PostgreSQL has. The same class serves every dialect of the run (pgwire's and, for
comparison, SQLAlchemy's own psycopg and asyncpg dialects), so a feature is closed here only
for a reason that holds for the database, and each closed one says why. Nothing is closed
for pgwire alone.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

_SQLALCHEMY_2_1 = tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2]) >= (2, 1)


def _since_2_1(what: str) -> Any:
    """Open on SQLAlchemy 2.1, whose PostgreSQL dialect (shared by every driver) has it."""
    return exclusions.only_if(
        lambda: _SQLALCHEMY_2_1, f"SQLAlchemy 2.0's PostgreSQL dialect has no {what}"
    )


def _is_async(config: Any) -> bool:
    return bool(config.db.dialect.is_async)


def _pyformat(config: Any) -> bool:
    return config.db.dialect.paramstyle in ("pyformat", "format")


class Requirements(SuiteRequirements):
    # ------------------------------------------------------------------------------------
    # DDL, constraints, reflection
    # ------------------------------------------------------------------------------------

    @property
    def create_table_as(self) -> Any:
        return exclusions.open()

    @property
    def create_temp_table_as(self) -> Any:
        return exclusions.open()

    @property
    def table_ddl_if_exists(self) -> Any:
        return exclusions.open()

    @property
    def index_ddl_if_exists(self) -> Any:
        return exclusions.open()

    @property
    def unique_constraints_reflect_as_index(self) -> Any:
        # A UNIQUE constraint is backed by a unique index, which the inspector lists.
        return exclusions.open()

    @property
    def deferrable_fks(self) -> Any:
        return exclusions.open()

    @property
    def boolean_col_expressions(self) -> Any:
        return exclusions.open()

    @property
    def views(self) -> Any:
        return exclusions.open()

    @property
    def create_or_replace_view(self) -> Any:
        return exclusions.open()

    @property
    def temporary_views(self) -> Any:
        return exclusions.open()

    @property
    def materialized_views(self) -> Any:
        return exclusions.open()

    @property
    def cross_schema_fk_reflection(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_name_reflection(self) -> Any:
        return exclusions.open()

    @property
    def implicit_default_schema(self) -> Any:
        return exclusions.open()

    @property
    def default_schema_name_switch(self) -> Any:
        return exclusions.open()

    @property
    def reflects_pk_names(self) -> Any:
        return exclusions.open()

    @property
    def reflect_tables_no_columns(self) -> Any:
        return exclusions.open()

    @property
    def comment_reflection(self) -> Any:
        return exclusions.open()

    @property
    def comment_reflection_full_unicode(self) -> Any:
        return exclusions.open()

    @property
    def constraint_comment_reflection(self) -> Any:
        return exclusions.open()

    @property
    def temp_table_comment_reflection(self) -> Any:
        return exclusions.open()

    @property
    def column_collation_reflection(self) -> Any:
        return exclusions.open()

    @property
    def schema_create_delete(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Any:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Any:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Any:
        return exclusions.open()

    @property
    def temp_table_names(self) -> Any:
        return exclusions.open()

    @property
    def has_temp_table(self) -> Any:
        return exclusions.open()

    @property
    def index_reflects_included_columns(self) -> Any:
        return exclusions.open()

    @property
    def indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def reflect_indexes_with_expressions(self) -> Any:
        return exclusions.open()

    @property
    def indexes_check_column_order(self) -> Any:
        return exclusions.open()

    @property
    def inline_check_constraint_reflection(self) -> Any:
        return exclusions.open()

    @property
    def check_constraint_reflection(self) -> Any:
        return exclusions.open()

    @property
    def reflect_table_options(self) -> Any:
        return _since_2_1("reflection of table options")

    @property
    def unicode_ddl(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_stored(self) -> Any:
        return exclusions.open()

    @property
    def computed_columns_virtual(self) -> Any:
        # PostgreSQL 18 has VIRTUAL generated columns.
        return _since_2_1("VIRTUAL generated columns")

    @property
    def computed_columns_reflect_persisted(self) -> Any:
        return _since_2_1("reflection of VIRTUAL generated columns")

    @property
    def identity_columns(self) -> Any:
        return exclusions.open()

    @property
    def identity_columns_standard(self) -> Any:
        return exclusions.open()

    @property
    def sequence_cache_any(self) -> Any:
        # Sequences and identity columns with any CACHE (IdentityReflectionTest's CACHE 4);
        # asked for by conftest.UNSTATED.
        return exclusions.open()

    @property
    def server_defaults(self) -> Any:
        return exclusions.open()

    @property
    def expression_server_defaults(self) -> Any:
        return exclusions.open()

    # ------------------------------------------------------------------------------------
    # Queries
    # ------------------------------------------------------------------------------------

    @property
    def table_value_constructor(self) -> Any:
        return exclusions.open()

    @property
    def nullsordering(self) -> Any:
        return exclusions.open()

    @property
    def intersect(self) -> Any:
        return exclusions.open()

    @property
    def except_(self) -> Any:
        return exclusions.open()

    @property
    def window_functions(self) -> Any:
        return exclusions.open()

    @property
    def window_range(self) -> Any:
        return exclusions.open()

    @property
    def window_range_numeric(self) -> Any:
        return exclusions.open()

    @property
    def window_range_non_numeric(self) -> Any:
        return exclusions.open()

    @property
    def ctes(self) -> Any:
        return exclusions.open()

    @property
    def ctes_with_update_delete(self) -> Any:
        return exclusions.open()

    @property
    def ctes_with_values(self) -> Any:
        return exclusions.open()

    @property
    def ctes_on_dml(self) -> Any:
        return exclusions.open()

    @property
    def tuple_in(self) -> Any:
        return exclusions.open()

    @property
    def aggregate_order_by(self) -> Any:
        return exclusions.open()

    @property
    def supports_distinct_on(self) -> Any:
        return exclusions.open()

    @property
    def regexp_match(self) -> Any:
        return exclusions.open()

    @property
    def regexp_replace(self) -> Any:
        return exclusions.open()

    @property
    def fetch_first(self) -> Any:
        return exclusions.open()

    @property
    def fetch_ties(self) -> Any:
        return exclusions.open()

    @property
    def fetch_no_order_by(self) -> Any:
        return exclusions.open()

    @property
    def fetch_offset_with_options(self) -> Any:
        return exclusions.open()

    @property
    def fetch_expression(self) -> Any:
        return exclusions.open()

    @property
    def update_from(self) -> Any:
        return exclusions.open()

    @property
    def delete_from(self) -> Any:
        return exclusions.open()

    @property
    def order_by_label_with_expression(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_or(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_and(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_not(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_xor(self) -> Any:
        return exclusions.open()

    @property
    def supports_bitwise_shift(self) -> Any:
        return exclusions.open()

    @property
    def mod_operator_as_percent_sign(self) -> Any:
        # The modulus is '%' in SQL; drivers with pyformat placeholders see it doubled.
        return exclusions.only_if(_pyformat, "the driver's paramstyle is not pyformat")

    @property
    def percent_schema_names(self) -> Any:
        return exclusions.open()

    def get_order_by_collation(self, config: Any) -> str:
        # "C" exists in every PostgreSQL database.
        return "C"

    # ------------------------------------------------------------------------------------
    # Types
    # ------------------------------------------------------------------------------------

    @property
    def uuid_data_type(self) -> Any:
        return exclusions.open()

    @property
    def array_type(self) -> Any:
        return exclusions.open()

    @property
    def json_type(self) -> Any:
        return exclusions.open()

    @property
    def datetime_interval(self) -> Any:
        return exclusions.open()

    @property
    def datetime_literals(self) -> Any:
        return exclusions.open()

    @property
    def datetime_timezone(self) -> Any:
        return exclusions.open()

    @property
    def time_timezone(self) -> Any:
        return exclusions.open()

    @property
    def timestamp_microseconds(self) -> Any:
        return exclusions.open()

    @property
    def datetime_historic(self) -> Any:
        return exclusions.open()

    @property
    def datetime_timezone_historic(self) -> Any:
        return exclusions.open()

    @property
    def date_historic(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_enotation_small(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_many_significant_digits(self) -> Any:
        return exclusions.open()

    @property
    def precision_numerics_retains_significant_digits(self) -> Any:
        return exclusions.open()

    @property
    def infinity_floats(self) -> Any:
        return exclusions.open()

    @property
    def float_or_double_precision_behaves_generically(self) -> Any:
        return exclusions.open()

    # ------------------------------------------------------------------------------------
    # Transactions, connections
    # ------------------------------------------------------------------------------------

    @property
    def isolation_level(self) -> Any:
        return exclusions.open()

    @property
    def non_default_isolation_level(self) -> Any:
        # An isolation level besides the default and AUTOCOMMIT (conftest.UNSTATED).
        return exclusions.open()

    @property
    def autocommit(self) -> Any:
        return exclusions.open()

    @property
    def skip_autocommit_rollback(self) -> Any:
        # Every dialect of the run has detect_autocommit_setting() and SQLAlchemy's
        # default do_rollback().
        return exclusions.open()

    @property
    def savepoints(self) -> Any:
        return exclusions.open()

    @property
    def two_phase_transactions(self) -> Any:
        return exclusions.open()

    @property
    def async_dialect(self) -> Any:
        return exclusions.only_if(_is_async, "the dialect is not an asyncio one")
