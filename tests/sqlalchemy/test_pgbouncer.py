"""An ORM workload through Debian's PgBouncer in transaction mode, on both dialects, with
``?statement_cache_size=0`` (pgwire's self-contained batches on the unnamed statement).

PgBouncer's pool holds two server sessions shared by four engines' connections, so a
named prepared statement would be missing on the session a later transaction lands on."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from tests.driver.test_pgbouncer_sync import bouncer  # noqa: F401  (the fixture)
from tests.pg import PostgresServer


def _model() -> tuple[sa.MetaData, type, type]:
    suffix = uuid.uuid4().hex[:8]

    class Base(orm.DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = f"author_{suffix}"
        id: orm.Mapped[int] = orm.mapped_column(sa.Identity(), primary_key=True)
        name: orm.Mapped[str]
        books: orm.Mapped[list[Book]] = orm.relationship(lazy="selectin")

    class Book(Base):
        __tablename__ = f"book_{suffix}"
        id: orm.Mapped[int] = orm.mapped_column(sa.Identity(), primary_key=True)
        author_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey(Author.id))
        title: orm.Mapped[str]

    return Base.metadata, Author, Book


def _url(port: int, driver: str) -> str:
    return f"postgresql+{driver}://trust_user@127.0.0.1:{port}/pgwire_test?statement_cache_size=0"


def _workload(session: orm.Session, author: type, book: type, round_: int) -> None:
    with session.begin():
        writer = author(name=f"writer {round_}")
        writer.books = [book(title=f"book {round_}.{i}") for i in range(3)]
        session.add(writer)
    with session.begin():
        found = session.scalars(sa.select(author).filter_by(name=f"writer {round_}")).one()
        assert sorted(b.title for b in found.books) == [f"book {round_}.{i}" for i in range(3)]
        session.execute(sa.update(book).where(book.author_id == found.id).values(title="read"))


def test_the_orm_runs_through_pgbouncer_in_transaction_mode(
    bouncer: int,  # noqa: F811
    pg_server: PostgresServer,
) -> None:
    metadata, author, book = _model()
    engines = [sa.create_engine(_url(bouncer, "pgwire"), pool_size=1) for _ in range(4)]
    metadata.create_all(engines[0])
    try:
        for round_ in range(10):
            for engine in engines:
                with orm.Session(engine) as session:
                    _workload(session, author, book, round_ * 10 + engines.index(engine))
        with orm.Session(engines[0]) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(book)) == 120
    finally:
        metadata.drop_all(engines[0])
        for engine in engines:
            engine.dispose()


def test_the_async_orm_runs_through_pgbouncer_in_transaction_mode(
    bouncer: int,  # noqa: F811
) -> None:
    metadata, author, book = _model()

    async def main() -> int:
        engines = [create_async_engine(_url(bouncer, "pgwire_async")) for _ in range(4)]
        async with engines[0].begin() as conn:
            await conn.run_sync(metadata.create_all)
        try:

            async def client(number: int) -> None:
                for round_ in range(10):
                    async with AsyncSession(engines[number]) as session:
                        await session.run_sync(_workload, author, book, round_ * 10 + number)

            await asyncio.gather(*(client(number) for number in range(4)))
            async with AsyncSession(engines[0]) as session:
                count = await session.scalar(sa.select(sa.func.count()).select_from(book))
        finally:
            async with engines[0].begin() as conn:
                await conn.run_sync(metadata.drop_all)
            for engine in engines:
                await engine.dispose()
        assert count is not None
        return count

    assert asyncio.run(main()) == 120


def test_a_statement_cache_breaks_in_transaction_mode(bouncer: int) -> None:  # noqa: F811
    """The checks above can fail: with named statements cached, engines sharing the
    pooler's two sessions run into statements prepared on the other session."""
    engines = [
        sa.create_engine(f"postgresql+pgwire://trust_user@127.0.0.1:{bouncer}/pgwire_test")
        for _ in range(4)
    ]
    with pytest.raises(sa.exc.DBAPIError, match="prepared statement"):
        for round_ in range(10):
            for engine in engines:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT :n + 1").bindparams(n=round_))
    for engine in engines:
        engine.dispose()
