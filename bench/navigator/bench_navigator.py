"""The Navigator's decision loop with 1,000 Deployments: full react vs the Reactor.

Everything runs in this process so only the decision loop is measured: the real
``NavigatorService`` (fold inputs, react, build records, append) with an in-memory
EventLog fake instead of PostgreSQL, and a scripted data plane that answers each
``FlightStepsCleared`` in the next batch (dispatched, started, outcome per step), as
the integration tests' scripted planes do over Kafka. The clock is simulated (100 ms
per batch) so both runs see the same times. Batches hold at most 1,000 inputs, the
Navigator's default.

    .venv/bin/python bench/navigator/bench_navigator.py [--deployments 1000] [--mode both]

Prints, per mode: wall and CPU time (the machine is shared: CPU time is steadier),
batches, events stored (inputs folded + decisions) per second, sagas asked.
``--ledger FILE`` also writes every stored domain event's Avro
bytes (length-prefixed) for the projection benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from jetbridge.common.events import EventCodec, EventRecord, default_registry, new_event
from jetbridge.common.eventstore import Appended
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.vocabulary import RequestStatus, StepName
from jetbridge.navigator.service_layer.navigator import Input, NavigatorService, Position
from tests.unit.navigator.builders import cluster_events, deployment

T0 = 1_700_000_000_000
BATCH = 1000


class MemoryLog:
    """The EventLog protocol in memory: what the service would have committed."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self.published = 0
        self._positions: dict[Position, int] = {}

    async def append(
        self,
        events: Sequence[EventRecord],
        *,
        publish: Sequence[EventRecord] = (),
        positions: Mapping[Position, int] | None = None,
        consumer: str = "",
        ledger_topic: str | None = None,
        encoded: Mapping[str, bytes] | None = None,
    ) -> Appended:
        self.events.extend(events)
        self.published += len(publish)
        self._positions.update(positions or {})
        return Appended(stored=len(events), published=len(publish))

    async def read_all(self, after: int = 0) -> AsyncIterator[EventRecord]:
        for event in self.events[after:]:  # position n is the n-th event
            yield event

    async def positions(self, consumer: str) -> dict[Position, int]:
        return dict(self._positions)


class Plane:
    """Answers cleared steps the way Dispatcher + Pilot report them."""

    def __init__(self, mapper: EventMapper) -> None:
        self.mapper = mapper
        self.plans: dict[str, ev.FlightPlanned] = {}

    def answer(self, decided: Sequence[EventRecord], at: int) -> list[EventRecord]:
        out: list[EventRecord] = []
        for record in decided:
            if record.event_type == "FlightPlanned":
                plan = self.mapper.to_domain(record)
                assert isinstance(plan, ev.FlightPlanned)
                self.plans[plan.flight_id] = plan
            elif record.event_type == "FlightStepsCleared":
                cleared = self.mapper.to_domain(record)
                assert isinstance(cleared, ev.FlightStepsCleared)
                out += self._run(self.plans[cleared.flight_id], cleared, record, at)
        return out

    def _run(
        self, plan: ev.FlightPlanned, cleared: ev.FlightStepsCleared, cause: EventRecord, at: int
    ) -> list[EventRecord]:
        fid = plan.flight_id
        answers: list[ev.DomainEvent] = [
            ev.FlightDispatched(flight_id=fid, dispatched_at=at, steps=cleared.steps)
        ]
        for i, step in enumerate(cleared.steps):
            attempt = cleared.attempts[i]  # a data plane reports the clearance's numbers
            answers.append(
                ev.FlightStepStarted(flight_id=fid, step=step, attempt=attempt, started_at=at)
            )
            if step == StepName.DRAIN_TASKS:
                answers.append(ev.DrainCompleted(flight_id=fid, attempt=attempt, drained_at=at))
            elif step == StepName.FENCE_DATABASE:
                answers.append(
                    ev.FencingCompleted(
                        flight_id=fid,
                        mission_id=plan.mission_id,
                        deployment_id=plan.deployment_id,
                        epoch=plan.fencing_epoch,
                        attempt=attempt,
                        fenced_at=at,
                    )
                )
            else:
                answers.append(
                    ev.FlightStepSucceeded(
                        flight_id=fid, step=step, attempt=attempt, succeeded_at=at
                    )
                )
        return [
            self.mapper.to_record(
                e, correlation_id=plan.request_id, caused_by=cause, actor=None, occurred_at_ms=at
            )
            for e in answers
        ]


