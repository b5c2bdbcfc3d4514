"""Coalescer: Flightdeck accesses that arrive in one turn of the loop share one call."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from jetbridge.common.coalesce import Coalescer
from jetbridge.flightdeck import Admitted, Flight, FlightState, NewFlight, Side

CALLER = contextvars.ContextVar("caller", default="none")
T0 = datetime(2026, 12, 5, tzinfo=UTC)


def new(n: int) -> NewFlight:
    return NewFlight(f"f{n}", "m", "r", "d", Side.SOURCE, "FORCED", [{"name": "S"}], 1)


def stored(flight: NewFlight) -> Flight:
    return Flight(
        flight.flight_id, "m", "r", "d", Side.SOURCE, "FORCED", list(flight.plan), 1,
        FlightState.QUEUED, 0, {}, None, None, None, 0, 0, False, T0, T0, None,
    )  # fmt: skip


class RecordingDeck:
    """Answers ``admit`` as a store would (every id new), recording each call."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.callers: list[str] = []
        self.error = error

    async def admit(self, flights: Sequence[NewFlight]) -> list[Admitted]:
        self.calls.append([f.flight_id for f in flights])
        self.callers.append(CALLER.get())
        await asyncio.sleep(0)  # a round trip
        if self.error is not None:
            raise self.error
        return [Admitted(stored(f), True) for f in flights]


async def test_admissions_of_one_turn_share_one_write_and_each_gets_its_own_answer() -> None:
    deck = RecordingDeck()
    sizes: list[int] = []
    admissions = Coalescer(deck.admit, sizes.append)

    async def caller(n: int) -> Admitted:
        CALLER.set(f"caller-{n}")  # each item's span, say
        return await admissions(new(n))

    answers = await asyncio.gather(*(caller(n) for n in range(5)))
    assert deck.calls == [["f0", "f1", "f2", "f3", "f4"]]
    assert [a.flight.flight_id for a in answers] == ["f0", "f1", "f2", "f3", "f4"]
    assert deck.callers == ["none"]  # the write runs in no caller's context
    assert sizes == [5]  # one call, its size to the agent's metric


async def test_admissions_of_later_turns_are_written_apart() -> None:
    deck = RecordingDeck()
    admissions = Coalescer(deck.admit)
    first = await admissions(new(1))
    second = await asyncio.gather(admissions(new(2)), admissions(new(3)))
    assert deck.calls == [["f1"], ["f2", "f3"]]
    assert first.flight.flight_id == "f1" and [a.created for a in second] == [True, True]


async def test_a_failed_write_fails_every_admission_in_it() -> None:
    deck = RecordingDeck(error=ConnectionResetError("store restarting"))
    admissions = Coalescer(deck.admit)
    answers = await asyncio.gather(admissions(new(1)), admissions(new(2)), return_exceptions=True)
    assert [type(a) for a in answers] == [ConnectionResetError, ConnectionResetError]
    assert deck.calls == [["f1", "f2"]]


async def test_a_caller_that_gave_up_does_not_stop_the_others() -> None:
    deck = RecordingDeck()
    admissions = Coalescer(deck.admit)
    gone = asyncio.ensure_future(admissions(new(1)))
    kept = asyncio.ensure_future(admissions(new(2)))
    await asyncio.sleep(0)  # both queued, the write scheduled
    gone.cancel()
    assert (await kept).flight.flight_id == "f2"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert deck.calls == [["f1", "f2"]]  # its row is written all the same (idempotent)


async def test_items_submitted_together_share_one_write_and_answer_in_order() -> None:
    deck = RecordingDeck()
    admissions = Coalescer(deck.admit)
    waiters = [admissions.submit(new(n)) for n in range(3)]
    assert all(not w.done() for w in waiters)  # written at the end of the turn
    answers = await asyncio.gather(*waiters)
    assert deck.calls == [["f0", "f1", "f2"]]
    assert [a.flight.flight_id for a in answers] == ["f0", "f1", "f2"]
