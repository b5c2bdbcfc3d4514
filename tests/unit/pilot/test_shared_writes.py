"""SharedWrites: step results and completions of one loop turn go in one Flightdeck call,
and a lost claim fails only its own flight."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import pytest

from jetbridge.flightdeck import (
    Claim,
    Completion,
    Flightdeck,
    LeaseLost,
    OutboxEvent,
    Outcome,
    StepRecord,
)
from jetbridge.pilot.service_layer.shared_writes import SharedWrites
from tests.unit.pilot.test_domain import NOW, flight


def claim(n: int) -> Claim:
    running = replace(flight(), flight_id=f"flt-{n}", fencing_token=n)
    return Claim(running, "pilot-1", fencing_token=n, attempt=1, lease_expires_at=NOW)


class Deck:
    """The two batch operations, answering as a store whose ``lost`` claims expired."""

    def __init__(self, lost: set[str]) -> None:
        self.lost = lost
        self.calls: list[tuple[str, list[Any]]] = []

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        self.calls.append(("record_many", list(records)))
        return [None if r.claim.flight_id in self.lost else r.claim for r in records]

    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        self.calls.append(("complete_many", list(completions)))
        return {c.claim.flight_id for c in completions} & self.lost


def writes_on(deck: Deck) -> tuple[SharedWrites, list[tuple[str, int]]]:
    seen: list[tuple[str, int]] = []
    return SharedWrites(cast(Flightdeck, deck), lambda op, n: seen.append((op, n))), seen


async def test_results_of_one_turn_share_one_call_and_a_lost_claim_fails_alone() -> None:
    deck = Deck(lost={"flt-2"})
    writes, seen = writes_on(deck)
    event = OutboxEvent("t", b"x")
    answers = await asyncio.gather(
        writes.record_step_result(claim(1), 0, {"ok": True}, [event], attempt=1),
        writes.record_step_result(claim(2), 0, {"ok": True}),
        writes.record_step_result(claim(3), 1, {"ok": False}),
        return_exceptions=True,
    )
    first, lost, third = answers
    assert isinstance(first, Claim) and first.flight_id == "flt-1"
    assert isinstance(lost, LeaseLost)
    assert isinstance(third, Claim) and third.flight_id == "flt-3"
    ((operation, records),) = deck.calls
    assert operation == "record_many"
    assert [(r.claim.flight_id, r.step_index, r.attempt) for r in records] == [
        ("flt-1", 0, 1),
        ("flt-2", 0, None),
        ("flt-3", 1, None),
    ]
    assert records[0].outbox_events == [event]
    assert seen == [("record_many", 3)]


async def test_completions_of_one_turn_share_one_call() -> None:
    deck = Deck(lost={"flt-1"})
    writes, seen = writes_on(deck)
    answers = await asyncio.gather(
        writes.complete(claim(1), Outcome.SUCCEEDED),
        writes.complete(claim(2), Outcome.FAILED, error="boom"),
        return_exceptions=True,
    )
    assert isinstance(answers[0], LeaseLost) and answers[1] is None
    ((operation, completions),) = deck.calls
    assert operation == "complete_many"
    assert [(c.claim.flight_id, c.outcome, c.error) for c in completions] == [
        ("flt-1", Outcome.SUCCEEDED, None),
        ("flt-2", Outcome.FAILED, "boom"),
    ]
    assert seen == [("complete_many", 2)]


async def test_writes_of_different_turns_are_separate_calls() -> None:
    deck = Deck(lost=set())
    writes, seen = writes_on(deck)
    await writes.record_step_result(claim(1), 0, {})
    await writes.record_step_result(claim(1), 1, {})
    assert seen == [("record_many", 1), ("record_many", 1)]


async def test_a_store_error_reaches_every_flight_of_the_batch() -> None:
    class Down(Deck):
        async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
            raise OSError("connection refused")

    writes, _ = writes_on(Down(lost=set()))
    answers = await asyncio.gather(
        writes.record_step_result(claim(1), 0, {}),
        writes.record_step_result(claim(2), 0, {}),
        return_exceptions=True,
    )
    assert all(isinstance(a, OSError) for a in answers)
    with pytest.raises(OSError):
        await writes.record_step_result(claim(3), 0, {})
