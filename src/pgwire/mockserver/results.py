"""What a mock server's handler returns, and how its answer is read.

A handler is ``async def handler(query: str, params: tuple) -> result`` (or a plain
function).  Its answer may be a :class:`Result` (rows, columns and their types, command
tag), a list of tuples or dicts (the rows; text columns, named from the dict keys), a string
(a command tag such as ``"CREATE TABLE"``), ``None`` (no rows), or a
:class:`pgwire.errors.PostgresError` raised or returned.  :func:`normalize` turns any of
these into a :class:`Result` or a :class:`Command`.  :class:`Script` is a handler made of
the queries expected, in order.  No I/O here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgwire.errors import PostgresError
from pgwire.types import oids as _oids

__all__ = [
    "TYPE_OIDS",
    "Column",
    "ColumnSpec",
    "Command",
    "Describing",
    "Handler",
    "Result",
    "Script",
    "command_tag",
    "mock_error",
    "normalize",
    "type_oid",
]

Handler = Callable[[str, tuple[Any, ...]], Awaitable[Any] | Any]

#: Type names a column or parameter may be given by, with PostgreSQL's usual aliases.
TYPE_OIDS: dict[str, int] = {
    name.lower(): value for name, value in vars(_oids).items() if name.isupper()
}
TYPE_OIDS.update(
    {
        "int": _oids.INT4,
        "integer": _oids.INT4,
        "smallint": _oids.INT2,
        "bigint": _oids.INT8,
        "boolean": _oids.BOOL,
        "real": _oids.FLOAT4,
        "float": _oids.FLOAT8,
        "double precision": _oids.FLOAT8,
        "decimal": _oids.NUMERIC,
        "character varying": _oids.VARCHAR,
    }
)


def type_oid(type_: str | int) -> int:
    """The OID of a type given by OID or by name (``int4``, ``integer``, ``text``, ...)."""
    if isinstance(type_, int):
        return type_
    try:
        return TYPE_OIDS[type_.lower()]
    except KeyError:
        raise ValueError(f"unknown type name {type_!r}; give its OID instead") from None


@dataclass(frozen=True)
class Column:
    """A result column: its name and type (a name such as ``int4``, or an OID)."""

    name: str
    type: str | int = "text"

    @property
    def oid(self) -> int:
        """The type OID."""
        return type_oid(self.type)


ColumnSpec = str | tuple[str, str | int] | Column


@dataclass
class Result:
    """What a query returns: rows, their columns, and the command tag.

    ``columns`` may be names (type text), ``(name, type)`` pairs, :class:`Column` objects,
    or a mapping of name to type; when left out, dict rows name them (as text) and tuple
    rows get ``?column?``.  ``tag`` defaults to ``SELECT <number of rows>``.
    """

    rows: Sequence[Sequence[Any] | Mapping[str, Any]] = ()
    columns: Sequence[ColumnSpec] | Mapping[str, str | int] | None = None
    tag: str | None = None
    _columns: tuple[Column, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._columns = _columns(self.columns, self.rows)

    @property
    def described(self) -> tuple[Column, ...]:
        """The columns, normalized."""
        return self._columns

    def tuples(self) -> Iterator[Sequence[Any]]:
        """The rows as sequences in column order."""
        names = [c.name for c in self._columns]
        for row in self.rows:
            yield [row.get(n) for n in names] if isinstance(row, Mapping) else row

    @property
    def command_tag(self) -> str:
        """The CommandComplete tag."""
        return self.tag if self.tag is not None else f"SELECT {len(self.rows)}"


def _columns(
    spec: Sequence[ColumnSpec] | Mapping[str, str | int] | None,
    rows: Sequence[Sequence[Any] | Mapping[str, Any]],
) -> tuple[Column, ...]:
    if isinstance(spec, Mapping):
        return tuple(Column(name, type_) for name, type_ in spec.items())
    if spec is not None:
        return tuple(
            c if isinstance(c, Column) else Column(c) if isinstance(c, str) else Column(*c)
            for c in spec
        )
    if not rows:
        return ()
    first = rows[0]
    if isinstance(first, Mapping):
        return tuple(Column(str(name)) for name in first)
    return tuple(Column("?column?") for _ in first)


class Describing(tuple[Any, ...]):
    """The parameters a handler gets when called only to describe a prepared statement's
    result: all ``None``, before the client bound any value."""


@dataclass
class Command:
    """A handler's answer that is only a command tag."""

    tag: str


class Script:
    """A scripted conversation: the queries expected, in order, and what each returns.

    ``Script([("SELECT 1", Result([(1,)], [("n", "int4")])), ("DROP x", errors.UndefinedTable(
    "no x"))])`` is a handler: each call must bring the next query (compared after collapsing
    whitespace, case kept), else the client gets an error naming both.  ``remaining`` tells
    what was never asked.
    """

    def __init__(self, steps: Sequence[tuple[str, Any]]) -> None:
        self._steps = list(steps)
        self._position = 0

    @property
    def remaining(self) -> list[str]:
        """The queries not asked yet."""
        return [query for query, _ in self._steps[self._position :]]

    async def __call__(self, query: str, params: tuple[Any, ...]) -> Any:
        if isinstance(params, Describing):
            # A Describe before Bind: answer without consuming the step.
            return self._peek(query)
        answer = self._peek(query)
        self._position += 1
        return answer

    def _peek(self, query: str) -> Any:
        if self._position >= len(self._steps):
            raise mock_error(f"the script is over; unexpected query {query!r}")
        expected, answer = self._steps[self._position]
        if " ".join(expected.split()) != " ".join(query.split()):
            raise mock_error(f"the script expected {expected!r}, got {query!r}")
        return answer


def mock_error(message: str, sqlstate: str = "XX000") -> PostgresError:
    """An error the mock server reports itself, as an ErrorResponse with ``sqlstate``."""
    return PostgresError({"S": "ERROR", "V": "ERROR", "C": sqlstate, "M": message})


def command_tag(result: Result | Command) -> str:
    """The CommandComplete tag of an answer."""
    return result.command_tag if isinstance(result, Result) else result.tag


def normalize(answer: Any, first_word: str) -> Result | Command:
    """A handler's answer as a result or a command tag (``first_word``: the query's, the
    tag of ``None``); an exception answered is raised."""
    if isinstance(answer, BaseException):
        raise answer
    if isinstance(answer, Result):
        return answer
    if isinstance(answer, str):
        return Command(answer)
    if answer is None:
        return Command(first_word or "SELECT 0")
    return Result(list(answer))
