"""The DSQL SQLAlchemy dialects, ``auroradsql+pgwire`` and ``auroradsql+pgwire_async``, against
the local endpoint with DSQL's rules (``rules_endpoint``): a model with foreign keys, a unique
index and an autoincrementing key is created and used through them, while PostgreSQL's dialect
is refused for it; DDL one statement per transaction, ``CREATE INDEX ASYNC`` waited for, no
savepoints, and ``run_in_transaction`` retrying real optimistic-concurrency conflicts."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateSequence, CreateTable

from pgwire.dsql_local import TEST_CREDENTIALS
from pgwire.dsql_local.rules import rule
from pgwire.sqlalchemy.base import IAM_POOL_RECYCLE
from pgwire.sqlalchemy.dsql import DDL_RETRIES, DSQLDialect_pgwire, run_in_transaction
from pgwire.sqlalchemy.dsql_aio import DSQLDialectAsync_pgwire, run_in_transaction_async
from tests.dsql.conftest import RunningEndpoint
from tests.pg import TRUST_USER, PostgresServer

CONNECT_ARGS: dict[str, Any] = {"credentials": TEST_CREDENTIALS, "connect_timeout": 10}


def dsql_url(
    endpoint: RunningEndpoint,
    driver: str = "auroradsql+pgwire",
    port: int | None = None,
    **query: Any,
) -> str:
    """A URL of the endpoint with nothing DSQL-specific in it: the dialect adds iam=dsql, the
    user admin and the database postgres itself."""
    params = {"hostaddr": "127.0.0.1", "sslrootcert": endpoint.endpoint.ca_file, **query}
    text = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{driver}://{endpoint.endpoint.endpoint}:{port or endpoint.port}/?{text}"


def postgres_url(endpoint: RunningEndpoint) -> str:
    """The same endpoint through PostgreSQL's dialect, with IAM asked for explicitly."""
    ca = endpoint.endpoint.ca_file
    return (
        f"postgresql+pgwire://admin@{endpoint.endpoint.endpoint}:{endpoint.port}/postgres"
        f"?iam=dsql&hostaddr=127.0.0.1&sslrootcert={ca}"
    )


class Model:
    """Authors (a UUID key and a unique index), their books (a foreign key to the author) and
    the books' reviews (an autoincrementing integer key and a foreign key to the book), in a
    schema of their own."""

    def __init__(self, schema: str) -> None:
        class Base(orm.DeclarativeBase):
            metadata = sa.MetaData(schema=schema)

        class Author(Base):
            __tablename__ = "author"
            id: orm.Mapped[uuid.UUID] = orm.mapped_column(
                primary_key=True, server_default=sa.func.gen_random_uuid()
            )
            email: orm.Mapped[str] = orm.mapped_column(sa.String(100), unique=True, index=True)
            books: orm.Mapped[list[Book]] = orm.relationship(back_populates="author")

        class Book(Base):
            __tablename__ = "book"
            id: orm.Mapped[uuid.UUID] = orm.mapped_column(
                primary_key=True, server_default=sa.func.gen_random_uuid()
            )
            author_id: orm.Mapped[uuid.UUID] = orm.mapped_column(sa.ForeignKey(Author.id))
            title: orm.Mapped[str] = orm.mapped_column(sa.Text)
            author: orm.Mapped[Author] = orm.relationship(back_populates="books")
            reviews: orm.Mapped[list[Review]] = orm.relationship(back_populates="book")

        class Review(Base):
            __tablename__ = "review"
            id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
            book_id: orm.Mapped[uuid.UUID] = orm.mapped_column(sa.ForeignKey(Book.id))
            stars: orm.Mapped[int]
            book: orm.Mapped[Book] = orm.relationship(back_populates="reviews")

        self.schema = schema
        self.metadata = Base.metadata
        self.Author, self.Book, self.Review = Author, Book, Review

    def fill(self, session: Any) -> None:
        author = self.Author(email="ada@example.com")
        book = self.Book(title="Notes", author=author)
        book.reviews = [self.Review(stars=5), self.Review(stars=4)]
        session.add(author)

    def titles_and_stars(self) -> Any:
        return (
            sa.select(self.Author.email, self.Book.title, self.Review.id, self.Review.stars)
            .join(self.Author.books)
            .join(self.Book.reviews)
            .order_by(self.Review.id)
        )


