"""``Record``: one result row, readable by index, by column name, and as a mapping.

A Record *is* the tuple of its values (a ``tuple`` subclass), so a row costs one tuple:
creating, iterating, unpacking and measuring rows run at tuple speed.  The column names live
on a class made once per set of names (:attr:`RecordShape.record_class`), shared by every
row of every result with those columns.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

__all__ = ["Record", "RecordShape"]

#: Record classes by column names, most recently used last (a bounded cache: a class whose
#: entry is dropped lives on in the rows that use it).
_CLASSES: OrderedDict[tuple[str, ...], type[Record]] = OrderedDict()
_MAX_CLASSES = 4096


class RecordShape:
    """The column names of a result, shared by all its rows."""

    __slots__ = ("index", "names", "record_class")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.index: dict[str, int] = {}
        for position, name in enumerate(names):
            self.index.setdefault(name, position)
        #: The Record subclass of rows with these columns: ``tuple.__new__(record_class,
        #: values)`` makes a row at the cost of a tuple (what the row parsers do).
        self.record_class: type[Record] = _record_class(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordShape) and self.names == other.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __reduce__(self) -> tuple[Any, ...]:
        return (RecordShape, (self.names,))


def _record_class(shape: RecordShape) -> type[Record]:
    cls = _CLASSES.get(shape.names)
    if cls is not None:
        _CLASSES.move_to_end(shape.names)
        return cls
    cls = type("Record", (Record,), {"__slots__": (), "_shape": shape})
    cls.__qualname__ = "Record"
    cls.__module__ = Record.__module__
    _CLASSES[shape.names] = cls
    if len(_CLASSES) > _MAX_CLASSES:
        _CLASSES.popitem(last=False)
    return cls


def _make_record(names: tuple[str, ...], values: tuple[Any, ...]) -> Record:
    """Unpickle a Record."""
    return Record(RecordShape(names), values)


class Record(tuple[Any, ...]):
    """A row: ``r[0]``, ``r["name"]``, ``for value in r``, ``dict(r)``, ``len(r)``.

    It is the tuple of its values: it compares equal to that tuple, hashes like it, and
    slices into plain tuples.  ``keys()``, ``values()`` and ``items()`` give the mapping
    view.  With duplicate column names, lookup by name finds the first.  Two Records are
    equal when their column names and values are.
    """

    __slots__ = ()
    _shape: ClassVar[RecordShape]

    def __new__(cls, shape: RecordShape, values: Iterable[Any]) -> Record:
        return tuple.__new__(shape.record_class, values)

    def __getitem__(self, key: Any) -> Any:
        if type(key) is str:
            try:
                return tuple.__getitem__(self, self._shape.index[key])
            except KeyError:
                names = ", ".join(map(repr, self._shape.names))
                raise KeyError(f"no column {key!r}; columns are {names}") from None
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of column ``key``, or ``default`` if there is no such column."""
        position = self._shape.index.get(key)
        return default if position is None else tuple.__getitem__(self, position)

    def keys(self) -> Iterator[str]:
        """Column names, in order."""
        return iter(self._shape.names)

    def values(self) -> Iterator[Any]:
        """Column values, in order."""
        return tuple.__iter__(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` pairs, in order."""
        return zip(self._shape.names, self, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return tuple.__eq__(self, other) and self._shape.names == other._shape.names
        if isinstance(other, tuple):
            return tuple.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        inner = " ".join(f"{name}={value!r}" for name, value in self.items())
        return f"<Record {inner}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_record, (self._shape.names, tuple(self)))
