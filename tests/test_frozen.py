"""pgwire._frozen: every class ``@frozen_dataclass`` makes behaves as the ``@dataclass``
it stands for.

Each module using it is loaded a second time as its twin, with ``@dataclass(frozen=True,
slots=...)`` written in place of ``@frozen_dataclass(slots=...)``; every class is then held
against its twin: fields, signature, slots, match args, repr, equality, hash, frozenness,
pickling, ``dataclasses.fields()``/``replace()``/``asdict()``, and the errors of a wrong call.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import inspect
import pickle
import re
import sys
import types
import weakref
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pgwire._frozen import frozen_dataclass
from pgwire.protocol.messages import CommandComplete, DataRow, Parse

MODULES = [
    "pgwire.protocol.messages",
    "pgwire.protocol.auth",
    "pgwire.types.geometric",
    "pgwire.conninfo",
    "pgwire.flows",
]
DECORATOR = re.compile(r"^@frozen_dataclass\(slots=(True|False)\)$", re.MULTILINE)

#: Arguments for the classes whose __post_init__ checks its values.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "MD5Auth": {"password": "secret", "salt": b"salt"},
    "ScramAuth": {"secret": "the secret", "nonce": "abcdefghijklmnopqrstuvwxyz"},
}


@functools.cache
def twin_module(name: str) -> types.ModuleType:
    """Module ``name`` loaded again with ``dataclasses.dataclass`` as its decorator."""
    source = Path(importlib.import_module(name).__file__ or "").read_text()
    twin = types.ModuleType(f"twin_{name}")
    twin._dataclass = dataclass  # type: ignore[attr-defined]
    # dataclass reads the module of a class from sys.modules.
    sys.modules[twin.__name__] = twin
    exec(
        compile(DECORATOR.sub(r"@_dataclass(frozen=True, slots=\1)", source), name, "exec"),
        twin.__dict__,
    )
    return twin


def made_here(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [
        attribute
        for attribute, value in vars(module).items()
        if isinstance(value, type)
        and value.__module__ == module_name
        and getattr(value, "__init__", None) is not None
        and getattr(value.__init__, "__globals__", {}).get("__name__") == module_name
        and value.__init__.__globals__ is not vars(module)
    ]


def classes(module_name: str, attribute: str) -> tuple[Any, Any]:
    return getattr(importlib.import_module(module_name), attribute), getattr(
        twin_module(module_name), attribute
    )


def arguments(cls: Any, variant: str = "") -> dict[str, Any]:
    """A value for every field, different for each field and for each ``variant`` (the
    classes of ``ARGUMENTS`` have one set only)."""
    if cls.__name__ in ARGUMENTS:
        return dict(ARGUMENTS[cls.__name__])
    return {f.name: f"{cls.__name__}.{f.name}{variant}" for f in dataclasses.fields(cls)}


def required(cls: Any) -> dict[str, Any]:
    everything = arguments(cls)
    return {
        f.name: everything[f.name]
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
    }


def outcome(call: Any) -> tuple[type[BaseException] | None, str]:
    try:
        call()
    except Exception as exc:
        return type(exc), str(exc)
    return None, ""


ALL = [
    pytest.param(module, attribute, id=f"{module}.{attribute}")
    for module in MODULES
    for attribute in made_here(module)
]


def test_every_module_using_frozen_dataclass_is_compared_with_its_twin() -> None:
    src = Path(__file__).resolve().parent.parent / "src"
    using = {
        ".".join(path.relative_to(src).with_suffix("").parts)
        for path in (src / "pgwire").rglob("*.py")
        if DECORATOR.search(path.read_text())
    }
    assert using == set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_decorated_class_is_made_by_frozen_dataclass(module_name: str) -> None:
    source = Path(importlib.import_module(module_name).__file__ or "").read_text()
    decorated = re.findall(r"^@frozen_dataclass\(slots=(?:True|False)\)\nclass (\w+)", source, re.M)
    assert decorated
    assert sorted(made_here(module_name)) == sorted(decorated)


@pytest.mark.parametrize(("module_name", "attribute"), ALL)
def test_the_class_has_the_twins_shape(module_name: str, attribute: str) -> None:
    ours, twin = classes(module_name, attribute)
    assert dataclasses.is_dataclass(ours)
    assert [repr(f) for f in dataclasses.fields(ours)] == [
        repr(f) for f in dataclasses.fields(twin)
    ]
    assert repr(ours.__dataclass_params__) == repr(twin.__dataclass_params__)
    assert str(inspect.signature(ours)) == str(inspect.signature(twin))
    assert ours.__init__.__annotations__ == twin.__init__.__annotations__
    assert ours.__init__.__qualname__ == twin.__init__.__qualname__
    assert ours.__match_args__ == twin.__match_args__
    assert getattr(ours, "__slots__", None) == getattr(twin, "__slots__", None)
    assert ours.__doc__ == twin.__doc__
    # Python 3.10's dataclass leaves the first class's __weakref__ descriptor in a slotted
    # one (python/cpython#102069); neither kind of instance can be weakly referenced.
    stale = {"__weakref__"} if sys.version_info < (3, 11) and "__slots__" in vars(ours) else set()
    assert sorted(vars(ours)) == sorted(set(vars(twin)) - stale)
    assert [b.__name__ for b in ours.__mro__] == [b.__name__ for b in twin.__mro__]
    for f in dataclasses.fields(ours):
        # Without slots the class holds the defaults; with slots, the slot's descriptor.
        ours_default = ours.__dict__.get(f.name, "absent")
        twin_default = twin.__dict__.get(f.name, "absent")
        if isinstance(twin_default, types.MemberDescriptorType):
            assert isinstance(ours_default, types.MemberDescriptorType)
        else:
            assert ours_default == twin_default


@pytest.mark.parametrize(("module_name", "attribute"), ALL)
def test_instances_behave_as_the_twins_do(module_name: str, attribute: str) -> None:
    ours, twin = classes(module_name, attribute)
    values = arguments(ours)
    positional = list(values.values())
    a, b = ours(*positional), twin(*positional)
    assert repr(a) == repr(b)
    assert ours(**values) == a
    assert hash(ours(**values)) == hash(a) == hash(b)
    assert a.__eq__(object()) is NotImplemented
    assert a.__eq__(b) is NotImplemented
    if values and attribute not in ARGUMENTS:
        other = ours(**arguments(ours, "-other"))
        assert (other == a) is False
        assert (other != a) is True
    # The defaults (and __post_init__) with only the required arguments.
    assert repr(ours(**required(ours))) == repr(twin(**required(twin)))
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.astuple(a) == dataclasses.astuple(b)
    for name in values:
        changed = dataclasses.replace(a, **{name: values[name]})
        assert changed == a and changed is not a
    if sys.version_info >= (3, 13):
        assert copy.replace(a) == a  # type: ignore[attr-defined]
    if hasattr(twin, "__getstate__") and "__getstate__" in vars(twin):
        assert a.__getstate__() == b.__getstate__()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(a, protocol)) == a
    assert copy.copy(a) == a
    assert copy.deepcopy(a) == a
    assert outcome(lambda: weakref.ref(a))[0] == outcome(lambda: weakref.ref(b))[0]


@pytest.mark.parametrize(("module_name", "attribute"), ALL)
def test_instances_are_frozen_as_the_twins_are(module_name: str, attribute: str) -> None:
    ours, twin = classes(module_name, attribute)
    positional = list(arguments(ours).values())
    a, b = ours(*positional), twin(*positional)
    for name in arguments(ours):
        assert outcome(lambda n=name: setattr(a, n, 1)) == outcome(lambda n=name: setattr(b, n, 1))
        assert outcome(lambda n=name: setattr(a, n, 1))[0] is FrozenInstanceError
        assert outcome(lambda n=name: delattr(a, n)) == outcome(lambda n=name: delattr(b, n))
    # Any other attribute is refused as well. (A slotted dataclass raises a TypeError from
    # super() there before Python 3.14, python/cpython#90562; the class is frozen either way.)
    assert outcome(lambda: setattr(a, "other", 1)) == (
        FrozenInstanceError,
        "cannot assign to field 'other'",
    )
    assert outcome(lambda: delattr(a, "other")) == (
        FrozenInstanceError,
        "cannot delete field 'other'",
    )
    twin_outcome = outcome(lambda: setattr(b, "other", 1))
    assert twin_outcome[0] in (FrozenInstanceError, TypeError)


@pytest.mark.parametrize(("module_name", "attribute"), ALL)
def test_wrong_calls_fail_as_the_twins_do(module_name: str, attribute: str) -> None:
    ours, twin = classes(module_name, attribute)
    values = arguments(ours)
    positional = list(values.values())
    assert outcome(lambda: ours(*positional, "extra")) == outcome(
        lambda: twin(*positional, "extra")
    )
    assert outcome(lambda: ours(unknown=1)) == outcome(lambda: twin(unknown=1))
    if required(ours):
        assert outcome(ours)[0] is TypeError
        assert outcome(ours) == outcome(twin)


@pytest.mark.parametrize(
    ("module_name", "attribute", "bad"),
    [
        ("pgwire.protocol.auth", "MD5Auth", {"password": "secret", "salt": b"5alts"}),
        ("pgwire.protocol.auth", "ScramAuth", {"secret": "the secret", "nonce": "short"}),
    ],
)
def test_post_init_checks_run_as_the_twins_do(
    module_name: str, attribute: str, bad: dict[str, Any]
) -> None:
    ours, twin = classes(module_name, attribute)
    refused = outcome(lambda: ours(**bad))
    assert refused[0] is not None
    assert refused == outcome(lambda: twin(**bad))


def test_messages_match_patterns_by_position_and_keyword() -> None:
    match DataRow((b"1", None)):
        case DataRow((first, None)):
            assert first == b"1"
        case _:
            pytest.fail("DataRow did not match by position")
    match Parse("s1", "SELECT 1"):
        case Parse(name, sql=query, param_oids=()):
            assert (name, query) == ("s1", "SELECT 1")
        case _:
            pytest.fail("Parse did not match")


def test_a_dataclass_may_subclass_a_frozen_dataclass_without_fields() -> None:
    @dataclass(frozen=True)
    class Tagged(CommandComplete):
        pass

    assert Tagged("SELECT 1") == Tagged("SELECT 1")
    assert repr(Tagged("SELECT 1")).endswith(".Tagged(tag='SELECT 1')")
    with pytest.raises(FrozenInstanceError):
        Tagged("SELECT 1").tag = "SELECT 2"  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# What frozen_dataclass refuses, rather than differ from dataclass
# --------------------------------------------------------------------------------------


def test_fields_inherited_from_a_dataclass_are_refused() -> None:
    with pytest.raises(TypeError, match="inherits from the dataclass CommandComplete"):

        @frozen_dataclass(slots=True)
        class More(CommandComplete):
            extra: int


@pytest.mark.parametrize(
    "spec",
    [
        field(default_factory=list),
        field(default=1, init=False),
        field(default=1, compare=False),
        field(default=1, hash=False),
        field(default=1, metadata={"a": 1}),
        field(default=1, kw_only=True),
    ],
)
def test_field_options_beyond_default_and_repr_are_refused(spec: Any) -> None:
    with pytest.raises(TypeError, match=r"supports field\(default=\.\.\., repr=\.\.\.\) only"):

        @frozen_dataclass(slots=True)
        class Value:
            x: int = spec


@pytest.mark.parametrize("method", ["__repr__", "__eq__", "__hash__", "__init__"])
def test_a_class_with_its_own_generated_method_is_refused(method: str) -> None:
    with pytest.raises(TypeError, match=f"defines {method}"):
        frozen_dataclass(slots=False)(type("Value", (), {method: lambda self: None}))


def test_annotations_that_are_not_strings_are_refused() -> None:
    with pytest.raises(TypeError, match="from __future__ import annotations"):
        frozen_dataclass(slots=True)(type("Value", (), {"__annotations__": {"x": int}}))


def test_mistakes_dataclass_refuses_are_refused_alike() -> None:
    def both(namespace: dict[str, Any]) -> tuple[Any, Any]:
        return (
            outcome(lambda: frozen_dataclass(slots=True)(type("V", (), dict(namespace)))),
            outcome(lambda: dataclass(frozen=True, slots=True)(type("V", (), dict(namespace)))),
        )

    # Python 3.13 names the default argument too; frozen_dataclass does.
    ours, theirs = both({"__annotations__": {"x": "int", "y": "int"}, "x": 1})
    assert ours[0] is theirs[0] is TypeError
    assert ours[1].startswith("non-default argument 'y' follows default argument")
    assert theirs[1].startswith("non-default argument 'y' follows default argument")
    for namespace in (
        {"__annotations__": {"x": "list[int]"}, "x": []},
        {"__annotations__": {}, "x": field(default=1)},
        {"__annotations__": {"x": "int"}, "__slots__": ("x",)},
    ):
        ours, theirs = both(namespace)
        assert ours[0] is not None
        assert ours == theirs


def test_classvar_annotations_are_not_fields() -> None:
    @frozen_dataclass(slots=True)
    class Value:
        kind: ClassVar[int] = 3
        x: int

    assert [f.name for f in dataclasses.fields(Value)] == ["x"]
    assert Value.kind == 3
    assert Value.__slots__ == ("x",)