def _facts(mapper: EventMapper, deployments: int) -> list[EventRecord]:
    domain = [e for c in ("east", "west") for e in cluster_events(c, at=T0)]
    domain += [
        deployment(f"dep-{i:04d}", "east", created_at=T0 + 1, priority=i % 10)
        for i in range(deployments)
    ]
    return [
        mapper.to_record(
            e, correlation_id=e.aggregate_id, caused_by=None, actor=None, occurred_at_ms=T0
        )
        for e in domain
    ]


def _command(request_id: str, source: str, destination: str, mode: str) -> EventRecord:
    """Round-tripped through Avro, as the console's command arrives (defaults filled)."""
    codec = EventCodec()
    command = new_event(
        "RequestFailover",
        {
            "request_id": request_id,
            "source_cluster_id": source,
            "destination_cluster_id": destination,
            "mode": mode,
            "drain_timeout_seconds": 60,
        },
        aggregate_type="Command",
        aggregate_id=request_id,
        producer="bench",
        schema_version=1,
        actor="bench@example.com",
    )
    return codec.decode(codec.encode(command))


async def run(
    deployments: int,
    full_react: bool,
    failback: bool,
    rounds: int = 1,
    mode: str = "CONTROLLED",
) -> dict[str, Any]:
    """``rounds`` failovers there (in ``mode``) and back (forced). The result's ``log``
    holds what the Navigator stored, ``reports`` what the scripted plane sent it."""
    mapper = EventMapper(default_registry(), producer="bench")
    clock = [T0 + 10_000]
    log = MemoryLog()
    service = NavigatorService(log, mapper, lambda: clock[0], full_react=full_react)
    plane = Plane(mapper)
    offset = 0

    def inputs(records: list[EventRecord], topic: str) -> list[Input]:
        nonlocal offset
        out = []
        for r in records:
            out.append(Input(r, topic, 0, offset))
            offset += 1
        return out

    pending = inputs(_facts(mapper, deployments), "cluster.events")
    requests = []
    for i in range(rounds):
        requests.append((f"r{2 * i + 1}", "east", "west", mode))
        if failback:
            requests.append((f"r{2 * i + 2}", "west", "east", "FORCED"))
    started, cpu = time.perf_counter(), time.process_time()
    batches = react_s = 0.0
    per_request: dict[str, float] = {}
    reports: list[EventRecord] = []
    for request_id, source, destination, request_mode in requests:
        request_started = time.perf_counter()
        pending += inputs([_command(request_id, source, destination, request_mode)], "commands")
        while True:
            batch, pending = pending[:BATCH], pending[BATCH:]
            t = time.perf_counter()
            result = await service.handle(batch)
            react_s += time.perf_counter() - t
            batches += 1
            clock[0] += 100
            answered = plane.answer(result.decided, clock[0])
            reports += answered
            pending += inputs(answered, "flight.events")
            request = service.fleet.requests.get(request_id)
            if request is not None and request.terminal and not pending:
                break
        assert service.fleet.requests[request_id].status is RequestStatus.SUCCEEDED
        per_request[f"{request_id} {request_mode.lower()}"] = round(
            time.perf_counter() - request_started, 2
        )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stored = len(log.events)
    return {
        "mode": "full Fleet.react" if full_react else "Reactor",
        "deployments": deployments,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "per_request_s": per_request,
        "batches": int(batches),
        "events_stored": stored,
        "events_per_s": round(stored / wall),
        "events_per_cpu_s": round(stored / cpu),
        "sagas_asked": service.reactor.asked if not full_react else None,
        "log": log,
        "reports": reports,
    }


def write_ledger(path: Path, events: Sequence[EventRecord]) -> int:
    codec = EventCodec()
    count = 0
    with path.open("wb") as out:
        for e in events:
            data = codec.encode(e)
            out.write(struct.pack(">I", len(data)))
            out.write(data)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--mode", choices=["full", "reactor", "both"], default="both")
    parser.add_argument("--no-failback", action="store_true")
    parser.add_argument("--ledger", type=Path, help="write the stored events here")
    args = parser.parse_args()
    modes = {"full": [True], "reactor": [False], "both": [False, True]}[args.mode]
    for full in modes:
        result = asyncio.run(run(args.deployments, full, not args.no_failback))
        log = result.pop("log")
        result.pop("reports")
        print(json.dumps(result))
        if args.ledger and not full:
            print(f"wrote {write_ledger(args.ledger, log.events)} events to {args.ledger}")


if __name__ == "__main__":
    main()
