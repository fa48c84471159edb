"""Alembic through both dialects: the migrations of ``migrations/`` upgrade and downgrade a
schema, and autogenerate, run on the migrated database, finds nothing to change."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from tests.pg import PostgresServer
from tests.sqlalchemy.conftest import url
from tests.sqlalchemy.migrations.models import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def _only(server: PostgresServer, schema: str, driver: str = "pgwire") -> str:
    """A URL whose sessions see the test's schema alone (not public): the comparison
    then covers every table there is."""
    return url(server, driver, options=f"-csearch_path={schema}")


def _tables(engine: sa.Engine, schema: str) -> set[str]:
    return set(sa.inspect(engine).get_table_names(schema=schema))


@pytest.mark.parametrize("driver", ["pgwire", "pgwire_async"])
def test_migrations_upgrade_and_downgrade_with_no_spurious_differences(
    pg_server: PostgresServer, schema: str, driver: str
) -> None:
    config = _config(_only(pg_server, schema, driver))
    # Inspection runs on the blocking dialect; the migrations on the one under test.
    inspector = sa.create_engine(_only(pg_server, schema))
    try:
        command.upgrade(config, "0001")
        assert _tables(inspector, schema) == {"account", "alembic_version"}
        command.upgrade(config, "head")
        assert _tables(inspector, schema) == {"account", "post", "alembic_version"}
        assert _differences(inspector) == []
        with inspector.connect() as conn:
            titles = conn.scalars(sa.text("SELECT title FROM post ORDER BY id")).all()
            assert titles == ["hello from first@example.com", "hello from second@example.com"]
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0002"
        command.downgrade(config, "0001")
        assert _tables(inspector, schema) == {"account", "alembic_version"}
        assert _differences(inspector) != []  # the comparison does see a missing table
        command.downgrade(config, "base")
        assert _tables(inspector, schema) == {"alembic_version"}
        with inspector.connect() as conn:
            types = conn.scalar(
                sa.text("SELECT count(*) FROM pg_type WHERE typname = 'account_status'")
            )
            assert types == 0
        command.upgrade(config, "head")
        assert _differences(inspector) == []
    finally:
        inspector.dispose()
