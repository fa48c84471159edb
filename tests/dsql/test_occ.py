"""Optimistic-concurrency conflicts: recognising them, and retrying transactions (blocking and
async) with backoff, on stand-in connections (the end-to-end retries are in test_endpoint)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from unittest import mock

import anyio
import pytest

from pgwire import dsql, retry_async
from pgwire.errors import SerializationFailure, UniqueViolation, error_from_fields

OC000 = "change conflicts with another transaction, please retry: (OC000)"


def occ(code: str = "40001", message: str = OC000) -> Exception:
    return error_from_fields({"S": "ERROR", "C": code, "M": message})


def test_sqlstate_40001_is_an_occ_error() -> None:
    assert dsql.is_occ_error(occ())
    assert isinstance(occ(), SerializationFailure)


def test_oc001_in_the_message_is_an_occ_error() -> None:
    error = occ("XX000", "schema has been updated by another transaction, please retry: (OC001)")
    assert dsql.is_occ_error(error)


def test_other_errors_are_not_occ_errors() -> None:
    assert not dsql.is_occ_error(occ("23505", "duplicate key"))
    assert not dsql.is_occ_error(ValueError("nothing"))


class FakeConnection:
    """Counts transactions; the body's exceptions pass through as a real one's do."""

    def __init__(self) -> None:
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[FakeConnection]:
        self.transactions += 1
        yield self


class FakeAsyncConnection(FakeConnection):
    @asynccontextmanager  # type: ignore[override]
    async def transaction(self) -> AsyncIterator[FakeAsyncConnection]:
        self.transactions += 1
        yield self


class FakePool:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.acquired = 0

    @contextmanager
    def acquire(self) -> Iterator[Any]:
        self.acquired += 1
        yield self.conn


def failing(times: int, error: Exception | None = None) -> Any:
    calls = []

    def fn(conn: Any) -> str:
        calls.append(conn)
        if len(calls) <= times:
            raise error or occ()
        return "done"

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_an_occ_conflict_is_retried_until_it_succeeds() -> None:
    conn = FakeConnection()
    fn = failing(2)
    with mock.patch("time.sleep") as sleep:
        assert dsql.run_transaction(conn, fn, retries=3) == "done"  # type: ignore[arg-type]
    assert len(fn.calls) == 3 and conn.transactions == 3
    assert sleep.call_count == 2


def test_retries_give_up_with_the_last_conflict() -> None:
    fn = failing(10)
    with mock.patch("time.sleep"), pytest.raises(SerializationFailure):
        dsql.run_transaction(FakeConnection(), fn, retries=2)  # type: ignore[arg-type]
    assert len(fn.calls) == 3


def test_other_errors_pass_through_at_once() -> None:
    fn = failing(1, occ("23505", "duplicate key"))
    with pytest.raises(UniqueViolation):
        dsql.run_transaction(FakeConnection(), fn)  # type: ignore[arg-type]
    assert len(fn.calls) == 1


def test_a_pool_lends_a_connection_per_attempt() -> None:
    pool = FakePool(FakeConnection())
    with mock.patch("time.sleep"):
        dsql.run_transaction(pool, failing(1), base_delay=0)  # type: ignore[arg-type]
    assert pool.acquired == 2


def test_backoff_grows_exponentially_with_full_jitter_under_the_cap() -> None:
    with mock.patch("random.uniform", side_effect=lambda low, high: high) as uniform:
        delays = [retry_async.backoff(attempt, 0.1, 0.5) for attempt in range(5)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert all(call.args[0] == 0 for call in uniform.call_args_list)


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries"):
        dsql.run_transaction(FakeConnection(), failing(0), retries=-1)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_async_version_retries_and_awaits_the_body() -> None:
    conn = FakeAsyncConnection()
    calls = []

    async def fn(conn: Any) -> int:
        calls.append(conn)
        await anyio.sleep(0)
        if len(calls) < 3:
            raise occ()
        return 42

    result = await dsql.run_transaction_async(conn, fn, base_delay=0.001)  # type: ignore[arg-type]
    assert result == 42 and conn.transactions == 3


@pytest.mark.anyio
async def test_the_async_version_passes_other_errors_through() -> None:
    with pytest.raises(UniqueViolation):
        await dsql.run_transaction_async(
            FakeAsyncConnection(),  # type: ignore[arg-type]
            failing(1, occ("23505", "duplicate key")),
        )
