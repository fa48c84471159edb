"""The geometric types (point, line, lseg, box, path, polygon, circle) and their codecs.

Binary layouts (``*_send``): float8 coordinates; point is x, y; line is A, B, C of Ax+By+C=0;
lseg is two points; box is its upper-right then lower-left corner; path is a closed byte,
int32 number of points and the points; polygon is int32 number of points and the points;
circle is the center and the radius. Text output is ``(1,2)``, ``{1,2,3}``, ``[(1,2),(3,4)]``,
``(3,4),(1,2)``, ``((1,2),(3,4))`` (closed path, polygon) or ``[...]`` (open path), ``<(1,2),3>``.

Policy: each type decodes to a small immutable class below (Point is a NamedTuple, so
``x, y = point`` works) and encodes from it; a plain tuple ``(x, y)`` is also accepted as a
point. The server keeps a box's corners as upper-right and lower-left whatever order they
were given in. This module must not import the registry.
"""

from __future__ import annotations

import re
import struct
from typing import Any, NamedTuple

from pgwire._frozen import frozen_dataclass
from pgwire.errors import DataError
from pgwire.types.base import wrong_type


class Point(NamedTuple):
    """A point (x, y)."""

    x: float
    y: float


@frozen_dataclass(slots=True)
class Line:
    """The infinite line a*x + b*y + c = 0."""

    a: float
    b: float
    c: float


@frozen_dataclass(slots=True)
class LineSegment:
    """The segment from ``start`` to ``end``."""

    start: Point
    end: Point


@frozen_dataclass(slots=True)
class Box:
    """A rectangle by two opposite corners (the server sends upper-right, then lower-left)."""

    high: Point
    low: Point


@frozen_dataclass(slots=True)
class Path:
    """A path through ``points``; ``closed`` joins the last point to the first."""

    points: tuple[Point, ...]
    closed: bool = False


@frozen_dataclass(slots=True)
class Polygon:
    """A closed polygon through ``points``."""

    points: tuple[Point, ...]


@frozen_dataclass(slots=True)
class Circle:
    """A circle around ``center``."""

    center: Point
    radius: float


_float8 = struct.Struct("!d")
_two = struct.Struct("!2d")
_three = struct.Struct("!3d")
_four = struct.Struct("!4d")
_count = struct.Struct("!i")
_closed_count = struct.Struct("!?i")


def _exact(data: bytes, size: int, type_name: str) -> None:
    if len(data) != size:
        raise DataError(f"invalid binary {type_name}: {len(data)} bytes, expected {size}")


def decode_point_binary(data: bytes) -> Point:
    _exact(data, 16, "point")
    return Point(*_two.unpack(data))


def decode_line_binary(data: bytes) -> Line:
    _exact(data, 24, "line")
    return Line(*_three.unpack(data))


def decode_lseg_binary(data: bytes) -> LineSegment:
    _exact(data, 32, "lseg")
    x1, y1, x2, y2 = _four.unpack(data)
    return LineSegment(Point(x1, y1), Point(x2, y2))


def decode_box_binary(data: bytes) -> Box:
    _exact(data, 32, "box")
    x1, y1, x2, y2 = _four.unpack(data)
    return Box(Point(x1, y1), Point(x2, y2))


def decode_circle_binary(data: bytes) -> Circle:
    _exact(data, 24, "circle")
    x, y, r = _three.unpack(data)
    return Circle(Point(x, y), r)


def _points(data: bytes, offset: int, count: int, type_name: str) -> tuple[Point, ...]:
    if count < 0 or len(data) != offset + 16 * count:
        raise DataError(f"invalid binary {type_name}: {count} points in {len(data)} bytes")
    values = struct.unpack_from(f"!{2 * count}d", data, offset)
    return tuple(Point(values[i], values[i + 1]) for i in range(0, 2 * count, 2))


def decode_path_binary(data: bytes) -> Path:
    if len(data) < 5 or data[0] > 1:
        raise DataError(f"invalid binary path: {len(data)} bytes")
    closed, count = _closed_count.unpack_from(data)
    return Path(_points(data, 5, count, "path"), closed)


def decode_polygon_binary(data: bytes) -> Polygon:
    if len(data) < 4:
        raise DataError(f"invalid binary polygon: {len(data)} bytes")
    (count,) = _count.unpack_from(data)
    return Polygon(_points(data, 4, count, "polygon"))


# text

