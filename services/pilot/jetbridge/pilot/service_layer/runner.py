"""Runs one claimed flight: its cleared steps in order, each result committed with the
events that report it, the lease renewed meanwhile, cancellation at step boundaries.

Crash safety: a step's effects happen before its result commits, so a Pilot killed in
between leaves the step un-recorded and whoever reclaims the flight runs it again (it
converges: steps are idempotent). Exactly-once *effects on Flightdeck* come from the
fencing token: a Pilot whose lease was taken over gets ``LeaseLost`` and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from jetbridge.common.backoff import Backoff
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
from jetbridge.pilot.service_layer.steps import STEPS, StepFn

log = logging.getLogger(__name__)
REPORT_MARGIN_S = 2.0  # report before Navigator's own deadline for the attempt
SOFT_MARGIN_S = 1.5


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
    ) -> None:
        self._deck = deck
        self._ports = ports
        self._encoder = encoder
        self._config = config
        self._lease = lease_seconds
        self._steps = steps
        self._backoff = backoff or Backoff(0.2, 5.0)
        self.steps_run = 0

    async def run(self, claim: Claim) -> None:
        """Drive the flight until it finishes, parks or the lease is lost."""
        renewer = asyncio.create_task(self._renew(claim), name=f"renew:{claim.flight_id}")
        worker = asyncio.create_task(self._drive(claim), name=f"fly:{claim.flight_id}")
        done, _ = await asyncio.wait({renewer, worker}, return_when=asyncio.FIRST_COMPLETED)
        for task in (renewer, worker):
            task.cancel()
        for task in (renewer, worker):
            with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                await task
        if worker not in done:
            log.warning("lost the lease of %s mid-step", claim.flight_id)

    async def _renew(self, claim: Claim) -> None:
        """Renew at a third of the lease; returns (ending ``run``) when the lease is lost."""
        interval = self._lease / 3
        while True:
            await asyncio.sleep(interval)
            try:
                claim = await self._deck.renew(claim, self._lease)
            except LeaseLost:
                return
            except Exception:  # a blip: the next renewal may work, the lease has slack
                log.warning("renewing %s failed", claim.flight_id, exc_info=True)

    async def _drive(self, claim: Claim) -> None:
        flight_id = claim.flight_id
        first = True
        while True:
            action = next_action(claim.flight, datetime.now(UTC))
            if isinstance(action, Cancel):
                await self._deck.complete(
                    claim, Outcome.CANCELLED, error="cancelled at a step boundary"
                )
                log.info("flight %s cancelled at step %d", flight_id, claim.flight.current_step)
                return
            if isinstance(action, Complete):
                await self._deck.complete(claim, Outcome.SUCCEEDED)
                return
            if isinstance(action, Release):
                await self._deck.release(claim)
                log.info("flight %s parked: %s", flight_id, action.reason)
                return
            assert isinstance(action, RunStep)
            step = self._steps.get(action.name)
            if step is None:
                error = f"unknown step {action.name!r} at index {action.index}"
                await self._deck.complete(claim, Outcome.FAILED, error=error)
                return
            now = self._ports.clock.wall_ms()
            items = [reports.started(flight_id, action.name, action.attempt, now)]
            if first:
                items.insert(
                    0,
                    reports.claimed(
                        claim.flight, claim.owner, claim.fencing_token, claim.attempt, now
                    ),
                )
                first = False
            claim = await self._deck.report(claim, self._encoder.encode(claim.flight, items))
            result = await self._attempt(claim.flight, action, step)
            recorded = await self._record(claim, action, result)
            if recorded is None:
                return
            claim = recorded

    async def _attempt(
        self, flight: Flight, action: RunStep, step: StepFn
    ) -> StepOutcome | StepFailure:
        """One attempt, with in-attempt retries of transient failures while time remains."""
        clock = self._ports.clock
        budget = float(action.deadline_seconds or self._config.default_deadline_s)
        deadline = clock.monotonic() + max(1.0, budget - min(REPORT_MARGIN_S, budget / 10))
        ctx = StepContext(
            flight=flight,
            step=action.name,
            attempt=action.attempt,
            params=action.params,
            spec=DeploymentSpec.from_params(flight.deployment_id, action.params),
            config=self._config,
            ports=self._ports,
            # Waits end a little before the hard deadline, so the failure they raise
            # says what was not ready instead of a bare DEADLINE_EXCEEDED.
            deadline=deadline - min(SOFT_MARGIN_S, budget / 10),
        )
        retry = 0
        while True:
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
                return transient(
                    ErrorCode.DEADLINE_EXCEEDED,
                    f"{action.name} ran past its deadline of {budget:.0f}s",
                )
            except Exception as error:  # an adapter bug or an unexpected API error
                log.exception("step %s of %s", action.name, flight.flight_id)
                last = transient(ErrorCode.INTERNAL, failure_text(error))
            pause = self._backoff.delay(retry)
            retry += 1
            if clock.monotonic() + pause >= deadline:
                return last
            log.info("retrying %s of %s: %s", action.name, flight.flight_id, last.message)
            await asyncio.sleep(pause)

    async def _record(
        self, claim: Claim, action: RunStep, result: StepOutcome | StepFailure
    ) -> Claim | None:
        """Commit the result with its events; a failure hands the flight back to Navigator
        (or, on a flight no Navigator gates, fails it)."""
        flight = claim.flight
        now = self._ports.clock.wall_ms()
        stored = reports.step_result(result, action.attempt, now)
        if isinstance(result, StepFailure):
            refusal = result.refusal if isinstance(result, FencingRefusedFailure) else None
            items = reports.failed(flight, action.name, action.attempt, result, now, refusal)
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
                await self._deck.complete(claim, Outcome.FAILED, events, error=error)
            else:
                await self._deck.release(claim, events, failed_step=action.index, result=stored)
            return None
        items = reports.outcome(flight, action.name, action.attempt, result, now)
        return await self._deck.record_step_result(
            claim, action.index, stored, self._encoder.encode(flight, items), attempt=action.attempt
        )


def _loop_time(deadline: float, now: float) -> float:
    """Our monotonic deadline on the event loop's clock."""
    return asyncio.get_running_loop().time() + max(0.0, deadline - now)