@pytest.fixture
def schema(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh schema of the endpoint's upstream user (made and dropped directly on
    PostgreSQL, around the test)."""
    name = f"dsql_sa_{uuid.uuid4().hex[:10]}"
    pg_server.psql(f"CREATE SCHEMA {name} AUTHORIZATION {TRUST_USER.name}")
    yield name
    pg_server.psql(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def make_engine(rules_endpoint: RunningEndpoint) -> Iterator[Callable[..., sa.Engine]]:
    """``make_engine(**create_engine_args)``: an ``auroradsql+pgwire`` engine on the endpoint
    with DSQL's rules; disposed at teardown."""
    engines: list[sa.Engine] = []

    def make(url: str | None = None, **kwargs: Any) -> sa.Engine:
        kwargs.setdefault("connect_args", CONNECT_ARGS)
        engine = sa.create_engine(url or dsql_url(rules_endpoint), **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def _foreign_keys(pg_server: PostgresServer, schema: str) -> list[tuple[Any, ...]]:
    return pg_server.psql(
        "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        f"WHERE c.contype = 'f' AND n.nspname = '{schema}'"
    )


# --------------------------------------------------------------------------------------
# The model, through auroradsql+pgwire and through postgresql+pgwire
# --------------------------------------------------------------------------------------


def test_create_all_of_a_model_with_foreign_keys_works_and_the_orm_uses_it(
    make_engine: Callable[..., sa.Engine], pg_server: PostgresServer, schema: str
) -> None:
    model = Model(schema)
    engine = make_engine()
    model.metadata.create_all(engine)

    with orm.Session(engine) as session:
        model.fill(session)
        session.commit()
    with orm.Session(engine) as session:
        rows = session.execute(model.titles_and_stars()).all()
        assert [(email, title, stars) for email, title, _, stars in rows] == [
            ("ada@example.com", "Notes", 5),
            ("ada@example.com", "Notes", 4),
        ]
        assert all(isinstance(review_id, int) for _, _, review_id, _ in rows)
        author = session.scalars(sa.select(model.Author)).one()
        assert [book.title for book in author.books] == ["Notes"]
        # The unique index is there, and enforced.
        session.add(model.Author(email="ada@example.com"))
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()

    # No foreign key reached the database; the index was built by a job that completed.
    assert _foreign_keys(pg_server, schema) == []
    index = pg_server.psql(
        "SELECT i.indisunique, i.indisvalid FROM pg_index i JOIN pg_class c "
        "ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relname = 'ix_{schema}_author_email' AND n.nspname = '{schema}'"
    )
    assert index == [(True, True)]
    jobs = pg_server.psql(
        f"SELECT status FROM sys.jobs WHERE object_name = '{schema}.ix_{schema}_author_email'"
    )
    assert jobs == [("completed",)]

    model.metadata.drop_all(engine)
    assert pg_server.psql(f"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'") == [(0,)]


def test_the_same_model_through_postgresql_pgwire_is_refused_for_its_foreign_keys(
    rules_endpoint: RunningEndpoint, pg_server: PostgresServer, schema: str
) -> None:
    model = Model(schema)
    # Even with each statement in a transaction of its own, as DSQL needs: the author table
    # and its index are made, the book table is refused for its foreign key.
    engine = sa.create_engine(
        postgres_url(rules_endpoint), connect_args=CONNECT_ARGS, isolation_level="AUTOCOMMIT"
    )
    try:
        with pytest.raises(sa.exc.NotSupportedError) as caught:
            model.metadata.create_all(engine)
        foreign_key = rule("foreign-key")
        assert caught.value.orig.sqlstate == foreign_key.sqlstate  # type: ignore[union-attr]
        assert caught.value.orig.message == foreign_key.message  # type: ignore[union-attr]
        assert "CREATE TABLE" in str(caught.value.statement)
        assert "book" in str(caught.value.statement)
        # The review table fails for its SERIAL key before its foreign key comes up.
        with pytest.raises(sa.exc.NotSupportedError) as serial:
            model.Review.__table__.create(engine)  # type: ignore[attr-defined]
        assert serial.value.orig.message == rule("serial").message  # type: ignore[union-attr]
    finally:
        engine.dispose()
    assert _foreign_keys(pg_server, schema) == []


def test_postgresql_pgwire_runs_create_all_in_one_transaction_which_dsql_refuses(
    rules_endpoint: RunningEndpoint, schema: str
) -> None:
    engine = sa.create_engine(postgres_url(rules_endpoint), connect_args=CONNECT_ARGS)
    try:
        with pytest.raises(sa.exc.NotSupportedError) as caught:
            Model(schema).metadata.create_all(engine)
        assert caught.value.orig.message == rule("one-ddl").message  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_the_refusal_is_dsqls_the_same_model_passes_with_postgresql_rules(
    postgres_endpoint: RunningEndpoint, pg_server: PostgresServer, schema: str
) -> None:
    engine = sa.create_engine(postgres_url(postgres_endpoint), connect_args=CONNECT_ARGS)
    try:
        Model(schema).metadata.create_all(engine)
    finally:
        engine.dispose()
    assert len(_foreign_keys(pg_server, schema)) == 2


def test_the_async_dialect_creates_and_uses_the_model(
    rules_endpoint: RunningEndpoint, pg_server: PostgresServer, schema: str
) -> None:
    model = Model(schema)

    async def main() -> list[tuple[str, int]]:
        engine = create_async_engine(
            dsql_url(rules_endpoint, "auroradsql+pgwire_async"), connect_args=CONNECT_ARGS
        )
        try:
            async with engine.begin() as conn:
                await conn.run_sync(model.metadata.create_all)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            async with sessions.begin() as session:
                model.fill(session)
            async with sessions() as session:
                rows = (await session.execute(model.titles_and_stars())).all()
            async with engine.begin() as conn:
                await conn.run_sync(model.metadata.drop_all)
            assert engine.sync_engine.pool._recycle == IAM_POOL_RECYCLE
            return [(title, stars) for _, title, _, stars in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == [("Notes", 5), ("Notes", 4)]
    assert _foreign_keys(pg_server, schema) == []


def test_the_dialect_works_over_the_websocket_endpoint(
    rules_endpoint: RunningEndpoint, make_engine: Callable[..., sa.Engine], schema: str
) -> None:
    model = Model(schema)
    port = rules_endpoint.endpoint.websocket_port
    engine = make_engine(dsql_url(rules_endpoint, port=port, transport="websocket"))
    model.metadata.create_all(engine)
    with orm.Session(engine) as session:
        model.fill(session)
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(model.Review)) == 2
    model.metadata.drop_all(engine)


# --------------------------------------------------------------------------------------
# DDL: one statement per transaction, CREATE INDEX ASYNC waited for
# --------------------------------------------------------------------------------------


def test_ddl_commits_before_and_after_itself_so_dml_may_follow_in_one_block(
    make_engine: Callable[..., sa.Engine], schema: str
) -> None:
    metadata = sa.MetaData(schema=schema)
    first = sa.Table("first", metadata, sa.Column("id", sa.Integer, primary_key=True))
    second = sa.Table("second", metadata, sa.Column("id", sa.Integer, primary_key=True))
    engine = make_engine()
    first.create(engine)
    with engine.begin() as conn:
        conn.execute(first.insert(), [{}, {}])
        second.create(conn)
        conn.execute(second.insert(), [{}])
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(first)) == 2
        assert conn.scalar(sa.select(sa.func.count()).select_from(second)) == 1