_NUMBER = re.compile(rb"[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Infinity|NaN)")


def _numbers(data: bytes, type_name: str, count: int | None = None) -> list[float]:
    try:
        numbers = [float(token) for token in _NUMBER.findall(data)]
    except ValueError:
        numbers = []
    if not numbers or (count is not None and len(numbers) != count) or len(numbers) % 1:
        raise DataError(f"invalid {type_name} text {data[:60]!r}")
    return numbers


def _pairs(numbers: list[float], type_name: str) -> tuple[Point, ...]:
    if len(numbers) % 2:
        raise DataError(f"invalid {type_name} text: an odd number of coordinates")
    return tuple(Point(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2))


def decode_point_text(data: bytes) -> Point:
    return Point(*_numbers(data, "point", 2))


def decode_line_text(data: bytes) -> Line:
    return Line(*_numbers(data, "line", 3))


def decode_lseg_text(data: bytes) -> LineSegment:
    x1, y1, x2, y2 = _numbers(data, "lseg", 4)
    return LineSegment(Point(x1, y1), Point(x2, y2))


def decode_box_text(data: bytes) -> Box:
    x1, y1, x2, y2 = _numbers(data, "box", 4)
    return Box(Point(x1, y1), Point(x2, y2))


def decode_circle_text(data: bytes) -> Circle:
    x, y, r = _numbers(data, "circle", 3)
    return Circle(Point(x, y), r)


def decode_path_text(data: bytes) -> Path:
    return Path(_pairs(_numbers(data, "path"), "path"), data[:1] == b"(")


def decode_polygon_text(data: bytes) -> Polygon:
    return Polygon(_pairs(_numbers(data, "polygon"), "polygon"))


# encoders


def _coordinates(value: Any, type_name: str) -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        try:
            x, y = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            pass
        else:
            if not isinstance(value[0], bool) and not isinstance(value[1], bool):
                return x, y
    raise wrong_type(value, type_name, "pgwire.types.Point or a tuple (x, y) of floats")


def encode_point(value: Any) -> bytes:
    """`Point`, or a tuple (x, y) of floats or ints."""
    return _two.pack(*_coordinates(value, "point"))


def encode_line(value: Any) -> bytes:
    """`Line`."""
    if not isinstance(value, Line):
        raise wrong_type(value, "line", "pgwire.types.Line")
    if value.a == 0 and value.b == 0:
        raise DataError("invalid line: a and b cannot both be zero")
    return _three.pack(value.a, value.b, value.c)


def encode_lseg(value: Any) -> bytes:
    """`LineSegment`."""
    if not isinstance(value, LineSegment):
        raise wrong_type(value, "lseg", "pgwire.types.LineSegment")
    return _two.pack(*_coordinates(value.start, "lseg")) + _two.pack(
        *_coordinates(value.end, "lseg")
    )


def encode_box(value: Any) -> bytes:
    """`Box`."""
    if not isinstance(value, Box):
        raise wrong_type(value, "box", "pgwire.types.Box")
    return _two.pack(*_coordinates(value.high, "box")) + _two.pack(*_coordinates(value.low, "box"))


def encode_circle(value: Any) -> bytes:
    """`Circle` (the radius must not be negative)."""
    if not isinstance(value, Circle):
        raise wrong_type(value, "circle", "pgwire.types.Circle")
    if value.radius < 0:
        raise DataError(f"invalid circle: negative radius {value.radius}")
    return _two.pack(*_coordinates(value.center, "circle")) + _float8.pack(value.radius)


def _encode_points(points: Any, type_name: str) -> bytes:
    coordinates = [c for point in points for c in _coordinates(point, type_name)]
    return _count.pack(len(coordinates) // 2) + struct.pack(f"!{len(coordinates)}d", *coordinates)


def encode_path(value: Any) -> bytes:
    """`Path` (at least one point)."""
    if not isinstance(value, Path):
        raise wrong_type(value, "path", "pgwire.types.Path")
    if not value.points:
        raise DataError("invalid path: it needs at least one point")
    return bytes([value.closed]) + _encode_points(value.points, "path")


def encode_polygon(value: Any) -> bytes:
    """`Polygon` (at least one point)."""
    if not isinstance(value, Polygon):
        raise wrong_type(value, "polygon", "pgwire.types.Polygon")
    if not value.points:
        raise DataError("invalid polygon: it needs at least one point")
    return _encode_points(value.points, "polygon")
