"""The ledger's hash chain: an intact log verifies; every kind of tampering is named."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetbridge.common.audit import LedgerChain, LedgerRecord, verify_records

KEY = b"k" * 32


def _log(
    events_per_aggregate: dict[str, int], chain: LedgerChain | None = None
) -> list[LedgerRecord]:
    """A ledger on one partition: aggregates interleaved, each chain linked."""
    chain = chain or LedgerChain(KEY)
    records: list[LedgerRecord] = []
    pending = dict(events_per_aggregate)
    while any(pending.values()):
        for aggregate, left in pending.items():
            if left:
                event_id, value = str(uuid.uuid4()), f"{aggregate}:{left}".encode()
                link = chain.next(aggregate, event_id, value)
                records.append(
                    LedgerRecord(0, len(records), aggregate, event_id, value, link.headers())
                )
                pending[aggregate] = left - 1
    return records


def _renumber(records: list[LedgerRecord]) -> list[LedgerRecord]:
    return [replace(r, offset=i) for i, r in enumerate(records)]


def test_an_intact_ledger_verifies() -> None:
    assert verify_records(KEY, _log({"a": 5, "b": 3, "c": 1})) == []


def test_a_record_produced_around_the_writer_is_unsigned() -> None:
    records = _log({"a": 3})
    records.insert(2, LedgerRecord(0, 99, "a", "forged", b"x", ()))
    [found] = verify_records(KEY, records)
    assert (found.kind, found.offset, found.aggregate_id) == ("UNSIGNED", 99, "a")


def test_a_forgery_with_copied_headers_has_a_bad_link() -> None:
    records = _log({"a": 3})
    forged = replace(records[1], event_id="forged", value=b"evil", offset=7)
    breaks = verify_records(KEY, [*records[:2], forged])
    assert [b.kind for b in breaks] == ["OUT_OF_ORDER"]  # a replayed sequence number
    breaks = verify_records(KEY, [records[0], forged, records[2]])
    assert [b.kind for b in breaks] == ["BAD_LINK"]


def test_an_edited_value_is_a_bad_link_at_its_position() -> None:
    records = _log({"a": 4, "b": 4})
    records[3] = replace(records[3], value=b"edited")
    [found] = verify_records(KEY, records)
    assert (found.kind, found.offset) == ("BAD_LINK", 3)


def test_a_dropped_event_is_a_gap_at_the_next_one() -> None:
    records = _log({"a": 4, "b": 4})
    dropped = records.pop(2)
    breaks = verify_records(KEY, _renumber(records))
    assert [(b.kind, b.aggregate_id, b.offset) for b in breaks] == [("GAP", dropped.key, 3)]


def test_swapped_events_are_reported() -> None:
    records = _log({"a": 3})
    records[0], records[1] = records[1], records[0]
    kinds = [b.kind for b in verify_records(KEY, _renumber(records))]
    assert kinds == ["GAP", "OUT_OF_ORDER"]


def test_a_wrong_key_fails_every_link() -> None:
    records = _log({"a": 2})
    assert [b.kind for b in verify_records(b"x" * 32, records)] == ["BAD_LINK", "BAD_LINK"]


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        LedgerChain(b"short")


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(1, 6), min_size=1), st.data())
def test_any_single_drop_or_edit_is_detected(sizes: dict[str, int], data: st.DataObject) -> None:
    writer = LedgerChain(KEY)
    records = _log(sizes, writer)
    assert verify_records(KEY, records, writer.heads) == []
    index = data.draw(st.integers(0, len(records) - 1))
    if data.draw(st.booleans()):
        records[index] = replace(records[index], value=records[index].value + b"!")
    else:
        records.pop(index)
    assert verify_records(KEY, _renumber(records), writer.heads)


def test_dropping_the_newest_event_shows_only_against_the_writers_heads() -> None:
    writer = LedgerChain(KEY)
    records = _log({"a": 3, "b": 2}, writer)
    newest = records.pop()
    assert verify_records(KEY, records) == []
    [found] = verify_records(KEY, records, writer.heads)
    assert (found.kind, found.aggregate_id) == ("TRUNCATED", newest.key)
