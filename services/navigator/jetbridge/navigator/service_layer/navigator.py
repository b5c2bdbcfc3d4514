"""The Navigator's one decision loop: fold what happened, decide what follows, save it.

One writer decides (the event store's writer epoch fences any other). Per batch of
inputs (operator commands, outcomes from the data planes, cluster facts):

1. each input is folded into the in-memory ``Fleet`` (commands are decided first);
2. the :class:`Reactor` returns everything that follows (the sagas, deadlines, ends),
   asking only the requests and missions the batch touched or whose deadline came
   (the same decisions as ``Fleet.react``, without copying and scanning the fleet);
3. the folded inputs, the new decisions, the outbox rows for those decisions and the
   input positions are appended in ONE transaction.

If the append fails the process stops and a fresh one recovers from the store: the
in-memory fleet is never trusted past a failed write. Repeats of an input (a relay
republishing, a redelivery) are dropped by event id before they are folded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jetbridge.common.events import EventRecord, new_event
from jetbridge.common.eventstore import Appended
from jetbridge.common.kafka.dedupe import InMemoryDedupe
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.errors import CommandRefused, DomainError, IllegalEvent
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.origin import Told, report_refusal
from jetbridge.navigator.domain.vocabulary import CleanupStatus
from jetbridge.navigator.service_layer import snapshots
from jetbridge.navigator.service_layer.reactor import Reactor
from jetbridge.navigator.service_layer.snapshots import SnapshotStore

log = logging.getLogger(__name__)

Position = tuple[str, int]
CONSUMER = "navigator"


class EventLog(Protocol):
    async def append(
        self,
        events: Sequence[EventRecord],
        *,
        publish: Sequence[EventRecord] = (),
        positions: Mapping[Position, int] | None = None,
        consumer: str = "",
        ledger_topic: str | None = None,
        encoded: Mapping[str, bytes] | None = None,
    ) -> Appended: ...

    def read_all(self, after: int = 0) -> AsyncIterator[EventRecord]: ...

    async def positions(self, consumer: str) -> dict[Position, int]: ...


class DecisionTracer(Protocol):
    """Gives each Mission one trace (``adapters.tracing.MissionTracer``)."""

    def remember(self, record: EventRecord) -> None: ...

    def stamp(
        self, record: EventRecord, mission_id: str | None, cause: EventRecord | None
    ) -> EventRecord: ...

    def roots(self, mission_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]: ...

    def restore_roots(self, roots: Mapping[str, tuple[int, int, int]]) -> None: ...


class _Untraced:
    def remember(self, record: EventRecord) -> None:
        return None

    def roots(self, mission_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        return {}

    def restore_roots(self, roots: Mapping[str, tuple[int, int, int]]) -> None:
        return None

    def stamp(
        self, record: EventRecord, mission_id: str | None, cause: EventRecord | None
    ) -> EventRecord:
        return record


@dataclass(frozen=True)
class Input:
    record: EventRecord
    topic: str
    partition: int
    offset: int
    # The record's bytes as consumed: stored and copied to the ledger as they are, not
    # encoded again (which was a sixth of the Navigator's CPU).
    value: bytes | None = None
    # The data plane that sent it, when it came on that cluster's own topic (None: a
    # control-plane topic). Such a record is checked by ``domain.origin`` first.
    origin: str | None = None


@dataclass
class BatchResult:
    folded: int = 0
    decided: list[EventRecord] = field(default_factory=list)
    refused: int = 0
    ignored: int = 0
    misattributed: int = 0  # a data plane's record about what is not its own


class NavigatorService:
    def __init__(
        self,
        store: EventLog,
        mapper: EventMapper,
        clock_ms: Callable[[], int],
        *,
        ledger_topic: str | None = None,
        full_react: bool = False,
        tracer: DecisionTracer | None = None,
        registry: str = "",
    ) -> None:
        self.store = store
        self.tracer = tracer if tracer is not None else _Untraced()
        # failover.events is the Navigator's ledger: its decisions AND the outside facts
        # it folded (copied there), so projections and auditors read one ordered log.
        self.ledger_topic = ledger_topic
        self.mapper = mapper
        self.clock_ms = clock_ms
        self.fleet = Fleet(registry)
        self.reactor = Reactor(self.fleet)
        # ``full_react``: the reference path (Fleet.react over the whole fleet), kept for
        # benchmarks and comparisons; the Reactor decides the same events faster.
        self.full_react = full_react
        self._folded = InMemoryDedupe(capacity=5_000_000)
        self.misattributed = 0  # since the start: records a data plane may not send
        self.recovered_from = 0  # the store position recovery began after (a snapshot's)
        self.stored_since_snapshot = 0  # events stored (or folded in recovery) since one

    async def recover(self) -> int:
        """Rebuild the fleet from the store, in the order it was folded: from its newest
        snapshot this code can read on, if the store keeps them (``snapshots``).
        Returns how many stored domain events were folded."""
        count = after = 0
        if isinstance(self.store, SnapshotStore):
            found = await self.store.latest_snapshot(snapshots.KIND)
            if found is not None:
                try:
                    state = snapshots.load(found[1])
                except Exception:  # whatever it is, the events are all still there
                    log.exception("snapshot at %d not loaded: folding the whole store", found[0])
                else:
                    self._restore(state)
                    after = found[0]
        self.recovered_from = after
        async for record in self.store.read_all(after=after):
            await self._folded.remember(record.event_id)
            self.tracer.remember(record)
            if self.mapper.is_domain_event(record):
                self._apply(self.mapper.to_domain(record))
                count += 1
        self.stored_since_snapshot = count
        return count

    def _restore(self, state: Mapping[str, Any]) -> None:
        fleet: Fleet = state["fleet"]
        fleet.registry = self.fleet.registry  # configuration, not state
        self.fleet = fleet
        self.reactor = Reactor(fleet)  # asks everything first, as after a full recovery
        self._folded.remember_all(state["recent_ids"])
        self.tracer.restore_roots(state["roots"])

    async def take_snapshot(self) -> int | None:
        """Keep the state as of the newest stored event; its position, or None when the
        store keeps no snapshots. Only between batches: the fleet must hold exactly
        what is stored (``handle`` folds, then appends, or the process ends)."""
        store = self.store
        if not isinstance(store, SnapshotStore):
            return None
        position = await store.last_position()
        running = [m.id for m in self.fleet.missions.values() if not self._settled(m.id)]
        blob = snapshots.dump(
            self.fleet, self._folded.recent(snapshots.RECENT_IDS), self.tracer.roots(running)
        )
        await store.save_snapshot(snapshots.KIND, position, blob)
        self.stored_since_snapshot = 0
        return position

    def _settled(self, mission_id: str) -> bool:
        """Nothing more will be decided for it (so its root span is not kept)."""
        m = self.fleet.missions[mission_id]
        flights = self.fleet.flights
        pair = (flights.get(m.source_flight_id), flights.get(m.destination_flight_id))
        return (
            m.terminal
            and m.cleanup is not CleanupStatus.PENDING
            and all(f is None or f.terminal for f in pair)
        )

    async def handle(self, inputs: Sequence[Input]) -> BatchResult:
        """Fold a batch of inputs, react, and save it all atomically."""
        now = self.clock_ms()
        result = BatchResult()
        stored: list[EventRecord] = []
        positions: dict[Position, int] = {}
        encoded: dict[str, bytes] = {}
        for item in inputs:
            positions[(item.topic, item.partition)] = item.offset + 1
            record = item.record
            if item.origin is not None and self._misattributed(record, item.origin):
                result.misattributed += 1
                self.misattributed += 1
                continue
            if await self._folded.seen(record.event_id):
                continue
            if item.value is not None:
                encoded[record.event_id] = item.value
            if self.mapper.is_command(record):
                decided = self._decide(record, now, result)
                stored.append(record)  # the command itself is part of the story
                stored += decided
                result.decided += decided
            elif self.mapper.is_domain_event(record):
                if self._fold_outcome(record):
                    stored.append(record)
                    result.folded += 1
                else:
                    result.ignored += 1
            else:
                result.ignored += 1
            await self._folded.remember(record.event_id)
        reactions = self._react(now, inputs[-1].record if inputs else None)
        stored += reactions
        result.decided += reactions
        if stored or positions:
            appended = await self.store.append(
                stored,
                publish=result.decided,
                positions=positions,
                consumer=CONSUMER,
                ledger_topic=self.ledger_topic,
                encoded=encoded,
            )
            self.stored_since_snapshot += appended.stored
        for record in result.decided:
            await self._folded.remember(record.event_id)
        return result

    def _misattributed(self, record: EventRecord, reporter: str) -> bool:
        """Not folded, not remembered: the real report of that id may still come."""
        envelope = record.envelope
        told = Told(envelope.aggregate_id, envelope.correlation_id, envelope.actor)
        why = report_refusal(record.event_type, record.payload, reporter, self.fleet, told)
        if why is not None:
            log.warning("refused %s %s: %s", record.event_type, record.event_id, why)
        return why is not None

    def _decide(self, record: EventRecord, now: int, result: BatchResult) -> list[EventRecord]:
        try:
            command = self.mapper.to_command(record)
            events = self.fleet.decide(command, now)
        except (CommandRefused, ValueError) as error:
            result.refused += 1
            code = error.code if isinstance(error, CommandRefused) else "INVALID_COMMAND"
            log.warning("command %s refused: %s", record.event_type, error)
            return [self._refusal(record, code, str(error))]
        return self._apply_all(events, caused_by=record, actor=record.envelope.actor, now=now)

    def _fold_outcome(self, record: EventRecord) -> bool:
        """An outside fact (cluster, dispatch, step outcome); illegal ones change nothing."""
        try:
            self._apply(self.mapper.to_domain(record))
        except DomainError as error:
            # A report about a flight this Navigator never planned (the data planes'
            # provisioning flights share the topic) is expected: debug, not a warning
            # per step that buries the ones worth reading.
            never_planned = isinstance(error, IllegalEvent) and error.from_state == "(absent)"
            level = logging.DEBUG if never_planned else logging.WARNING
            log.log(level, "ignored %s %s: %s", record.event_type, record.event_id, error)
            return False
        return True

    def _apply(self, event: ev.DomainEvent) -> None:
        if self.full_react:
            self.fleet.apply(event)
        else:
            self.reactor.apply(event)

    def _react(self, now: int, cause: EventRecord | None) -> list[EventRecord]:
        if self.full_react:
            return self._apply_all(self.fleet.react(now), caused_by=cause, actor=None, now=now)
        events = self.reactor.react(now)  # already folded into the fleet
        return self._records(events, caused_by=cause, actor=None, now=now)

    def _apply_all(
        self,
        events: Sequence[ev.DomainEvent],
        *,
        caused_by: EventRecord | None,
        actor: str | None,
        now: int,
    ) -> list[EventRecord]:
        for event in events:
            self._apply(event)
        return self._records(events, caused_by=caused_by, actor=actor, now=now)

    def _records(
        self,
        events: Sequence[ev.DomainEvent],
        *,
        caused_by: EventRecord | None,
        actor: str | None,
        now: int,
    ) -> list[EventRecord]:
        records = [
            self.mapper.to_record(
                event,
                correlation_id=self._request_of(event),
                caused_by=caused_by,
                actor=actor,
                occurred_at_ms=now,
            )
            for event in events
        ]
        if isinstance(self.tracer, _Untraced):
            return records
        # Each Mission's root first, so its other decisions of this batch find it.
        order = sorted(range(len(events)), key=lambda i: events[i].event_type() != "MissionCreated")
        cause_mission = self._mission_of(caused_by.payload) if caused_by is not None else None
        for i in order:
            mission = self._mission_of(records[i].payload)
            # A batch's cause is its last input: a link only when it is this Mission's.
            cause = caused_by if mission is not None and mission == cause_mission else None
            records[i] = self.tracer.stamp(records[i], mission, cause)
        return records

    def _mission_of(self, payload: Mapping[str, object]) -> str | None:
        """The Mission an event belongs to (None: a request's or a cluster's)."""
        if mission_id := payload.get("mission_id"):
            return str(mission_id)
        flight = self.fleet.flights.get(str(payload.get("flight_id", "")))
        return flight.mission_id if flight is not None and flight.mission_id else None

    def _request_of(self, event: ev.DomainEvent) -> str:
        """The failover request an event belongs to: every log line and event carries it."""
        request_id = getattr(event, "request_id", None)
        if request_id:
            return str(request_id)
        mission = self.fleet.missions.get(getattr(event, "mission_id", ""))
        if mission is not None and mission.request_id:
            return mission.request_id
        flight = self.fleet.flights.get(getattr(event, "flight_id", ""))
        if flight is not None and flight.request_id:
            return flight.request_id
        return event.aggregate_id

    def _refusal(self, command: EventRecord, code: str, message: str) -> EventRecord:
        subject = str(command.payload.get("request_id") or command.payload.get("cluster_id") or "")
        return new_event(
            "CommandRefused",
            {
                "command_id": command.event_id,
                "command_type": command.event_type,
                "subject_id": subject,
                "reason_code": code,
                "reason": message,
            },
            aggregate_type="Command",
            aggregate_id=subject or command.event_id,
            producer=self.mapper.producer,
            schema_version=self.mapper.registry.latest("CommandRefused").version,
            caused_by=command,
            actor=command.envelope.actor,
        )
