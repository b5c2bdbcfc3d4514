"""Runs one claimed flight: its cleared steps in order, each result committed with the
events that report it, the lease renewed meanwhile, cancellation at step boundaries.

Crash safety: a step's effects happen before its result commits, so a Pilot killed in
between leaves the step un-recorded and whoever reclaims the flight runs it again (it
converges: steps are idempotent). Exactly-once *effects on Flightdeck* come from the
fencing token: a Pilot whose lease was taken over gets ``LeaseLost`` and writes nothing.

A step's ``FlightStepStarted`` (and the flight's ``FlightClaimed``) is written on its
own only if the step is still running after ``start_report_after_s``. A quicker step
publishes no FlightStepStarted at all: its outcome event carries ``started_at`` (v2 of
the outcome schemas), committed with the claim in one transaction. Most steps take
milliseconds, so a step costs one Flightdeck transaction and one record on Kafka (which
the Navigator then copies to its ledger for four more readers), not two; the Navigator
folds such an outcome as start then end, and its step deadline runs from
``started_at`` (the step's real start) either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from opentelemetry import trace

from jetbridge.common.backoff import Backoff
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.telemetry import mark_failed, span_from
from jetbridge.flightdeck import Claim, Flightdeck, LeaseLost, OutboxEvent, Outcome
from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain import reports
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.domain.decisions import Cancel, Complete, Release, RunStep, next_action
from jetbridge.pilot.domain.steps import (
    ErrorCode,
    FencingRefusedFailure,
    StepFailure,
    StepOutcome,
    transient,
)
from jetbridge.pilot.service_layer.context import PilotConfig, Ports, StepContext, failure_text
from jetbridge.pilot.service_layer.shared_writes import SharedWrites
from jetbridge.pilot.service_layer.steps import STEPS, StepFn

log = logging.getLogger(__name__)
REPORT_MARGIN_S = 2.0  # report before Navigator's own deadline for the attempt
SOFT_MARGIN_S = 1.5
START_REPORT_AFTER_S = 1.0  # a step still running then reports its start on its own


FLIGHT_ID = "jetbridge.flight.id"
OUTCOME = "jetbridge.outcome"
# (step name, outcome, seconds): the composition root feeds a histogram with it.
StepObserver = Callable[[str, str, float], None]


def _ignore(_step: str, _outcome: str, _seconds: float) -> None:
    return None


def _outcome_of(result: StepOutcome | StepFailure) -> str:
    """SUCCEEDED, or the failure's error code (DEADLINE_EXCEEDED, FENCING_REFUSED...)."""
    return str(result.code) if isinstance(result, StepFailure) else "SUCCEEDED"


class EventEncoder(Protocol):
    def encode(self, flight: Flight, items: Sequence[reports.Report]) -> list[OutboxEvent]: ...


