"""Fixtures of the driver tests, for both drivers (see ``fixtures_async.py``).

The async tests (``test_*_async.py``, marked ``anyio``) ask for ``aconn``, ``aother``,
``aconnect`` and ``anew_table`` and run on asyncio, uvloop and trio; the blocking tests
generated from them ask for ``conn``, ``other``, ``connect`` and ``new_table`` and run once.
"""

from __future__ import annotations

import uuid

import pytest

from tests.backends import anyio_backend
from tests.driver.fixtures_async import aconn, aconnect, anew_table, aother
from tests.driver.fixtures_sync import conn, connect, new_table, other

# pytest finds fixtures by their names in this module.
__all__ = [
    "aconn",
    "aconnect",
    "anew_table",
    "anyio_backend",
    "aother",
    "conn",
    "connect",
    "new_table",
    "other",
]


@pytest.fixture
def channel() -> str:
    """A LISTEN/NOTIFY channel name no other test uses."""
    return f"chan_{uuid.uuid4().hex[:12]}"
