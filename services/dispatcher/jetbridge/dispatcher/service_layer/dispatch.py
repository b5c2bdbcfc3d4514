"""Hand Navigator's flight decisions to the data planes and report the outcome.

A flight reaches its data plane with its first clearance: the first FlightStepsCleared
of a flight -> one StartFlight carrying it (the FlightPlanned before it is only folded
into the state); a later FlightStepsCleared -> ClearSteps (StartFlight again if the
agent lost the flight); FlightCancelled/FlightFailed -> CancelFlight. Each delivery is
reported as FlightDispatched / FlightDispatchFailed naming the steps it carried, so
Navigator fails (and retries) a clearance that never reached the plane. A flight
handed over only when it may run costs one call and one report fewer (the plan's own
StartFlight and its report, which counted for no step; docs/architecture.md), and a
flight whose mission never starts never reaches the plane.

Before deciding, the state is synced (every cancellation or registration already on
the log is applied), so a mission cancelled before its flight was planned is never
dispatched; the check is repeated before every retry, so a cancellation that arrives
while we back off stops the retries too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from jetbridge.common.backoff import Backoff
from jetbridge.common.events.envelope import EventRecord, new_event
from jetbridge.common.redaction import redact
from jetbridge.common.telemetry import current_trace_context, mark_failed, span_from
from jetbridge.dispatcher.domain.model import (
    Clearance,
    DispatchState,
    Endpoint,
    PlannedFlight,
    RetryPolicy,
    is_transient,
)
from jetbridge.dispatcher.service_layer.ports import (
    DataPlaneClient,
    DispatchError,
    Outcomes,
    StateView,
)

log = logging.getLogger(__name__)
PRODUCER = "dispatcher"
# Navigator's decisions that end a flight: the data plane must stop it (CancelFlight).
CANCELLING = frozenset({"FlightCancelled", "FlightFailed"})
HANDLED = frozenset({"FlightStepsCleared", *CANCELLING})
OUTCOME = "jetbridge.outcome"
STATE_BEHIND = "STATE_BEHIND"
RECENT = 1024
# (decision handled, outcome, seconds): the composition root feeds a histogram with it.
DispatchObserver = Callable[[str, str, float], None]


def _ignore(_kind: str, _outcome: str, _seconds: float) -> None:
    return None


class Dispatcher:
    def __init__(
        self,
        client: DataPlaneClient,
        state: DispatchState,
        view: StateView,
        outcomes: Outcomes,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        on_dispatch: DispatchObserver | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._on_dispatch = on_dispatch or _ignore
        self._client = client
        self._state = state
        self._view = view
        self._outcomes = outcomes
        self._sleep = sleep
        self._wall_ms = wall_ms
        self._backoff = Backoff(self.policy.backoff_base_s, self.policy.backoff_cap_s)
        # The last flights skipped and cancelled, newest last: what a test or a debugger
        # looks at. Bounded, so a long-lived replica does not keep one per flight.
        self.skipped: deque[str] = deque(maxlen=RECENT)
        self.cancelled: deque[str] = deque(maxlen=RECENT)

    async def handle(self, event: EventRecord) -> None:
        """One span per flight decision handled (``dispatcher.dispatch``), child of the
        Navigator's decision span: its gRPC calls and its outcome event are inside.

        Reentrant: the service runs many at once, one at a time per flight (the keyed
        consumer), so nothing about the decision in hand lives on ``self``."""
        if event.event_type not in HANDLED:
            return
        attributes = {
            "jetbridge.flight.id": str(event.payload.get("flight_id", "")),
            "jetbridge.mission.id": str(event.payload.get("mission_id", "")),
            "jetbridge.dispatch.kind": event.event_type,
        }
        started = time.monotonic()
        with span_from(
            event.envelope.trace_context,
            "dispatcher.dispatch",
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ):
            if event.event_type == "FlightStepsCleared":
                outcome = await self._clear(event)
            else:
                outcome = await self._cancel(event)
        self._on_dispatch(event.event_type, outcome, time.monotonic() - started)

    @staticmethod
    def _outcome(outcome: str, attempts: int | None = None) -> str:
        """Name the dispatch's outcome on its span; returned for the metrics."""
        span = trace.get_current_span()
        span.set_attribute(OUTCOME, outcome)
        if attempts is not None:
            span.set_attribute("jetbridge.dispatch.attempts", attempts)
        return outcome

    async def _clear(self, event: EventRecord) -> str:
        """The flight's first clearance -> StartFlight carrying it; a later one ->
        ClearSteps, and a flight the agent lost is started again with it."""
        clearance = Clearance.from_event(event.event_id, event.payload)
        if not await self._synced():
            return await self._behind(
                event, clearance.flight_id, clearance.steps, clearance.attempts, attempts=0
            )
        flight = self._state.planned.get(clearance.flight_id)
        if flight is None and clearance.flight_id in self._state.ended:
            return self._skip(clearance.flight_id, f"flight {clearance.flight_id} has ended")
        if flight is None:
            unknown = PlannedFlight.unknown(clearance.flight_id)
            return await self._failed(
                event,
                unknown,
                "UNKNOWN_FLIGHT",
                "no FlightPlanned seen",
                transient=True,
                attempts=0,
                steps=clearance.steps,
                step_attempts=clearance.attempts,
            )
        if why := self._state.cancelled(flight):
            return self._skip(flight.flight_id, why)
        endpoint = await self._endpoint_of(flight.cluster_id)
        if endpoint is None:
            return await self._failed(
                event,
                flight,
                "UNKNOWN_CLUSTER",
                "no registration",
                transient=True,
                attempts=0,
                steps=clearance.steps,
                step_attempts=clearance.attempts,
            )
        deadline = self.policy.call_deadline_s
        first = clearance.steps[:1] == flight.steps[:1]

        async def hand_over() -> bool:
            started = await self._client.start_flight(endpoint, flight, deadline, clearance)
            if started.clearance_taken:
                return started.created
            try:  # an agent older than the field (or a row gone between its two writes)
                await self._client.clear_steps(endpoint, clearance, deadline)
            except DispatchError as error:
                if error.code != "NOT_FOUND":
                    raise
                # gone again since the StartFlight: the next attempt stores it anew
                why = f"flight {flight.flight_id} was gone after its StartFlight"
                raise DispatchError("UNAVAILABLE", why) from error
            return started.created

        async def call() -> bool:
            if first:
                return await hand_over()
            try:
                await self._client.clear_steps(endpoint, clearance, deadline)
            except DispatchError as error:
                if error.code != "NOT_FOUND":
                    raise
                return await hand_over()
            return False

        return await self._deliver(event, flight, clearance.steps, call, clearance.attempts)

    async def _synced(self) -> bool:
        """The state read up to the log's end now (False: not within the sync timeout).

        A timeout must not escape: the consumer would retry the decision and then
        dead-letter it, and the Navigator would hear nothing until its claim timeout."""
        try:
            await self._view.sync()
        except TimeoutError:
            log.warning("the dispatch state did not catch up with the log in time")
            return False
        return True

    async def _behind(
        self,
        event: EventRecord,
        flight_id: str,
        steps: Sequence[str],
        step_attempts: Sequence[int],
        *,
        attempts: int,
    ) -> str:
        """Report a clearance not delivered because the state is behind: transient, so
        the Navigator retries it after its backoff (by then the state may have caught up)."""
        flight = self._state.planned.get(flight_id) or PlannedFlight.unknown(flight_id)
        return await self._failed(
            event,
            flight,
            STATE_BEHIND,
            "the Dispatcher's view of the log did not catch up in time, so a cancellation"
            " or registration it must honour may be unread",
            transient=True,
            attempts=attempts,
            steps=steps,
            step_attempts=step_attempts,
        )

    async def _cancel(self, event: EventRecord) -> str:
        """Navigator ended the flight: stop it on the data plane at its next step boundary
        (with the state as read so far if it cannot catch up: a cancel is idempotent)."""
        await self._synced()
        flight_id = str(event.payload["flight_id"])
        cluster_id = self._state.cluster_of(flight_id)
        endpoint = self._state.endpoints.get(cluster_id) if cluster_id else None
        if endpoint is None:
            return "NONE"
        reason = str(event.payload.get("reason") or event.event_type)
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                await self._client.cancel_flight(
                    endpoint, flight_id, reason, self.policy.call_deadline_s
                )
                self.cancelled.append(flight_id)
                return self._outcome("CANCELLED", attempt)
            except DispatchError as error:
                if error.code == "NOT_FOUND":
                    # an agent older than tombstones, and the flight never reached it
                    return self._outcome("NOT_FOUND", attempt)
                if not is_transient(error.code) or attempt == self.policy.max_attempts:
                    log.warning("CancelFlight %s: %s", flight_id, error)
                    return self._outcome(error.code, attempt)
                await self._sleep(self._backoff.delay(attempt - 1))
        raise AssertionError("unreachable: the last attempt returns")

    async def _deliver(
        self,
        event: EventRecord,
        flight: PlannedFlight,
        steps: Sequence[str],
        call: Callable[[], Awaitable[bool]],
        step_attempts: Sequence[int] = (),
    ) -> str:
        """Call with retries of transient errors; report FlightDispatched or ...Failed,
        naming the attempts the clearance was for (the Navigator drops a late one)."""
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                created = await call()
            except DispatchError as error:
                transient = is_transient(error.code)
                if not transient or attempt == self.policy.max_attempts:
                    return await self._failed(
                        event,
                        flight,
                        error.code,
                        error.message,
                        transient=transient,
                        attempts=attempt,
                        steps=steps,
                        step_attempts=step_attempts,
                    )
                log.info("%s %s: %s, retrying", event.event_type, flight.flight_id, error.code)
                await self._sleep(self._backoff.delay(attempt - 1))
                if not await self._synced():
                    return await self._behind(
                        event, flight.flight_id, steps, step_attempts, attempts=attempt
                    )
                if why := self._state.cancelled(flight):
                    return self._skip(flight.flight_id, why)
                continue
            await self._outcomes.publish(
                self._event(
                    "FlightDispatched",
                    event,
                    flight,
                    steps,
                    {
                        "dispatched_at": self._wall_ms(),
                        "attempts": attempt,
                        "created": created,
                        "step_attempts": list(step_attempts),
                    },
                )
            )
            return self._outcome("DISPATCHED", attempt)
        raise AssertionError("unreachable: the last attempt returns")

    async def _endpoint_of(self, cluster_id: str) -> Endpoint | None:
        """Wait a little for a registration still on its way, then give up."""
        deadline = time.monotonic() + self.policy.registration_wait_s
        while (endpoint := self._state.endpoints.get(cluster_id)) is None:
            if time.monotonic() >= deadline:
                return None
            await self._sleep(0.1)
            await self._synced()
        return endpoint

    def _skip(self, flight_id: str, why: str) -> str:
        self.skipped.append(flight_id)
        log.info("not dispatching %s: %s", flight_id, why)
        return self._outcome("SKIPPED")

    async def _failed(
        self,
        cause: EventRecord,
        flight: PlannedFlight,
        code: str,
        message: str,
        *,
        transient: bool,
        attempts: int,
        steps: Sequence[str] | None = None,
        step_attempts: Sequence[int] = (),
    ) -> str:
        message = redact(message)  # an agent's status may quote a driver's exception
        log.warning("dispatch of %s failed: %s %s", flight.flight_id, code, message)
        outcome = self._outcome(f"FAILED_{code}", attempts)
        mark_failed(trace.get_current_span(), f"{code}: {message}")
        await self._outcomes.publish(
            self._event(
                "FlightDispatchFailed",
                cause,
                flight,
                flight.steps if steps is None else steps,
                {
                    "error_code": code,
                    "error": message[:2000],
                    "transient": transient,
                    "failed_at": self._wall_ms(),
                    "attempts": attempts,
                    "step_attempts": list(step_attempts),
                },
            )
        )
        return outcome

    @staticmethod
    def _event(
        event_type: str,
        cause: EventRecord,
        flight: PlannedFlight,
        steps: Sequence[str],
        fields: dict[str, Any],
    ) -> EventRecord:
        payload = {
            "flight_id": flight.flight_id,
            "steps": list(steps),
            "mission_id": flight.mission_id,
            "cluster_id": flight.cluster_id,
            **fields,
        }
        return new_event(
            event_type,
            payload,
            aggregate_type="Flight",
            aggregate_id=flight.flight_id,
            producer=PRODUCER,
            schema_version=2,  # step_attempts: readers first (docs/operations.md, Upgrading)
            caused_by=cause,
            trace_context=current_trace_context(),  # the dispatch span
        )
