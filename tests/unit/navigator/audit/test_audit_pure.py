"""Pure parts of the audit tools: replay cut at T, timeline, export window and formats."""

from __future__ import annotations

import argparse
import csv
import io
import json
import zlib

import pytest

from jetbridge.common.audit import LedgerRecord
from jetbridge.common.events import EventCodec, SchemaRegistry
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.audit import export, timeline
from jetbridge.navigator.audit.cli import epoch_ms
from jetbridge.navigator.audit.ledger import RawRecord
from jetbridge.navigator.audit.records import AuditEvent, decode_all
from jetbridge.navigator.audit.replay import replay_records
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.vocabulary import FailoverMode, RequestStatus, StepName
from jetbridge.navigator.projections.fold import LedgerDecoder
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation

CODEC = EventCodec()
MAPPER = EventMapper(SchemaRegistry(), producer="test")
T0 = 1_700_000_000_000


def world() -> tuple[list[RawRecord], Simulation]:
    """A finished failover of 4 Deployments (one transient step failure) on 3 partitions."""
    sim = Simulation(
        cluster_events("a") + cluster_events("b") + [deployment(f"d{i}", "a") for i in range(4)]
    )
    sim.fail("d2", "DESTINATION", StepName.CREATE_NAMESPACE, "transient")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "alice"))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    offsets = [0, 0, 0]
    raws = []
    for i, e in enumerate(sim.log):
        record = MAPPER.to_record(
            e, correlation_id="r1", caused_by=None, actor="alice", occurred_at_ms=T0 + i
        )
        p = zlib.crc32(e.aggregate_id.encode()) % 3
        ledger = LedgerRecord(
            p, offsets[p], e.aggregate_id, record.event_id, CODEC.encode(record), ()
        )
        raws.append(RawRecord(ledger, T0 + i))  # appended in fold order
        offsets[p] += 1
    raws.sort(key=lambda r: (r.ledger.partition, r.ledger.offset))
    return raws, sim


def test_replay_at_t_folds_exactly_the_events_appended_by_t() -> None:
    raws, sim = world()
    for cut in (0, 7, len(sim.log) // 2, len(sim.log) - 1):
        result = replay_records(raws, T0 + cut, "ledger")
        expected = Fleet()
        for e in sim.log[: cut + 1]:
            expected.apply(e)
        assert result.fold.fleet == expected
        assert result.events == cut + 1
    whole = replay_records(raws, T0 + 10**9, "ledger")
    assert whole.fold.fleet == sim.fleet
    assert sum(whole.positions.values()) == len(raws)
    assert [r[1] for r in whole.tables["failover_requests"]] == ["SUCCEEDED"]


def test_replay_stops_a_partition_at_its_first_later_record() -> None:
    raws, _ = world()
    first = raws[0]
    late = RawRecord(first.ledger, T0 + 10**6)  # partition 0 starts after T
    result = replay_records([late, *raws[1:]], T0 + 10**5, "ledger")
    assert ("ledger", first.ledger.partition) not in result.positions


def test_timeline_tells_the_request_in_order_with_steps_and_errors() -> None:
    raws, sim = world()
    events = [e for e in decode_all(raws) if isinstance(e, AuditEvent)]
    doc = timeline.build(events, replay_records(raws, T0 + 10**9, "ledger"), "r1")
    assert doc is not None
    assert doc["request"]["status"] == "SUCCEEDED" and doc["request"]["requested_by"] == "alice"
    assert sorted(m["deployment_id"] for m in doc["missions"]) == ["d0", "d1", "d2", "d3"]
    d2 = next(m for m in doc["missions"] if m["deployment_id"] == "d2")
    steps = [s for f in d2["flights"] for s in f["steps"]]
    assert any(s["attempts"] > 1 for s in steps)  # the transient failure was retried
    (retried,) = [s for s in steps if s["failures"]]  # the one step that failed, once
    assert retried["failures"] == 1 and retried["status"] == "SUCCEEDED"
    # durations are each step's run, ended - started (not its wait since not_before)
    flight = next(f for f in d2["flights"] if retried in f["steps"])
    folded = sim.fleet.flights[flight["flight_id"]].step(retried["step"])
    assert folded.started_at is not None and folded.ended_at is not None
    assert retried["duration_ms"] == folded.ended_at - folded.started_at
    assert "1 failed" in timeline.render(doc)
    assert any(e["event_type"] == "FlightStepFailed" for e in doc["events"])
    assert doc["errors"] and all(e["aggregate_id"] for e in doc["errors"])
    times = [e["occurred_at"] for e in doc["events"]]
    assert times == sorted(times)
    assert {e["event_type"] for e in doc["events"]} >= {"FailoverRequested", "FailoverSucceeded"}
    assert "r1" in timeline.render(doc) and "mission" in timeline.render(doc)
    assert timeline.build(events, replay_records(raws, T0, "ledger"), "nobody") is None


def test_export_window_is_inclusive_and_both_formats_hold_the_same_events() -> None:
    raws, _ = world()
    garbage = RawRecord(LedgerRecord(0, 999, "x", "", b"\x00garbage", ()), T0 + 5)
    window = export.in_window([*raws, garbage], T0 + 5, T0 + 9)
    assert sorted(r.timestamp_ms for r in window) == [
        T0 + 5,
        T0 + 5,
        T0 + 6,
        T0 + 7,
        T0 + 8,
        T0 + 9,
    ]
    docs = export.documents(window)
    lines, table = io.StringIO(), io.StringIO()
    assert export.write(docs, "jsonl", lines) == export.write(docs, "csv", table) == 6
    parsed = [json.loads(line) for line in lines.getvalue().splitlines()]
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert [d["event_id"] for d in parsed] == [r["event_id"] or None for r in rows]
    raw = [d for d in parsed if d["raw_value"]]
    assert len(raw) == 1 and raw[0]["event_type"] is None
    for d, r in zip(parsed, rows, strict=True):
        assert (json.loads(r["payload"]) if d["payload"] is not None else None) == d["payload"]
    with pytest.raises(ValueError):
        export.write(docs, "xml", io.StringIO())


def test_times_are_iso_8601_with_utc_by_default() -> None:
    assert epoch_ms("2023-11-14T22:13:20Z") == T0
    assert epoch_ms("2023-11-14T22:13:20") == T0
    assert epoch_ms("2023-11-15T00:13:20.5+02:00") == T0 + 500
    with pytest.raises(argparse.ArgumentTypeError):
        epoch_ms("yesterday")


def test_the_replay_decoder_rebuilds_the_very_domain_events_that_were_encoded() -> None:
    raws, sim = world()
    decoder = LedgerDecoder(SchemaRegistry())
    by_time = sorted(raws, key=lambda r: r.timestamp_ms)
    decoded = [decoder.decode(r.ledger.value) for r in by_time]
    assert [d[1] for d in decoded if d is not None] == sim.log
    assert [d[0] for d in decoded if d is not None] == [r.ledger.event_id for r in by_time]
