"""A Pilot whose clock runs behind the database's runs the steps the database found due.

The claim takes a flight only when its ``not_before`` has passed on the database's
clock. A Pilot that judged it again on its own, slower clock released every such
flight it was given, was given it again at once, and so on until its clock caught up
(here: a minute of churn, no step run).
"""

from __future__ import annotations

from dataclasses import replace

from jetbridge.flightdeck.models import FlightState, StepClearance
from jetbridge.flightdeck.postgresql import PostgresFlightdeck
from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.domain.steps import StepOutcome, Succeeded
from jetbridge.pilot.service_layer.context import StepContext

from .harness import bare_runner, ungated

LEASE_S = 30.0
BEHIND_MS = 60_000


class SlowClock(SystemClock):
    """A host whose wall clock is a minute behind the database server's."""

    def wall_ms(self) -> int:
        return super().wall_ms() - BEHIND_MS


async def test_a_pilot_a_minute_behind_runs_a_step_the_database_found_due(
    pg_database: str,
) -> None:
    ran: list[str] = []

    async def step(ctx: StepContext) -> StepOutcome:
        ran.append(ctx.step)
        return Succeeded()

    deck = await PostgresFlightdeck.open(pg_database)
    try:
        gated = replace(ungated(["WAIT_READY"]), cleared_through=-1)  # waits for a clearance
        (admitted,) = await deck.admit([gated])
        flight_id = admitted.flight.flight_id
        due = admitted.flight.created_at  # the database's clock: due already
        (cleared,) = await deck.clear_many(
            [StepClearance(flight_id, "c1", 0, 0, not_before=due, attempts=(1,))]
        )
        assert cleared is not None and cleared.applied
        (claim,) = await deck.claim("pilot-slow", 1, LEASE_S)
        await bare_runner(deck, {"WAIT_READY": step}, LEASE_S, clock=SlowClock()).run(claim)
        assert ran == ["WAIT_READY"]
        (final,) = await deck.get_many([flight_id])
        assert final is not None and final.state is FlightState.SUCCEEDED
        assert final.attempt == 1  # claimed once: no release and claim again
    finally:
        await deck.close()
