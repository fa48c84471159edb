"""Reading a client's SQL in the mock server: statements, comments, parameter types.

The mock server is no SQL parser: it only cuts a simple query at its top-level semicolons,
strips comments (to read a statement's first word), and guesses a parameter's type from a
``$n::type`` cast.  No I/O here.
"""

from __future__ import annotations

import re

from pgwire.mockserver.results import TYPE_OIDS
from pgwire.types import oids as _oids

__all__ = ["param_oids", "split_statements", "strip_comments"]

_PARAM = re.compile(r"\$(\d+)(?:\s*::\s*([A-Za-z_][A-Za-z0-9_]*))?")


def split_statements(sql: str) -> list[str]:
    """Cut a simple-query string at top-level semicolons (quotes, comments, $$ respected)."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:
                end = sql.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif ch == "$" and (tag := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            end = sql.find(tag.group(), i + len(tag.group()))
            i = n if end == -1 else end + len(tag.group())
        elif ch == ";":
            statements.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:])
    return [s for s in statements if strip_comments(s)]


def strip_comments(sql: str) -> str:
    """``sql`` without its comments, stripped."""
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL).strip()


def param_oids(sql: str, given: tuple[int, ...]) -> tuple[int, ...]:
    """The parameter types of ``sql``: those the client ``given`` (0: none), else a
    ``$n::type`` cast, else text."""
    found: dict[int, int] = {}
    for match in _PARAM.finditer(sql):
        number = int(match.group(1))
        cast = match.group(2)
        oid = TYPE_OIDS.get(cast.lower(), _oids.TEXT) if cast else _oids.TEXT
        if found.get(number, _oids.TEXT) == _oids.TEXT:
            found[number] = oid
    count = max([len(given), *found])
    return tuple(
        given[i] if i < len(given) and given[i] else found.get(i + 1, _oids.TEXT)
        for i in range(count)
    )
