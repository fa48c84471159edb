"""The ten-line programs of docs/async.md: the same queries on asyncio, uvloop and trio.

tests/test_docs.py runs every example as it stands; this test checks that the asyncio and
the trio program are the same program (only the event loop differs), at most ten lines
each, and that each prints the same thing on its loop (the asyncio one on uvloop too).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.pg import SCRAM_USER, PostgresServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "async.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _program(loop: str) -> str:
    marker = {"asyncio": "asyncio.run(main())", "trio": "trio.run(main)"}[loop]
    blocks = [code for code in _BLOCK.findall(PAGE.read_text()) if marker in code]
    assert len(blocks) == 1, f"docs/async.md should hold exactly one {marker} program"
    return str(blocks[0])


def _without_the_loop(code: str) -> list[str]:
    return [line for line in code.splitlines() if not re.search(r"\b(asyncio|trio)\b", line)]


def test_asyncio_and_trio_programs_are_ten_lines_and_differ_only_in_the_loop() -> None:
    asyncio_program, trio_program = _program("asyncio"), _program("trio")
    assert len(asyncio_program.splitlines()) <= 10
    assert len(trio_program.splitlines()) <= 10
    assert _without_the_loop(asyncio_program) == _without_the_loop(trio_program)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_the_ten_line_program_prints_the_same_on_each_loop(
    loop: str,
    pg_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = _program("trio" if loop == "trio" else "asyncio")
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")

        def run_on_uvloop(main: Any) -> Any:
            return uvloop.run(main)

        monkeypatch.setattr(asyncio, "run", run_on_uvloop)
    dsn = pg_server.dsn(SCRAM_USER.name, SCRAM_USER.password)
    exec(compile(code, f"docs/async.md ({loop})", "exec"), {"DSN": dsn, "__name__": "example"})
    assert capsys.readouterr().out == "['Lyon'] 2\n"