def test_an_index_on_a_table_with_rows_is_built_asynchronously(
    make_engine: Callable[..., sa.Engine], pg_server: PostgresServer, schema: str
) -> None:
    metadata = sa.MetaData(schema=schema)
    table = sa.Table(
        "item",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text),
    )
    engine = make_engine()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"name": "a"}, {"name": "b"}])
    sa.Index("item_name", table.c.name, unique=True).create(engine)
    jobs = pg_server.psql(f"SELECT status FROM sys.jobs WHERE object_name = '{schema}.item_name'")
    assert jobs == [("completed",)]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(table.insert(), {"name": "a"})


def test_a_failed_index_job_raises(make_engine: Callable[..., sa.Engine], schema: str) -> None:
    metadata = sa.MetaData(schema=schema)
    table = sa.Table(
        "dup",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text),
    )
    engine = make_engine()
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"name": "same"}, {"name": "same"}])
    with pytest.raises(
        sa.exc.DatabaseError,
        match=r"CREATE INDEX ASYNC job \w+ ended failed: could not create unique index",
    ):
        sa.Index("dup_name", table.c.name, unique=True).create(engine)


def _reader_of(engine: sa.Engine, schema: str) -> tuple[sa.Table, sa.Connection]:
    """A table, and an open transaction that has read it (and holds a lock on it)."""
    table = sa.Table("held", sa.MetaData(schema=schema), sa.Column("id", sa.Integer))
    table.create(engine)
    reader = engine.connect()
    reader.execute(sa.select(table))
    return table, reader


