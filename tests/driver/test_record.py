"""``Record``: one result row, read by index, by name, by iteration and as a mapping.

Unit tests: no server.
"""

from __future__ import annotations

import operator
import pickle
import sys

import pytest

from pgwire.record import Record, RecordShape


def _record(**columns: object) -> Record:
    return Record(RecordShape(tuple(columns)), tuple(columns.values()))


def test_record_reads_by_index() -> None:
    row = _record(a=1, b="two", c=None)
    assert (row[0], row[1], row[2]) == (1, "two", None)
    assert row[-1] is None


def test_record_index_out_of_range_raises_index_error() -> None:
    with pytest.raises(IndexError):
        _record(a=1)[1]


def test_record_slice_gives_a_tuple() -> None:
    assert _record(a=1, b=2, c=3)[1:] == (2, 3)


def test_record_reads_by_column_name() -> None:
    row = _record(a=1, b="two")
    assert row["b"] == "two"


def test_unknown_column_name_raises_key_error_listing_the_columns() -> None:
    with pytest.raises(KeyError, match=r"no column 'z'; columns are 'a', 'b'"):
        _record(a=1, b=2)["z"]


def test_get_returns_a_default_for_an_unknown_column() -> None:
    row = _record(a=1)
    assert row.get("a") == 1
    assert row.get("z") is None
    assert row.get("z", 0) == 0


def test_iteration_yields_values_like_a_tuple() -> None:
    row = _record(a=1, b=2)
    assert list(row) == [1, 2]
    first, second = row
    assert (first, second) == (1, 2)
    assert 2 in row
    assert "a" not in row


def test_record_converts_to_a_dict() -> None:
    assert dict(_record(a=1, b=None)) == {"a": 1, "b": None}


def test_keys_values_and_items_keep_column_order() -> None:
    row = _record(z=1, a=2)
    assert list(row.keys()) == ["z", "a"]
    assert list(row.values()) == [1, 2]
    assert list(row.items()) == [("z", 1), ("a", 2)]


def test_len_is_the_number_of_columns() -> None:
    assert len(_record(a=1, b=2, c=3)) == 3
    assert len(Record(RecordShape(()), ())) == 0


def test_duplicate_column_names_find_the_first_by_name() -> None:
    row = Record(RecordShape(("x", "x", "y")), (1, 2, 3))
    assert row["x"] == 1
    assert row[1] == 2
    assert list(row.keys()) == ["x", "x", "y"]


def test_record_equals_a_tuple_of_its_values() -> None:
    assert _record(a=1, b=2) == (1, 2)
    assert _record(a=1, b=2) != (2, 1)


def test_records_are_equal_when_names_and_values_are() -> None:
    assert _record(a=1) == _record(a=1)
    assert _record(a=1) != _record(b=1)
    assert _record(a=1) != _record(a=2)


def test_equal_records_hash_alike() -> None:
    assert hash(_record(a=1, b="x")) == hash(_record(a=1, b="x"))
    assert len({_record(a=1), _record(a=1)}) == 1


def test_record_is_not_equal_to_a_list() -> None:
    assert _record(a=1) != [1]


def test_repr_shows_names_and_values() -> None:
    assert repr(_record(a=1, b="two")) == "<Record a=1 b='two'>"


def test_record_pickles() -> None:
    row = _record(a=1, b="two")
    copy = pickle.loads(pickle.dumps(row))
    assert copy == row
    assert copy["b"] == "two"


def test_rows_of_one_result_share_their_shape() -> None:
    shape = RecordShape(("a", "b"))
    first, second = Record(shape, (1, 2)), Record(shape, (3, 4))
    assert first["b"] == 2
    assert second["b"] == 4
    assert shape.index == {"a": 0, "b": 1}


def test_record_has_no_instance_dict() -> None:
    # One small object per row: __slots__ keeps rows of large results cheap.
    assert not hasattr(_record(a=1), "__dict__")


def test_record_is_the_tuple_of_its_values() -> None:
    row = _record(a=1, b="two")
    assert isinstance(row, tuple)
    assert tuple(row) == (1, "two")
    assert (*row, 3) == (1, "two", 3)
    assert sorted([_record(a=2), _record(a=1)]) == [(1,), (2,)]


def test_a_record_costs_what_its_tuple_costs() -> None:
    row = _record(a=1, b=2, c=3)
    assert sys.getsizeof(row) == sys.getsizeof((1, 2, 3))


def test_records_with_other_column_names_are_unequal_both_ways() -> None:
    # Both operators, explicitly: a tuple subclass would otherwise inherit tuple's __ne__.
    assert operator.eq(_record(a=1), _record(b=1)) is False
    assert operator.ne(_record(a=1), _record(b=1)) is True
    assert operator.ne(_record(a=1), _record(a=1)) is False
    assert operator.eq(_record(a=1), [1]) is False
    assert operator.ne(_record(a=1), [1]) is True


def test_rows_with_the_same_column_names_share_one_class() -> None:
    first = Record(RecordShape(("same", "names")), (1, 2))
    second = Record(RecordShape(("same", "names")), (3, 4))
    assert type(first) is type(second)
    assert isinstance(first, Record) and type(first).__name__ == "Record"
    assert type(Record(RecordShape(("other",)), (1,))) is not type(first)
