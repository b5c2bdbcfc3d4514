"""The clearance part of the Flightdeck contract (migration 0002), for every adapter.

A gated flight (``cleared_through=-1``) waits for ClearSteps; only cleared steps are
claimable; a claimer releases the flight at the end of its cleared steps or at a
failed step; a redelivered clearance changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from jetbridge.flightdeck import (
    Completion,
    Flightdeck,
    FlightState,
    LeaseLost,
    OutboxEvent,
    Outcome,
    StepClearance,
    StepRecord,
)

from .contract import SHORT_LEASE, flight


def gated(n: int | str, steps: int = 3):  # type: ignore[no-untyped-def]
    return dataclasses.replace(flight(n, steps=steps), cleared_through=-1)


class ClearanceContract:
    async def test_gated_flight_waits_for_its_clearance(self, store: Flightdeck) -> None:
        await store.enqueue(gated(1))
        assert await store.claim("pilot-1", 10, 30) == []
        assert await store.wait_for_work(0.1) is False
        assert await store.clear_steps("flt-missing", "c1", 0, 0) is None
        cleared = await store.clear_steps("flt-1", "c1", 0, 1)
        assert cleared is not None and cleared.applied
        assert (cleared.flight.cleared_through, cleared.flight.step_attempts) == (1, {0: 1, 1: 1})
        again = await store.clear_steps("flt-1", "c1", 0, 1)  # redelivered: no change
        assert again is not None and not again.applied
        assert again.flight.step_attempts == {0: 1, 1: 1}
        (claim,) = await store.claim("pilot-1", 10, 30)
        assert claim.flight.is_cleared(1) and not claim.flight.is_cleared(2)
        assert claim.flight.attempt_of(0) == 1

    async def test_release_parks_until_more_steps_are_cleared(self, store: Flightdeck) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 0)
        (claim,) = await store.claim("pilot-1", 10, 30)
        claim = await store.record_step_result(
            claim, 0, {"ok": True}, [OutboxEvent("t", b"s0")], attempt=1
        )
        assert (claim.flight.current_step, claim.flight.cleared_through) == (1, 0)
        await store.release(claim, [OutboxEvent("t", b"parked")])
        parked = await store.get("flt-1")
        assert parked is not None
        assert (parked.state, parked.lease_expires_at) == (FlightState.QUEUED, None)
        assert await store.claim("pilot-1", 10, 30) == []
        with pytest.raises(LeaseLost):  # released: the old claim can no longer write
            await store.renew(claim, 30)
        await store.clear_steps("flt-1", "c2", 1, 2)
        (again,) = await store.claim("pilot-2", 10, 30)
        assert (again.flight.current_step, again.flight.cleared_through) == (1, 2)
        assert again.flight.step_results == {0: {"ok": True}}
        assert again.fencing_token == claim.fencing_token + 1

    async def test_failed_step_revokes_its_clearance_until_a_retry(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 2)
        (claim,) = await store.claim("pilot-1", 10, 30)
        claim = await store.record_step_result(claim, 0, {"ok": True}, attempt=1)
        await store.release(
            claim, [OutboxEvent("t", b"failed")], failed_step=1, result={"error": "boom"}
        )
        failed = await store.get("flt-1")
        assert failed is not None
        assert (failed.state, failed.current_step, failed.cleared_through) == (
            FlightState.QUEUED,
            1,
            0,
        )
        assert failed.step_results[1] == {"error": "boom"}
        assert await store.claim("pilot-1", 10, 30) == []
        retry_at = datetime.now(UTC) + timedelta(seconds=3)
        await store.clear_steps("flt-1", "c2", 1, 2, not_before=retry_at)
        assert await store.claim("pilot-1", 10, 30) == []  # backoff not over yet
        await asyncio.sleep(max(0.0, (retry_at - datetime.now(UTC)).total_seconds()) + 0.2)
        (retry,) = await store.claim("pilot-1", 10, 30)
        assert retry.flight.step_attempts == {0: 1, 1: 2, 2: 2}
        assert retry.flight.attempt_of(1) == 2
        counts = await self.outbox_counts(db_dsn)  # type: ignore[attr-defined]
        assert counts == {"flt-1": 1}

    async def test_a_failed_attempt_does_not_revoke_a_newer_retry_cleared_while_it_ran(
        self, store: Flightdeck
    ) -> None:
        """A Pilot re-ran attempt 1 after a crash; the Navigator, timing attempt 1 from
        the first start, cleared attempt 2 meanwhile. Attempt 1 then fails: its release
        must leave attempt 2's clearance, or the flight parks with nothing to run it."""
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 1)
        (claim,) = await store.claim("pilot-1", 10, 30)
        await store.clear_steps("flt-1", "c2", 0, 1)  # the retry, while attempt 1 runs
        await store.release(claim, failed_step=0, result={"error": "late"}, attempt=1)
        parked = await store.get("flt-1")
        assert parked is not None
        assert (parked.state, parked.current_step, parked.cleared_through) == (
            FlightState.QUEUED,
            0,
            1,
        )
        assert parked.step_results[0] == {"error": "late"}  # reported, as any result
        (retry,) = await store.claim("pilot-2", 10, 30)
        assert retry.flight.attempt_of(0) == 2
        # The failure of the current attempt does revoke it.
        await store.release(retry, failed_step=0, result={"error": "again"}, attempt=2)
        failed = await store.get("flt-1")
        assert failed is not None and failed.cleared_through == -1
        assert await store.claim("pilot-1", 10, 30) == []

    async def test_a_retry_cleared_after_the_last_result_is_not_lost_by_the_completion(
        self, store: Flightdeck, other: Flightdeck
    ) -> None:
        """The Navigator's deadline for attempt 1 of the last step fired as the Pilot
        stored its result: attempt 2 is cleared (the flight rewound) before the Pilot
        completes. Completing SUCCEEDED then would swallow attempt 2, whose result the
        Navigator waits for: the completion is refused, and the retry runs."""
        await store.enqueue(gated(1, steps=1))
        await store.clear_steps("flt-1", "c1", 0, 0)
        (claim,) = await store.claim("pilot-1", 10, SHORT_LEASE)
        claim = await store.record_step_result(claim, 0, {"ok": 1}, attempt=1)
        retry = await store.clear_steps("flt-1", "c2", 0, 0)  # attempt 2, while it ran
        assert retry is not None and retry.applied
        with pytest.raises(LeaseLost):
            await store.complete(claim, Outcome.SUCCEEDED)
        running = await store.get("flt-1")
        assert running is not None
        assert (running.state, running.current_step) == (FlightState.RUNNING, 0)
        await asyncio.sleep(SHORT_LEASE + 0.2)  # the refused claimer stops; its lease ends
        (again,) = await other.claim("pilot-2", 10, 30)
        assert (again.flight.current_step, again.flight.attempt_of(0)) == (0, 2)
        again = await other.record_step_result(again, 0, {"ok": 2}, attempt=2)
        await other.complete(again, Outcome.SUCCEEDED)  # nothing left: it may finish
        done = await store.get("flt-1")
        assert done is not None and done.state is FlightState.SUCCEEDED

    async def test_a_failed_step_never_widens_a_clearance_that_rewound_the_flight(
        self, store: Flightdeck
    ) -> None:
        """Steps 0-3 cleared; while step 3 runs, the Navigator clears step 1 alone again
        (the flight rewinds to 1, cleared through 1). Step 3 then fails: revoking its
        clearance must not clear step 2, which nobody cleared again."""
        await store.enqueue(gated(1, steps=4))
        await store.clear_steps("flt-1", "c1", 0, 3)
        (claim,) = await store.claim("pilot-1", 10, 30)
        for step in (0, 1, 2):
            claim = await store.record_step_result(claim, step, {"ok": True}, attempt=1)
        await store.clear_steps("flt-1", "c2", 1, 1)
        await store.release(claim, failed_step=3, result={"error": "boom"}, attempt=1)
        parked = await store.get("flt-1")
        assert parked is not None
        assert (parked.state, parked.current_step, parked.cleared_through) == (
            FlightState.QUEUED,
            1,
            1,
        )

    async def test_a_flight_cancelled_while_it_ran_is_cancelled_when_released(
        self, store: Flightdeck
    ) -> None:
        """CancelFlight flags a running flight; its claimer then releases it at a failed
        step (or parks it). Parked with the flag, nothing would claim, finish or prune
        it: it is CANCELLED instead."""
        await store.enqueue(gated(1, steps=2))
        await store.clear_steps("flt-1", "c1", 0, 1)
        (claim,) = await store.claim("pilot-1", 10, 30)
        flagged = await store.request_cancel("flt-1")
        assert (flagged.state, flagged.cancel_requested) == (FlightState.RUNNING, True)
        await store.release(claim, failed_step=0, result={"error": "boom"}, attempt=1)
        ended = await store.get("flt-1")
        assert ended is not None
        assert (ended.state, ended.cancel_requested) == (FlightState.CANCELLED, True)
        assert ended.finished_at is not None and ended.step_results[0] == {"error": "boom"}
        assert await store.claim("pilot-1", 10, 30) == []
        await asyncio.sleep(0.01)
        assert await store.prune_finished(0, 10) == 1

    async def test_a_newer_clearance_of_a_running_step_is_not_overtaken(
        self, store: Flightdeck
    ) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 1)
        (claim,) = await store.claim("pilot-1", 10, 30)
        # Navigator timed attempt 1 out and cleared the step again while it ran.
        await store.clear_steps("flt-1", "c2", 0, 1)
        claim = await store.record_step_result(claim, 0, {"late": True}, attempt=1)
        assert claim.flight.current_step == 0  # run it again, as attempt 2
        assert claim.flight.attempt_of(0) == 2
        claim = await store.record_step_result(claim, 0, {"ok": True}, attempt=2)
        assert claim.flight.current_step == 1

    async def test_a_clearance_numbers_its_attempts_as_navigator_counts_them(
        self, store: Flightdeck
    ) -> None:
        # Navigator's first clearance of steps 0-1 never arrived (its dispatch failed):
        # the second one says attempt 2, and the Pilot must report attempt 2, not 1.
        await store.enqueue(gated(1))
        cleared = await store.clear_steps("flt-1", "c2", 0, 1, attempts=[2, 2])
        assert cleared is not None and cleared.flight.step_attempts == {0: 2, 1: 2}
        (claim,) = await store.claim("pilot-1", 10, 30)
        assert claim.flight.attempt_of(0) == 2
        claim = await store.record_step_result(claim, 0, {"ok": True}, attempt=2)
        assert claim.flight.current_step == 1
        await store.clear_steps("flt-1", "c3", 1, 2, attempts=[3, 1])  # mixed: a retry and a first
        again = await store.get("flt-1")
        assert again is not None and again.step_attempts == {0: 2, 1: 3, 2: 1}
        for bad, why in (([1], "carries 1 attempt numbers, not 2"), ([0, 1], "start at 1")):
            with pytest.raises(ValueError, match=why):
                await store.clear_steps("flt-1", "c4", 1, 2, attempts=bad)
        unchanged = await store.get("flt-1")
        assert unchanged is not None and unchanged.step_attempts == {0: 2, 1: 3, 2: 1}

    async def test_clearance_rewinds_and_reopens_a_finished_flight(self, store: Flightdeck) -> None:
        await store.enqueue_many([gated(1, steps=1), gated(2, steps=1)])
        for n in (1, 2):
            await store.clear_steps(f"flt-{n}", "c1", 0, 0)
        one, two = await store.claim("pilot-1", 10, 30)
        one = await store.record_step_result(one, 0, {"ok": True}, attempt=1)
        await store.complete(one, Outcome.SUCCEEDED)
        await store.complete(two, Outcome.FAILED, error="permanent")
        reopened = await store.clear_steps("flt-1", "c2", 0, 0)
        assert reopened is not None and reopened.applied
        assert (reopened.flight.state, reopened.flight.current_step) == (FlightState.QUEUED, 0)
        assert reopened.flight.finished_at is None
        refused = await store.clear_steps("flt-2", "c2", 0, 0)
        assert refused is not None and not refused.applied
        assert refused.flight.state is FlightState.FAILED
        (claim,) = await store.claim("pilot-1", 10, 30)
        assert (claim.flight_id, claim.flight.attempt_of(0)) == ("flt-1", 2)

    async def test_a_finished_flight_cancelled_since_is_not_reopened_by_a_late_clearance(
        self, store: Flightdeck
    ) -> None:
        """The Navigator cleared a retry of a step the data plane had meanwhile finished,
        then cancelled the mission (a no-op on the finished flight); a stalled Dispatcher
        delivers the retry late. It must not run a step of a cancelled mission."""
        await store.enqueue(gated(1, steps=1))
        await store.clear_steps("flt-1", "c1", 0, 0)
        (claim,) = await store.claim("pilot-1", 10, 30)
        claim = await store.record_step_result(claim, 0, {"ok": True}, attempt=1)
        await store.complete(claim, Outcome.SUCCEEDED)
        cancelled = await store.request_cancel("flt-1")
        assert cancelled is not None and cancelled.state is FlightState.SUCCEEDED
        late = await store.clear_steps("flt-1", "c2", 0, 0)
        assert late is not None and not late.applied
        assert late.flight.state is FlightState.SUCCEEDED
        assert await store.claim("pilot-1", 10, 30) == []

    async def test_parked_flight_is_cancelled_at_once(self, store: Flightdeck) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 0)
        (claim,) = await store.claim("pilot-1", 10, 30)
        claim = await store.record_step_result(claim, 0, {"ok": True})
        await store.release(claim)
        cancelled = await store.request_cancel("flt-1")
        assert cancelled is not None and cancelled.state is FlightState.CANCELLED
        late = await store.clear_steps("flt-1", "c2", 1, 1)
        assert late is not None and not late.applied
        assert await store.claim("pilot-1", 10, 30) == []

    async def test_clearance_wakes_a_waiting_claimer(
        self, store: Flightdeck, other: Flightdeck
    ) -> None:
        await store.enqueue(gated(1))
        assert await store.wait_for_work(0.1) is False
        waiter = asyncio.create_task(store.wait_for_work(10))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        await other.clear_steps("flt-1", "c1", 0, 0)
        assert await asyncio.wait_for(waiter, 5) is True

    async def test_stale_claimer_cannot_release(self, store: Flightdeck, other: Flightdeck) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 2)
        (stale,) = await store.claim("pilot-old", 1, SHORT_LEASE)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        (fresh,) = await other.claim("pilot-new", 1, 30)
        with pytest.raises(LeaseLost):
            await store.release(stale, failed_step=0, result={"by": "stale"})
        stored = await store.get("flt-1")
        assert stored is not None
        assert (stored.state, stored.cleared_through, stored.step_results) == (
            FlightState.RUNNING,
            2,
            {},
        )
        assert fresh.fencing_token == stale.fencing_token + 1

    async def test_report_writes_events_only_under_a_valid_claim(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 0)
        (stale,) = await store.claim("pilot-old", 1, SHORT_LEASE)
        reported = await store.report(stale, [OutboxEvent("t", b"started")])
        assert (reported.flight.current_step, reported.flight.cleared_through) == (0, 0)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        with pytest.raises(LeaseLost):
            await store.report(stale, [OutboxEvent("t", b"ghost")])
        assert [e.payload for e in await store.outbox_pending(10)] == [b"started"]
        assert await self.outbox_counts(db_dsn) == {"flt-1": 1}  # type: ignore[attr-defined]

    async def test_a_report_may_leave_a_running_steps_note_under_a_valid_claim(
        self, store: Flightdeck
    ) -> None:
        await store.enqueue(gated(1))
        await store.clear_steps("flt-1", "c1", 0, 1)
        (stale,) = await store.claim("pilot-old", 1, SHORT_LEASE)
        note = {"running": True, "attempt": 1, "first_started_at": 1_000}
        await store.report(stale, [OutboxEvent("t", b"started")], step=0, note=note)
        stored = await store.get("flt-1")
        assert stored is not None
        assert (stored.step_results, stored.current_step) == ({0: note}, 0)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        with pytest.raises(LeaseLost):
            await store.report(stale, [], step=0, note={"running": True, "attempt": 9})
        (again,) = await store.claim("pilot-new", 1, 30)  # the re-run reads the note
        assert again.flight.step_results == {0: note}

    # -- many at once (the agent's ClearSteps that arrive together) --------------------

    async def test_clear_many_answers_each_in_order_as_clear_steps_would(
        self, store: Flightdeck
    ) -> None:
        await store.enqueue_many([gated(1), gated(2), gated(3)])
        await store.request_cancel("flt-3")
        answers = await store.clear_many(
            [
                StepClearance("flt-1", "c1", 0, 0),
                StepClearance("flt-missing", "c1", 0, 0),
                StepClearance("flt-2", "c2", 0, 1, attempts=(2, 3)),
                StepClearance("flt-1", "c1", 0, 0),  # redelivered within the batch
                StepClearance("flt-3", "c3", 0, 0),  # cancelled: left alone
                StepClearance("flt-1", "c1b", 1, 1),  # the next step, after the first
            ]
        )
        one, missing, two, again, cancelled, next_step = answers
        assert missing is None
        assert one is not None and one.applied
        assert (one.flight.cleared_through, one.flight.step_attempts) == (0, {0: 1})
        assert two is not None and two.applied
        assert (two.flight.cleared_through, two.flight.step_attempts) == (1, {0: 2, 1: 3})
        assert again is not None and not again.applied
        assert cancelled is not None and not cancelled.applied
        assert cancelled.flight.state is FlightState.CANCELLED
        assert next_step is not None and next_step.applied
        assert (next_step.flight.current_step, next_step.flight.cleared_through) == (1, 1)
        assert next_step.flight.step_attempts == {0: 1, 1: 1}
        assert await store.clear_many([]) == []

    async def test_a_malformed_clearance_in_a_batch_writes_nothing(self, store: Flightdeck) -> None:
        await store.enqueue(gated(1))
        with pytest.raises(ValueError, match="bad clearance range"):
            await store.clear_many(
                [StepClearance("flt-1", "c1", 0, 0), StepClearance("flt-1", "c2", 2, 1)]
            )
        untouched = await store.get("flt-1")
        assert untouched is not None and untouched.cleared_through == -1

    async def test_clearances_and_completions_of_the_same_flights_never_deadlock(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        """Both lock many rows in one go, in flight-id order whatever order they are
        given in. A row held elsewhere stops both half-way (the completions given in
        reverse); once it is free, a cycle would be a deadlock, which raises."""
        ids = [f"flt-{n:02}" for n in range(30)]
        await store.enqueue_many([gated(f"{n:02}") for n in range(30)])
        await store.clear_many([StepClearance(i, f"c0-{i}", 0, 0) for i in ids])
        claims = await store.claim("pilot-1", len(ids), 30)
        assert len(claims) == len(ids)
        ran = await store.record_many([StepRecord(c, 0, {"ok": True}, attempt=1) for c in claims])
        completions = [Completion(c, Outcome.SUCCEEDED) for c in reversed(ran) if c]
        later = [StepClearance(i, f"c1-{i}", 1, 1) for i in ids]
        async with self.lock_row(db_dsn, ids[15]):  # type: ignore[attr-defined]
            race = asyncio.gather(store.complete_many(completions), other.clear_many(later))
            await asyncio.sleep(0.5)  # both wait on the held row by now
        refused, cleared = await asyncio.wait_for(race, 30)
        assert all(c is not None and c.applied for c in cleared)
        # Per flight, whichever came first: a completion then the clearance reopens the
        # finished flight (QUEUED); a clearance first leaves step 1 to run, so the
        # completion is refused and the claim still runs it.
        states = {f.flight_id: f.state for f in await store.get_many(ids) if f}
        assert states == {
            i: FlightState.RUNNING if i in refused else FlightState.QUEUED for i in ids
        }

    async def test_step_results_and_clearances_of_the_same_flights_never_deadlock(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        """``record_many`` locks in flight-id order too (the results given in reverse)."""
        ids = [f"flt-{n:02}" for n in range(30)]
        await store.enqueue_many([gated(f"{n:02}") for n in range(30)])
        await store.clear_many([StepClearance(i, f"c0-{i}", 0, 0) for i in ids])
        claims = await store.claim("pilot-1", len(ids), 30)
        assert len(claims) == len(ids)
        records = [StepRecord(c, 0, {"ok": True}, attempt=1) for c in reversed(claims)]
        later = [StepClearance(i, f"c1-{i}", 1, 1) for i in ids]
        async with self.lock_row(db_dsn, ids[15]):  # type: ignore[attr-defined]
            race = asyncio.gather(store.record_many(records), other.clear_many(later))
            await asyncio.sleep(0.5)  # both wait on the held row by now
        recorded, cleared = await asyncio.wait_for(race, 30)
        assert all(r is not None and r.flight.current_step == 1 for r in recorded)
        assert all(c is not None and c.applied for c in cleared)
