"""Done-when for Flightdeck, on real PostgreSQL 15 and MariaDB:

* 8 concurrent claimers on 5,000 flights: every flight claimed and completed exactly
  once (claims tallied by the claimers, completion events counted in the outbox);
* a claimer process SIGKILLed mid-flight loses its lease and another claimer
  finishes the flight, and the dead claimer's token can no longer write.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from jetbridge.flightdeck import (
    Claim,
    Completion,
    Flightdeck,
    FlightState,
    LeaseLost,
    OutboxEvent,
    Outcome,
    open_flightdeck,
)

from .contract import flight
from .dbs import mysql_database, mysql_fetch, pg_fetch, postgres_database

CLAIMER_SCRIPT = Path(__file__).with_name("claimer_proc.py")


@dataclass
class Target:
    dialect: str
    dsn: str
    fetch: Callable[[str, str], Awaitable[list[dict[str, Any]]]]


@pytest.fixture(params=["postgresql", "mysql"])
async def target(
    request: pytest.FixtureRequest, postgres_dsn: str, mysql_dsn: str
) -> AsyncIterator[Target]:
    if request.param == "postgresql":
        async with postgres_database(postgres_dsn, "fd_claimers") as dsn:
            yield Target("postgresql", dsn, pg_fetch)
    else:
        async with mysql_database(mysql_dsn, "fd_claimers") as dsn:
            yield Target("mysql", dsn, mysql_fetch)


async def test_eight_claimers_complete_5000_flights_exactly_once(target: Target) -> None:
    total, claimers_n = 5000, 8
    agent = await open_flightdeck(target.dsn)
    assert await agent.enqueue_many([flight(i) for i in range(total)]) == total
    claimers = [await open_flightdeck(target.dsn, max_size=2) for _ in range(claimers_n)]
    claimed: Counter[str] = Counter()
    per_claimer: Counter[str] = Counter()

    async def run(owner: str, store: Flightdeck) -> None:
        while batch := await store.claim(owner, 25, 60):
            claimed.update(c.flight_id for c in batch)
            per_claimer[owner] += len(batch)
            lost = await store.complete_many(
                [
                    Completion(c, Outcome.SUCCEEDED, [OutboxEvent("flights", c.flight_id.encode())])
                    for c in batch
                ]
            )
            assert lost == set()

    try:
        await asyncio.wait_for(
            asyncio.gather(*(run(f"pilot-{i}", s) for i, s in enumerate(claimers))), 120
        )
    finally:
        for s in claimers:
            await s.close()
        await agent.close()

    assert len(claimed) == total and set(claimed.values()) == {1}
    assert len(per_claimer) == claimers_n  # every claimer took part
    outbox = await target.fetch(target.dsn, "SELECT flight_id, payload FROM dp_flight_outbox")
    per_flight = Counter(r["flight_id"] for r in outbox)
    assert len(per_flight) == total and set(per_flight.values()) == {1}
    assert all(bytes(r["payload"]) == r["flight_id"].encode() for r in outbox)
    states = await target.fetch(
        target.dsn,
        "SELECT state, attempt, fencing_token, COUNT(*) AS n FROM dp_flights "
        "GROUP BY state, attempt, fencing_token",
    )
    assert [
        (r["state"], int(r["attempt"]), int(r["fencing_token"]), int(r["n"])) for r in states
    ] == [(FlightState.SUCCEEDED.value, 1, 1, total)]


async def test_sigkilled_claimer_loses_lease_and_another_finishes(target: Target) -> None:
    lease = 5.0  # long enough for the child to claim, record and report on a loaded machine
    store = await open_flightdeck(target.dsn)
    try:
        await store.enqueue(flight("k", steps=3))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLAIMER_SCRIPT),
            target.dsn,
            "pilot-doomed",
            str(lease),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        report = json.loads(line)
        assert report["flight_id"] == "flt-k"
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL

        assert await store.claim("pilot-survivor", 1, 30) == []  # lease not yet expired
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lease + 5
        claims: list[Claim] = []
        while not claims and loop.time() < deadline:
            await asyncio.sleep(0.1)
            claims = await store.claim("pilot-survivor", 1, 30)
        (claim,) = claims
        assert (claim.attempt, claim.fencing_token) == (2, report["token"] + 1)
        assert claim.flight.current_step == 1  # resumes after the dead claimer's step 0
        assert claim.flight.step_results == {0: {"by": "pilot-doomed"}}

        # The dead claimer's token is fenced off: a write in its name is refused.
        ghost = replace(claim, owner="pilot-doomed", fencing_token=report["token"])
        with pytest.raises(LeaseLost):
            await store.record_step_result(ghost, 1, {"by": "ghost"})

        for step in (1, 2):
            claim = await store.record_step_result(
                claim,
                step,
                {"by": "pilot-survivor"},
                [OutboxEvent("jetbridge.flights", f"survivor:{step}".encode())],
            )
        await store.complete(claim, Outcome.SUCCEEDED, [OutboxEvent("jetbridge.flights", b"done")])
    finally:
        await store.close()

    final = await open_flightdeck(target.dsn)
    try:
        done = await final.get("flt-k")
        events = await final.outbox_pending(100)
    finally:
        await final.close()
    assert done is not None
    assert (done.state, done.lease_owner, done.attempt) == (
        FlightState.SUCCEEDED,
        "pilot-survivor",
        2,
    )
    assert done.step_results == {
        0: {"by": "pilot-doomed"},
        1: {"by": "pilot-survivor"},
        2: {"by": "pilot-survivor"},
    }
    assert [e.payload for e in events] == [b"pilot-doomed:0", b"survivor:1", b"survivor:2", b"done"]