class FlightRunner:
    def __init__(
        self,
        deck: Flightdeck,
        ports: Ports,
        encoder: EventEncoder,
        config: PilotConfig,
        *,
        lease_seconds: float,
        steps: Mapping[str, StepFn] = STEPS,
        backoff: Backoff | None = None,
        on_step: StepObserver | None = None,
        start_report_after_s: float = START_REPORT_AFTER_S,
        writes: SharedWrites | None = None,
    ) -> None:
        self._deck = deck
        # Step results and completions; the composition root batches them across the
        # flights running side by side (``SharedWrites``), else each is its own write.
        self._writes: Flightdeck | SharedWrites = writes or deck
        self._start_report_after = start_report_after_s
        self._on_step = on_step or _ignore
        self._ports = ports
        self._encoder = encoder
        self._config = config
        self._lease = lease_seconds
        self._steps = steps
        self._backoff = backoff or Backoff(0.2, 5.0)
        self.steps_run = 0

    async def run(self, claim: Claim) -> None:
        """Drive the flight until it finishes, parks or the lease is lost.

        One ``pilot.flight`` span per claim, continuing the trace of the StartFlight
        that queued it (the row's ``traceparent``); its steps are its children.
        """
        flight = claim.flight
        carrier = {"traceparent": flight.traceparent} if flight.traceparent else {}
        attributes = {
            FLIGHT_ID: flight.flight_id,
            "jetbridge.mission.id": flight.mission_id,
            "jetbridge.deployment.id": flight.deployment_id,
            "jetbridge.flight.side": str(flight.side),
            "jetbridge.flight.claim_attempt": claim.attempt,
            "jetbridge.pilot.owner": claim.owner,
        }
        with span_from(carrier, "pilot.flight", attributes=attributes) as span:
            # Tasks copy the context when created: the worker's spans are children.
            renewer = asyncio.create_task(self._renew(claim), name=f"renew:{claim.flight_id}")
            worker = asyncio.create_task(self._drive(claim), name=f"fly:{claim.flight_id}")
            try:
                done, _ = await asyncio.wait({renewer, worker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # Also when this run is cancelled (the Pilot stops): asyncio.wait leaves
                # the tasks running, and a renewer left behind would keep the lease, so
                # no other Pilot could resume the flight while this process lives.
                await stop_tasks(renewer, worker)
            error = worker.exception() if worker in done else None
            if worker not in done or isinstance(error, LeaseLost):
                # Renewal or a write found the claim gone: a newer claim owns the flight.
                log.warning("lost the lease of %s mid-step", claim.flight_id)
                span.set_attribute(OUTCOME, "LEASE_LOST")
                mark_failed(span, "lease lost")
            elif error is not None:
                # The lease will expire and a claim resumes the flight; say why it stopped.
                log.error("flight %s stopped on an error", claim.flight_id, exc_info=error)
                span.set_attribute(OUTCOME, "ERROR")
                mark_failed(span, repr(error))

    async def _renew(self, claim: Claim) -> None:
        """Renew at a third of the lease; returns (ending ``run``) when the lease is lost,
        or once renewals have failed until it may have run out. From then on another
        Pilot may claim the flight, and this one must not act for it: with Flightdeck
        unreachable but the cluster not, the step used to go on, up to its deadline,
        beside the new claimer's run of it.

        The lease runs from the server's clock when it granted it, no earlier than the
        request was sent; so this Pilot holds it at least until ``sent + lease`` (its
        own monotonic clock), and stops a sixth of the lease before that."""
        loop = asyncio.get_running_loop()
        interval, margin = self._lease / 3, self._lease / 6
        held_until = loop.time() + self._lease - margin  # the claim was sent just before
        while True:
            await asyncio.sleep(max(0.0, min(interval, held_until - loop.time())))
            if loop.time() >= held_until:
                # run() then says "lost the lease": the failed renewals said why.
                log.debug("could not renew %s in time: stopping it", claim.flight_id)
                return
            sent = loop.time()
            try:
                claim = await asyncio.wait_for(
                    self._deck.renew(claim, self._lease), timeout=held_until - sent
                )
            except LeaseLost:
                return
            except Exception:  # a blip: the next renewal may work, the lease has slack
                log.warning("renewing %s failed", claim.flight_id, exc_info=True)
            else:
                held_until = sent + self._lease - margin

    async def _drive(self, claim: Claim) -> None:
        flight_id = claim.flight_id
        first = True
        # The database's clock when it granted the claim (it set the lease from now()):
        # a step it found due is due, whatever this host's clock says (next_action).
        granted_at = claim.lease_expires_at - timedelta(seconds=self._lease)
        while True:
            here = datetime.fromtimestamp(self._ports.clock.wall_ms() / 1000, UTC)
            action = next_action(claim.flight, here, granted_at)
            trace.get_current_span().set_attribute(OUTCOME, type(action).__name__.upper())
            if isinstance(action, Cancel):
                await self._writes.complete(
                    claim, Outcome.CANCELLED, error="cancelled at a step boundary"
                )
                log.info("flight %s cancelled at step %d", flight_id, claim.flight.current_step)
                return
            if isinstance(action, Complete):
                await self._writes.complete(claim, Outcome.SUCCEEDED)
                return
            if isinstance(action, Release):
                await self._deck.release(claim)
                log.info("flight %s parked: %s", flight_id, action.reason)
                return
            assert isinstance(action, RunStep)
            step = self._steps.get(action.name)
            if step is None:
                error = f"unknown step {action.name!r} at index {action.index}"
                await self._writes.complete(claim, Outcome.FAILED, error=error)
                return
            with span_from(
                None,  # the current span: this flight's
                f"pilot.step {action.name}",
                attributes={
                    FLIGHT_ID: flight_id,
                    "jetbridge.step.name": action.name,
                    "jetbridge.step.index": action.index,
                    "jetbridge.step.attempt": action.attempt,
                },
            ) as span:
                # The reports below are written inside the step's span: their outbox
                # rows carry its traceparent to the Navigator.
                started = self._ports.clock.monotonic()
                now = self._ports.clock.wall_ms()
                unreported: list[reports.Report] = []
                if first:
                    unreported.append(
                        reports.claimed(
                            claim.flight, claim.owner, claim.fencing_token, claim.attempt, now
                        )
                    )
                    first = False
                started_at: int | None = now  # None once the start is reported on its own
                first_started = reports.first_start(
                    claim.flight.step_results.get(action.index), action.attempt, now
                )
                attempt = asyncio.ensure_future(
                    self._attempt(claim.flight, action, step, first_started)
                )
                try:
                    await asyncio.wait({attempt}, timeout=self._start_report_after)
                    if not attempt.done():  # a long step: say it started while it runs
                        unreported.append(
                            reports.started(flight_id, action.name, action.attempt, now)
                        )
                        claim = await self._report_running(claim, action, unreported, first_started)
                        unreported, started_at = [], None
                    result = await attempt
                finally:
                    attempt.cancel()  # we were cancelled (lease lost, stop): so is the step
                outcome = _outcome_of(result)
                span.set_attribute(OUTCOME, outcome)
                if isinstance(result, StepFailure):
                    mark_failed(span, f"{result.code}: {result.message}")
                recorded = await self._record(
                    claim, action, result, unreported, started_at, first_started=first_started
                )
                self._on_step(action.name, outcome, self._ports.clock.monotonic() - started)
            if recorded is None:
                trace.get_current_span().set_attribute(OUTCOME, f"STEP_{outcome}")
                return
            claim = recorded

    async def _report_running(
        self, claim: Claim, action: RunStep, unreported: list[reports.Report], first_started: int
    ) -> Claim:
        """Report a long step started, and leave Flightdeck a note of when it first
        started: a Pilot killed mid-step never replaces it, so the re-run that follows
        continues the step's clock (the drain's timeout) instead of starting it afresh."""
        events = self._encoder.encode(claim.flight, unreported)
        note = reports.running_note(action.attempt, first_started)
        return await self._deck.report(claim, events, step=action.index, note=note)

    async def _attempt(
        self, flight: Flight, action: RunStep, step: StepFn, first_started_ms: int = 0
    ) -> StepOutcome | StepFailure:
        """One attempt, with in-attempt retries of transient failures while time remains."""
        clock = self._ports.clock
        budget = float(action.deadline_seconds or self._config.default_deadline_s)
        deadline = clock.monotonic() + max(1.0, budget - min(REPORT_MARGIN_S, budget / 10))
        try:  # a configuration the manifests cannot take fails any step, the first too
            spec = DeploymentSpec.from_params(flight.deployment_id, action.params)
        except StepFailure as refused:
            return refused
        ctx = StepContext(
            first_started_ms=first_started_ms,
            flight=flight,
            step=action.name,
            attempt=action.attempt,
            params=action.params,
            spec=spec,
            config=self._config,
            ports=self._ports,
            # Waits end a little before the hard deadline, so the failure they raise
            # says what was not ready instead of a bare DEADLINE_EXCEEDED.
            deadline=deadline - min(SOFT_MARGIN_S, budget / 10),
        )
        retry = 0
        while True:
            ctx.unmet.failure = None  # a retry's report must not carry an earlier try's wait
            try:
                async with asyncio.timeout_at(_loop_time(deadline, clock.monotonic())):
                    outcome = await step(ctx)
                self.steps_run += 1
                return outcome
            except StepFailure as failure:
                if not failure.transient:
                    return failure
                last: StepFailure = failure
            except TimeoutError:
                if (unmet := ctx.unmet.failure) is not None:  # cut short while re-checking
                    return transient(
                        unmet.code, f"{unmet.message} (re-checked past the {budget:.0f}s deadline)"
                    )
                return transient(
                    ErrorCode.DEADLINE_EXCEEDED,
                    f"{action.name} ran past its deadline of {budget:.0f}s",
                )
            except Exception as error:  # an adapter bug or an unexpected API error
                log.exception("step %s of %s", action.name, flight.flight_id)
                last = transient(ErrorCode.INTERNAL, failure_text(error))
            pause = self._backoff.delay(retry)
            retry += 1
            # Not past the waits' end: a try begun there could only fail its first wait,
            # or be cut short by the hard deadline into a bare DEADLINE_EXCEEDED.
            if clock.monotonic() + pause >= ctx.deadline:
                return last
            log.info("retrying %s of %s: %s", action.name, flight.flight_id, last.message)
            await asyncio.sleep(pause)

    async def _record(
        self,
        claim: Claim,
        action: RunStep,
        result: StepOutcome | StepFailure,
        unreported: list[reports.Report],
        started_at: int | None,
        *,
        first_started: int | None = None,
    ) -> Claim | None:
        """Commit the result with its events, after the ``unreported`` claim; the outcome
        carries ``started_at`` when the start was not reported on its own. A failure hands
        the flight back to Navigator (or, on a flight no Navigator gates, fails it)."""
        flight = claim.flight
        now = self._ports.clock.wall_ms()
        stored = reports.step_result(result, action.attempt, now, first_started)
        if isinstance(result, StepFailure):
            refusal = result.refusal if isinstance(result, FencingRefusedFailure) else None
            items = unreported + reports.failed(
                flight, action.name, action.attempt, result, now, refusal, started_at=started_at
            )
            events = self._encoder.encode(flight, items)
            log.warning(
                "step %s of %s failed: %s",
                action.name,
                flight.flight_id,
                result,
                extra={"flight_id": flight.flight_id, "step": action.name},
            )
            if flight.cleared_through is None:  # no Navigator to retry it: the flight fails
                error = f"{action.name}: {result.message}"
                await self._writes.complete(claim, Outcome.FAILED, events, error=error)
            else:
                await self._deck.release(
                    claim, events, failed_step=action.index, result=stored, attempt=action.attempt
                )
            return None
        items = unreported + reports.outcome(
            flight, action.name, action.attempt, result, now, started_at=started_at
        )
        return await self._writes.record_step_result(
            claim, action.index, stored, self._encoder.encode(flight, items), attempt=action.attempt
        )


def _loop_time(deadline: float, now: float) -> float:
    """Our monotonic deadline on the event loop's clock."""
    return asyncio.get_running_loop().time() + max(0.0, deadline - now)
