"""When a step's start is reported, on the real PostgreSQL Flightdeck.

A step quicker than ``start_report_after_s`` publishes no ``FlightStepStarted``: its
outcome carries ``started_at`` and commits with the claim (same ``created_at``:
PostgreSQL's ``now()`` is the transaction's start). A slower one reports its start
while it still runs, and its outcome's ``started_at`` is null. A failure says its
start the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg
import pytest

from jetbridge.common.events import EventCodec
from jetbridge.flightdeck.postgresql import PostgresFlightdeck
from jetbridge.pilot.domain.steps import ErrorCode, StepOutcome, Succeeded, permanent
from jetbridge.pilot.service_layer.context import StepContext

from .harness import bare_runner, ungated

CODEC = EventCodec()
SLOW_S = 0.6


async def quick(_ctx: StepContext) -> StepOutcome:
    return Succeeded()


async def slow(_ctx: StepContext) -> StepOutcome:
    await asyncio.sleep(SLOW_S)
    return Succeeded()


async def refused(_ctx: StepContext) -> StepOutcome:
    raise permanent(ErrorCode.CLUSTER_REFUSED, "no such image")


async def frozen(_ctx: StepContext) -> StepOutcome:
    time.sleep(LEASE_S + 0.3)  # noqa: ASYNC251  # the process stalls (a VM pause) past its lease
    return Succeeded()


STEPS = {
    "CREATE_NAMESPACE": quick,
    "WAIT_READY": slow,
    "UPSERT_DEPLOYMENT": refused,
    "FENCE_DATABASE": frozen,
}
LEASE_S = 0.6


async def fly(
    dsn: str, steps: list[str], lease_seconds: float = 30.0
) -> list[tuple[str, str, Any, Any]]:
    """Runs one ungated flight of ``steps``; its outbox as (event type, step, created_at,
    the payload's ``started_at``)."""
    deck = await PostgresFlightdeck.open(dsn)
    try:
        await deck.enqueue(ungated(steps))
        (claim,) = await deck.claim("pilot-test", 1, lease_seconds)
        runner = bare_runner(deck, STEPS, lease_seconds, start_report_after_s=SLOW_S / 3)
        await runner.run(claim)
    finally:
        await deck.close()
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            'SELECT "payload", "created_at" FROM "dp_flight_outbox" ORDER BY "seq"'
        )
    finally:
        await conn.close()
    events = [(CODEC.decode(bytes(r["payload"])), r["created_at"]) for r in rows]
    return [
        (e.event_type, e.payload.get("step", ""), at, e.payload.get("started_at"))
        for e, at in events
    ]


async def test_a_quick_step_says_its_start_in_its_outcome(pg_database: str) -> None:
    reported = await fly(pg_database, ["CREATE_NAMESPACE", "WAIT_READY", "CREATE_NAMESPACE"])
    kinds = [(kind, step) for kind, step, _, _ in reported]
    assert kinds == [
        ("FlightClaimed", ""),
        ("FlightStepSucceeded", "CREATE_NAMESPACE"),
        ("FlightStepStarted", "WAIT_READY"),
        ("FlightStepSucceeded", "WAIT_READY"),
        ("FlightStepSucceeded", "CREATE_NAMESPACE"),
    ]  # the flight's own end is the Navigator's to decide
    at = [created for _, _, created, _ in reported]
    assert at[0] == at[1]  # claim and the quick step's outcome: one commit
    assert at[2] < at[3]  # the slow step's start was committed while it ran
    assert (at[3] - at[2]).total_seconds() >= SLOW_S * 0.5
    started = [start for _, _, _, start in reported]
    assert started[1] is not None and started[4] is not None  # quick: in the outcome
    assert started[3] is None  # slow: FlightStepStarted said it
    assert started[1] < started[4]  # each quick step its own start, the slow one between


async def test_a_failed_quick_step_says_its_start_in_its_failure(pg_database: str) -> None:
    reported = await fly(pg_database, ["UPSERT_DEPLOYMENT"])
    assert [(kind, step) for kind, step, _, _ in reported] == [
        ("FlightClaimed", ""),
        ("FlightStepFailed", "UPSERT_DEPLOYMENT"),
    ]
    assert len({created for _, _, created, _ in reported}) == 1
    assert reported[1][3] is not None


async def test_a_pilot_frozen_past_its_lease_reports_nothing_and_says_lease_lost(
    pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The step's write finds the lease expired: nothing is recorded, the flight waits
    for a new claim, and the log says why (a lost lease, not an error)."""
    with caplog.at_level(logging.WARNING, logger="jetbridge.pilot.service_layer.runner"):
        reported = await fly(pg_database, ["FENCE_DATABASE"], lease_seconds=LEASE_S)
    assert reported == []  # not even the claim: it commits with the first outcome
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING"], messages
    assert messages[0][1].startswith("lost the lease of f/")
