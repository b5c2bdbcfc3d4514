"""The Console holds the newest audit entries only: numbering, trims, paging, the gap."""

from __future__ import annotations

import asyncio
import json

import pytest

from jetbridge.console.domain.audit import AuditEntry, EventFilter, RecentEntries
from jetbridge.console.entrypoints.stream import change_stream
from jetbridge.navigator.domain import events as ev
from tests.unit.console.world import make_world


def entry(seq: int) -> AuditEntry:
    return AuditEntry(seq, f"e{seq}", "T", "A", "a", 0, None, "p", None, None, None, (), 0, seq)


def filled(kept: int, count: int) -> RecentEntries:
    entries = RecentEntries(kept)
    for seq in range(1, count + 1):
        entries.append(entry(seq))
    return entries


def test_the_oldest_entries_go_a_tenth_at_a_time_and_numbering_goes_on() -> None:
    entries = filled(100, 109)
    assert (len(entries), entries.first_seq, entries.last_seq) == (109, 1, 109)
    entries.append(entry(110))  # ten over: the ten oldest go at once
    assert (len(entries), entries.first_seq, entries.last_seq) == (100, 11, 110)
    assert entries.next_seq == 111
    assert [e.seq for e in entries.between(0, None)][:2] == [11, 12]


def test_between_pages_by_seq_across_what_was_dropped() -> None:
    entries = filled(20, 25)  # two at a time: trimmed at 22 and 24, so 5..25 held
    assert entries.first_seq == 5
    assert [e.seq for e in entries.between(20, None)] == [21, 22, 23, 24, 25]
    assert [e.seq for e in entries.between(20, 23)] == [21, 22]
    assert [e.seq for e in entries.between(2, 8)] == [5, 6, 7]  # asked from a dropped seq
    assert entries.between(0, 5) == []  # wholly dropped
    assert entries.between(25, None) == []


def test_an_entry_out_of_order_or_a_window_of_nothing_is_refused() -> None:
    entries = filled(10, 3)
    with pytest.raises(ValueError, match="audit entry 5 out of order: expected 4"):
        entries.append(entry(5))
    assert entries.last_seq == 3
    with pytest.raises(ValueError, match="at least one audit entry, not 0"):
        RecentEntries(0)


async def test_the_console_serves_the_newest_entries_and_still_folds_every_event() -> None:
    full, small = make_world(), make_world(events_kept=10)
    assert small.model.last_seq() == full.model.last_seq() > 20
    held = await small.model.events(EventFilter(), 1000)
    assert held and held[-1].seq == small.model.last_seq()
    assert held[0].seq == small.model.first_seq() > 1
    assert len(held) < 11
    # The views come from the fleet, folded from every event: the same in both.
    assert small.model.fleet == full.model.fleet
    assert await small.model.request("fo-running-1") == await full.model.request("fo-running-1")
    async with small.client("viewer") as http:
        page = (await http.get("/api/v1/events", params={"after": 0})).json()
    assert page["first_seq"] == small.model.first_seq()
    assert [e["seq"] for e in page["events"]] == [e.seq for e in held]


async def test_a_stream_resumed_from_a_dropped_seq_says_so_then_follows() -> None:
    world = make_world(events_kept=10)
    stop = asyncio.Event()

    async def disconnected() -> bool:
        return stop.is_set()

    oldest = world.model.first_seq()
    stream = change_stream(world.model, EventFilter(), 1, disconnected)
    assert (await anext(stream)).startswith("retry: 2000\nevent: hello")
    gap = await anext(stream)
    assert gap.startswith(f"id: {oldest - 1}\nevent: gap\n")  # a reconnect resumes past it
    assert json.loads(gap.split("data: ", 1)[1]) == {"after": 1, "first_seq": oldest}
    first = json.loads((await anext(stream)).split("data: ", 1)[1])
    assert first["seq"] == oldest
    seen = [first["seq"]]
    while seen[-1] < world.model.last_seq():
        seen.append(json.loads((await anext(stream)).split("data: ", 1)[1])["seq"])
    assert seen == list(range(oldest, world.model.last_seq() + 1))
    world.feed([ev.MissionStarted(mission_id="nope", started_at=1)])
    followed = json.loads((await asyncio.wait_for(anext(stream), 2)).split("data: ", 1)[1])
    assert followed["seq"] == world.model.last_seq()
    stop.set()
