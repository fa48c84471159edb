"""The shortcut of binary array decoders (one dimension, lower bound 1, no NULL, elements of
their type's width) against the general decoder it shortcuts: the same value, or the same
error, for every input, well-formed or not."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pgwire.errors import DataError
from pgwire.types import BINARY, default_registry, oids
from pgwire.types.arrays import binary_array_decoder, general_binary_array_decoder

REGISTRY = default_registry()

#: element oid -> (struct code, strategy of element values)
ELEMENTS: dict[int, tuple[str, st.SearchStrategy[Any]]] = {
    oids.INT2: ("h", st.integers(-(2**15), 2**15 - 1)),
    oids.INT4: ("i", st.integers(-(2**31), 2**31 - 1)),
    oids.INT8: ("q", st.integers(-(2**63), 2**63 - 1)),
    oids.OID: ("I", st.integers(0, 2**32 - 1)),
    oids.FLOAT4: ("f", st.floats(width=32)),
    oids.FLOAT8: ("d", st.floats()),
}


@st.composite
def arrays(draw: st.DrawFn) -> tuple[int, bytes]:
    """An element oid and a binary array of it: mostly the shortcut's case, sometimes with
    NULLs, other bounds, more dimensions, another element oid or a wrong flag."""
    oid = draw(st.sampled_from(sorted(ELEMENTS)))
    code, values = ELEMENTS[oid]
    elements: list[Any] = draw(st.lists(values | st.none(), max_size=30))
    if draw(st.booleans()):
        elements = [0 if v is None else v for v in elements]
    dims = [len(elements)]
    if draw(st.integers(0, 5)) == 0 and len(elements) % 2 == 0 and elements:
        dims = [2, len(elements) // 2]
    lower = draw(st.sampled_from([1, 1, 1, 0, -3]))
    flags = int(None in elements) if draw(st.integers(0, 5)) else draw(st.integers(-1, 2))
    element_oid = oid if draw(st.integers(0, 9)) else oids.TEXT
    ndim = len(dims) if draw(st.integers(0, 9)) else draw(st.integers(-1, 7))
    body = struct.pack("!iiI", ndim, flags, element_oid)
    body += b"".join(struct.pack("!ii", d, lower) for d in dims)
    for v in elements:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", struct.calcsize(code))
        if v is not None:
            body += struct.pack("!" + code, v)
    return oid, body


def outcome(decode: Any, data: bytes) -> str:
    try:
        return repr(decode(data))
    except DataError as exc:
        return f"DataError: {exc}"


def decoders(oid: int) -> tuple[Any, Any]:
    element = REGISTRY.decoder(oid, BINARY)
    return (
        binary_array_decoder(oid, element, "array"),
        general_binary_array_decoder(oid, element, "array"),
    )


@settings(max_examples=400, deadline=None)
@given(arrays())
def test_the_shortcut_decodes_as_the_general_decoder(array: tuple[int, bytes]) -> None:
    oid, data = array
    fast, general = decoders(oid)
    assert outcome(fast, data) == outcome(general, data)


@settings(max_examples=400, deadline=None)
@given(arrays(), st.data())
def test_damaged_and_truncated_arrays_fail_or_decode_as_the_general_decoder(
    array: tuple[int, bytes], data: st.DataObject
) -> None:
    oid, wire = array
    damaged = bytearray(wire)
    for _ in range(data.draw(st.integers(0, 3))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = bytes(damaged[: data.draw(st.integers(0, len(damaged)))])
    fast, general = decoders(oid)
    assert outcome(fast, cut) == outcome(general, cut)


def test_an_element_of_another_length_is_refused_as_the_general_decoder_does() -> None:
    # Two int4 elements, the first declared 5 bytes long and the second 3: they fill the
    # 16 bytes two int4 elements would.
    data = struct.pack("!iiIii", 1, 0, oids.INT4, 2, 1)
    data += struct.pack("!i", 5) + b"\x00" * 5 + struct.pack("!i", 3) + b"\x00" * 3
    assert len(data) == 20 + 2 * 8
    fast, general = decoders(oid=oids.INT4)
    assert outcome(fast, data) == outcome(general, data)
    assert outcome(fast, data).startswith("DataError")


def test_the_common_case_is_the_list_of_values() -> None:
    data = struct.pack("!iiIii", 1, 0, oids.INT4, 3, 1) + b"".join(
        struct.pack("!ii", 4, v) for v in (-(2**31), 0, 2**31 - 1)
    )
    fast, _ = decoders(oids.INT4)
    assert fast(data) == [-(2**31), 0, 2**31 - 1]
    assert REGISTRY.decoder(1007, BINARY)(data) == [-(2**31), 0, 2**31 - 1]
