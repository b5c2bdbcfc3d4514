"""A scripted stand-in for the data planes, driving a pure :class:`Fleet` in time.

The simulation answers cleared steps with outcome events, the way Dispatcher and Pilot
would: dispatch, start, then an outcome. A script can make a (Deployment, flight kind,
step) fail transiently, fail permanently, hang (no outcome: deadlines fire) or time out
its drain. Everything goes through ``record`` so ``log`` is the full event log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import Command
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission_saga import deadline_at
from jetbridge.navigator.domain.vocabulary import FlightStatus, StepName, StepStatus
from tests.unit.navigator.builders import T0

Key = tuple[str, str, str]  # deployment id, flight kind, step


class Simulation:
    def __init__(
        self,
        events: Iterable[ev.DomainEvent] = (),
        now: int = T0 + 10_000,
        slots: int | None = None,
    ) -> None:
        self.fleet = Fleet()
        self.log: list[ev.DomainEvent] = []
        self.now = now
        # A Pilot's slots per cluster: a cleared flight beyond them is accepted
        # (FlightDispatched) and waits in the queue, oldest first. None: no limit.
        self.slots = slots
        # Behaviour per attempt: "ok", "transient", "permanent", "hang", "dispatch",
        # "drain_timeout:<n>", "wrong_epoch". Missing or exhausted means "ok".
        self.script: dict[Key, list[str]] = defaultdict(list)
        self.record(events)

    def record(self, events: Iterable[ev.DomainEvent]) -> list[ev.DomainEvent]:
        events = list(events)
        for e in events:
            self.fleet.apply(e)
            self.log.append(e)
        return events

    def command(self, command: Command) -> list[ev.DomainEvent]:
        return self.record(self.fleet.decide(command, self.now))

    def fail(self, deployment_id: str, kind: str, step: StepName, *behaviours: str) -> None:
        self.script[(deployment_id, kind, step.value)].extend(behaviours)

    def _behaviour(self, f: Flight, step: StepName) -> str:
        queue = self.script.get((f.deployment_id, f.kind.value, step.value))
        return queue.pop(0) if queue else "ok"

    def data_plane(self) -> list[ev.DomainEvent]:
        """One round of answers from every reachable data plane."""
        out: list[ev.DomainEvent] = []
        busy: dict[str, int] = defaultdict(int)
        for f in self.fleet.flights.values():
            cur = f.current()
            if f.status is FlightStatus.ACTIVE and cur and cur.status is StepStatus.RUNNING:
                busy[f.cluster_id] += 1
        for f in list(self.fleet.flights.values()):
            cluster = self.fleet.clusters.get(f.cluster_id)
            cur = f.current()
            if f.status is not FlightStatus.ACTIVE or cur is None or cluster is None:
                continue
            if not cluster.reachable:
                continue
            if cur.status is StepStatus.CLEARED and cur.not_before <= self.now:
                if self.slots is None or busy[f.cluster_id] < self.slots:
                    busy[f.cluster_id] += 1
                    out += self._start(f)
                elif f.dispatched_at is None:
                    out.append(self._dispatched(f))
            elif cur.status is StepStatus.RUNNING:
                out += self._finish(f)
        return self.record(out)

    @staticmethod
    def _cleared(f: Flight) -> list[str]:
        return [s.name.value for s in f.steps if s.status is StepStatus.CLEARED]

    def _dispatched(self, f: Flight) -> ev.FlightDispatched:
        return ev.FlightDispatched(flight_id=f.id, dispatched_at=self.now, steps=self._cleared(f))

    def _start(self, f: Flight) -> list[ev.DomainEvent]:
        cur = f.current()
        assert cur is not None
        cleared = self._cleared(f)
        out: list[ev.DomainEvent] = []
        if f.dispatched_at is None:
            queue = self.script.get((f.deployment_id, f.kind.value, cur.name.value))
            if queue and queue[0] == "dispatch":
                self._behaviour(f, cur.name)
                return [
                    ev.FlightDispatchFailed(
                        flight_id=f.id,
                        error_code="UNAVAILABLE",
                        error="StartFlight failed",
                        transient=True,
                        failed_at=self.now,
                        steps=cleared,
                    )
                ]
            out.append(self._dispatched(f))
        out.append(
            ev.FlightStepStarted(
                flight_id=f.id, step=cur.name.value, attempt=cur.attempts, started_at=self.now
            )
        )
        return out

    def _finish(self, f: Flight) -> list[ev.DomainEvent]:
        cur = f.current()
        assert cur is not None
        behaviour = self._behaviour(f, cur.name)
        step, attempt, now = cur.name.value, cur.attempts, self.now
        if behaviour == "hang":
            self.script[(f.deployment_id, f.kind.value, step)].insert(0, "hang")
            return []
        if behaviour in ("transient", "permanent"):
            return [
                ev.FlightStepFailed(
                    flight_id=f.id,
                    step=step,
                    attempt=attempt,
                    error_code=f"{step}_ERROR",
                    error=f"scripted {behaviour} failure",
                    transient=behaviour == "transient",
                    failed_at=now,
                )
            ]
        if cur.name is StepName.DRAIN_TASKS:
            if behaviour.startswith("drain_timeout:"):
                left = int(behaviour.split(":")[1])
                return [
                    ev.DrainTimedOut(
                        flight_id=f.id,
                        attempt=attempt,
                        tasks_still_running=left,
                        timed_out_at=now,
                    )
                ]
            return [ev.DrainCompleted(flight_id=f.id, attempt=attempt, drained_at=now)]
        if cur.name is StepName.FENCE_DATABASE:
            epoch = f.fencing_epoch + (7 if behaviour == "wrong_epoch" else 0)
            return [
                ev.FencingCompleted(
                    flight_id=f.id,
                    mission_id=f.mission_id,
                    deployment_id=f.deployment_id,
                    epoch=epoch,
                    attempt=attempt,
                    fenced_at=now,
                )
            ]
        return [
            ev.FlightStepSucceeded(flight_id=f.id, step=step, attempt=attempt, succeeded_at=now)
        ]

    def unhang(self, deployment_id: str, kind: str, step: StepName) -> None:
        self.script[(deployment_id, kind, step.value)].clear()

    def next_wakeup(self) -> int | None:
        """The earliest future time at which something is due (backoff or deadline)."""
        times: list[int] = []
        for f in self.fleet.flights.values():
            cur = f.current()
            if f.status is not FlightStatus.ACTIVE or cur is None:
                continue
            if cur.status is StepStatus.CLEARED and cur.not_before > self.now:
                times.append(cur.not_before)
            request = self.fleet.requests[f.request_id]
            activity = self.fleet.activity.get(f.cluster_id)
            deadline = deadline_at(f, cur, request.policy.retry, activity)
            if deadline is not None and deadline > self.now:
                times.append(deadline)
        return min(times) if times else None

    def run(self, max_rounds: int = 20_000, tick_ms: int = 1_000) -> None:
        """React and answer until nothing more happens, jumping the clock when idle."""
        for _ in range(max_rounds):
            progressed = bool(self.record(self.fleet.react(self.now)))
            progressed |= bool(self.data_plane())
            if progressed:
                self.now += tick_ms
                continue
            wake = self.next_wakeup()
            if wake is None:
                return
            self.now = max(self.now + tick_ms, wake)
        raise AssertionError("simulation did not settle")

    def of_type(self, *types: type[ev.DomainEvent]) -> list[ev.DomainEvent]:
        return [e for e in self.log if isinstance(e, types)]
