"""A watch response's objects, whatever its chunks."""

from __future__ import annotations

import pytest

from jetbridge.common.watch_stream import json_lines


def test_objects_split_across_chunks_and_blank_lines_are_read_whole() -> None:
    chunks = [b'{"a": 1}\n{"b"', b": 2}\n", b"\n", b'{"c": 3}']
    assert list(json_lines(iter(chunks))) == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_a_torn_last_object_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(ValueError):
        list(json_lines(iter([b'{"a": 1}\n{"b": '])))
