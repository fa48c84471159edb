# GENERATED from tests/chaos/test_chaos_async.py by scripts/gen_sync.py: do not edit.
"""Chaos: the server's byte stream cut at a random offset, or one of its bytes flipped, in
the startup, in queries, in COPY both ways and in pipelines, on the blocking driver and on
asyncio, uvloop and trio (one source, ``test_chaos_async.py``, for both drivers).

Every trial opens a connection through :class:`~tests.chaos.relay.ChaosRelay`, runs one
workload and closes the connection.  Its outcome must be, within a deadline:

* the right answer;
* or one of pgwire's own exceptions (:class:`pgwire.errors.Error`), or the
  ``TimeoutError`` that ``command_timeout`` is documented to raise;
* or, for a flipped byte only, a different answer when the byte was inside a message
  rather than in its length word: the protocol has no checksum, so a flipped value cannot
  be noticed, but a broken length must always be.

Never a raw Python exception, never a hang (the deadline is the test's, well beyond the
driver's own timeouts).  Offsets come from a seeded generator: the same trials run on every
loop, and a failure names its offset.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import pgwire
from pgwire import errors
from pgwire.sync import Connection
from tests.chaos.relay import ChaosRelay, Cut, Fault, Flip
from tests.concurrency_sync import within
from tests.pg import TRUST_USER, PostgresServer

#: Trials per workload and kind of fault, on each loop (PGWIRE_CHAOS_TRIALS for a longer
#: run than CI's).
TRIALS = int(os.environ.get("PGWIRE_CHAOS_TRIALS", "10"))
#: Far beyond the driver's timeouts: reaching it is a hang.
DEADLINE = 30.0
#: pgwire's own outcomes of a broken stream.
ALLOWED = (errors.Error, TimeoutError)

Workload = Callable[[Connection], Awaitable[Any]]

ROWS_SQL = "SELECT i, repeat('x', i % 50) FROM generate_series(1, 200) AS i"
ROWS = [(i, "x" * (i % 50)) for i in range(1, 201)]
COPY_SQL = "COPY (SELECT i, md5(i::text) FROM generate_series(1, 200) AS i) TO STDOUT"
COPY_TEXT = "".join(f"{i}\t{hashlib.md5(str(i).encode()).hexdigest()}\n" for i in range(1, 201))


def startup(conn: Connection) -> Any:
    return conn.fetchval("SELECT 1")


def queries(conn: Connection) -> Any:
    rows = [tuple(row) for row in conn.fetch(ROWS_SQL)]
    return rows, conn.fetchval("SELECT $1::int + 1", 41), conn.execute("SELECT 1")


def copy(conn: Connection) -> Any:
    data = conn.copy_out(COPY_SQL)
    conn.execute("CREATE TEMP TABLE copied (i int, h text)")
    tag = conn.copy_in("COPY copied FROM STDIN", data)
    return data, tag, conn.fetchval("SELECT sum(i) FROM copied")


def pipeline(conn: Connection) -> Any:
    with conn.pipeline() as p:
        one = p.fetchval("SELECT $1::int", 1)
        rows = p.fetch(ROWS_SQL)
        tag = p.execute("SELECT 2")
        last = p.fetchrow("SELECT $1::text, $2::int", "end", 3)
    return one.result(), [tuple(r) for r in rows.result()], tag.result(), tuple(last.result())


WORKLOADS: dict[str, tuple[Workload, Any]] = {
    "startup": (startup, 1),
    "queries": (queries, (ROWS, 42, "SELECT 1")),
    "copy": (copy, (COPY_TEXT.encode(), "COPY 200", 20100)),
    "pipeline": (pipeline, (1, ROWS, "SELECT 1", ("end", 3))),
}


def dsn(server: PostgresServer, relay: ChaosRelay) -> str:
    return server.dsn(
        TRUST_USER.name, host="127.0.0.1", port=relay.port, sslmode="disable", connect_timeout=3
    )


def run(server: PostgresServer, relay: ChaosRelay, workload: Workload) -> Any:
    """Connect through the relay, run ``workload``, close; its result, or its exception."""
    try:
        conn = pgwire.connect(dsn(server, relay), command_timeout=1.0, cancel_timeout=1.0)
        try:
            return workload(conn)
        finally:
            conn.close()
    except ALLOWED as exc:
        return exc


def length_words(stream: bytes) -> set[int]:
    """The offsets of every message's length word in a server's stream (typed messages)."""
    offsets: set[int] = set()
    pos = 0
    while pos + 5 <= len(stream):
        offsets.update(range(pos + 1, pos + 5))
        pos += 1 + int.from_bytes(stream[pos + 1 : pos + 5], "big")
    return offsets


def first_ready(stream: bytes) -> int:
    """Where the startup's first ReadyForQuery ends: the startup's length in bytes."""
    pos = 0
    while pos + 5 <= len(stream):
        end = pos + 1 + int.from_bytes(stream[pos + 1 : pos + 5], "big")
        if stream[pos : pos + 1] == b"Z":
            return end
        pos = end
    raise AssertionError("no ReadyForQuery in the startup")


def measure(server: PostgresServer, relay: ChaosRelay, workload: Workload) -> bytes:
    """What the server sends in a clean run of ``workload``."""
    probe = relay.arm(Flip(1 << 40, 1))
    result = within(DEADLINE, lambda: run(server, relay, workload))
    assert not isinstance(result, BaseException), result
    return bytes(probe.original)


def faults(kind: str, name: str, stream: bytes) -> list[Fault]:
    """The trials' faults: offsets in the startup for the startup workload, after it for
    the others."""
    rng = random.Random(f"{kind}-{name}")
    ready = first_ready(stream)
    low, high = (0, ready) if name == "startup" else (ready, len(stream))
    offsets = [rng.randrange(low, high) for _ in range(TRIALS)]
    if kind == "cut":
        return [Cut(offset) for offset in offsets]
    return [Flip(offset, rng.randrange(1, 256)) for offset in offsets]


def judge(fault: Fault, expected: Any, outcome: Any, clean: bytes) -> str:
    """The kind of outcome; AssertionError for one that is not allowed."""
    where = f"{fault!r} (a {clean[:1]!r}... stream of {len(clean)} bytes)"
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, ALLOWED), f"{where}: raw {outcome!r}"
        return "error"
    if outcome == expected:
        return "right"
    assert isinstance(fault, Flip), f"{where}: a cut gave a wrong answer: {outcome!r}"
    assert fault.offset not in length_words(clean), (
        f"{where}: a flipped length word went unnoticed, answer {outcome!r}"
    )
    return "undetectable"


@pytest.mark.parametrize("kind", ["cut", "flip"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_a_broken_server_stream_gives_the_answer_or_a_pgwire_error(
    pg_server: PostgresServer, chaos_relay: ChaosRelay, name: str, kind: str
) -> None:
    workload, expected = WORKLOADS[name]
    clean = measure(pg_server, chaos_relay, workload)
    outcomes: dict[str, int] = {}
    try:
        for fault in faults(kind, name, clean):
            chaos_relay.arm(fault)
            outcome = within(DEADLINE, lambda: run(pg_server, chaos_relay, workload))
            verdict = judge(fault, expected, outcome, clean)
            outcomes[verdict] = outcomes.get(verdict, 0) + 1
    finally:
        chaos_relay.disarm()
    assert sum(outcomes.values()) == TRIALS
    # The faults fell where they broke something.
    assert outcomes.get("error", 0) > 0, outcomes