def test_a_ddl_statement_that_loses_a_conflict_runs_again(
    make_engine: Callable[..., sa.Engine], pg_server: PostgresServer, schema: str
) -> None:
    engine = make_engine()
    table, reader = _reader_of(engine, schema)
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        reader.rollback()  # the other transaction ends before the retry

    engine.dialect._pause = pause  # type: ignore[attr-defined]
    try:
        table.drop(engine)  # first meets the reader's lock: OC001, then runs again
    finally:
        reader.close()
    assert len(pauses) == 1
    assert pg_server.psql(f"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'") == [(0,)]


def test_a_ddl_statement_that_keeps_losing_raises_the_conflict(
    make_engine: Callable[..., sa.Engine], schema: str
) -> None:
    engine = make_engine()
    table, reader = _reader_of(engine, schema)
    pauses: list[float] = []
    engine.dialect._pause = pauses.append  # type: ignore[attr-defined]
    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            table.drop(engine)
    finally:
        reader.close()
    assert caught.value.orig.message == rule("occ-schema").message  # type: ignore[union-attr]
    assert len(pauses) == DDL_RETRIES


# --------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------


def test_savepoints_and_two_phase_commit_are_refused_before_anything_is_sent(
    make_engine: Callable[..., sa.Engine],
) -> None:
    engine = make_engine()
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
        with pytest.raises(sa.exc.NotSupportedError, match="no savepoints"):
            conn.begin_nested()
        # The transaction is untouched: no SAVEPOINT reached DSQL to fail it.
        assert conn.scalar(sa.text("SELECT 2")) == 2
    with engine.connect() as conn, pytest.raises(sa.exc.NotSupportedError, match="two-phase"):
        conn.begin_twophase()
    with orm.Session(engine) as session:
        session.begin_nested()  # the ORM asks for the savepoint when it needs the connection
        with pytest.raises(sa.exc.NotSupportedError, match="no savepoints"):
            session.scalar(sa.text("SELECT 3"))


def test_only_dsqls_isolation_levels_are_offered(make_engine: Callable[..., sa.Engine]) -> None:
    engine = make_engine(isolation_level="SERIALIZABLE")
    with pytest.raises(sa.exc.ArgumentError, match="REPEATABLE READ"):
        engine.connect()
    with make_engine(isolation_level="AUTOCOMMIT").connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    with make_engine().connect() as conn:
        assert conn.get_isolation_level() == "REPEATABLE READ"


# --------------------------------------------------------------------------------------
# URLs and compiled DDL (no server)
# --------------------------------------------------------------------------------------


