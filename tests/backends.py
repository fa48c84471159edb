"""The event loops every async test runs on: asyncio, asyncio with uvloop, and trio.

A conftest that imports :func:`anyio_backend` runs each ``pytest.mark.anyio`` test of its
folder once per loop (anyio's pytest plugin reads the fixture). Blocking tests ask for no
loop and run once.
"""

from __future__ import annotations

from typing import Any

import pytest

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The event loop each async test runs on: asyncio, asyncio with uvloop, trio."""
    backend: tuple[str, dict[str, Any]] = request.param
    return backend
