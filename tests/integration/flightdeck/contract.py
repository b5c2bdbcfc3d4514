"""ONE behavioural contract for every Flightdeck adapter (eventsourcing style).

``FlightdeckContract`` holds the tests; each dialect's module subclasses it with a
``db_dsn`` fixture (a database of its own on a real server) and a few raw-SQL hooks.
The class name does not start with ``Test`` so pytest only collects the subclasses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jetbridge.flightdeck import (
    Claim,
    Completion,
    Flightdeck,
    FlightState,
    LeaseLost,
    NewFlight,
    OutboxEvent,
    Outcome,
    Side,
    StepClearance,
    StepRecord,
)

SHORT_LEASE = 1.0  # seconds; outlasts a few round trips on a loaded server, short to wait out
UNCOMMITTED_PLAN = '[{"step": 0, "kind": "noop"}]'  # the flight ``uncommitted_flight`` adds


def flight(n: int | str, *, steps: int = 3, epoch: int = 7) -> NewFlight:
    return NewFlight(
        flight_id=f"flt-{n}",
        mission_id=f"msn-{n}",
        request_id="req-1",
        deployment_id=f"dep-{n}",
        side=Side.DESTINATION,
        mode="CONTROLLED",
        plan=[{"step": i, "kind": "noop"} for i in range(steps)],
        fencing_epoch=epoch,
    )


class FlightdeckContract:
    # -- hooks the dialect modules provide ------------------------------------------

    async def open_store(self, dsn: str) -> Flightdeck:
        raise NotImplementedError

    async def fetch(self, dsn: str, sql: str) -> list[dict[str, Any]]:
        """Run a parameterless query (plain identifiers, valid in both dialects)."""
        raise NotImplementedError

    def lock_row(self, dsn: str, flight_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold ``SELECT ... FOR UPDATE`` on a flight in an open transaction."""
        raise NotImplementedError

    def uncommitted_flight(
        self, dsn: str, flight_id: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Insert a flight (plan ``UNCOMMITTED_PLAN``) in a transaction left open while
        the block runs, committed when it ends: an admit caught half-way."""
        raise NotImplementedError

    def fresh_database(self) -> contextlib.AbstractAsyncContextManager[str]:
        raise NotImplementedError

    async def migrate(self, dsn: str) -> list[int]:
        """Run the migrator once on its own connection; returns versions applied."""
        raise NotImplementedError

    # -- fixtures --------------------------------------------------------------------

    @pytest.fixture
    async def store(self, db_dsn: str) -> AsyncIterator[Flightdeck]:
        fd = await self.open_store(db_dsn)
        await self.fetch(db_dsn, "DELETE FROM dp_flight_outbox")
        await self.fetch(db_dsn, "DELETE FROM dp_flights")
        yield fd
        await fd.close()

    @pytest.fixture
    async def other(self, db_dsn: str, store: Flightdeck) -> AsyncIterator[Flightdeck]:
        """A second claimer with its own connection pool."""
        fd = await self.open_store(db_dsn)
        yield fd
        await fd.close()

    async def outbox_counts(self, dsn: str) -> dict[str | None, int]:
        rows = await self.fetch(
            dsn, "SELECT flight_id, COUNT(*) AS n FROM dp_flight_outbox GROUP BY flight_id"
        )
        return {r["flight_id"]: int(r["n"]) for r in rows}

    # -- enqueue ---------------------------------------------------------------------

    async def test_enqueue_is_idempotent_by_flight_id(self, store: Flightdeck) -> None:
        assert await store.enqueue(flight(1)) is True
        retried = dataclasses.replace(flight(1), mode="FORCED")
        assert await store.enqueue(retried) is False
        assert await store.enqueue_many([flight(1), flight(2), flight(2), flight(3)]) == 2
        stored = await store.get("flt-1")
        assert stored is not None
        assert stored.mode == "CONTROLLED"  # the retry did not overwrite the first write
        assert stored.state is FlightState.QUEUED
        assert stored.plan == [{"step": i, "kind": "noop"} for i in range(3)]
        assert (stored.fencing_epoch, stored.attempt, stored.fencing_token) == (7, 0, 0)
        assert stored.side is Side.DESTINATION
        assert await store.get("flt-missing") is None

    async def test_admit_answers_each_flight_as_stored_in_the_order_asked(
        self, store: Flightdeck
    ) -> None:
        assert await store.admit([]) == []
        await store.enqueue(flight(1))
        retried = dataclasses.replace(flight(1), mode="FORCED")
        admitted = await store.admit([flight(2), retried, flight(2), flight(3)])
        assert [(a.flight.flight_id, a.created) for a in admitted] == [
            ("flt-2", True),
            ("flt-1", False),  # there before: the retry did not overwrite it
            ("flt-2", False),  # asked twice: created once, by its first occurrence
            ("flt-3", True),
        ]
        assert admitted[1].flight.mode == "CONTROLLED"
        for a in admitted:
            assert a.flight == await store.get(a.flight.flight_id)  # the row as stored
            assert (a.flight.state, a.flight.fencing_epoch) == (FlightState.QUEUED, 7)
        twice = await store.admit([flight(5), dataclasses.replace(flight(5), mode="FORCED")])
        assert [(a.flight.mode, a.created) for a in twice] == [
            ("CONTROLLED", True),  # an id given twice in one batch is stored as first given
            ("CONTROLLED", False),
        ]
        again = await store.admit([flight(3), flight(2)])
        assert [(a.flight.flight_id, a.created) for a in again] == [
            ("flt-3", False),
            ("flt-2", False),
        ]

    async def test_get_many_answers_each_id_in_order(self, store: Flightdeck) -> None:
        assert await store.get_many([]) == []
        await store.enqueue_many([flight(1), flight(2)])
        found = await store.get_many(["flt-2", "flt-missing", "flt-1", "flt-2"])
        assert [f.flight_id if f else None for f in found] == ["flt-2", None, "flt-1", "flt-2"]
        assert found[2] == await store.get("flt-1")

    async def test_admits_racing_for_the_same_flights_create_each_once(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        """Two agents' pools admit overlapping batches at once (a Dispatcher retry
        racing its first call): every flight is created by exactly one answer."""
        for round_ in range(10):
            batch = [flight(f"{round_}-{i}") for i in range(8)]
            answers = await asyncio.gather(
                store.admit(batch), other.admit(batch[4:] + batch[:4]), store.admit(batch[2:6])
            )
            created = [a.flight.flight_id for answer in answers for a in answer if a.created]
            assert sorted(created) == sorted(f.flight_id for f in batch)
            for answer in answers:
                assert all(a.flight.state is FlightState.QUEUED for a in answer)
        rows = await self.fetch(db_dsn, "SELECT COUNT(*) AS n FROM dp_flights")
        assert int(rows[0]["n"]) == 80

    async def test_the_traceparent_is_stored_and_every_claim_carries_it(
        self, store: Flightdeck
    ) -> None:
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        await store.enqueue_many(
            [dataclasses.replace(flight(1), traceparent=traceparent), flight(2)]
        )
        claims = {c.flight_id: c for c in await store.claim("pilot-a", 2, 30)}
        assert claims["flt-1"].flight.traceparent == traceparent
        assert claims["flt-2"].flight.traceparent is None  # queued untraced
        stored = await store.get("flt-1")
        assert stored is not None and stored.traceparent == traceparent

    # -- claim -----------------------------------------------------------------------

    async def test_claim_in_enqueue_order_bumps_attempt_and_token(self, store: Flightdeck) -> None:
        for n in ("c", "a", "e", "b", "d"):  # ids deliberately not sorted
            await store.enqueue(flight(n))
        first = await store.claim("pilot-1", 3, 30)
        assert [c.flight_id for c in first] == ["flt-c", "flt-a", "flt-e"]
        for c in first:
            assert (c.owner, c.attempt, c.fencing_token) == ("pilot-1", 1, 1)
            assert c.flight.state is FlightState.RUNNING
            assert c.flight.lease_owner == "pilot-1"
        rest = await store.claim("pilot-2", 10, 30)
        assert [c.flight_id for c in rest] == ["flt-b", "flt-d"]
        assert await store.claim("pilot-3", 10, 30) == []
        stored = await store.get("flt-a")
        assert stored is not None and stored.lease_expires_at is not None
        assert stored.lease_expires_at > stored.updated_at

    async def test_claim_skips_locked_rows_without_waiting(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue_many([flight(i) for i in range(3)])
        async with self.lock_row(db_dsn, "flt-0"):
            claims = await asyncio.wait_for(store.claim("pilot-1", 10, 30), 5)
            assert [c.flight_id for c in claims] == ["flt-1", "flt-2"]
        later = await store.claim("pilot-1", 10, 30)
        assert [c.flight_id for c in later] == ["flt-0"]

    async def test_concurrent_claimers_never_share_a_flight(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue_many([flight(i) for i in range(300)])
        claimers = [await self.open_store(db_dsn) for _ in range(6)]
        got: dict[str, list[str]] = {}

        async def run(i: int, fd: Flightdeck) -> None:
            while batch := await fd.claim(f"pilot-{i}", 7, 30):
                for c in batch:
                    got.setdefault(c.flight_id, []).append(c.owner)

        try:
            await asyncio.gather(*(run(i, fd) for i, fd in enumerate(claimers)))
        finally:
            for fd in claimers:
                await fd.close()
        assert len(got) == 300
        assert all(len(owners) == 1 for owners in got.values())
        assert len({o for owners in got.values() for o in owners}) > 1  # really concurrent

    # -- leases ----------------------------------------------------------------------

    async def test_expired_lease_is_reclaimed_and_stale_claimer_fenced(
        self, store: Flightdeck, other: Flightdeck
    ) -> None:
        await store.enqueue(flight(1))
        (stale,) = await store.claim("pilot-old", 1, SHORT_LEASE)
        assert await other.claim("pilot-new", 1, 30) == []  # lease still held
        await asyncio.sleep(SHORT_LEASE + 0.2)
        (fresh,) = await other.claim("pilot-new", 1, 30)
        assert fresh.flight_id == stale.flight_id
        assert (fresh.attempt, fresh.fencing_token) == (2, stale.fencing_token + 1)
        for write in (
            store.renew(stale, 30),
            store.record_step_result(stale, 0, {"ok": True}),
            store.complete(stale, Outcome.SUCCEEDED),
        ):
            with pytest.raises(LeaseLost) as info:
                await write
            assert info.value.fencing_token == stale.fencing_token
        await other.complete(fresh, Outcome.SUCCEEDED)
        done = await store.get(fresh.flight_id)
        assert done is not None
        assert (done.state, done.lease_owner, done.attempt) == (
            FlightState.SUCCEEDED,
            "pilot-new",
            2,
        )

    async def test_expired_lease_refuses_writes_even_before_reclaim(
        self, store: Flightdeck
    ) -> None:
        await store.enqueue(flight(1))
        (claim,) = await store.claim("pilot-1", 1, SHORT_LEASE)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        with pytest.raises(LeaseLost):
            await store.renew(claim, 30)
        with pytest.raises(LeaseLost):
            await store.complete(claim, Outcome.SUCCEEDED)
        stored = await store.get(claim.flight_id)
        assert stored is not None and stored.state is FlightState.RUNNING

    async def test_renew_extends_the_lease(self, store: Flightdeck, other: Flightdeck) -> None:
        await store.enqueue(flight(1))
        (claim,) = await store.claim("pilot-1", 1, SHORT_LEASE)
        renewed = await store.renew(claim, 30)
        assert renewed.lease_expires_at > claim.lease_expires_at
        assert renewed.fencing_token == claim.fencing_token
        await asyncio.sleep(SHORT_LEASE + 0.2)
        assert await other.claim("pilot-2", 1, 30) == []  # not expired: renewal held
        await store.complete(renewed, Outcome.SUCCEEDED)

    # -- cancel ----------------------------------------------------------------------

    async def test_cancel_queued_flight_is_final_and_never_claimed(self, store: Flightdeck) -> None:
        await store.enqueue_many([flight(1), flight(2)])
        cancelled = await store.request_cancel("flt-1")
        assert cancelled is not None
        assert (cancelled.state, cancelled.cancel_requested) == (FlightState.CANCELLED, True)
        assert cancelled.finished_at is not None
        assert [c.flight_id for c in await store.claim("pilot-1", 10, 30)] == ["flt-2"]

    async def test_cancel_of_an_unknown_flight_keeps_a_later_start_from_running_it(
        self, store: Flightdeck
    ) -> None:
        """A StartFlight sent before a cancellation may arrive after it (a Dispatcher
        replica that stalled past its turn): it must find the flight ended."""
        tombstone = await store.request_cancel("flt-1")
        assert (tombstone.state, tombstone.plan, tombstone.never_started) == (
            FlightState.CANCELLED,
            [],
            True,
        )
        assert tombstone.finished_at is not None
        assert (await store.request_cancel("flt-1")).never_started  # again: unchanged
        (late,) = await store.admit([flight(1)])
        assert (late.created, late.flight.never_started) == (False, True)
        cleared = await store.clear_many([StepClearance("flt-1", "c1", 0, 2)])
        assert cleared[0] is not None and not cleared[0].applied
        assert await store.claim("pilot-1", 10, 30) == []
        await store.enqueue(flight(2))  # a flight that was stored is cancelled, not buried
        assert not (await store.request_cancel("flt-2")).never_started
        await asyncio.sleep(0.01)
        assert await store.prune_finished(0, 100) == 2  # tombstones go with the finished
        assert await store.get("flt-1") is None

    async def test_a_cancel_racing_its_admit_never_leaves_the_flight_runnable(
        self, store: Flightdeck, other: Flightdeck
    ) -> None:
        """The agent's admit (a StartFlights batch) and a CancelFlight for one of its
        flights, on two pools at once, in both orders and overlapping: whichever the
        server takes first, the flight must end cancelled, and the admit's answer must
        say which happened (created: it was then cancelled; not created: it met the
        tombstone, which the agent refuses to run)."""
        batches = [[flight(f"{b}-{i}") for i in range(8)] for b in range(100)]
        victims = [batch[b % 8].flight_id for b, batch in enumerate(batches)]

        async def admit_then_cancel(batch: list[NewFlight], victim: str) -> tuple[Any, Any]:
            admitted = await store.admit(batch)
            return admitted, await other.request_cancel(victim)

        async def cancel_then_admit(batch: list[NewFlight], victim: str) -> tuple[Any, Any]:
            cancelled = await other.request_cancel(victim)
            return await store.admit(batch), cancelled

        async def both_at_once(batch: list[NewFlight], victim: str) -> tuple[Any, Any]:
            admitted, cancelled = await asyncio.gather(
                store.admit(batch), other.request_cancel(victim)
            )
            return admitted, cancelled

        # The admit surely first, the cancel surely first (each awaited before the
        # other starts, so a loaded machine cannot reorder them), then twice both at
        # once: the race itself (on PostgreSQL a cancel then meets an admit committed
        # after its snapshot a few times in a hundred, and must ask again). The pairs
        # all run together, so the pools are contended as in the agent.
        orders_of_pair = (admit_then_cancel, cancel_then_admit, both_at_once, both_at_once)
        pairs = [
            orders_of_pair[b % 4](batch, victim)
            for b, (batch, victim) in enumerate(zip(batches, victims, strict=True))
        ]
        outcomes = await asyncio.gather(*pairs)

        orders = set()
        for b, ((admitted, cancelled), victim) in enumerate(zip(outcomes, victims, strict=True)):
            (answer,) = [a for a in admitted if a.flight.flight_id == victim]
            if b % 4 < 2:  # the ordered pairs: the order they were run in
                assert answer.created is (b % 4 == 0), (b, answer)
            stored = await store.get(victim)
            assert stored is not None
            assert (stored.state, stored.cancel_requested) == (FlightState.CANCELLED, True)
            assert cancelled.state is FlightState.CANCELLED
            if answer.created:  # the admit went first: the real flight, cancelled
                assert not stored.never_started and stored.plan, stored
                orders.add("admit first")
            else:  # the cancel went first: the admit met the tombstone
                assert answer.flight.never_started and stored.never_started, (answer, stored)
                orders.add("cancel first")
            others = [a for a in admitted if a.flight.flight_id != victim]
            assert all(a.created and a.flight.state is FlightState.QUEUED for a in others)
        # Only the other flights of each batch are left to claim.
        claimed = await store.claim("pilot-1", 1000, 30)
        assert len(claimed) == 100 * 7
        assert not {c.flight_id for c in claimed} & set(victims)
        assert orders == {"admit first", "cancel first"}, orders

    async def test_a_cancel_that_waited_on_an_uncommitted_admit_cancels_the_flight(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        """The race of the racing test above, made certain: the admit's insert is not
        committed when the cancel runs, so the cancel's tombstone insert waits on its
        key, then meets it and inserts nothing. The cancel must still cancel the flight
        that was admitted (PostgreSQL: its snapshot held neither row, so the adapter asks
        again; MySQL: its update is a statement of its own), not answer nothing."""
        async with self.uncommitted_flight(db_dsn, "flt-held"):
            cancel = asyncio.create_task(store.request_cancel("flt-held"))
            await asyncio.sleep(0.3)
            assert not cancel.done(), "the tombstone's insert did not wait for the admit"
        cancelled = await asyncio.wait_for(cancel, 10)
        assert (cancelled.state, cancelled.cancel_requested) == (FlightState.CANCELLED, True)
        assert not cancelled.never_started and cancelled.plan == [{"step": 0, "kind": "noop"}]
        assert await store.claim("pilot-1", 10, 30) == []

    async def test_cancel_running_flight_reaches_its_claimer(self, store: Flightdeck) -> None:
        await store.enqueue(flight(1))
        (claim,) = await store.claim("pilot-1", 1, 30)
        flagged = await store.request_cancel("flt-1")
        assert flagged is not None
        assert (flagged.state, flagged.cancel_requested) == (FlightState.RUNNING, True)
        assert (await store.renew(claim, 30)).cancel_requested is True
        step = await store.record_step_result(claim, 0, {"ok": True})
        assert step.cancel_requested is True
        await store.complete(claim, Outcome.CANCELLED, error="cancelled by operator")
        final = await store.get("flt-1")
        assert final is not None
        assert (final.state, final.error) == (FlightState.CANCELLED, "cancelled by operator")
        again = await store.request_cancel("flt-1")  # on a finished flight: no change
        assert again is not None and again.state is FlightState.CANCELLED

    # -- steps and the outbox --------------------------------------------------------

    async def test_step_result_and_events_commit_together(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue(flight(1))
        (claim,) = await store.claim("pilot-1", 1, 30)
        event = OutboxEvent(
            topic="jetbridge.flights",
            payload=b"\x00step0",
            key=b"flt-1",
            headers=[("content-type", b"avro/binary"), ("trace", b"\xff\x00")],
        )
        await store.record_step_result(claim, 0, {"ok": True, "ns": "airflow-1"}, [event])
        await store.record_step_result(claim, 1, {"ok": True}, [])
        stored = await store.get("flt-1")
        assert stored is not None
        assert stored.current_step == 2
        assert stored.step_results == {0: {"ok": True, "ns": "airflow-1"}, 1: {"ok": True}}
        (row,) = await store.outbox_pending(10)
        assert (row.event_id, row.flight_id, row.topic) == (
            event.event_id,
            "flt-1",
            "jetbridge.flights",
        )
        assert (row.key, row.payload, row.headers) == (b"flt-1", b"\x00step0", list(event.headers))
        await store.mark_published([row.event_id])
        assert await store.outbox_pending(10) == []
        assert await self.outbox_counts(db_dsn) == {"flt-1": 1}

    async def test_pruning_deletes_published_rows_only_once_old_enough(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue(flight(1))
        (claim,) = await store.claim("pilot-1", 1, 30)
        events = [OutboxEvent("jetbridge.flights", bytes([i])) for i in range(5)]
        await store.record_step_result(claim, 0, {"ok": True}, events)
        published = [row.event_id for row in await store.outbox_pending(3)]
        await store.mark_published(published)
        assert await store.prune_published(3600, 100) == 0  # published just now: kept
        await asyncio.sleep(0.01)
        assert await store.prune_published(0, 2) == 2  # at most the limit
        assert await store.prune_published(0, 100) == 1
        left = [row.event_id for row in await store.outbox_pending(10)]
        assert left == [e.event_id for e in events[3:]]  # never an unpublished row
        assert await self.outbox_counts(db_dsn) == {"flt-1": 2}

    async def test_finished_flights_are_pruned_once_old_enough_with_their_clearances(
        self, store: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue_many([flight(i) for i in range(1, 7)])
        claims = {c.flight_id: c for c in await store.claim("pilot-1", 4, 30)}
        assert sorted(claims) == ["flt-1", "flt-2", "flt-3", "flt-4"]
        await store.clear_steps("flt-2", "c1", 0, 2)  # a clearance row, to go with it
        await store.complete(claims["flt-1"], Outcome.SUCCEEDED)
        await store.complete(claims["flt-2"], Outcome.FAILED, error="boom")
        await store.complete(claims["flt-3"], Outcome.SUCCEEDED)
        await store.request_cancel("flt-5")  # cancelled while queued
        # flt-3 is reopened by a later clearance: QUEUED again, not finished.
        reopened = await store.clear_steps("flt-3", "c2", 2, 2)
        assert reopened is not None and reopened.applied
        assert await store.prune_finished(3600, 100) == 0  # finished just now: kept
        await asyncio.sleep(0.01)
        pruned = await store.prune_finished(0, 2)  # at most the limit, oldest first
        assert pruned == 2, await self.fetch(db_dsn, "SELECT * FROM dp_flights")
        assert await store.get("flt-1") is None and await store.get("flt-2") is None
        assert await store.prune_finished(0, 100) == 1
        assert await store.prune_finished(0, 100) == 0
        left = await self.fetch(db_dsn, "SELECT flight_id, state FROM dp_flights")
        assert {r["flight_id"]: r["state"] for r in left} == {
            "flt-3": "QUEUED",
            "flt-4": "RUNNING",
            "flt-6": "QUEUED",
        }
        clearances = await self.fetch(db_dsn, "SELECT flight_id FROM dp_flight_clearances")
        assert [r["flight_id"] for r in clearances] == ["flt-3"]
        # The row was the dedupe record: the same id is now a new flight.
        assert await store.enqueue(flight(1)) is True

    async def test_failed_token_check_writes_neither_result_nor_event(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        await store.enqueue(flight(1))
        (stale,) = await store.claim("pilot-old", 1, SHORT_LEASE)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        (fresh,) = await other.claim("pilot-new", 1, 30)
        with pytest.raises(LeaseLost):
            await store.record_step_result(
                stale, 0, {"by": "stale"}, [OutboxEvent("jetbridge.flights", b"stale")]
            )
        stored = await store.get("flt-1")
        assert stored is not None
        assert (stored.step_results, stored.current_step) == ({}, 0)
        assert await self.outbox_counts(db_dsn) == {}
        await other.record_step_result(fresh, 0, {"by": "fresh"}, [OutboxEvent("t", b"fresh")])
        assert await self.outbox_counts(db_dsn) == {"flt-1": 1}

    @staticmethod
    async def lost_claim(store: Flightdeck, other: Flightdeck) -> tuple[Claim, Claim]:
        """``flt-stale`` claimed by ``store``, its lease lapsed and taken by ``other``."""
        await store.enqueue(flight("stale"))
        (stale,) = await store.claim("pilot-1", 1, SHORT_LEASE)
        await asyncio.sleep(SHORT_LEASE + 0.2)
        (taken,) = await other.claim("pilot-2", 1, 30)
        return stale, taken

    async def test_complete_many_skips_lost_claims_atomically(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        stale, taken = await self.lost_claim(store, other)
        await store.enqueue_many([flight(i) for i in range(4)])
        good = await store.claim("pilot-1", 10, 30)
        assert len(good) == 4
        completions = [
            Completion(c, Outcome.SUCCEEDED, [OutboxEvent("t", c.flight_id.encode())]) for c in good
        ]
        completions[1] = Completion(good[1], Outcome.FAILED, [OutboxEvent("t", b"x")], "boom")
        completions.append(Completion(stale, Outcome.SUCCEEDED, [OutboxEvent("t", b"stale")]))
        lost = await store.complete_many(completions)
        assert lost == {"flt-stale"}
        counts = await self.outbox_counts(db_dsn)
        assert counts == {c.flight_id: 1 for c in good}
        failed = await store.get(good[1].flight_id)
        assert failed is not None and (failed.state, failed.error) == (FlightState.FAILED, "boom")
        still = await store.get("flt-stale")
        assert still is not None
        assert (still.state, still.fencing_token) == (FlightState.RUNNING, taken.fencing_token)

    async def test_record_many_answers_each_in_order_and_skips_lost_claims(
        self, store: Flightdeck, other: Flightdeck, db_dsn: str
    ) -> None:
        stale, taken = await self.lost_claim(store, other)
        await store.enqueue_many([flight(i) for i in range(3)])
        good = await store.claim("pilot-1", 10, 30)
        assert [c.flight_id for c in good] == ["flt-0", "flt-1", "flt-2"]
        answers = await store.record_many(
            [
                StepRecord(good[2], 0, {"n": 2}, [OutboxEvent("t", b"2")]),
                StepRecord(stale, 0, {"by": "stale"}, [OutboxEvent("t", b"stale")]),
                StepRecord(
                    good[0], 0, {"n": 0}, [OutboxEvent("t", b"0a"), OutboxEvent("t", b"0b")]
                ),
                StepRecord(good[0], 1, {"n": 0.1}),  # the same flight's next step, after it
                StepRecord(good[1], 0, {"n": 1}, attempt=1),
            ]
        )
        two, lost, zero, zero_next, one = answers
        assert lost is None
        assert two is not None and zero is not None and zero_next is not None and one is not None
        assert [a.flight_id for a in (two, zero, zero_next, one)] == [
            "flt-2",
            "flt-0",
            "flt-0",
            "flt-1",
        ]
        assert (two.flight.current_step, zero.flight.current_step) == (1, 1)
        assert (zero_next.flight.current_step, one.flight.current_step) == (2, 1)
        stored = await store.get("flt-0")
        assert stored is not None
        assert (stored.current_step, stored.step_results) == (2, {0: {"n": 0}, 1: {"n": 0.1}})
        assert await self.outbox_counts(db_dsn) == {"flt-0": 2, "flt-2": 1}
        untouched = await store.get("flt-stale")
        assert untouched is not None
        assert (untouched.step_results, untouched.fencing_token) == ({}, taken.fencing_token)
        assert await store.record_many([]) == []

    # -- wake-ups --------------------------------------------------------------------

    @pytest.mark.parametrize("write", ["enqueue", "admit"])
    async def test_wait_for_work_wakes_on_enqueue(
        self, store: Flightdeck, other: Flightdeck, write: str
    ) -> None:
        assert await store.wait_for_work(0.2) is False  # empty queue: times out
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiter = asyncio.create_task(store.wait_for_work(10))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        if write == "admit":
            await other.admit([flight(1)])
        else:
            await other.enqueue(flight(1))
        assert await asyncio.wait_for(waiter, 5) is True
        assert loop.time() - started < 2
        assert [c.flight_id for c in await store.claim("pilot-1", 1, 30)] == ["flt-1"]

    # -- migrations ------------------------------------------------------------------

    async def test_migrations_are_idempotent_and_safe_concurrently(self) -> None:
        async with self.fresh_database() as dsn:
            results = await asyncio.gather(*(self.migrate(dsn) for _ in range(4)))
            # exactly one process applied the migrations
            assert sorted(results) == [[], [], [], [1, 2, 3, 4, 5]]
            assert await self.migrate(dsn) == []
            ledger = await self.fetch(
                dsn, "SELECT version FROM flightdeck_migrations ORDER BY version"
            )
            assert [int(r["version"]) for r in ledger] == [1, 2, 3, 4, 5]
            fd = await self.open_store(dsn)  # opening migrates again: still a no-op
            try:
                assert await fd.enqueue(flight(1)) is True
            finally:
                await fd.close()