def test_the_url_means_iam_dsql_and_recycles_before_an_hour() -> None:
    url = "auroradsql+pgwire://abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
    engine = sa.create_engine(url)
    assert isinstance(engine.dialect, DSQLDialect_pgwire)
    _, params = engine.dialect.create_connect_args(engine.url)
    assert params["iam"] == "dsql"
    assert "user" not in params  # pgwire.dsql makes it admin, and the database postgres
    assert engine.pool._recycle == IAM_POOL_RECYCLE < 3600
    assert sa.create_engine(url, pool_recycle=600).pool._recycle == 600
    async_engine = create_async_engine(url.replace("+pgwire", "+pgwire_async"))
    assert isinstance(async_engine.dialect, DSQLDialectAsync_pgwire)
    assert async_engine.sync_engine.pool._recycle == IAM_POOL_RECYCLE


def _ddl(element: Any, **dialect_args: Any) -> str:
    return " ".join(str(element.compile(dialect=DSQLDialect_pgwire(**dialect_args))).split())


def test_an_autoincrementing_integer_key_is_a_bigint_identity_not_serial() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.SmallInteger, primary_key=True))
    assert _ddl(CreateTable(table)) == (
        "CREATE TABLE t ( id BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 65536), "
        "PRIMARY KEY (id) )"
    )
    assert "(CACHE 1)" in _ddl(CreateTable(table), identity_cache=1)
    with pytest.raises(sa.exc.ArgumentError, match="CACHE 1 or 65536"):
        DSQLDialect_pgwire(identity_cache=100)


def test_identity_columns_and_sequences_get_dsqls_cache_unless_they_name_one() -> None:
    table = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("id", sa.Integer, sa.Identity(always=True, start=10), primary_key=True),
        sa.Column("n", sa.BigInteger, sa.Identity(cache=1)),
    )
    ddl = _ddl(CreateTable(table))
    assert "id BIGINT GENERATED ALWAYS AS IDENTITY (START WITH 10 CACHE 65536)" in ddl
    assert "n BIGINT GENERATED BY DEFAULT AS IDENTITY (CACHE 1)" in ddl
    assert _ddl(CreateSequence(sa.Sequence("s", start=5))) == (
        "CREATE SEQUENCE s START WITH 5 CACHE 65536"
    )


def test_foreign_keys_are_left_out_and_cannot_be_added() -> None:
    metadata = sa.MetaData()
    sa.Table("parent", metadata, sa.Column("id", sa.BigInteger, primary_key=True))
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey("parent.id"), nullable=False),
    )
    ddl = _ddl(CreateTable(child))
    assert "REFERENCES" not in ddl and "FOREIGN KEY" not in ddl
    assert "parent_id BIGINT NOT NULL" in ddl
    (constraint,) = child.foreign_key_constraints
    with pytest.raises(sa.exc.CompileError, match="no foreign key constraints"):
        _ddl(AddConstraint(constraint))


def test_indexes_are_created_async_and_never_concurrently() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Text), sa.Column("b", sa.Text))
    unique = sa.Index("t_a", table.c.a, unique=True, postgresql_include=["b"])
    assert _ddl(CreateIndex(unique)) == "CREATE UNIQUE INDEX ASYNC t_a ON t (a) INCLUDE (b)"
    assert _ddl(CreateIndex(sa.Index("t_b", table.c.b), if_not_exists=True)) == (
        "CREATE INDEX ASYNC IF NOT EXISTS t_b ON t (b)"
    )
    concurrently = sa.Index("t_ab", table.c.a, table.c.b, postgresql_concurrently=True)
    with pytest.raises(sa.exc.CompileError, match="never CONCURRENTLY"):
        _ddl(CreateIndex(concurrently))


def test_enums_are_varchar_for_there_is_no_create_type() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("kind", sa.Enum("small", "large", name="k")))
    assert "kind VARCHAR(5)" in _ddl(CreateTable(table))


# --------------------------------------------------------------------------------------
# run_in_transaction: retries of real conflicts
# --------------------------------------------------------------------------------------


