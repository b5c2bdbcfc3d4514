"""React only on what changed: exactly ``Fleet.react``'s decisions, without the full scan.

``Fleet.react(now)`` deep-copies the whole fleet and asks every request and every
unsettled mission what follows, round after round; with a thousand Deployments the copy
and the scan dominate every batch. The Reactor drives the live fleet instead and keeps:

- a dirty set: requests and missions whose inputs changed since they were last asked
  (an event on the aggregate itself, on one of its missions or flights, on its
  Deployment, or a reachability change of one of its clusters);
- a due-time index: the earliest step deadline of each mission (the only clock the sagas
  read), so a mission whose deadline has come is asked again.

Invariant: a request or mission that is neither dirty nor due decides nothing now (the
sagas decide from state alone, ``now`` only stamps events and fires deadlines). Asking
only the dirty and due ones, in ``Fleet.react``'s order (requests by ``requested_at``,
missions in creation order) and rounds, therefore yields exactly its events.
``tests/unit/navigator/test_reactor.py`` checks that against ``Fleet.react``.
Unlike ``Fleet.react`` the Reactor applies what it decides to the fleet it drives.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.fleet import MAX_REACT_ROUNDS, Fleet
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.mission_saga import advance_mission, deadline_at
from jetbridge.navigator.domain.request_saga import advance_request
from jetbridge.navigator.domain.requesting import start_request
from jetbridge.navigator.domain.vocabulary import CleanupStatus, FlightStatus, RequestStatus


class Reactor:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._request_seq: dict[str, int] = {}
        self._mission_seq: dict[str, int] = {}
        self._by_deployment: dict[str, set[str]] = defaultdict(set)
        self._by_cluster: dict[str, set[str]] = defaultdict(set)
        self._dirty_requests: set[str] = set()
        # Requests whose source gained a Deployment since they last looked for late ones
        # (the only thing that can extend a request: see ``late_deployments``).
        self._scope_dirty: set[str] = set()
        self._dirty_missions: set[str] = set()
        self._due_at: dict[str, int] = {}
        self._due: list[tuple[int, str]] = []
        # The mission phase of a round: missions marked dirty behind the cursor wait for
        # the next round, those ahead of it are asked in this one (as Fleet.react would).
        self._queue: list[tuple[int, str]] | None = None
        self._queued: set[str] = set()
        self._cursor = -1
        self._asking_request: str | None = None
        self._asking_mission: str | None = None
        self.asked = 0  # how many sagas were asked (for benchmarks)
        for request_id in fleet.requests:
            self._see_request(request_id)
            if fleet.requests[request_id].active:
                self._scope_dirty.add(request_id)  # what the log held before we asked
        for mission in fleet.missions.values():
            self._see_mission(mission)

    # -- folding ------------------------------------------------------------------
    def apply(self, event: ev.DomainEvent) -> None:
        """Fold one event into the fleet and mark what may decide differently now."""
        fleet = self.fleet
        if isinstance(event, ev.ClusterEvent):
            before = fleet.clusters.get(event.cluster_id)
            was = before is not None and before.reachable
            fleet.apply(event)
            if fleet.clusters[event.cluster_id].reachable != was:
                for mission_id in list(self._by_cluster.get(event.cluster_id, ())):
                    self._mark_mission(mission_id)
            return
        fleet.apply(event)
        match event:
            case ev.RequestEvent():
                self._see_request(event.request_id)
            case ev.MissionCreated():
                self._see_mission(fleet.missions[event.mission_id])
            case ev.MissionEvent():
                self._mark_mission(event.mission_id)
                self._mark_request(fleet.missions[event.mission_id].request_id)
            case ev.FlightEvent():
                self._mark_mission(fleet.flights[event.flight_id].mission_id)
            case ev.DeploymentEvent():
                for mission_id in list(self._by_deployment.get(event.deployment_id, ())):
                    self._mark_mission(mission_id)
                if isinstance(event, ev.DeploymentCreated):
                    self._new_on(event.cluster_id)

    def _new_on(self, cluster_id: str) -> None:
        """A Deployment appeared on ``cluster_id``: an active request from it may grow."""
        for request_id, request in self.fleet.requests.items():
            if request.active and request.source_cluster_id == cluster_id:
                self._scope_dirty.add(request_id)
                self._mark_request(request_id)

    def _see_request(self, request_id: str) -> None:
        self._request_seq.setdefault(request_id, len(self._request_seq))
        self._mark_request(request_id)

    def _see_mission(self, m: Mission) -> None:
        self._mission_seq.setdefault(m.id, len(self._mission_seq))
        self._by_deployment[m.deployment_id].add(m.id)
        self._by_cluster[m.source_cluster_id].add(m.id)
        self._by_cluster[m.destination_cluster_id].add(m.id)
        self._mark_mission(m.id)
        self._mark_request(m.request_id)

    def _mark_request(self, request_id: str) -> None:
        if request_id != self._asking_request:
            self._dirty_requests.add(request_id)

    def _mark_mission(self, mission_id: str) -> None:
        if mission_id == self._asking_mission:
            return  # it was asked until it settled: its own events change nothing for it
        seq = self._mission_seq[mission_id]
        if self._queue is not None and seq > self._cursor:
            if mission_id not in self._queued:
                self._queued.add(mission_id)
                heapq.heappush(self._queue, (seq, mission_id))
        else:
            self._dirty_missions.add(mission_id)

    # -- deciding -----------------------------------------------------------------
    def react(self, now: int) -> list[ev.DomainEvent]:
        """Everything that follows at ``now`` (applied to the fleet), until it settles."""
        while self._due and self._due[0][0] <= now:
            due, mission_id = heapq.heappop(self._due)
            if self._due_at.get(mission_id) == due:
                del self._due_at[mission_id]
                self._mark_mission(mission_id)
        out: list[ev.DomainEvent] = []
        for _ in range(MAX_REACT_ROUNDS):
            round_events = self._round(now)
            if not round_events:
                return out
            out += round_events
        return out

    def _round(self, now: int) -> list[ev.DomainEvent]:
        fleet, out = self.fleet, []
        requests = sorted(
            self._dirty_requests,
            key=lambda r: (fleet.requests[r].requested_at, self._request_seq[r]),
        )
        self._dirty_requests = set()
        for request_id in requests:
            request = fleet.requests[request_id]
            self.asked += 1
            if request.status is RequestStatus.PENDING:
                events = start_request(
                    request,
                    fleet.deployments,
                    now,
                    fleet.registry,
                    spent_epochs=fleet.spent_epochs,
                )
                self._dirty_requests.add(request_id)  # asked once more when started
            else:
                if request_id in self._scope_dirty:
                    self._scope_dirty.discard(request_id)
                    out += self._fold(fleet.extend(request, now), request=request_id)
                events = advance_request(request, fleet.missions, now, fleet.flights)
            out += self._fold(events, request=request_id)
        self._queue = [(self._mission_seq[m], m) for m in self._dirty_missions]
        self._queued = set(self._dirty_missions)
        self._dirty_missions = set()
        heapq.heapify(self._queue)
        try:
            while self._queue:
                self._cursor, mission_id = heapq.heappop(self._queue)
                self._queued.discard(mission_id)
                mission = fleet.missions[mission_id]
                if self._settled(mission):
                    self._forget(mission)
                    continue
                self.asked += 1
                events = advance_mission(fleet.mission_context(mission_id), now)
                out += self._fold(events, mission=mission_id)
                self._schedule(mission)
        finally:
            self._queue, self._queued, self._cursor = None, set(), -1
        return out

    def _fold(
        self,
        events: list[ev.DomainEvent],
        *,
        request: str | None = None,
        mission: str | None = None,
    ) -> list[ev.DomainEvent]:
        self._asking_request, self._asking_mission = request, mission
        try:
            for event in events:
                self.apply(event)
        finally:
            self._asking_request = self._asking_mission = None
        return events

    def _settled(self, m: Mission) -> bool:
        """As ``Fleet._settled``: nothing can follow any more."""
        if not m.terminal or m.cleanup is CleanupStatus.PENDING:
            return False
        for flight_id in (m.source_flight_id, m.destination_flight_id):
            flight = self.fleet.flights.get(flight_id)
            if flight is None or not flight.terminal:
                return False
        return True

    def _forget(self, m: Mission) -> None:
        self._by_deployment[m.deployment_id].discard(m.id)
        self._by_cluster[m.source_cluster_id].discard(m.id)
        self._by_cluster[m.destination_cluster_id].discard(m.id)
        self._due_at.pop(m.id, None)

    def _schedule(self, m: Mission) -> None:
        """Remember when this mission's earliest step deadline comes."""
        retry = self.fleet.requests[m.request_id].policy.retry
        due: int | None = None
        for flight_id in (m.source_flight_id, m.destination_flight_id):
            f = self.fleet.flights[flight_id]
            cur = f.current()
            if f.status is not FlightStatus.ACTIVE or cur is None:
                continue
            at = deadline_at(f, cur, retry, self.fleet.activity.get(f.cluster_id))
            if at is not None and (due is None or at < due):
                due = at
        if due is None:
            self._due_at.pop(m.id, None)
        elif self._due_at.get(m.id) != due:
            self._due_at[m.id] = due
            heapq.heappush(self._due, (due, m.id))
