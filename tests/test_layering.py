"""The layering rules of DESIGN.md, checked: the core does no I/O, transports parse nothing."""

from __future__ import annotations

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
