"""Every ```python block in docs/ runs against the real server, with DSN bound."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for index, match in enumerate(_BLOCK.finditer(page.read_text())):
            found.append((f"{page.name}#{index + 1}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_documentation_example_runs(where: str, code: str, pg_server) -> None:  # type: ignore[no-untyped-def]
    dsn = pg_server.dsn("scram_user", "pw-scram")
    exec(compile(code, where, "exec"), {"DSN": dsn, "__name__": "docs_example"})
