"""pyformat placeholders (``%s``, ``%(name)s``, ``%%``) turned into PostgreSQL's ``$1, $2, ...``.

The rules are psycopg's: when parameters are passed, every ``%`` in the query is special,
so a literal ``%`` is written ``%%`` (in string literals and comments too); ``%s`` takes
the next positional parameter and ``%(name)s`` the parameter ``name`` of a mapping (the
same name may appear several times; it becomes one ``$n``); ``%b`` and ``%t`` are read as
``%s``. Positional and named placeholders cannot be mixed. Without parameters (``None``)
the query is sent exactly as written.

A small lexer walks the query so that a placeholder is only ever recognised in SQL code:
string literals (``'...'``, ``E'...'``), quoted identifiers (``"..."``), comments (``--``,
nested ``/* */``) and dollar-quoted text (``$tag$...$tag$``) are copied as they are, apart
from ``%%``. A ``%s`` inside them, or a ``$1`` written in the code, is refused with
:class:`~pgwire.errors.ProgrammingError`: it would otherwise bind the wrong value or none.
The values themselves never enter the SQL text; they travel out of band with the Bind.

The lexer also counts the statements, so that a script of several statements without
parameters can go through the simple protocol. This module does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pgwire.errors import ProgrammingError

__all__ = ["Query", "parse_query"]

# Where something other than plain SQL code may start (outside any quoted text).
_SPECIAL = re.compile(r"""%|--|/\*|'|"|\$|;""")
_STANDARD_STRING = re.compile(r"'(?:[^']|'')*(?:'|\Z)")
_ESCAPE_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*(?:'|\Z)", re.DOTALL)
_QUOTED_IDENTIFIER = re.compile(r'"(?:[^"]|"")*(?:"|\Z)')
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT_PART = re.compile(r"/\*|\*/")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_POSITIONAL_PARAMETER = re.compile(r"\$\d+")
_NAMED = re.compile(r"%\(([^)]*)\)(.?)", re.DOTALL)
_PERCENT_IN_TEXT = re.compile(r"%(.?)", re.DOTALL)
_FORMATS = "sbt"
_COPY_IN = re.compile(r"\bFROM\s+STDIN\b", re.IGNORECASE)
_COPY_OUT = re.compile(r"\bTO\s+STDOUT\b", re.IGNORECASE)


class Query:
    """A query as parsed once: the SQL to send with ``$n`` placeholders, how to bind
    parameters to them, and how many statements it holds."""

    __slots__ = ("code", "copy", "error", "names", "positional", "sql", "statements")

    def __init__(
        self,
        sql: str,
        code: str,
        positional: int,
        names: tuple[str, ...],
        statements: int,
        error: str | None,
    ) -> None:
        #: The SQL to send when parameters are given (``%%`` unescaped, ``$n`` in place).
        self.sql = sql
        #: The SQL code alone: quoted text, comments and placeholders blanked out.
        self.code = code
        #: How many ``%s`` placeholders it has.
        self.positional = positional
        #: The names of its ``%(name)s`` placeholders, in the order of their ``$n``.
        self.names = names
        #: How many statements it holds (outside quoted text and comments).
        self.statements = statements
        #: Why it cannot take parameters, if it cannot (raised only when some are given).
        self.error = error
        #: ``"in"`` for COPY ... FROM STDIN, ``"out"`` for COPY ... TO STDOUT, else None.
        self.copy: str | None = None
        if code.lstrip()[:4].upper() == "COPY":
            if _COPY_IN.search(code):
                self.copy = "in"
            elif _COPY_OUT.search(code):
                self.copy = "out"

    def bind(self, params: Any) -> tuple[Any, ...]:
        """The arguments for ``$1, $2, ...`` from ``params`` (a sequence or a mapping);
        raise ProgrammingError naming any mismatch."""
        kind = type(params)
        if (
            (kind is tuple or kind is list)
            and self.error is None
            and not self.names
            and len(params) == self.positional
        ):
            return params if kind is tuple else tuple(params)  # the common case, first
        if self.error is not None:
            raise ProgrammingError(self.error)
        if self.names:
            if not isinstance(params, Mapping):
                raise ProgrammingError(
                    f"the query has named placeholders (%({self.names[0]})s) and needs a "
                    f"mapping of parameters, not a {type(params).__name__}"
                )
            try:
                return tuple([params[name] for name in self.names])
            except KeyError:
                missing = [name for name in self.names if name not in params]
                raise ProgrammingError(
                    f"the query needs the parameter(s) {', '.join(map(repr, missing))} "
                    f"that the mapping lacks; it has {', '.join(map(repr, params)) or 'none'}"
                ) from None
        if isinstance(params, Mapping):
            if self.positional or params:
                raise ProgrammingError(
                    f"the query has {self.positional} positional placeholder(s) (%s) but got "
                    "a mapping of parameters: pass a sequence, or use %(name)s placeholders"
                )
            return ()
        if isinstance(params, str | bytes | bytearray) or not isinstance(params, Sequence):
            raise ProgrammingError(
                f"parameters must be a sequence (tuple or list) or a mapping, not "
                f"{type(params).__name__}; for one parameter write (value,)"
            )
        if len(params) != self.positional:
            raise ProgrammingError(
                f"the query has {self.positional} placeholder(s) but {len(params)} "
                f"parameter(s) were passed"
            )
        return tuple(params)


@lru_cache(maxsize=1024)
def parse_query(query: str) -> Query:
    """Parse ``query`` once (the result is cached by its text)."""
    return _Lexer(query).run()


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.out: list[str] = []
        self.code: list[str] = []
        self.positional = 0
        self.names: dict[str, int] = {}
        self.statements = 0
        self.has_code = False
        self.error: str | None = None

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def run(self) -> Query:
        query, out = self.query, self.out
        pos, end = 0, len(query)
        while pos < end:
            found = _SPECIAL.search(query, pos)
            if found is None:
                self.emit_code(query[pos:])
                break
            start = found.start()
            if start > pos:
                self.emit_code(query[pos:start])
            token = found.group()
            if token == "%":
                pos = self.placeholder(start)
            elif token == ";":
                if self.has_code:
                    self.statements += 1
                self.has_code = False
                out.append(";")
                pos = start + 1
            elif token == "--":
                pos = self.text(_LINE_COMMENT.match(query, start), "a comment", code=False)
            elif token == "/*":
                pos = self.block_comment(start)
            elif token == "'":
                escape = (
                    start > 0 and query[start - 1] in "eE" and not _ident_before(query, start - 1)
                )
                pattern = _ESCAPE_STRING if escape else _STANDARD_STRING
                pos = self.text(pattern.match(query, start), "a string literal")
            elif token == '"':
                pos = self.text(_QUOTED_IDENTIFIER.match(query, start), "a quoted identifier")
            else:
                pos = self.dollar(start)
        if self.has_code:
            self.statements += 1
        if self.positional and self.names:
            self.fail(
                "the query mixes positional (%s) and named (%(name)s) placeholders; "
                "use one kind only"
            )
        return Query(
            "".join(out),
            "".join(self.code),
            self.positional,
            tuple(self.names),
            self.statements,
            self.error,
        )

    def emit_code(self, text: str) -> None:
        self.out.append(text)
        self.code.append(text)
        if not self.has_code and not text.isspace():
            self.has_code = True

    def text(self, match: re.Match[str] | None, where: str, code: bool = True) -> int:
        """Copy the quoted text or comment ``match`` found; return where it ends."""
        assert match is not None  # the patterns match at least their opening characters
        return self.region(match.start(), match.end(), where, code)

    def region(self, start: int, end: int, where: str, code: bool = True) -> int:
        """Copy ``query[start:end]`` (quoted text or a comment), unescaping ``%%`` and
        refusing any other ``%``; return ``end``."""
        body = self.query[start:end]
        if "%" in body:
            body = _PERCENT_IN_TEXT.sub(lambda m: self.percent_in_text(m, where), body)
        self.out.append(body)
        self.code.append(" ")
        if code:
            self.has_code = True
        return end

    def percent_in_text(self, match: re.Match[str], where: str) -> str:
        if match.group(1) == "%":
            return "%"
        self.fail(
            f"a % in {where} must be doubled (%%) when parameters are passed, and "
            f"placeholders do not work inside quoted text or comments: found "
            f"{match.group()!r}; write %% for a literal %, or move the placeholder out of "
            "the quotes"
        )
        return match.group()

    def block_comment(self, start: int) -> int:
        depth, pos = 0, start
        for match in _BLOCK_COMMENT_PART.finditer(self.query, start):
            depth += 1 if match.group() == "/*" else -1
            pos = match.end()
            if depth == 0:
                break
        else:
            pos = len(self.query)
        return self.region(start, pos, "a comment", code=False)

    def dollar(self, start: int) -> int:
        query = self.query
        if _ident_before(query, start):
            self.emit_code("$")  # part of an identifier such as a$b
            return start + 1
        tag = _DOLLAR_TAG.match(query, start)
        if tag is not None:
            close = query.find(tag.group(), tag.end())
            stop = len(query) if close < 0 else close + len(tag.group())
            return self.region(start, stop, "dollar-quoted text")
        number = _POSITIONAL_PARAMETER.match(query, start)
        if number is not None:
            self.fail(
                f"the query holds {number.group()}: with pyformat parameters write %s or "
                "%(name)s placeholders, which become $1, $2, ... when sent"
            )
            self.emit_code(number.group())
            return number.end()
        self.emit_code("$")
        return start + 1

    def placeholder(self, start: int) -> int:
        query, out = self.query, self.out
        kind = query[start + 1 : start + 2]
        if kind == "%":
            out.append("%")
            return start + 2
        self.has_code = True
        if kind and kind in _FORMATS:
            self.positional += 1
            out.append(f"${self.positional}")
            return start + 2
        if kind == "(":
            named = _NAMED.match(query, start)
            if named is None:
                self.fail(f"incomplete placeholder at position {start}: no ')' after '%('")
                out.append(query[start:])
                return len(query)
            name, fmt = named.groups()
            if not fmt or fmt not in _FORMATS:
                self.fail(
                    f"placeholder {named.group()!r} at position {start}: only %(name)s "
                    "(or %(name)b, %(name)t) is allowed"
                )
            number = self.names.setdefault(name, len(self.names) + 1)
            out.append(f"${number}")
            return named.end()
        if not kind:
            self.fail("incomplete placeholder: the query ends with '%'; write %% for a literal %")
        else:
            self.fail(
                f"unknown placeholder {'%' + kind!r} at position {start}: only %s, %(name)s "
                "and %% (a literal %) are allowed"
            )
        out.append(query[start : start + 2])
        return start + 2


def _ident_before(query: str, pos: int) -> bool:
    """Whether the character before ``pos`` continues an identifier (or a number)."""
    if pos == 0:
        return False
    before = query[pos - 1]
    return before.isalnum() or before in "_$"
