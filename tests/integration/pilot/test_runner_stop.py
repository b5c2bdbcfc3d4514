"""A Pilot that stops mid-step leaves nothing running and lets the lease lapse.

The Pilot stops by cancelling each flight's run; the run's renewer and step tasks must
end with it. A renewer left behind kept renewing the lease, so no other Pilot could
resume the flight for as long as this process lived (the runner's own promise: "the
lease will expire and a claim resumes the flight").
"""

from __future__ import annotations

import asyncio
from typing import Any

from jetbridge.flightdeck.postgresql import PostgresFlightdeck
from jetbridge.pilot.domain.steps import StepOutcome, Succeeded
from jetbridge.pilot.service_layer.context import StepContext
from tests.polling import eventually

from .harness import bare_runner, ungated

LEASE_S = 2.0  # outlasts the start report's write on a loaded machine


async def test_a_cancelled_run_stops_its_step_and_renewals_and_the_lease_lapses(
    pg_database: str,
) -> None:
    step_started, step_cancelled = asyncio.Event(), asyncio.Event()

    async def endless(_ctx: StepContext) -> StepOutcome:
        step_started.set()
        try:
            await asyncio.Event().wait()
        finally:
            step_cancelled.set()
        raise AssertionError("unreachable")

    deck = await PostgresFlightdeck.open(pg_database)
    try:
        flight_id = (await deck.admit([ungated(["WAIT_READY"])]))[0].flight.flight_id
        (claim,) = await deck.claim("pilot-stopping", 1, LEASE_S)
        runner = bare_runner(deck, {"WAIT_READY": endless}, LEASE_S)
        run = asyncio.create_task(runner.run(claim))
        await asyncio.wait_for(step_started.wait(), 10)
        run.cancel()  # what Pilot._drain does on stop
        done, _ = await asyncio.wait({run}, timeout=5)
        assert done and run.cancelled()
        assert step_cancelled.is_set()
        leftovers = [
            t.get_name()
            for t in asyncio.all_tasks()
            if t.get_name() in (f"renew:{flight_id}", f"fly:{flight_id}")
        ]
        assert leftovers == []
        # No renewal since: the lease lapses and another Pilot resumes the flight.
        await asyncio.sleep(LEASE_S + 0.4)
        (resumed,) = await deck.claim("pilot-next", 1, 30)
        assert resumed.flight_id == flight_id
        assert resumed.fencing_token == claim.fencing_token + 1
    finally:
        await deck.close()


async def test_a_step_killed_mid_way_is_re_run_on_its_first_start(pg_database: str) -> None:
    """A Pilot killed during a long step (a drain waiting for tasks) never records its
    result; the next claim re-runs the same attempt. The re-run must continue the
    step's clock, or a Controlled drain waits its whole timeout once per kill."""
    starts: list[int] = []
    running = asyncio.Event()

    async def drain(ctx: StepContext) -> StepOutcome:
        starts.append(ctx.first_started_ms)
        running.set()
        if len(starts) == 1:
            await asyncio.Event().wait()  # the first run is killed while it waits
        return Succeeded()

    deck = await PostgresFlightdeck.open(pg_database)
    try:
        flight_id = (await deck.admit([ungated(["DRAIN_TASKS"])]))[0].flight.flight_id
        (claim,) = await deck.claim("pilot-killed", 1, LEASE_S)
        runner = bare_runner(deck, {"DRAIN_TASKS": drain}, LEASE_S, start_report_after_s=0.05)
        run = asyncio.create_task(runner.run(claim))
        await asyncio.wait_for(running.wait(), 10)
        await _until_noted_running(deck, flight_id)  # past the start report
        run.cancel()  # the process dies: nothing more is written
        await asyncio.wait({run}, timeout=5)
        await asyncio.sleep(LEASE_S + 0.4)
        (again,) = await deck.claim("pilot-next", 1, 30)
        assert again.flight_id == flight_id and again.flight.current_step == 0
        await bare_runner(deck, {"DRAIN_TASKS": drain}, 30).run(again)
        assert len(starts) == 2 and starts[1] == starts[0] > 0
    finally:
        await deck.close()


async def _until_noted_running(deck: PostgresFlightdeck, flight_id: str) -> None:
    """Poll until Flightdeck holds the first step's running note (its first start)."""

    async def note() -> Any:
        stored = await deck.get(flight_id)
        noted = stored.step_results.get(0) if stored else None
        return isinstance(noted, dict) and noted.get("running")

    await eventually(note, "the first step's running note", timeout=10, every=0.05)
