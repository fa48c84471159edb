"""pgwire.protocol.conversation: the tables both roles follow, checked as tables.

The roles' own tests drive these rules through conversations; here the tables themselves
are checked for what a newcomer may rely on: every state has its rules, no request can get
stuck, and an error drops exactly what PostgreSQL drops.
"""

from __future__ import annotations

from collections import deque

import pytest

from pgwire.protocol import (
    Bind,
    Close,
    ConnectionState,
    Describe,
    ErrorResponse,
    Execute,
    Flush,
    FrontendMessage,
    FunctionCall,
    Parse,
    Phase,
    Query,
    ServerState,
    Sync,
)
from pgwire.protocol.conversation import (
    CLIENT_SEND_RULES,
    COPY_END_AFTER_CLIENT,
    ERROR_TRANSITIONS,
    SERVER_RECEIVE_RULES,
    SERVER_SEND_RULES,
    TRANSITIONS,
    answer_error,
    owed_for,
)

P = Phase


def test_every_state_of_both_roles_has_its_rules() -> None:
    assert set(CLIENT_SEND_RULES) == set(ConnectionState)
    assert set(SERVER_RECEIVE_RULES) == set(ServerState)
    assert set(SERVER_SEND_RULES) == set(ServerState)


def test_no_phase_is_a_dead_end() -> None:
    # A phase is left by an answer, by an error, by the client ending its COPY, or (a Sync
    # owed after COPY) by being paid when the client ends the COPY.
    left = {phase for phase, _ in TRANSITIONS} | set(ERROR_TRANSITIONS) | set(COPY_END_AFTER_CLIENT)
    assert set(Phase) - left == {P.SYNC_OWED}


def test_every_answer_in_the_table_may_be_sent_by_a_ready_server() -> None:
    answers = {kind for _, kind in TRANSITIONS}
    assert answers <= set(SERVER_SEND_RULES[ServerState.READY])
    assert ErrorResponse in SERVER_SEND_RULES[ServerState.READY]


@pytest.mark.parametrize(
    ("message", "phase"),
    [
        (Parse("", "SELECT 1"), P.PARSE),
        (Bind("", "", (), (), ()), P.BIND),
        (Describe("S", ""), P.DESCRIBE_STATEMENT),
        (Describe("P", ""), P.DESCRIBE_PORTAL),
        (Execute(), P.EXECUTE),
        (Close("S", "s1"), P.CLOSE),
        (Sync(), P.SYNC),
        (Query("SELECT 1"), P.QUERY),
        (FunctionCall(1, (), ()), P.FUNCTION_CALL),
        (Flush(), None),
    ],
)
def test_each_request_is_owed_its_first_answer(message: FrontendMessage, phase: Phase) -> None:
    assert owed_for(message) is phase


def test_an_error_in_an_extended_batch_drops_the_rest_of_that_batch_only() -> None:
    pending = deque([P.BIND, P.EXECUTE, P.SYNC, P.PARSE, P.SYNC])
    assert answer_error(pending) is False
    assert list(pending) == [P.SYNC, P.PARSE, P.SYNC]


def test_an_error_before_the_batch_s_sync_was_sent_asks_to_skip_until_it() -> None:
    pending = deque([P.PARSE, P.BIND, P.EXECUTE])
    assert answer_error(pending) is True
    assert not pending


def test_an_error_keeps_a_sync_owed_after_copy() -> None:
    pending = deque([P.EXECUTE_COPY_IN, P.SYNC_OWED])
    assert answer_error(pending) is False
    assert list(pending) == [P.SYNC_OWED]


@pytest.mark.parametrize(
    ("phase", "after"),
    [
        (P.QUERY_ROWS, P.QUERY),
        (P.QUERY_COPY_IN, P.QUERY),
        (P.FUNCTION_CALL, P.FUNCTION_CALL_END),
        (P.SYNC, P.SYNC),
    ],
)
def test_an_error_in_the_simple_protocol_moves_the_request_on(phase: Phase, after: Phase) -> None:
    pending = deque([phase, P.QUERY])
    assert answer_error(pending) is False
    assert list(pending) == [after, P.QUERY]
