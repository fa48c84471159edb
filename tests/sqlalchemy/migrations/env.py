"""Alembic's environment for the dialect tests: runs the migrations of ``versions/`` on the
URL in the configuration, through ``postgresql+pgwire`` or, for ``postgresql+pgwire_async``,
through an async engine (Alembic's async recipe)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from tests.sqlalchemy.migrations.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None


def run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(url, poolclass=sa.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


if sa.engine.make_url(url).get_dialect().is_async:
    asyncio.run(run_async())
else:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
