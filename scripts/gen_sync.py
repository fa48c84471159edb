"""Generate every blocking module of pgwire from its async source (the one rule for twins).

The async code is the single source. For each job below this script reads the async module,
rewrites it, and writes the blocking module beside it; a test fails while any target is stale.
It works on the syntax tree and the token stream, never on raw text with regular expressions,
so a string or a comment that looks like code is left alone:

- ``async def``/``async with``/``async for`` lose ``async``; ``await x`` becomes ``x``.
- Names are renamed whole, from :data:`NAMES` (``AsyncConnection`` -> ``Connection``, ...);
  imported modules from :data:`MODULES` and by the suffix rule ``x_async`` -> ``x_sync``.
  Prose in docstrings and comments gets the same renames, and loses ``async``/``await``.
- ``AsyncGenerator[Y, S]`` (two parameters) becomes ``Generator[Y, S, None]`` (three).
- A statement ``if True:  # ASYNC`` keeps its body in the async module and is replaced by its
  ``else:`` body (or by nothing) in the blocking one. ``if True`` costs nothing at run time:
  the compiler drops the test, so the async code does not branch on the loop kind.
- Lines between ``# async only: begin`` and ``# async only: end`` are left out (for members
  such as ``__await__`` that only an async class has).

The result is formatted with ruff and starts with a header naming its source.

    python scripts/gen_sync.py            # rewrite the targets
    python scripts/gen_sync.py --check    # exit 1 if a target is not up to date
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pgwire"
TRANSPORTS = ROOT / "transports"
TESTS = ROOT / "tests"

#: Whole-name renames (identifiers, and words in docstrings and comments).
NAMES: dict[str, str] = {
    "AsyncConnection": "Connection",
    "AsyncPipeline": "Pipeline",
    "AsyncTransaction": "Transaction",
    "AsyncPump": "Pump",
    "AsyncQueries": "Queries",
    "AsyncCursors": "Cursors",
    "AsyncNotifications": "Notifications",
    "AsyncCopy": "Copy",
    "AsyncPool": "Pool",
    "AsyncStream": "SyncStream",
    "AsyncWebSocketStream": "WebSocketStream",
    "AsyncMemoryTLSStream": "MemoryTLSStream",
    "AsyncTunnelStream": "TunnelStream",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
    "AsyncExitStack": "ExitStack",
    "StopAsyncIteration": "StopIteration",
    "asynccontextmanager": "contextmanager",
    "aclosing": "closing",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "aclose": "close",
    "connect_async": "connect",
    "connect_tcp_async": "connect_tcp",
    "connect_unix_async": "connect_unix",
    "connect_websocket_async": "connect_websocket",
    "run_transaction_async": "run_transaction",
    "run_in_transaction_async": "run_in_transaction",
    "_attempt_async": "_attempt",
    "retrying_async": "retrying",
    "create_pool_async": "create_pool",
    "async_conn": "conn",
    "anext": "next",
    "enter_async_context": "enter_context",
    # The fixtures of the driver tests (tests/driver/fixtures_async.py).
    "aconn": "conn",
    "aconnect": "connect",
    "aother": "other",
    "anew_table": "new_table",
}

#: Module renames that the suffix rule (``..._async`` -> ``..._sync``) does not cover.
MODULES: dict[str, str] = {
    "pgwire.connection": "pgwire.sync",
    "pgwire.pool": "pgwire.sync_pool",
    "pgwire.transports.async_tcp": "pgwire.transports",
    "pgwire.create_pool": "pgwire.create_blocking_pool",
}

ASYNC_ONLY = re.compile(
    r"^[ \t]*# async only: begin\n.*?^[ \t]*# async only: end\n", re.MULTILINE | re.DOTALL
)
#: Prose rewrites inside docstrings and comments (text, not code).
PROSE = [
    (re.compile(r"\basync (with|for|def)\b"), r"\1"),
    (re.compile(r"\bawait "), ""),
]


@dataclass(frozen=True)
class Job:
    """One async source and the blocking module generated from it."""

    source: Path
    target: Path
    #: The blocking module's docstring; ``None`` keeps the source's, renamed.
    docstring: str | None = None


def _job(source: str, target: str, docstring: str | None = None) -> Job:
    return Job(ROOT / source, ROOT / target, docstring)


SYNC_DOCSTRING = '''"""The blocking driver: :func:`connect` and :class:`Connection`.

