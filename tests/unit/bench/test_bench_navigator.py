"""The in-process decision loop the Navigator, projection, audit and Kafka-floor
benchmarks build their records with keeps up with the service it drives."""

from __future__ import annotations

from collections import Counter

from bench.navigator.bench_navigator import run


async def test_a_forced_failover_of_five_stores_every_mission_and_answers_every_step() -> None:
    made = await run(5, False, False, mode="FORCED")
    stored = Counter(e.event_type for e in made["log"].events)
    reports = Counter(e.event_type for e in made["reports"])
    assert stored["MissionSucceeded"] == 5
    assert stored["FailoverSucceeded"] == 1
    # Forced: five destination steps (one of them the fence) and the source's delete
    assert reports["FencingCompleted"] == 5
    assert reports["FlightStepSucceeded"] == 5 * 5
    assert reports["FlightStepStarted"] == 5 * 6


async def test_a_controlled_failover_drains_first() -> None:
    made = await run(3, False, False, mode="CONTROLLED")
    reports = Counter(e.event_type for e in made["reports"])
    assert Counter(e.event_type for e in made["log"].events)["MissionSucceeded"] == 3
    assert reports["DrainCompleted"] == 3
