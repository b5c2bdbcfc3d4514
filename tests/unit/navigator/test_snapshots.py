"""A Navigator that starts from a snapshot decides as one that folded the whole store.

The store is the decision loop's own (``bench/navigator/bench_navigator.py``: 30
Deployments, a Controlled failover and a Forced failback, a scripted data plane); the
store here is an in-memory fake of the snapshot port, whose signatures and SQL the
integration tests cover (``tests/integration/common/test_event_store.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from bench.navigator.bench_navigator import MemoryLog, run
from jetbridge.common.events import EventRecord, default_registry, new_event
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.adapters.tracing import MissionTracer
from jetbridge.navigator.service_layer import snapshots
from jetbridge.navigator.service_layer.navigator import NavigatorService

MAPPER = EventMapper(default_registry(), producer="test")


class SnapshotLog(MemoryLog):
    """The first ``upto`` events of a store (position n is the n-th), and its snapshots."""

    def __init__(self, events: list[EventRecord], upto: int) -> None:
        super().__init__()
        self.events = events[:upto]
        self.snapshots: dict[str, tuple[int, bytes]] = {}

    async def read_all(self, after: int = 0) -> AsyncIterator[EventRecord]:
        for event in self.events[after:]:
            yield event

    async def last_position(self) -> int:
        return len(self.events)

    async def save_snapshot(self, kind: str, position: int, state: bytes) -> None:
        self.snapshots[kind] = (position, state)

    async def latest_snapshot(self, kind: str) -> tuple[int, bytes] | None:
        return self.snapshots.get(kind)


@pytest.fixture(scope="module")
async def stored() -> list[EventRecord]:
    made = await run(30, False, True, 1)
    events: list[EventRecord] = made["log"].events
    return events


def service(log: MemoryLog) -> NavigatorService:
    return NavigatorService(log, MAPPER, lambda: 0, tracer=MissionTracer())


async def snapshot_at(events: list[EventRecord], position: int) -> tuple[int, bytes]:
    taker = service(SnapshotLog(events, position))
    await taker.recover()
    assert await taker.take_snapshot() == position
    assert taker.stored_since_snapshot == 0
    return taker.store.snapshots[snapshots.KIND]  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("share", [0.3, 0.55, 0.8])
async def test_from_a_snapshot_the_fleet_and_the_next_decisions_are_a_full_recoverys(
    stored: list[EventRecord], share: float
) -> None:
    """Cut the store mid-failover: one Navigator folds all of it, the other starts from a
    snapshot taken earlier and folds only the rest. Same fleet; and at the same moment
    both decide exactly the same events (the Reactor rebuilt from the snapshot's fleet
    asks what a full recovery's does)."""
    upto = int(len(stored) * share)
    taken = int(upto * 0.6)
    full = service(SnapshotLog(stored, upto))
    folded_all = await full.recover()
    log = SnapshotLog(stored, upto)
    log.snapshots[snapshots.KIND] = await snapshot_at(stored, taken)
    resumed = service(log)
    folded_rest = await resumed.recover()
    assert resumed.recovered_from == taken and folded_rest < folded_all
    assert resumed.fleet == full.fleet
    decided_full = (await full.handle([])).decided
    decided_resumed = (await resumed.handle([])).decided
    assert decided_full, "a store cut mid-failover has decisions to come"
    assert [(e.event_type, e.envelope.aggregate_id) for e in decided_resumed] == [
        (e.event_type, e.envelope.aggregate_id) for e in decided_full
    ]


async def test_a_snapshot_of_other_code_or_unreadable_is_passed_over(
    stored: list[EventRecord],
) -> None:
    position, _ = await snapshot_at(stored, 500)
    full = service(SnapshotLog(stored, 1000))
    await full.recover()
    for kind, blob in (("navigator-fleet/other-code", b"x"), (snapshots.KIND, b"not a pickle")):
        log = SnapshotLog(stored, 1000)
        log.snapshots[kind] = (position, blob)
        resumed = service(log)
        assert await resumed.recover() == await service(SnapshotLog(stored, 1000)).recover()
        assert resumed.recovered_from == 0 and resumed.fleet == full.fleet


async def test_the_newest_folded_ids_still_drop_a_late_repeat(stored: list[EventRecord]) -> None:
    log = SnapshotLog(stored, 800)
    log.snapshots[snapshots.KIND] = await snapshot_at(stored, 800)
    resumed = service(log)
    assert await resumed.recover() == 0  # nothing after the snapshot
    assert await resumed._folded.seen(stored[799].event_id)
    assert await resumed._folded.seen(stored[0].event_id)  # 800 ids: all within the window


def test_a_running_missions_root_span_survives_the_snapshot() -> None:
    """Its later decisions are children of the root decided before the restart."""
    provider = TracerProvider()
    before = MissionTracer(provider)
    created, later = (
        new_event(
            kind,
            {"mission_id": "m1"},
            aggregate_type="Mission",
            aggregate_id="m1",
            producer="test",
            schema_version=1,
        )
        for kind in ("MissionCreated", "MissionSucceeded")
    )
    root = before.stamp(created, "m1", None).envelope.trace_context
    kept = before.roots(["m1", "m-unknown"])
    assert list(kept) == ["m1"]
    after = MissionTracer(provider)
    after.restore_roots(kept)
    child = after.stamp(later, "m1", None).envelope.trace_context
    trace_id = root["traceparent"].split("-")[1]
    assert child["traceparent"].split("-")[1] == trace_id  # the same trace
    assert child["traceparent"] != root["traceparent"]  # a span of its own in it