Everything the async driver's docstring (``connection.py``) says holds here, with threads
in place of tasks and Ctrl-C (KeyboardInterrupt) in place of task cancellation: an
interrupted query is cancelled on the server and the connection stays usable.
"""'''

POOL_DOCSTRING = '''"""The blocking connection pool, for threads: :func:`create_pool` (exported as
``pgwire.create_blocking_pool``) and :class:`Pool`.

Everything the async pool's docstring (``pool.py``) says holds here, with threads in place
of tasks: ``with pool.acquire() as conn:`` lends a connection to the calling thread.
"""'''

DSQL_RETRY_DOCSTRING = '''"""Retrying a SQLAlchemy unit of work that lost an
optimistic-concurrency conflict on Aurora DSQL: :func:`run_in_transaction`.

DSQL does not lock: of two transactions that change the same row, the second to commit fails
with SQLSTATE 40001 (``OC000``; ``OC001`` when the schema changed). The whole transaction is
to be run again; savepoints, which DSQL lacks, cannot help. This runs ``fn`` in a transaction
begun by ``factory.begin()`` (a ``sessionmaker`` gives ``fn`` a ``Session``, an ``Engine`` a
``Connection``) and retries it with pgwire's backoff (:mod:`pgwire.retry_sync`).
:mod:`pgwire.sqlalchemy.dsql` exports it; the asyncio twin is ``dsql_retry_async.py``.
"""'''

#: The tests written once for both drivers: ``tests/<name>_async.py`` (run on asyncio, uvloop
#: and trio) generates ``tests/<name>_sync.py`` (run on the blocking driver).
TEST_TWINS = [
    "chaos/test_chaos",
    "chaos/test_restart",
    "concurrency",
    "driver/fixtures",
    "driver/test_cancel",
    "driver/test_connect",
    "driver/test_copy",
    "driver/test_copy_tables",
    "driver/test_large_values",
    "driver/test_notify",
    "driver/test_pgbouncer",
    "driver/test_pipeline",
    "driver/test_queries",
    "driver/test_user_types",
    "pool/test_pool",
    "pool/test_pool_reset",
    "pool/test_pool_waiting",
    "tls/test_drivers",
    "websocket/sessions",
    "websocket/test_bridge",
    "websocket/test_websockify",
]

JOBS: list[Job] = [
    _job("src/pgwire/_compat_async.py", "src/pgwire/_compat_sync.py"),
    _job("src/pgwire/_io_async.py", "src/pgwire/_io_sync.py"),
    _job("src/pgwire/retry_async.py", "src/pgwire/retry_sync.py"),
    _job(
        "src/pgwire/sqlalchemy/dsql_retry_async.py",
        "src/pgwire/sqlalchemy/dsql_retry_sync.py",
        DSQL_RETRY_DOCSTRING,
    ),
    _job("src/pgwire/_pump_async.py", "src/pgwire/_pump_sync.py"),
    _job("src/pgwire/_queries_async.py", "src/pgwire/_queries_sync.py"),
    _job("src/pgwire/_cursor_async.py", "src/pgwire/_cursor_sync.py"),
    _job("src/pgwire/_notify_async.py", "src/pgwire/_notify_sync.py"),
    _job("src/pgwire/_copy_async.py", "src/pgwire/_copy_sync.py"),
    _job("src/pgwire/_transaction_async.py", "src/pgwire/_transaction_sync.py"),
    _job("src/pgwire/_pipeline_async.py", "src/pgwire/_pipeline_sync.py"),
    _job("src/pgwire/connection.py", "src/pgwire/sync.py", SYNC_DOCSTRING),
    _job("src/pgwire/pool.py", "src/pgwire/sync_pool.py", POOL_DOCSTRING),
    _job("transports/memory_tls_async.py", "transports/memory_tls_sync.py"),
    _job("transports/websocket_async.py", "transports/websocket_sync.py"),
    *(_job(f"tests/{name}_async.py", f"tests/{name}_sync.py") for name in TEST_TWINS),
]


# --------------------------------------------------------------------------------------
# The rewrite
# --------------------------------------------------------------------------------------


class GenerationError(Exception):
    """The async source breaks a rule of the generator (the message says which)."""


def _sync_module(name: str) -> str:
    """The blocking twin of the dotted module ``name`` (itself if it has none)."""
    for old, new in MODULES.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    parts = name.split(".")
    renamed = [re.sub(r"_async$", "_sync", p) for p in parts]
    return ".".join(renamed)


def _resolve_async_branches(text: str, where: str) -> str:
    """Replace each ``if True:  # ASYNC`` statement by its ``else`` body, bottom up."""
    while True:
        lines = text.splitlines(keepends=True)
        branches = [
            node
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.If)
            and isinstance(node.test, ast.Constant)
            and node.test.value is True
        ]
        if not branches:
            return text
        node = max(branches, key=lambda n: n.lineno)
        header = lines[node.lineno - 1]
        if not re.search(r"#\s*ASYNC\b", header):
            raise GenerationError(f"{where}:{node.lineno}: `if True:` without `# ASYNC`")
        indent = header[: len(header) - len(header.lstrip())]
        end = node.end_lineno or node.lineno
        replacement: list[str] = []
        if node.orelse:
            else_line = _find_else(lines, node, indent, where)
            body = lines[else_line:end]
            inner = node.orelse[0].col_offset - len(indent)
            replacement = [_dedent(line, inner) for line in body]
        text = "".join(lines[: node.lineno - 1] + replacement + lines[end:])


