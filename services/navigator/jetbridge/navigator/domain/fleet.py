"""Everything the Navigator knows, folded from the log, and the one place that decides.

``Fleet`` holds every aggregate by id. ``apply`` routes an event to its aggregate (the
same code path live and on replay, so ``Fleet.replay(log) == fleet``). ``decide`` turns a
command into events; ``react`` returns whatever follows from the state at ``now``
(starting requests, the mission sagas, blast radius, the end of requests). Both are
pure: they return events and leave the fleet untouched; the caller appends the events
to the log and applies them. Deciding twice on the same state adds nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, TypeVar

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.activity import DataPlaneActivity
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.commands import (
    CancelFailover,
    Command,
    DeclareClusterLost,
    DeregisterCluster,
    EnableFailover,
    RegisterCluster,
    RequestFailover,
)
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.errors import UnknownAggregate, UnknownEvent
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.late_deployments import extend_request
from jetbridge.navigator.domain.lost_cluster import decide_declare_lost
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.mission_saga import MissionContext, advance_mission
from jetbridge.navigator.domain.registering import (
    decide_deregister,
    decide_register,
    still_in_use,
)
from jetbridge.navigator.domain.request_saga import advance_request
from jetbridge.navigator.domain.requesting import (
    decide_cancel,
    decide_enable_failover,
    decide_request,
    start_request,
)
from jetbridge.navigator.domain.vocabulary import CleanupStatus, RequestStatus

A = TypeVar("A", bound=Aggregate)
MAX_REACT_ROUNDS = 32
# An event's AGGREGATE -> the Fleet attribute holding those aggregates, and their class.
_TABLES: dict[str, tuple[str, type[Aggregate]]] = {
    "Cluster": ("clusters", Cluster),
    "Deployment": ("deployments", Deployment),
    "FailoverRequest": ("requests", FailoverRequest),
    "Mission": ("missions", Mission),
    "Flight": ("flights", Flight),
}


class Fleet:
    def __init__(self, registry: str = "") -> None:
        # The installation's container registry: configuration, not state (never folded
        # from the log); decisions qualify and check Deployment images with it.
        self.registry = registry
        self.clusters: dict[str, Cluster] = {}
        self.deployments: dict[str, Deployment] = {}
        self.requests: dict[str, FailoverRequest] = {}
        self.missions: dict[str, Mission] = {}
        self.flights: dict[str, Flight] = {}
        # Derived from the flights' outcomes, per cluster: what queued flights wait on.
        self.activity: dict[str, DataPlaneActivity] = {}
        # Derived from the flights' clearances, per Deployment: the highest epoch whose
        # fence was cleared to run (``deployment.next_fencing_epoch``). Kept here, not on
        # the Deployment: a projection folds each aggregate in its own order, and a
        # flight's clearance may come before its Deployment's creation.
        self.spent_epochs: dict[str, int] = {}

    @classmethod
    def replay(cls, events: Iterable[ev.DomainEvent], registry: str = "") -> Fleet:
        fleet = cls(registry)
        for event in events:
            fleet.apply(event)
        return fleet

    def _table(self, aggregate: str) -> tuple[dict[str, Any], type[Aggregate]]:
        if aggregate not in _TABLES:
            raise UnknownEvent("Fleet", aggregate)
        attribute, cls = _TABLES[aggregate]
        table: dict[str, Any] = getattr(self, attribute)
        return table, cls

    def apply(self, event: ev.DomainEvent) -> None:
        """Fold one event; an illegal one raises and changes nothing."""
        table, cls = self._table(event.AGGREGATE)
        aggregate_id = event.aggregate_id
        aggregate = table.get(aggregate_id)
        if aggregate is None:
            fresh = cls(aggregate_id)
            fresh.apply(event)
            table[aggregate_id] = fresh
        else:
            aggregate.apply(event)
        if isinstance(event, ev.FlightOutcome):
            flight = self.flights[aggregate_id]
            self.activity.setdefault(flight.cluster_id, DataPlaneActivity()).note(event, flight)
        elif isinstance(event, ev.FlightStepsCleared):
            flight = self.flights[aggregate_id]
            if flight.fence_attempts():
                spent = self.spent_epochs.get(flight.deployment_id, 0)
                self.spent_epochs[flight.deployment_id] = max(spent, flight.fencing_epoch)

    def apply_all(self, events: Iterable[ev.DomainEvent]) -> None:
        for event in events:
            self.apply(event)

    def clone(self) -> Fleet:
        return copy.deepcopy(self)

    def __eq__(self, other: object) -> bool:
        """Same state folded (configuration, such as the registry, is not compared)."""
        return isinstance(other, Fleet) and self._state() == other._state()

    def _state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "registry"}

    __hash__ = None  # type: ignore[assignment]

    def decide(self, command: Command, now: int) -> list[ev.DomainEvent]:
        match command:
            case RequestFailover():
                return decide_request(
                    command,
                    self.clusters,
                    self.deployments,
                    self.requests,
                    now,
                    missions=self.missions,
                    registry=self.registry,
                    flights=self.flights,
                )
            case CancelFailover():
                return decide_cancel(command, self.requests.get(command.request_id), now)
            case EnableFailover():
                cluster = self.clusters.get(command.cluster_id)
                return decide_enable_failover(command, cluster, self.deployments, now)
            case RegisterCluster():
                return decide_register(command, self.clusters.get(command.cluster_id), now)
            case DeregisterCluster():
                cluster = self.clusters.get(command.cluster_id)
                in_use = (
                    None
                    if cluster is None
                    else still_in_use(
                        cluster, self.deployments, self.requests, self.missions, self.flights
                    )
                )
                return decide_deregister(command, cluster, in_use, now)
            case DeclareClusterLost():
                return decide_declare_lost(
                    command,
                    self.clusters.get(command.cluster_id),
                    now,
                    clusters=self.clusters,
                    deployments=self.deployments,
                    requests=self.requests,
                    flights=self.flights,
                    registry=self.registry,
                )

    def react(self, now: int) -> list[ev.DomainEvent]:
        """Everything that follows from the current state at ``now``, until it settles."""
        work = self.clone()
        out: list[ev.DomainEvent] = []
        for _ in range(MAX_REACT_ROUNDS):
            round_events = work._react_once(now)
            if not round_events:
                return out
            out += round_events
        return out

    def _react_once(self, now: int) -> list[ev.DomainEvent]:
        out: list[ev.DomainEvent] = []
        for request in sorted(self.requests.values(), key=lambda r: r.requested_at):
            if request.status is RequestStatus.PENDING:
                events = start_request(
                    request, self.deployments, now, self.registry, spent_epochs=self.spent_epochs
                )
            else:
                events = self.extend(request, now)
                self.apply_all(events)
                out += events
                events = advance_request(request, self.missions, now, self.flights)
            self.apply_all(events)
            out += events
        for mission in list(self.missions.values()):
            if self._settled(mission):
                continue
            events = advance_mission(self.mission_context(mission.id), now)
            self.apply_all(events)
            out += events
        return out

    def extend(self, request: FailoverRequest, now: int) -> list[ev.DomainEvent]:
        """The missions of Deployments that appeared on the request's source (see
        :mod:`late_deployments`)."""
        return extend_request(
            request,
            self.clusters,
            self.deployments,
            self.missions,
            now,
            registry=self.registry,
            spent_epochs=self.spent_epochs,
        )

    def _settled(self, m: Mission) -> bool:
        """Nothing can follow any more: skip it (a pure shortcut, not a rule)."""
        if not m.terminal or m.cleanup is CleanupStatus.PENDING:
            return False
        for fid in (m.source_flight_id, m.destination_flight_id):
            flight = self.flights.get(fid)
            if flight is None or not flight.terminal:
                return False
        return True

    def mission_context(self, mission_id: str) -> MissionContext:
        m = self._get(self.missions, mission_id, "Mission")
        request = self._get(self.requests, m.request_id, "FailoverRequest")
        source = self.clusters.get(m.source_cluster_id)
        destination = self.clusters.get(m.destination_cluster_id)
        return MissionContext(
            mission=m,
            source=self._get(self.flights, m.source_flight_id, "Flight"),
            destination=self._get(self.flights, m.destination_flight_id, "Flight"),
            deployment=self._get(self.deployments, m.deployment_id, "Deployment"),
            retry=request.policy.retry,
            source_reachable=source is not None and source.reachable,
            destination_reachable=destination is not None and destination.reachable,
            source_lost=source is not None and source.lost,
            source_activity=self.activity.get(m.source_cluster_id),
            destination_activity=self.activity.get(m.destination_cluster_id),
        )

    @staticmethod
    def _get(table: dict[str, A], key: str, name: str) -> A:
        if key not in table:
            raise UnknownAggregate(name, key)
        return table[key]
