"""The ledger read model: the Navigator's ledger folded into its own pure ``Fleet``.

Why this and not only the SQL projections: eligibility, valid destinations and the
dry-run plan need the whole domain state (cluster facts, Deployment origins, every
active request) and the Navigator's rules; folding the ledger (``failover.events``:
its decisions plus a copy of every fact it folded, each aggregate in fold order) into
the same ``Fleet`` with the same ``EventMapper`` gives exactly the state the Navigator
decided on, a little later. Each event also becomes an audit entry, which is what the
event log and the live stream serve.

The fold is per aggregate, so it does not matter how the partitions interleave. An
event that does not fold (it never should) is counted and logged, never fatal: the
Console keeps serving what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.events import EventRecord
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.replay import PartitionReplay
from jetbridge.console.adapters import fleet_views as fv
from jetbridge.console.domain.audit import AuditEntry, EventFilter, RecentEntries, clusters_named
from jetbridge.console.domain.intents import StartIntent
from jetbridge.console.domain.progress import MissionProgress
from jetbridge.console.service_layer.views import (
    ClusterView,
    DeploymentView,
    DestinationsView,
    PlanView,
    Reason,
    RequestDetail,
    RequestSummary,
)
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.deployment_eligibility import tainted_clusters
from jetbridge.navigator.domain.eligibility import winding_down
from jetbridge.navigator.domain.errors import DomainError
from jetbridge.navigator.domain.fleet import Fleet

log = logging.getLogger(__name__)
# 112-123 MiB of entries (some 3 failovers of 1,000 Deployments): the chart's 768 MiB
# limit leaves room for the fleet, which still grows with the history.
DEFAULT_EVENTS_KEPT = 100_000


class LedgerReadModel:
    def __init__(
        self,
        mapper: EventMapper,
        clock: Callable[[], int],
        registry: str = "",
        events_kept: int = DEFAULT_EVENTS_KEPT,
    ) -> None:
        self.mapper = mapper
        self.clock = clock
        # ``registry``: the installation's, as the Navigator has it, so previews judge
        # Deployment images the way the Navigator will.
        self.fleet = Fleet(registry)
        # The audit trail's newest entries only: the fleet is folded from every event,
        # but holding every entry would grow without bound (``RecentEntries``).
        self.entries = RecentEntries(events_kept)
        self._extras: dict[str, fv.RequestExtras] = {}
        self._refusals: dict[str, Reason] = {}
        self._seq_of: dict[tuple[str, str], int] = {}
        # Each mission's progress, as last computed; ``_forget_progress`` drops the one an
        # event changes. A request's summary reads these instead of walking every
        # mission's flights and steps on every call (the list a UI polls).
        self._progress: dict[str, MissionProgress] = {}
        self._changed = asyncio.Event()
        self._fold_errors = 0
        self.is_ready: Callable[[], bool] = lambda: True

    # --- writing: one ledger record at a time ---------------------------------------
    def ingest(self, record: EventRecord, partition: int = 0, offset: int = 0) -> AuditEntry:
        p: dict[str, Any] = dict(record.payload)
        env = record.envelope
        if self.mapper.is_domain_event(record):
            try:
                event = self.mapper.to_domain(record)
                self.fleet.apply(event)
                self._forget_progress(event)
                self._remember(event, p)
            except (DomainError, TypeError, ValueError, KeyError) as error:
                self._fold_errors += 1
                log.warning("could not fold %s %s: %s", record.event_type, env.event_id, error)
        elif record.event_type == "CommandRefused":
            self._refusals[p["command_id"]] = Reason(
                code=p["reason_code"], subject_id=p["subject_id"], message=p["reason"]
            )
        entry = self._entry(record, p, partition, offset)
        self.entries.append(entry)
        self._seq_of[(env.aggregate_type, env.aggregate_id)] = entry.seq
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return entry

    def _forget_progress(self, event: ev.DomainEvent) -> None:
        """A mission's progress is its status and its two flights' steps: every event
        folds into one aggregate, so only a Mission event or one of its flights' events
        changes it. (A flight folded before its mission still names the mission.)"""
        if event.AGGREGATE == "Mission":
            self._progress.pop(event.aggregate_id, None)
        elif event.AGGREGATE == "Flight":
            flight = self.fleet.flights.get(event.aggregate_id)
            if flight is not None:
                self._progress.pop(flight.mission_id, None)

    def _progress_of(self, mission_id: str) -> MissionProgress:
        known = self._progress.get(mission_id)
        if known is None:
            known = self._progress[mission_id] = fv.mission_progress(self.fleet, mission_id)
        return known

    def _remember(self, event: ev.DomainEvent, payload: dict[str, Any]) -> None:
        match event:
            case ev.FailoverRequested():
                self._extra(event.request_id).requested = payload
            case ev.FailoverRejected():
                self._extra(event.request_id).rejected = payload
            case ev.FailoverStarted():
                self._extra(event.request_id).started_at = event.started_at
            case ev.FailoverFailed():
                self._extra(event.request_id).failed = payload
            case _:
                pass

    def _extra(self, request_id: str) -> fv.RequestExtras:
        return self._extras.setdefault(request_id, fv.RequestExtras())

    def _entry(
        self, record: EventRecord, p: dict[str, Any], partition: int, offset: int
    ) -> AuditEntry:
        env = record.envelope
        clusters = clusters_named(p)
        request_id = p.get("request_id") if isinstance(p.get("request_id"), str) else None
        deployment_id = p.get("deployment_id") if isinstance(p.get("deployment_id"), str) else None
        flight = self.fleet.flights.get(p.get("flight_id", ""))
        if flight is not None:
            request_id = request_id or flight.request_id
            deployment_id = deployment_id or flight.deployment_id
            clusters.append(flight.cluster_id)
        mission = self.fleet.missions.get(p.get("mission_id", ""))
        if mission is not None:
            request_id = request_id or mission.request_id
            deployment_id = deployment_id or mission.deployment_id
            clusters += [mission.source_cluster_id, mission.destination_cluster_id]
        if request_id is None and env.correlation_id in self.fleet.requests:
            request_id = env.correlation_id
        if request_id is None and record.event_type == "CommandRefused":
            request_id = p.get("subject_id") or None
        return AuditEntry(
            seq=self.entries.next_seq,
            event_id=env.event_id,
            event_type=record.event_type,
            aggregate_type=env.aggregate_type,
            aggregate_id=env.aggregate_id,
            occurred_at=int(env.occurred_at.timestamp() * 1000),
            actor=env.actor,
            producer=env.producer,
            causation_id=env.causation_id,
            request_id=request_id,
            deployment_id=deployment_id,
            cluster_ids=tuple(dict.fromkeys(c for c in clusters if c)),
            partition=partition,
            offset=offset,
            payload=p,
        )

    # --- reading: the ReadModel port --------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.is_ready()

    @property
    def fold_errors(self) -> int:
        return self._fold_errors

    def last_seq(self) -> int:
        return self.entries.last_seq

    def first_seq(self) -> int:
        return self.entries.first_seq

    async def wait_beyond(self, seq: int, timeout_s: float) -> int:
        """Return once an event after ``seq`` was applied (or the timeout passed)."""
        if self.last_seq() > seq:
            return self.last_seq()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.last_seq()

    def _seq(self, kind: str, key: str) -> int:
        return self._seq_of.get((kind, key), 0)

    async def clusters(self) -> list[ClusterView]:
        tainted = tainted_clusters(self.fleet.clusters, self.fleet.deployments)
        busy = winding_down(self.fleet.missions, self.fleet.flights)
        return [
            fv.cluster_view(self.fleet, c, self._seq("Cluster", c.id), tainted, busy)
            for _, c in sorted(self.fleet.clusters.items())
        ]

    async def cluster(self, cluster_id: str) -> ClusterView | None:
        c = self.fleet.clusters.get(cluster_id)
        if c is None:
            return None
        tainted = tainted_clusters(self.fleet.clusters, self.fleet.deployments)
        return fv.cluster_view(self.fleet, c, self._seq("Cluster", c.id), tainted)

    async def destinations(self, source_id: str) -> DestinationsView | None:
        if source_id not in self.fleet.clusters:
            return None
        return fv.destinations_view(self.fleet, source_id)

    async def deployments(self, cluster_id: str) -> list[DeploymentView] | None:
        if cluster_id not in self.fleet.clusters:
            return None
        return fv.deployment_views(self.fleet, cluster_id)

    async def requests(
        self, *, status: str | None, cluster_id: str | None, limit: int
    ) -> list[RequestSummary]:
        now = self.clock()
        chosen = [
            r
            for r in self.fleet.requests.values()
            if (status is None or r.status.value == status)
            and (cluster_id is None or r.involves(cluster_id))
        ]
        chosen.sort(key=lambda r: (r.requested_at, r.id), reverse=True)
        return [
            fv.request_summary(
                self.fleet,
                r,
                self._extra(r.id),
                self._seq("FailoverRequest", r.id),
                now,
                progress_of=self._progress_of,
            )
            for r in chosen[:limit]
        ]

    async def request(self, request_id: str) -> RequestDetail | None:
        r = self.fleet.requests.get(request_id)
        if r is None:
            return None
        seq = max(
            [self._seq("FailoverRequest", r.id)] + [self._seq("Mission", m) for m in r.mission_ids]
        )
        return fv.request_detail(
            self.fleet, r, self._extra(r.id), seq, self.clock(), progress_of=self._progress_of
        )

    async def plan(self, intent: StartIntent, now_ms: int) -> PlanView:
        return fv.plan_view(self.fleet, intent, now_ms)

    async def events(
        self, where: EventFilter, limit: int, *, newest_first: bool = False
    ) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        window = self.entries.between(where.after_seq, where.before_seq)
        for entry in reversed(window) if newest_first else window:
            if where.matches(entry):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out

    async def refusal(self, command_id: str) -> Reason | None:
        return self._refusals.get(command_id)


class LedgerFollower:
    """Reads every partition of the ledger from the start, then follows it."""

    def __init__(self, bootstrap: str, topic: str, model: LedgerReadModel) -> None:
        self.model = model
        self._replay = PartitionReplay(
            bootstrap_servers=bootstrap,
            topics=[topic],
            handler=self._handle,
            group_id=None,
            codec=None,
            client_id="console-ledger",
        )
        model.is_ready = self._is_ready
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.on_failure: Callable[[], None] = terminate_self

    def _is_ready(self) -> bool:
        return self._replay.ready.is_set() and self._task is not None and not self._task.done()

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The follower ended while not stopping: the read model is frozen from now on.
        Say so and end the process (its supervisor starts it again) instead of serving
        stale views and timing out every command (found by reading, not yet seen)."""
        if self._stopping:
            return
        error = None if task.cancelled() else task.exception()
        log.error("the ledger follower ended (%r); stopping the Console", error)
        self.on_failure()

    def _handle(self, record: EventRecord, consumed: ConsumedRecord) -> None:
        self.model.ingest(record, consumed.partition, consumed.offset)

    async def start(self) -> None:
        await self._replay.start()
        self._task = asyncio.create_task(self._replay.run(), name="console-ledger")
        self._task.add_done_callback(self._ended)

    async def wait_ready(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._replay.ready.wait(), timeout_s)

    async def stop(self) -> None:
        self._stopping = True
        await self._replay.stop()
        if self._task is not None:
            # It ends once its current batch is folded; cut short after 10 s. An error
            # that ended it was reported by ``_ended`` already.
            try:
                await asyncio.wait({self._task}, timeout=10)
            finally:  # also when our caller is cancelled meanwhile
                await stop_tasks(self._task)


def terminate_self() -> None:
    """uvicorn shuts down on SIGTERM as on Kubernetes' stop: lifespan exit included."""
    os.kill(os.getpid(), signal.SIGTERM)