def _find_else(lines: list[str], node: ast.If, indent: str, where: str) -> int:
    """The index of the line after ``else:`` of ``node`` (0-based, i.e. its 1-based number)."""
    start = node.body[-1].end_lineno or node.lineno
    for number in range(start, node.orelse[0].lineno):
        line = lines[number]
        if line.startswith(indent + "else:"):
            return number + 1
        if line.startswith(indent + "elif"):
            raise GenerationError(f"{where}:{number + 1}: `elif` after `if True:  # ASYNC`")
    raise GenerationError(f"{where}:{node.lineno}: no `else:` found for `if True:  # ASYNC`")


def _dedent(line: str, amount: int) -> str:
    if not line.strip():
        return line
    if line[:amount].strip():
        raise GenerationError(f"cannot dedent {line!r} by {amount}")
    return line[amount:]


def _char_col(line: str, byte_col: int) -> int:
    """The character column of the AST's byte column ``byte_col`` in ``line``."""
    return len(line.encode()[:byte_col].decode())


def _rename_prose(text: str) -> str:
    for old, new in NAMES.items():
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    for old, new in MODULES.items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, text)
    for pattern, replacement in PROSE:
        text = pattern.sub(replacement, text)
    return text


def convert(source: str, where: str) -> str:
    """The blocking module's source (before formatting) for the async ``source``."""
    text = ASYNC_ONLY.sub("", source)
    text = _resolve_async_branches(text, where)
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def at(row: int, col: int) -> int:
        return offsets[row - 1] + col

    # (start, end, replacement) over `text`, non-overlapping.
    edits: list[tuple[int, int, str]] = []
    tree = ast.parse(text)
    import_spans: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            renamed = _sync_module(node.module)
            # A module import renamed, e.g. `from pgwire import _copy_async as _copy`.
            if node.module == "pgwire" or renamed != node.module:
                line = lines[node.lineno - 1]
                start = at(node.lineno, _char_col(line, node.col_offset))
                statement = ast.unparse(_renamed_import(node, renamed))
                end_line = lines[(node.end_lineno or node.lineno) - 1]
                end = at(node.end_lineno or node.lineno, _char_col(end_line, node.end_col_offset))
                if statement != text[start:end]:
                    edits.append((start, end, statement))
                    import_spans.append((start, end))
        elif isinstance(node, ast.Import):
            if any(_sync_module(a.name) != a.name for a in node.names):
                raise GenerationError(f"{where}:{node.lineno}: use `from ... import` for twins")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "AsyncGenerator"
            and isinstance(node.slice, ast.Tuple)
            and len(node.slice.elts) == 2
        ):
            line = lines[(node.end_lineno or node.lineno) - 1]
            close = at(node.end_lineno or node.lineno, _char_col(line, node.end_col_offset) - 1)
            edits.append((close, close, ", None"))

    # Docstrings are prose; other strings are data (``hasattr(x, "__aiter__")``): untouched.
    docstrings = {
        (node.lineno, _char_col(lines[node.lineno - 1], node.col_offset))
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    # The names of ``__all__`` are the module's names, renamed like them.
    exported = {
        (element.lineno, _char_col(lines[element.lineno - 1], element.col_offset))
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        and isinstance(node.value, ast.List | ast.Tuple)
        for element in node.value.elts
        if isinstance(element, ast.Constant) and isinstance(element.value, str)
    }

    def inside_import(position: int) -> bool:
        return any(start <= position < end for start, end in import_spans)

    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for index, token in enumerate(tokens):
        start = at(*token.start)
        end = at(*token.end)
        if inside_import(start):
            continue
        if token.type == tokenize.NAME:
            following = tokens[index + 1]
            keyword = token.string == "async" and following.string in ("def", "with", "for")
            if keyword or token.string == "await":
                edits.append((start, at(*following.start), ""))
            elif token.string in NAMES:
                edits.append((start, end, NAMES[token.string]))
        elif token.type == tokenize.COMMENT or (
            token.type == tokenize.STRING and token.start in docstrings
        ):
            renamed = _rename_prose(token.string)
            if renamed != token.string:
                edits.append((start, end, renamed))
        elif token.type == tokenize.STRING and token.start in exported:
            name = ast.literal_eval(token.string)
            if name in NAMES:
                edits.append((start, end, repr(NAMES[name]).replace("'", '"')))
    edits.sort()
    parts: list[str] = []
    position = 0
    for start, end, replacement in edits:
        if start < position:
            raise GenerationError(f"{where}: overlapping rewrites at offset {start}")
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    result = "".join(parts)
    _check_blocking(result, where)
    return result


def _renamed_import(node: ast.ImportFrom, module: str) -> ast.ImportFrom:
    names = []
    for alias in node.names:
        name = alias.name
        if module == "pgwire":
            name = _sync_module(f"pgwire.{name}").removeprefix("pgwire.")
        name = NAMES.get(name, name)
        asname = NAMES.get(alias.asname, alias.asname) if alias.asname else None
        names.append(ast.alias(name, asname if asname != name else None))
    return ast.ImportFrom(module=module, names=names, level=0)


def _check_blocking(text: str, where: str) -> None:
    """Fail if anything of the event loop survived the rewrite."""
    tree = ast.parse(text)
    async_nodes = (ast.AsyncFunctionDef, ast.AsyncWith, ast.AsyncFor, ast.Await)
    left = [node.lineno for node in ast.walk(tree) if isinstance(node, async_nodes)]
    if left:
        raise GenerationError(f"{where}: async code left at lines {left} of the blocking module")


def generate(job: Job) -> str:
    """The formatted blocking module of ``job``."""
    source = job.source.read_text()
    where = str(job.source.relative_to(ROOT))
    body = convert(source, where)
    if job.docstring is not None:
        module = ast.parse(body)
        first = module.body[0] if module.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body_lines = body.splitlines(keepends=True)
            body = job.docstring + "".join(body_lines[first.end_lineno or 1 :])
        else:
            body = job.docstring + "\n" + body
    header = f"# GENERATED from {where} by scripts/gen_sync.py: do not edit.\n"
    return formatted(header + body, job.target)


#: The ruff fixes applied to a generated module (see :func:`formatted`).
FIXES = "I,F401,RUF022,SIM117,UP028"


def formatted(text: str, target: Path) -> str:
    """``text`` fixed and formatted by ruff: imports deduplicated and sorted, unused ones
    dropped, nested ``with`` blocks (``with shield(): with lock:``) merged, and a loop that
    only yields (the blocking ``iterate``) made ``yield from``."""
    ruff = [sys.executable, "-m", "ruff"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / target.name
        path.write_text(text)
        config = ["--config", str(ROOT / "pyproject.toml")]
        subprocess.run(
            [*ruff, "check", "--fix-only", "--unsafe-fixes", "--select", FIXES, *config, str(path)],
            check=True,
            capture_output=True,
        )
        subprocess.run([*ruff, "format", *config, str(path)], check=True, capture_output=True)
        return path.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that targets are current")
    args = parser.parse_args()
    stale = 0
    for job in JOBS:
        result = generate(job)
        if not args.check:
            if not job.target.exists() or job.target.read_text() != result:
                job.target.write_text(result)
        elif not job.target.exists() or job.target.read_text() != result:
            target, source = job.target.relative_to(ROOT), job.source.relative_to(ROOT)
            print(
                f"{target} is stale: change {source}, then run python scripts/gen_sync.py",
                file=sys.stderr,
            )
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
