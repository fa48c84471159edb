"""Every blocking module is generated from its async source by scripts/gen_sync.py: the
generated files must be current and hold nothing of the event loop, and the generator's
rules must hold (it is code too)."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sync", ROOT / "scripts" / "gen_sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_sync"] = module
    spec.loader.exec_module(module)
    return module


gen_sync = _generator()
JOBS = {str(job.target.relative_to(ROOT)): job for job in gen_sync.JOBS}


def test_generated_modules_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_sync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target", sorted(JOBS))
def test_generated_module_names_its_source_and_has_no_async_code(target: str) -> None:
    job = JOBS[target]
    text = job.target.read_text()
    source = job.source.relative_to(ROOT)
    assert text.startswith(f"# GENERATED from {source} by scripts/gen_sync.py")
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
    event_loop = [name for name in imported if re.search(r"anyio|trio|asyncio|_async\b", name)]
    assert event_loop == []
    # Nor a use of anyio that needs no import of its own, such as ``pytest.mark.anyio``.
    anyio_used = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "anyio")
        or (isinstance(node, ast.Attribute) and node.attr == "anyio")
    ]
    assert anyio_used == []


def test_every_module_with_an_async_suffix_has_a_job() -> None:
    sources = {job.source for job in gen_sync.JOBS}
    suffixed = [
        path
        for folder in (ROOT / "src" / "pgwire", ROOT / "transports", ROOT / "tests")
        for path in folder.rglob("*_async.py")
    ]
    assert [p for p in suffixed if p not in sources] == []


def test_await_and_async_keywords_are_dropped() -> None:
    source = (
        "async def f(x: AsyncIterator[int]) -> None:\n"
        "    async with lock:\n"
        "        async for item in x:\n"
        "            await g(item)\n"
    )
    assert gen_sync.convert(source, "t.py") == (
        "def f(x: Iterator[int]) -> None:\n"
        "    with lock:\n"
        "        for item in x:\n"
        "            g(item)\n"
    )


def test_async_branch_is_replaced_by_its_else_body() -> None:
    source = (
        "def f() -> int:\n"
        "    if True:  # ASYNC\n"
        "        return 1\n"
        "    else:\n"
        "        # blocking\n"
        "        return 2\n"
    )
    assert gen_sync.convert(source, "t.py") == "def f() -> int:\n    # blocking\n    return 2\n"


def test_async_branch_without_else_disappears() -> None:
    source = "x = 1\nif True:  # ASYNC\n    x = 2\ny = x\n"
    assert gen_sync.convert(source, "t.py") == "x = 1\ny = x\n"


def test_if_true_without_the_marker_is_refused() -> None:
    with pytest.raises(gen_sync.GenerationError, match="without `# ASYNC`"):
        gen_sync.convert("if True:\n    pass\n", "t.py")


def test_strings_other_than_docstrings_are_data_and_stay() -> None:
    source = (
        "def f(x: object) -> bool:\n"
        '    """await the AsyncConnection."""\n'
        '    return hasattr(x, "__aiter__")\n'
    )
    assert gen_sync.convert(source, "t.py") == (
        'def f(x: object) -> bool:\n    """the Connection."""\n    return hasattr(x, "__aiter__")\n'
    )


def test_twin_modules_are_imported_under_their_blocking_names() -> None:
    source = (
        "from pgwire import _copy_async as _copy\n"
        "from pgwire.transports.async_tcp import AsyncStream, connect_tcp_async\n"
    )
    assert gen_sync.convert(source, "t.py") == (
        "from pgwire import _copy_sync as _copy\n"
        "from pgwire.transports import SyncStream, connect_tcp\n"
    )


def test_async_generator_gets_its_third_parameter() -> None:
    source = "def f() -> AsyncGenerator[int, None]: ...\n"
    assert gen_sync.convert(source, "t.py") == "def f() -> Generator[int, None, None]: ...\n"
