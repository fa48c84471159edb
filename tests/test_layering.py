"""The house rules of pgwire's layout, checked.

pgwire has three layers, and imports only point down:

    integrations  (dbapi, sqlalchemy dialects, dsql_local, demo, mockserver, proxy, trace)
    driver        (connection.py and its feature modules, sync*.py, pool.py, dsql.py)
    protocol/ (the sans-IO core)      transports/ (bytes only)

- the core (``pgwire.protocol``) loads no I/O or event-loop module and reads no clock and no
  randomness: those are handed to it;
- transports know nothing of PostgreSQL messages or types;
- no module imports another that (directly or not) imports it back: no import circle, with
  imports inside functions counted and ``if TYPE_CHECKING:`` blocks not;
- a module holds one concern: no hand-written module over ~900 non-blank lines (the message
  catalogue ``protocol/messages.py`` and the generated tail of ``errors.py`` excepted) and no
  class over ~400 lines. Generated modules (a ``GENERATED`` header) follow their source.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IO_MODULES = ("socket", "ssl", "asyncio", "anyio", "trio", "selectors", "threading")


def test_importing_the_protocol_core_loads_no_io_or_event_loop_module() -> None:
    code = (
        "import sys, pgwire.protocol, pgwire.protocol.client; "
        f"print(','.join(m for m in {IO_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_protocol_sources_read_no_clock_and_no_randomness() -> None:
    forbidden = re.compile(
        r"^\s*(import|from)\s+(socket|ssl|asyncio|anyio|trio|selectors|threading|random|secrets)\b"
        r"|time\.time\(|time\.monotonic\(|os\.urandom\(|datetime\.now\(|datetime\.utcnow\(",
        re.MULTILINE,
    )
    for path in (ROOT / "src" / "pgwire" / "protocol").glob("*.py"):
        assert not forbidden.search(path.read_text()), path.name


def test_transports_know_nothing_of_postgresql_messages() -> None:
    for path in (ROOT / "transports").glob("*.py"):
        text = path.read_text()
        assert "pgwire.protocol" not in text, path.name
        assert "pgwire.types" not in text, path.name


# --------------------------------------------------------------------------------------
# The module graph
# --------------------------------------------------------------------------------------

MAX_MODULE_LINES = 900
MAX_CLASS_LINES = 400
#: One concern each, however long: every message of the protocol; the SQLSTATE classes.
LONG_MODULES = {"pgwire.protocol.messages", "pgwire.errors"}


def _modules() -> dict[str, Path]:
    """Every module of the distribution, by its import name."""
    found: dict[str, Path] = {}
    for folder, package in (
        (ROOT / "src" / "pgwire", "pgwire"),
        (ROOT / "transports", "pgwire.transports"),
    ):
        for path in sorted(folder.rglob("*.py")):
            if path.is_symlink() or (
                package == "pgwire" and "transports" in path.relative_to(folder).parts
            ):
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_generated(path: Path) -> bool:
    return path.read_text().startswith("# GENERATED from ")


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that ``name`` imports (inside functions too, not under
    ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for inner in ast.walk(node))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            # A package's __init__ is not counted as imported by its submodules' imports.
            if candidate and candidate != name and candidate not in ("pgwire",):
                targets.add(candidate)
    return targets


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    modules = _modules()
    edges = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A package's __init__ re-exporting its own submodules is not a circle of concerns.
    for name in edges:
        edges[name] = {
            t
            for t in edges[name]
            if not (modules[t].name == "__init__.py" and name.startswith(t + "."))
        }
    assert _circles(edges) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_hand_written_modules_and_classes_stay_small() -> None:
    too_big = []
    for name, path in _modules().items():
        if _is_generated(path):
            continue
        text = path.read_text()
        lines = sum(1 for line in text.splitlines() if line.strip())
        if lines > MAX_MODULE_LINES and name not in LONG_MODULES:
            too_big.append(f"module {name}: {lines} non-blank lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    too_big.append(f"class {name}.{node.name}: {length} lines")
    assert too_big == []
