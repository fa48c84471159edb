"""``Record``: one result row, readable by index, by column name, and as a mapping.

Rows of one result share a single column-name index built once per statement, so a row
costs one small object and its tuple of values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Record", "RecordShape"]


class RecordShape:
    """The column names of a result, shared by all its rows."""

    __slots__ = ("index", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.index: dict[str, int] = {}
        for position, name in enumerate(names):
            self.index.setdefault(name, position)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordShape) and self.names == other.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __reduce__(self) -> tuple[Any, ...]:
        return (RecordShape, (self.names,))


class Record:
    """A row: ``r[0]``, ``r["name"]``, ``for value in r``, ``dict(r)``, ``len(r)``.

    Iteration yields values (like a tuple); ``keys()``, ``values()`` and ``items()`` give
    the mapping view.  With duplicate column names, lookup by name finds the first.
    """

    __slots__ = ("_shape", "_values")

    def __init__(self, shape: RecordShape, values: tuple[Any, ...]) -> None:
        self._shape = shape
        self._values = values

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._shape.index[key]]
            except KeyError:
                names = ", ".join(map(repr, self._shape.names))
                raise KeyError(f"no column {key!r}; columns are {names}") from None
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of column ``key``, or ``default`` if there is no such column."""
        position = self._shape.index.get(key)
        return default if position is None else self._values[position]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def keys(self) -> Iterator[str]:
        """Column names, in order."""
        return iter(self._shape.names)

    def values(self) -> Iterator[Any]:
        """Column values, in order."""
        return iter(self._values)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` pairs, in order."""
        return zip(self._shape.names, self._values, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._values == other._values and self._shape == other._shape
        if isinstance(other, tuple):
            return self._values == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        inner = " ".join(f"{name}={value!r}" for name, value in self.items())
        return f"<Record {inner}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (self._shape, self._values))
