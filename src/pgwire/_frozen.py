"""Frozen dataclasses made cheaply at import time.

``@frozen_dataclass(slots=True)`` makes the class ``@dataclass(frozen=True, slots=True)``
makes, and ``slots=False`` the one ``@dataclass(frozen=True)`` makes: the same ``__init__``
(positional and keyword arguments, defaults, ``__post_init__``), ``__repr__`` (leaving out
fields marked ``field(repr=False)``), ``__eq__``, ``__hash__``, ``__match_args__``,
``__slots__``, ``dataclasses.FrozenInstanceError`` on assignment, pickling, ``copy.replace``
(3.13+), and the ``__dataclass_fields__`` that ``dataclasses.fields()``, ``replace()`` and
``asdict()`` read.

Why: ``dataclass`` writes the source of six methods per class and compiles it (and
``slots=True`` builds the class twice), about half a millisecond a class; the drivers define
some seventy such classes before they can connect. Here only ``__init__`` is compiled, since
it must take the fields' names as parameters and is on hot paths (a DataRow per row), and
only once for all the classes with the same fields; the other methods are closures over the
field names.

Only what pgwire's classes use is supported, and anything else is a TypeError when the class
is made rather than a quiet difference: fields are annotated in the class itself (none
inherited from a dataclass base) with strings (``from __future__ import annotations``), with
a plain default or ``field(default=..., repr=...)``; the class defines none of the methods
made here. Two private names of the ``dataclasses`` module are used, as ``dataclass`` itself
sets them, so that its public functions accept these classes: ``_FIELD`` (the kind of a
field) and ``_DataclassParams``. tests/test_frozen.py compares every class made here with a
real dataclass twin, on each Python version the tests run on.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import reprlib
import sys
import types
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: object) -> Callable[[Any], Any]:
        return lambda decorator: decorator


__all__ = ["frozen_dataclass"]

_T = TypeVar("_T")
_MISSING = dataclasses.MISSING
_MADE_HERE = (
    "__init__",
    "__repr__",
    "__eq__",
    "__hash__",
    "__setattr__",
    "__delattr__",
    "__match_args__",
    "__getstate__",
    "__setstate__",
    "__replace__",
)


def _params(slots: bool) -> Any:
    chosen = {
        "init": True,
        "repr": True,
        "eq": True,
        "order": False,
        "unsafe_hash": False,
        "frozen": True,
        "match_args": True,
        "kw_only": False,
        "slots": slots,
        "weakref_slot": False,
    }
    params = dataclasses._DataclassParams  # type: ignore[attr-defined]
    # Python 3.10 and 3.11 know only the first six.
    return params(**{name: chosen[name] for name in params.__slots__})


_PARAMS = {True: _params(True), False: _params(False)}


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen_dataclass(*, slots: bool) -> Callable[[type[_T]], type[_T]]:
    """``@dataclass(frozen=True, slots=slots)``, made without compiling more than ``__init__``."""

    def make(cls: type[_T]) -> type[_T]:
        return _make(cls, slots)

    return make


def _make(cls: type[_T], slots: bool) -> type[_T]:
    namespace = cls.__dict__
    _refuse_what_is_not_supported(cls, slots)
    fields = {
        name: _field(cls, name, annotation, namespace.get(name, _MISSING))
        for name, annotation in namespace.get("__annotations__", {}).items()
        if not _is_classvar(cls, name, annotation)
    }
    names = tuple(fields)
    for name, value in namespace.items():
        if isinstance(value, dataclasses.Field) and name not in fields:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    made: Any
    if slots:
        body = {k: v for k, v in namespace.items() if k not in fields}
        body.pop("__dict__", None)
        body.pop("__weakref__", None)
        body["__slots__"] = names
        metaclass: Any = type(cls)
        made = metaclass(cls.__name__, cls.__bases__, body)
        made.__qualname__ = cls.__qualname__
    else:
        made = cls
        for name, f in fields.items():
            if f.default is not _MISSING:
                setattr(made, name, f.default)
            elif name in namespace:
                delattr(made, name)  # a field() without a default

    values = _values_getter(names)
    own: dict[str, Callable[..., Any]] = {
        "__init__": _init(made, fields, slots),
        "__repr__": _repr(tuple(name for name, f in fields.items() if f.repr)),
        "__eq__": _eq(values),
        "__hash__": _hash(values),
        "__setattr__": _setattr(made, names),
        "__delattr__": _delattr(made, names),
    }
    for method_name, method in own.items():
        method.__qualname__ = f"{made.__qualname__}.{method_name}"
    attributes: dict[str, Any] = {
        "__dataclass_params__": _PARAMS[slots],
        "__dataclass_fields__": fields,
        **own,
        "__match_args__": names,
    }
    if slots:
        attributes["__getstate__"] = _getstate
        attributes["__setstate__"] = _setstate
    if sys.version_info >= (3, 13):
        attributes["__replace__"] = _replace
    for name, value in attributes.items():
        setattr(made, name, value)
    if not made.__doc__:
        import inspect

        made.__doc__ = made.__name__ + str(inspect.signature(made)).replace(" -> None", "")
    abc.update_abstractmethods(made)
    return cast("type[_T]", made)


def _refuse_what_is_not_supported(cls: type, slots: bool) -> None:
    for base in cls.__mro__[1:]:
        if "__dataclass_fields__" in base.__dict__:
            raise TypeError(
                f"{cls.__qualname__} inherits from the dataclass {base.__qualname__}: "
                "frozen_dataclass makes only classes whose fields are all their own"
            )
    if slots and "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__} already specifies __slots__")
    defined = [name for name in _MADE_HERE if name in cls.__dict__]
    if defined:
        raise TypeError(
            f"{cls.__qualname__} defines {', '.join(defined)}: frozen_dataclass makes these "
            "itself; use dataclasses.dataclass for a class that needs its own"
        )


def _is_classvar(cls: type, name: str, annotation: object) -> bool:
    if not isinstance(annotation, str):
        raise TypeError(
            f"{cls.__qualname__}.{name}: frozen_dataclass reads annotations as strings; "
            "add 'from __future__ import annotations' to the module"
        )
    kind = annotation.partition("[")[0].strip()
    if kind.endswith("InitVar"):
        raise TypeError(f"{cls.__qualname__}.{name}: InitVar fields are not supported")
    return kind in ("ClassVar", "typing.ClassVar")


def _field(cls: type, name: str, annotation: str, default: Any) -> dataclasses.Field[Any]:
    if isinstance(default, dataclasses.Field):
        f = default
        plain = (
            f.default_factory is _MISSING
            and f.init
            and f.hash is None
            and f.compare
            and not f.metadata
            and f.kw_only in (_MISSING, False)
        )
        if not plain:
            raise TypeError(
                f"{cls.__qualname__}.{name}: frozen_dataclass supports field(default=..., "
                "repr=...) only"
            )
    else:
        f = dataclasses.field(default=default)
    if f.default is not _MISSING and f.default.__class__.__hash__ is None:
        raise ValueError(
            f"mutable default {type(f.default)} for field {name} is not allowed: "
            "use default_factory"
        )
    f.name = name
    f.type = annotation
    f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
    f.kw_only = False
    return f


def _init(cls: type, fields: dict[str, dataclasses.Field[Any]], slots: bool) -> Callable[..., None]:
    """The one compiled method: ``__init__(self, a, b=...)`` storing each argument."""
    names = tuple(fields)
    if "self" in names:
        raise TypeError(f"{cls.__qualname__}: a field named 'self' is not supported")
    seen_default = None
    for name, f in fields.items():
        if f.default is not _MISSING:
            seen_default = name
        elif seen_default is not None:
            raise TypeError(
                f"non-default argument {name!r} follows default argument {seen_default!r}"
            )
    scope: dict[str, Any] = {"__name__": cls.__module__}
    if slots:
        # The slot's own setter: what object.__setattr__ ends in, without looking it up.
        scope.update({f"_set_{name}": cls.__dict__[name].__set__ for name in names})
    else:
        scope["_set"] = object.__setattr__
    code = _init_code(names, slots, hasattr(cls, "__post_init__"))
    init: Callable[..., None] = types.FunctionType(code, scope)
    defaults = tuple(f.default for f in fields.values() if f.default is not _MISSING)
    init.__defaults__ = defaults or None
    init.__annotations__ = {**{name: f.type for name, f in fields.items()}, "return": None}
    return init


@functools.cache
def _init_code(names: tuple[str, ...], slots: bool, post_init: bool) -> types.CodeType:
    """The code of ``__init__`` for these fields, compiled once for all the classes that
    have them (many have none, or only ``data``); each class runs it with its own setters."""
    lines = [f"def __init__(self, {', '.join(names)}):" if names else "def __init__(self):"]
    for name in names:
        lines.append(
            f"    _set_{name}(self, {name})" if slots else f"    _set(self, {name!r}, {name})"
        )
    if post_init:
        lines.append("    self.__post_init__()")
    elif not names:
        lines.append("    pass")
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)
    code: types.CodeType = scope["__init__"].__code__
    return code


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of an instance's field values, which dataclass compares and hashes."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return lambda obj: ()


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join([f"{name}={getattr(self, name)!r}" for name in names])
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _eq(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _setattr(cls: Any, names: tuple[str, ...]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _delattr(cls: Any, names: tuple[str, ...]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__


# Pickling a frozen class with slots: its fields' values, set again without __setattr__.
def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=False):
        object.__setattr__(self, f.name, value)


def _replace(self: Any, /, **changes: Any) -> Any:
    return dataclasses.replace(self, **changes)
