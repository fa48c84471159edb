"""The distribution lists every package of the source tree (setuptools is given an explicit
list, so a new subpackage left out of it would be missing from the wheel)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_source_tree_is_in_the_distribution() -> None:
    # One line in [tool.setuptools] (tomllib is 3.11+, and pgwire runs its tests on 3.10 too).
    line = re.search(r"^packages = (\[.*\])$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert line is not None
    listed = set(ast.literal_eval(line.group(1)))
    source = ROOT / "src" / "pgwire"
    found = {
        ".".join(("pgwire", *init.parent.relative_to(source).parts))
        for init in source.rglob("__init__.py")
        if "transports" not in init.relative_to(source).parts
    }
    found.add("pgwire.transports")
    assert found - listed == set()


def test_the_stubs_of_the_source_tree_are_in_the_distribution() -> None:
    # A stub with no module beside it (the SQLSTATE classes of pgwire.errors) is package
    # data to setuptools: without it, type checkers would not see those classes.
    text = (ROOT / "pyproject.toml").read_text()
    line = re.search(r"^pgwire = (\[.*\])$", text, re.M)
    assert line is not None
    stubs = [p.name for p in (ROOT / "src" / "pgwire").glob("*.pyi")]
    assert stubs == ["_sqlstate_classes.pyi"]
    assert "*.pyi" in ast.literal_eval(line.group(1))
