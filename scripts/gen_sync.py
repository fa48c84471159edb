"""Generate the blocking driver (src/pgwire/sync.py) from the async one (connection.py).

The async driver is the single source: this script drops ``async``/``await``, swaps the
event-loop helpers (``_async_compat``/``_async_io``) for their blocking twins
(``_sync_compat``/``_sync_io``) and renames the async names, then formats the result with
ruff. Run it after every change to connection.py; a test fails while sync.py is stale.

    python scripts/gen_sync.py            # rewrite src/pgwire/sync.py
    python scripts/gen_sync.py --check    # exit 1 if sync.py is not up to date
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "pgwire" / "connection.py"
TARGET = ROOT / "src" / "pgwire" / "sync.py"

DOCSTRING = '''"""The blocking driver: :func:`connect` and :class:`Connection`.

GENERATED from connection.py by scripts/gen_sync.py: do not edit; change connection.py
and run the script. Everything the async driver's docstring says holds here, with threads
in place of tasks and Ctrl-C (KeyboardInterrupt) in place of task cancellation: an
interrupted query is cancelled on the server and the connection stays usable.
"""'''

#: Whole-word renames, applied in order.
NAMES = [
    ("_async_compat", "_sync_compat"),
    ("_async_io", "_sync_io"),
    ("pgwire.transports.async_tcp", "pgwire.transports"),
    ("AsyncConnection", "Connection"),
    ("AsyncPipeline", "Pipeline"),
    ("AsyncStream", "SyncStream"),
    ("AsyncIterator", "Iterator"),
    ("asynccontextmanager", "contextmanager"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("connect_async", "connect"),
]

#: Text rewrites (regular expressions), applied after the renames.
REWRITES = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
]


def transform(source: str) -> str:
    """The blocking driver's source, before formatting."""
    body = source.split('"""', 2)[2]  # drop the module docstring
    for old, new in NAMES:
        body = re.sub(rf"\b{re.escape(old)}\b", new, body)
    for pattern, replacement in REWRITES:
        body = re.sub(pattern, replacement, body)
    return DOCSTRING + body


def formatted(text: str) -> str:
    """``text`` fixed (imports deduplicated and sorted) and formatted by ruff."""
    ruff = [sys.executable, "-m", "ruff"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sync.py"
        path.write_text(text)
        config = ["--config", str(ROOT / "pyproject.toml")]
        subprocess.run(
            [*ruff, "check", "--fix-only", "--select", "I,F401,RUF022", *config, str(path)],
            check=True,
            capture_output=True,
        )
        subprocess.run([*ruff, "format", *config, str(path)], check=True, capture_output=True)
        return path.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that sync.py is current")
    args = parser.parse_args()
    result = formatted(transform(SOURCE.read_text()))
    if args.check:
        if TARGET.read_text() != result:
            print("src/pgwire/sync.py is stale: run python scripts/gen_sync.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
