"""The blocking driver and pool are generated from the async ones; the generated files must be
current, and hold nothing of the event loop."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pgwire"


def test_blocking_modules_are_generated_from_the_current_async_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_sync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("source", "target"), [("connection", "sync"), ("pool", "sync_pool")])
def test_blocking_module_says_it_is_generated_and_has_no_async_code(
    source: str, target: str
) -> None:
    text = (PACKAGE / f"{target}.py").read_text()
    assert f"GENERATED from {source}.py by scripts/gen_sync.py" in text
    tree = ast.parse(text)
    async_nodes = (ast.AsyncFunctionDef, ast.AsyncWith, ast.AsyncFor, ast.Await)
    assert [node.lineno for node in ast.walk(tree) if isinstance(node, async_nodes)] == []
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    event_loop = [name for name in imported if re.search(r"anyio|trio|asyncio|_async_", name)]
    assert event_loop == []