def _counter(engine: sa.Engine, schema: str) -> sa.Table:
    table = sa.Table(
        "counter",
        sa.MetaData(schema=schema),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("n", sa.Integer, nullable=False),
    )
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), {"id": 1, "n": 0})
    return table


WORKERS = 8
INCREMENTS = 10
RETRY = {"retries": 200, "base_delay": 0.001, "max_delay": 0.02}


def test_concurrent_sessions_all_count_with_run_in_transaction(
    make_engine: Callable[..., sa.Engine], schema: str
) -> None:
    engine = make_engine(pool_size=WORKERS)
    counter = _counter(engine, schema)
    sessions = orm.sessionmaker(engine)
    attempts = []
    start = threading.Barrier(WORKERS)

    def increment(session: orm.Session) -> int:
        attempts.append(1)
        value = session.scalar(sa.select(counter.c.n).where(counter.c.id == 1))
        assert value is not None
        session.execute(counter.update().where(counter.c.id == 1).values(n=value + 1))
        return value + 1

    def worker() -> None:
        start.wait()
        for _ in range(INCREMENTS):
            run_in_transaction(sessions, increment, **RETRY)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert conn.scalar(sa.select(counter.c.n)) == WORKERS * INCREMENTS
    assert len(attempts) > WORKERS * INCREMENTS  # conflicts happened, and were retried


def test_concurrent_async_sessions_all_count_with_run_in_transaction_async(
    make_engine: Callable[..., sa.Engine], rules_endpoint: RunningEndpoint, schema: str
) -> None:
    counter = _counter(make_engine(), schema)
    attempts = []

    async def increment(session: AsyncSession) -> None:
        attempts.append(1)
        value = await session.scalar(sa.select(counter.c.n).where(counter.c.id == 1))
        assert value is not None
        await asyncio.sleep(0)  # let the others read the same value
        await session.execute(counter.update().where(counter.c.id == 1).values(n=value + 1))

    async def main() -> int | None:
        engine = create_async_engine(
            dsql_url(rules_endpoint, "auroradsql+pgwire_async"),
            connect_args=CONNECT_ARGS,
            pool_size=WORKERS,
        )
        sessions = async_sessionmaker(engine)

        async def worker() -> None:
            for _ in range(INCREMENTS):
                await run_in_transaction_async(sessions, increment, **RETRY)

        try:
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
            async with engine.connect() as conn:
                return await conn.scalar(sa.select(counter.c.n))
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == WORKERS * INCREMENTS
    assert len(attempts) > WORKERS * INCREMENTS


def test_a_conflict_is_retried_until_it_clears_and_raised_when_retries_run_out(
    make_engine: Callable[..., sa.Engine], schema: str
) -> None:
    engine = make_engine()
    counter = _counter(engine, schema)
    holder = engine.connect()
    holder.execute(counter.update().values(n=100))  # an open transaction has written the row
    attempts: list[int] = []

    def increment(conn: sa.Connection) -> None:
        attempts.append(1)
        if len(attempts) == 3:
            holder.rollback()  # the other transaction goes away: the third attempt wins
        conn.execute(counter.update().values(n=counter.c.n + 1))

    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            run_in_transaction(engine, increment, retries=1, base_delay=0)
        assert "OC000" in str(caught.value)
        assert len(attempts) == 2
        attempts.clear()
        run_in_transaction(engine, increment, retries=5, base_delay=0)
        assert len(attempts) == 3
    finally:
        holder.close()
    with engine.connect() as conn:
        assert conn.scalar(sa.select(counter.c.n)) == 1


def test_other_errors_are_not_retried(make_engine: Callable[..., sa.Engine]) -> None:
    calls: list[int] = []

    def fails(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(sa.text("SELECT 1 / 0"))

    with pytest.raises(sa.exc.DataError):
        run_in_transaction(make_engine(), fails, retries=5, base_delay=0)
    assert calls == [1]
    with pytest.raises(ValueError, match="retries"):
        run_in_transaction(make_engine(), fails, retries=-1)
