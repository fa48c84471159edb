"""The ORM on both dialects: a small model with relationships, the unit of work, eager and
lazy loading, bulk INSERT ... RETURNING, and streaming; the blocking tests use a
``Session``, the async ones an ``AsyncSession`` on ``postgresql+pgwire_async``."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column, relationship


class Base(AsyncAttrs, orm.DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    since: Mapped[datetime.datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    orders: Mapped[list[Order]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Order.id"
    )


class Order(Base):
    __tablename__ = "order"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id"))
    total: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(10, 2))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[Line]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class Line(Base):
    __tablename__ = "line"

    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("order.id"))
    item: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), default=list)


def _fill(session: orm.Session) -> None:
    for number in range(3):
        customer = Customer(name=f"customer {number}")
        for order_number in range(number + 1):
            order = Order(
                total=decimal.Decimal(f"{order_number}.50"), details={"rush": order_number % 2 == 0}
            )
            order.lines = [Line(item=f"item {i}", tags=["a", str(i)]) for i in range(2)]
            customer.orders.append(order)
        session.add(customer)


# ----------------------------------------------------------------------------------------
# Blocking
# ----------------------------------------------------------------------------------------


@pytest.fixture
def session(engine: sa.Engine) -> orm.Session:
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        _fill(session)
        session.commit()
        return session


def test_the_unit_of_work_inserts_updates_and_deletes(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        _fill(session)
        session.flush()
        ids = [customer.id for customer in session.scalars(sa.select(Customer))]
        assert len(ids) == 3 and all(isinstance(id_, int) for id_ in ids)
        session.commit()
        first = session.scalars(sa.select(Customer).order_by(Customer.id)).first()
        assert first is not None
        assert first.since.tzinfo is not None  # the server default, fetched back
        first.name = "renamed"
        first.orders[0].details = {"rush": False, "note": "changed"}
        session.delete(session.scalars(sa.select(Customer).filter_by(name="customer 2")).one())
        session.commit()
    with orm.Session(engine) as session:
        names = session.scalars(sa.select(Customer.name).order_by(Customer.name)).all()
        assert names == ["customer 1", "renamed"]
        assert session.scalar(sa.select(sa.func.count()).select_from(Line)) == 6
        changed = session.scalars(sa.select(Order).join(Customer).filter_by(name="renamed")).one()
        assert changed.details == {"rush": False, "note": "changed"}


def test_a_violated_constraint_rolls_back_the_session(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add_all([Customer(name="twin"), Customer(name="twin")])
        with pytest.raises(sa.exc.IntegrityError) as caught:
            session.commit()
        assert caught.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
        session.rollback()
        session.add(Customer(name="single"))
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 1


def test_lazy_loads_query_on_access(engine: sa.Engine, session: orm.Session) -> None:
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with orm.Session(engine) as fresh:
        customer = fresh.scalars(sa.select(Customer).filter_by(name="customer 2")).one()
        before = len(statements)
        assert [order.total for order in customer.orders] == [
            decimal.Decimal("0.50"),
            decimal.Decimal("1.50"),
            decimal.Decimal("2.50"),
        ]
        # One query for the orders, one (selectin) for all their lines.
        assert len(statements) - before == 2
        assert [line.tags for line in customer.orders[0].lines] == [["a", "0"], ["a", "1"]]
        assert len(statements) - before == 2


@pytest.mark.parametrize("loader", [orm.joinedload, orm.selectinload, orm.subqueryload])
def test_eager_loads_need_no_query_on_access(
    engine: sa.Engine, session: orm.Session, loader: Any
) -> None:
    with orm.Session(engine) as fresh:
        customers = (
            fresh.scalars(
                sa.select(Customer).options(loader(Customer.orders)).order_by(Customer.id)
            )
            .unique()
            .all()
        )
        fresh.expunge_all()  # detached: any lazy load now would raise
        assert [len(customer.orders) for customer in customers] == [1, 2, 3]
        assert all(len(order.lines) == 2 for c in customers for order in c.orders)


def test_bulk_insert_returns_the_new_objects(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    rows = [{"name": f"bulk {i}"} for i in range(1500)]
    with orm.Session(engine) as session:
        customers = session.scalars(
            sa.insert(Customer).returning(Customer, sort_by_parameter_order=True), rows
        ).all()
        assert [c.name for c in customers] == [row["name"] for row in rows]
        assert all(c.since is not None for c in customers)
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 1500


def test_add_all_batches_inserts_with_returning(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with orm.Session(engine) as session:
        session.add_all(Customer(name=f"many {i}") for i in range(200))
        session.flush()
        inserts = [s for s in statements if s.startswith("INSERT")]
        assert len(inserts) == 1 and "RETURNING" in inserts[0]  # insertmanyvalues: one batch
        session.commit()


def test_yield_per_streams_mapped_objects(engine: sa.Engine, session: orm.Session) -> None:
    with orm.Session(engine) as fresh:
        result = fresh.scalars(sa.select(Line).order_by(Line.id).execution_options(yield_per=4))
        items = [line.item for line in result]
    assert len(items) == 12


# ----------------------------------------------------------------------------------------
# asyncio
# ----------------------------------------------------------------------------------------

pytest_anyio = pytest.mark.anyio


@pytest.fixture
async def async_session(async_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    async with async_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return async_sessionmaker(async_engine, expire_on_commit=False)


@pytest_anyio
async def test_async_unit_of_work_and_loads(
    async_session: async_sessionmaker[AsyncSession],
) -> None:
    async with async_session() as session:
        await session.run_sync(_fill)
        await session.commit()
    async with async_session() as session:
        customers = (
            await session.scalars(
                sa.select(Customer).options(orm.selectinload(Customer.orders)).order_by(Customer.id)
            )
        ).all()
        assert [len(c.orders) for c in customers] == [1, 2, 3]
        assert customers[2].orders[2].lines[1].tags == ["a", "1"]
        # A lazy load, awaited explicitly.
        order = await session.get(Order, customers[1].orders[0].id)
        assert order is not None
        owner = await order.awaitable_attrs.customer
        assert owner.name == "customer 1"
        customers[0].name = "renamed"
        await session.delete(customers[2])
        await session.commit()
    async with async_session() as session:
        names = (await session.scalars(sa.select(Customer.name).order_by(Customer.name))).all()
        assert names == ["customer 1", "renamed"]


@pytest_anyio
async def test_async_bulk_insert_with_returning(
    async_session: async_sessionmaker[AsyncSession],
) -> None:
    rows = [{"name": f"bulk {i}"} for i in range(1200)]
    async with async_session() as session:
        customers = (
            await session.scalars(
                sa.insert(Customer).returning(Customer, sort_by_parameter_order=True), rows
            )
        ).all()
        assert [c.name for c in customers] == [row["name"] for row in rows]
        await session.commit()


@pytest_anyio
async def test_async_stream_of_mapped_objects(
    async_session: async_sessionmaker[AsyncSession],
) -> None:
    async with async_session() as session:
        session.add_all(Customer(name=f"streamed {i}") for i in range(300))
        await session.commit()
        seen = 0
        stream = await session.stream_scalars(
            sa.select(Customer).order_by(Customer.id).execution_options(yield_per=50)
        )
        async for partition in stream.partitions():
            assert len(partition) <= 50
            seen += len(partition)
        assert seen == 300
