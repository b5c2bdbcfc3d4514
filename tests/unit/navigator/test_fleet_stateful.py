"""Hypothesis stateful test of the whole Navigator domain with a random data plane.

Operators request and cancel failovers and declare silent clusters lost, clusters
change health, time passes, and the data plane answers cleared steps at random
(success, transient or permanent failure, dispatch failure, silence, late duplicates).
Properties, after every step: every decided event applies cleanly (no illegal
transition is ever decided); the log replays to the live state; deciding again at the
same time adds nothing; terminal requests stay terminal; no two active requests share
a cluster; epochs never decrease; and the saga order holds (Controlled: no fence before
the drain, no delete before Ready; both modes: nothing comes up on the destination
before the fence).
"""

from __future__ import annotations

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import (
    CancelFailover,
    DeclareClusterLost,
    RequestFailover,
)
from jetbridge.navigator.domain.errors import CommandRefused
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    FlightKind,
    FlightStatus,
    Health,
    RequestStatus,
    StepName,
    StepStatus,
)
from tests.unit.navigator.builders import T0, cluster_events, deployment, health

CLUSTERS = ["a", "b", "c"]
OUTCOMES = ["ok", "ok", "ok", "transient", "permanent", "dispatch", "silent", "duplicate"]


class FleetMachine(RuleBasedStateMachine):
    @initialize(n=st.integers(1, 4), sides=st.sampled_from([None, ("A", "B", "B")]))
    def world(self, n: int, sides: tuple[str, ...] | None) -> None:
        """Without sides, or a on side A and b, c sharing side B (the side rules)."""
        self.fleet = Fleet()
        self.log: list[ev.DomainEvent] = []
        self.now = T0 + 10_000
        self.ended: dict[str, str] = {}
        self.epochs: dict[str, int] = {}
        self.last_outcome: ev.DomainEvent | None = None
        self.seq = 0
        events = [
            e
            for i, c in enumerate(CLUSTERS)
            for e in cluster_events(c, database_side=sides[i] if sides else None)
        ]
        events += [deployment(f"d{i}", "a", priority=i % 2) for i in range(n)]
        self.record(events)

    def record(self, events: list[ev.DomainEvent]) -> None:
        for e in events:
            self.fleet.apply(e)  # raises on an illegal decision: the test fails
            self.log.append(e)

    @rule(
        data=st.data(),
        mode=st.sampled_from(list(FailoverMode)),
        limit=st.integers(0, 2),
        ratio=st.sampled_from([0.3, 1.0]),
        anywhere=st.booleans(),
        exclude=st.booleans(),
    )
    def request(
        self,
        data: st.DataObject,
        mode: FailoverMode,
        limit: int,
        ratio: float,
        anywhere: bool,
        exclude: bool,
    ) -> None:
        """Half the time from a cluster that holds Deployments to another one."""
        holding = sorted({d.cluster_id for d in self.fleet.deployments.values()})
        src = data.draw(st.sampled_from(CLUSTERS if anywhere else holding))
        others = CLUSTERS if anywhere else [c for c in CLUSTERS if c != src]
        dst = data.draw(st.sampled_from(others))
        self.seq += 1
        policy = FailoverPolicy(
            retry=RetryPolicy(max_attempts=2, backoff_base_seconds=1),
            blast_radius=BlastRadius(max_concurrent_missions=limit, halt_failure_ratio=ratio),
        )
        cmd = RequestFailover(
            f"r{self.seq}", src, dst, mode, "op", policy=policy, exclude_ineligible=exclude
        )
        decided = self.fleet.decide(cmd, self.now)
        if any(isinstance(e, ev.FailoverSuperseded) for e in decided):
            event("a Controlled request superseded")
        rejected = any(isinstance(e, ev.FailoverRejected) for e in decided)
        excluding = any(
            isinstance(e, ev.FailoverRequested) and e.ineligible_deployment_ids for e in decided
        )
        if excluding and not rejected:
            event("a request accepted excluding ineligible Deployments")
        self.record(decided)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.fleet.requests:
            return
        rid = data.draw(st.sampled_from(sorted(self.fleet.requests)))
        try:
            self.record(self.fleet.decide(CancelFailover(rid, "op"), self.now))
        except CommandRefused:
            assert self.fleet.requests[rid].terminal

    @rule(cluster=st.sampled_from(CLUSTERS))
    def declare_lost(self, cluster: str) -> None:
        """An admin attests a cluster is gone: refused unless it is silent, holds no
        Deployment and no active request names it; from then on nothing is heard of it."""
        try:
            self.record(
                self.fleet.decide(DeclareClusterLost(cluster, "INC-1 destroyed", "op"), self.now)
            )
        except CommandRefused as refused:
            c = self.fleet.clusters[cluster]
            assert c.reachable or c.lost or refused.code == "CLUSTER_IN_USE", refused
        else:
            assert self.fleet.clusters[cluster].lost
            event("a cluster declared lost")  # --hypothesis-show-statistics: how often

    @rule(cluster=st.sampled_from(CLUSTERS), mechanism=st.sampled_from(["IMAGE", "GIT_SYNC"]))
    def deployment_appears(self, cluster: str, mechanism: str) -> None:
        """Provisioning creates a Deployment at any time, during a failover too."""
        if self.fleet.clusters[cluster].lost:
            return
        self.seq += 1
        did = f"new{self.seq}"
        self.record([deployment(did, cluster, created_at=self.now, mechanism=mechanism)])

    @rule()
    def react(self) -> None:
        self.record(self.fleet.react(self.now))
        assert self.fleet.react(self.now) == [], "deciding again must add nothing"

    @rule(seconds=st.sampled_from([1, 5, 130, 1000]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds * 1000

    @rule(
        cluster=st.sampled_from(CLUSTERS),
        to=st.sampled_from([Health.HEALTHY, Health.HEALTHY, Health.DEGRADED, Health.UNREACHABLE]),
    )
    def health_changes(self, cluster: str, to: Health) -> None:
        if self.fleet.clusters[cluster].lost:
            return  # deregistered: DP-Link links to it no more
        current = self.fleet.clusters[cluster].health
        if current is not to:
            self.record([health(cluster, current, to)])

    def _active_flights(self) -> list[str]:
        return sorted(
            f.id
            for f in self.fleet.flights.values()
            if f.status is FlightStatus.ACTIVE
            and (cur := f.current()) is not None
            and cur.status in (StepStatus.CLEARED, StepStatus.RUNNING)
        )

    @rule(data=st.data(), outcome=st.sampled_from(OUTCOMES))
    def data_plane_answers_one(self, data: st.DataObject, outcome: str) -> None:
        if outcome == "duplicate":
            if self.last_outcome is not None:
                self.record([self.last_outcome])
            return
        active = self._active_flights()
        if active and outcome != "silent":
            self.answer(data.draw(st.sampled_from(active)), outcome)

    @rule(data=st.data())
    def data_plane_answers_all(self, data: st.DataObject) -> None:
        """A whole round, mostly successful: carries missions to their end."""
        for fid in self._active_flights():
            outcome = data.draw(st.sampled_from(["ok"] * 8 + OUTCOMES))
            if outcome not in ("silent", "duplicate"):
                self.answer(fid, outcome)
        self.record(self.fleet.react(self.now))

    def answer(self, flight_id: str, outcome: str) -> None:
        f = self.fleet.flights[flight_id]
        cur = f.current()
        assert cur is not None
        step, attempt, at = cur.name.value, cur.attempts, self.now
        answer: ev.DomainEvent
        if cur.status is StepStatus.CLEARED:
            if outcome == "dispatch":
                answer = ev.FlightDispatchFailed(
                    flight_id=f.id,
                    error_code="X",
                    error="x",
                    transient=True,
                    failed_at=at,
                    steps=[step],
                )
            else:
                answer = ev.FlightStepStarted(
                    flight_id=f.id, step=step, attempt=attempt, started_at=at
                )
        elif outcome in ("transient", "permanent", "dispatch"):
            answer = ev.FlightStepFailed(
                flight_id=f.id,
                step=step,
                attempt=attempt,
                error_code="E",
                error="e",
                transient=outcome != "permanent",
                failed_at=at,
            )
        elif cur.name is StepName.DRAIN_TASKS:
            answer = ev.DrainTimedOut(
                flight_id=f.id, attempt=attempt, tasks_still_running=1, timed_out_at=at
            )
        elif cur.name is StepName.FENCE_DATABASE:
            answer = ev.FencingCompleted(
                flight_id=f.id,
                mission_id=f.mission_id,
                deployment_id=f.deployment_id,
                epoch=f.fencing_epoch,
                attempt=attempt,
                fenced_at=at,
            )
        else:
            answer = ev.FlightStepSucceeded(
                flight_id=f.id, step=step, attempt=attempt, succeeded_at=at
            )
        self.record([answer])
        self.last_outcome = answer

    @invariant()
    def replay_equals_live(self) -> None:
        assert Fleet.replay(self.log) == self.fleet

    @invariant()
    def terminal_requests_stay_terminal(self) -> None:
        for rid, r in self.fleet.requests.items():
            if rid in self.ended:
                assert r.status.value == self.ended[rid]
            elif r.terminal:
                self.ended[rid] = r.status.value
                if r.status is RequestStatus.SUCCEEDED and not r.cancel_requested:
                    self._nothing_left_behind(r)

    def _nothing_left_behind(self, r: FailoverRequest) -> None:
        """A request that just SUCCEEDED left no Deployment it did not judge on its
        source, even one created while it ran. Not one cancelled too late to stop any
        mission: it ends as its missions did, and takes in no Deployment after the
        cancel (Hypothesis, 600 examples: one created after it was left on the source).
        Nor one it excluded as ineligible: that request ends FAILED naming it."""
        assert not r.ineligible_deployment_ids, f"{r.id} SUCCEEDED excluding some"
        judged = set(r.deployment_ids)
        left = [
            d.id
            for d in self.fleet.deployments.values()
            if d.active and d.cluster_id == r.source_cluster_id and d.id not in judged
        ]
        assert left == [], f"{r.id} SUCCEEDED leaving {left} on {r.source_cluster_id}"

    @invariant()
    def one_writer_per_cluster(self) -> None:
        held = [
            c
            for r in self.fleet.requests.values()
            if r.active
            for c in {r.source_cluster_id, r.destination_cluster_id}
        ]
        assert len(held) == len(set(held))

    @invariant()
    def one_copy_can_write(self) -> None:
        """Of the clusters where a copy of a Deployment may run (created there, or its
        upsert began there, and not deleted since), at most one fences with the side
        its database lets connect: two would both write. A cluster declared lost has
        none: that is what the admin attested."""
        copies: dict[str, set[str]] = {}
        for e in self.log:
            if isinstance(e, ev.DeploymentCreated):
                copies.setdefault(e.deployment_id, set()).add(e.cluster_id)
            elif isinstance(e, ev.FlightStepStarted | ev.FlightStepSucceeded | ev.FlightStepFailed):
                f = self.fleet.flights[e.flight_id]
                if e.step == StepName.UPSERT_DEPLOYMENT.value:
                    copies.setdefault(f.deployment_id, set()).add(f.cluster_id)
                elif e.step == StepName.DELETE_DEPLOYMENT.value and isinstance(
                    e, ev.FlightStepSucceeded
                ):
                    copies.get(f.deployment_id, set()).discard(f.cluster_id)
        clusters = self.fleet.clusters
        for did, where in copies.items():
            writer = clusters[self.fleet.deployments[did].writer_cluster_id].database_side
            if writer is not None:
                writable = sorted(
                    c for c in where if clusters[c].database_side == writer and not clusters[c].lost
                )
                assert len(writable) <= 1, f"{did}: copies on {writable} share side {writer}"

    @invariant()
    def epochs_never_decrease(self) -> None:
        for did, d in self.fleet.deployments.items():
            assert d.fencing_epoch >= self.epochs.get(did, 0)
            self.epochs[did] = d.fencing_epoch

    @invariant()
    def saga_order_holds(self) -> None:
        for m in self.fleet.missions.values():
            src = self.fleet.flights[m.source_flight_id]
            dst = self.fleet.flights[m.destination_flight_id]
            assert src.kind is FlightKind.SOURCE and dst.kind is FlightKind.DESTINATION
            if src.step(StepName.DELETE_DEPLOYMENT).attempts:
                assert dst.succeeded(StepName.WAIT_READY)
            upsert = dst.step(StepName.UPSERT_DEPLOYMENT)  # cleared with the fence in Forced,
            if upsert.started_at is not None or upsert.status is StepStatus.SUCCEEDED:
                assert dst.succeeded(StepName.FENCE_DATABASE)  # but never run before it
            if m.mode is FailoverMode.CONTROLLED and dst.step(StepName.FENCE_DATABASE).attempts:
                assert src.succeeded(StepName.DRAIN_TASKS)


TestFleet = FleetMachine.TestCase
TestFleet.settings = settings(max_examples=75, stateful_step_count=80, deadline=None)
