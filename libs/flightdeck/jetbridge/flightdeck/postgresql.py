"""Flightdeck on PostgreSQL (asyncpg pools: one for everything, one for claims).

Every operation is ONE statement (data-modifying CTEs), hence one round trip and its
own transaction: a claim of N flights, a step result with its events, a batch of N
completions with their events. ``wait_for_work`` LISTENs on a dedicated connection;
``enqueue`` NOTIFYs in the inserting statement.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from jetbridge.common.sql.pools import keep_session

from . import codec
from .migrator import migrate_postgresql
from .models import (
    Admitted,
    Claim,
    Cleared,
    Completion,
    Flight,
    JSONValue,
    LeaseLost,
    NewFlight,
    OutboxEvent,
    StepClearance,
    StepRecord,
    StoredOutboxEvent,
    one_per_flight,
)
from .queries import load_queries
from .single import ClearOneFromMany, CompleteOneFromMany, RecordOneFromMany

CHANNEL = "flightdeck_dp_flights"


# A prepared statement gets a generic plan after five runs, planned with the table's
# statistics of that moment, and keeps it until autovacuum next analyzes the table
# (after 50 rows plus a tenth of the table changed, at its next visit of the database).
# Planned while dp_flights was small (a fresh install's first failover), the claim's
# generic plan read the WHOLE table on every call (a sequential scan and a hash join to
# the picked rows: 2-4 ms a claim with 1,000 flights, for as long as the plan lasted),
# where a plan for the table as it is probes the primary key. So claims are planned on
# every call (about 0.2 ms: bench/flightdeck/plan_times.py), on up to two connections of
# their own; the other statements keep their generic plans, whose lookups stay bounded
# by the running flights (docs/benchmarks.md, "2026-12-06, 15:20 UTC: the claim's plan").
_CLAIM_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=codec.dumps, decoder=codec.loads, schema="pg_catalog", format="text"
    )


class PostgresFlightdeck(CompleteOneFromMany, ClearOneFromMany, RecordOneFromMany):
    """The ``Flightdeck`` port on PostgreSQL; build it with :meth:`open`."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, claims: asyncpg.Pool | None = None) -> None:
        self._pool = pool
        # Claims run on connections of their own that plan each claim for the table as
        # it is now (``_CLAIM_SETTINGS``); without one given, on the main pool.
        self._claims = claims if claims is not None else pool
        self._dsn = dsn
        self._q = load_queries("postgresql")
        self._listener: asyncpg.Connection | None = None
        self._woken = asyncio.Event()

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 4, migrate: bool = True
    ) -> PostgresFlightdeck:
        if migrate:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate_postgresql(conn)
            finally:
                await conn.close()

        def new_pool(size: tuple[int, int], settings: dict[str, str] | None = None) -> asyncpg.Pool:
            return asyncpg.create_pool(
                dsn,
                min_size=size[0],
                max_size=size[1],
                init=_init_connection,
                reset=keep_session,
                server_settings=settings,
            )

        pool = await new_pool((min_size, max_size))
        # The agent's Flightdeck never claims: it never opens a connection of this one.
        claims = await new_pool((0, 2), _CLAIM_SETTINGS)
        return cls(pool, dsn, claims)

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        try:
            if self._claims is not self._pool:
                await self._claims.close()
        finally:
            await self._pool.close()

    # -- the agent's side ------------------------------------------------------------

    async def enqueue(self, flight: NewFlight) -> bool:
        return await self.enqueue_many([flight]) == 1

    async def enqueue_many(self, flights: Sequence[NewFlight]) -> int:
        return sum(admitted.created for admitted in await self.admit(flights))

    async def admit(self, flights: Sequence[NewFlight]) -> list[Admitted]:
        if not flights:
            return []
        rows = await self._pool.fetch(
            self._q["admit"],
            [f.flight_id for f in flights],
            [f.mission_id for f in flights],
            [f.request_id for f in flights],
            [f.deployment_id for f in flights],
            [str(f.side) for f in flights],
            [f.mode for f in flights],
            [codec.dumps(list(f.plan)) for f in flights],
            [f.fencing_epoch for f in flights],
            [f.cleared_through for f in flights],
            [f.traceparent for f in flights],
        )
        stored = {r["flight_id"]: (codec.flight_from_row(r), bool(r["created"])) for r in rows}
        for flight_id in {f.flight_id for f in flights} - stored.keys():
            # Inserted by a concurrent transaction after this statement's snapshot.
            if (found := await self.get(flight_id)) is None:  # pragma: no cover - deleted
                raise RuntimeError(f"flight {flight_id} vanished during admit")
            stored[flight_id] = (found, False)
        return codec.admitted_in_order(flights, stored)

    async def request_cancel(self, flight_id: str) -> Flight:
        for _ in range(2):  # again once: a concurrent admit committed after the snapshot
            row = await self._pool.fetchrow(self._q["request_cancel"], flight_id)
            if row is not None:
                return codec.flight_from_row(row)
        raise RuntimeError(f"flight {flight_id} vanished during request_cancel")

    async def get(self, flight_id: str) -> Flight | None:
        row = await self._pool.fetchrow(self._q["get"], flight_id)
        return codec.flight_from_row(row) if row is not None else None

    async def get_many(self, flight_ids: Sequence[str]) -> list[Flight | None]:
        rows = await self._pool.fetch(self._q["get_many"], list(flight_ids)) if flight_ids else []
        return codec.in_order(flight_ids, rows)

    # -- the claimer's side ----------------------------------------------------------

    async def claim(self, owner: str, limit: int, lease_seconds: float) -> list[Claim]:
        rows = await self._claims.fetch(self._q["claim"], owner, limit, float(lease_seconds))
        rows = sorted(rows, key=lambda r: r["seq"])
        return [codec.claim_from_flight(codec.flight_from_row(r)) for r in rows]

    async def renew(self, claim: Claim, lease_seconds: float) -> Claim:
        row = await self._pool.fetchrow(
            self._q["renew"], claim.flight_id, claim.fencing_token, float(lease_seconds)
        )
        if row is None:
            raise LeaseLost(claim.flight_id, claim.fencing_token)
        return codec.refreshed_claim(claim, row)

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        answers: list[Claim | None] = [None] * len(records)
        for positions in one_per_flight([r.claim.flight_id for r in records]):
            # Rows locked in flight-id order (code points: COLLATE "C" in the SQL), as
            # complete_many and clear_many lock them.
            batch = sorted((records[p] for p in positions), key=lambda r: r.claim.flight_id)
            events = [(r.claim.flight_id, e) for r in batch for e in r.outbox_events]
            ids, flight_ids, topics, keys, payloads, headers = codec.event_columns(events)
            rows = await self._pool.fetch(
                self._q["record_many"],
                [r.claim.flight_id for r in batch],
                [r.claim.fencing_token for r in batch],
                [r.step_index for r in batch],
                [codec.dumps(dict(r.result)) for r in batch],
                [r.attempt for r in batch],
                ids,
                flight_ids,
                topics,
                keys,
                payloads,
                headers,
            )
            found = {r["flight_id"]: r for r in rows}
            for p in positions:
                row = found.get(records[p].claim.flight_id)
                answers[p] = None if row is None else codec.refreshed_claim(records[p].claim, row)
        return answers

    async def report(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent],
        *,
        step: int | None = None,
        note: Mapping[str, JSONValue] | None = None,
    ) -> Claim:
        ids, _, topics, keys, payloads, headers = codec.event_columns(
            [(claim.flight_id, e) for e in outbox_events]
        )
        noted = codec.dumps(dict(note)) if step is not None and note is not None else None
        row = await self._pool.fetchrow(
            self._q["report"],
            claim.flight_id,
            claim.fencing_token,
            ids,
            topics,
            keys,
            payloads,
            headers,
            step if noted is not None else None,
            noted,
        )
        if row is None:
            raise LeaseLost(claim.flight_id, claim.fencing_token)
        return codec.refreshed_claim(claim, row)

    async def release(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent] = (),
        *,
        failed_step: int | None = None,
        result: Mapping[str, JSONValue] | None = None,
        attempt: int | None = None,
    ) -> None:
        ids, _, topics, keys, payloads, headers = codec.event_columns(
            [(claim.flight_id, e) for e in outbox_events]
        )
        row = await self._pool.fetchrow(
            self._q["release"],
            claim.flight_id,
            claim.fencing_token,
            failed_step,
            codec.dumps(dict(result or {})) if failed_step is not None else None,
            ids,
            topics,
            keys,
            payloads,
            headers,
            attempt,
        )
        if row is None:
            raise LeaseLost(claim.flight_id, claim.fencing_token)

    async def clear_many(self, clearances: Sequence[StepClearance]) -> list[Cleared | None]:
        for clearance in clearances:
            clearance.check()
        answers: list[Cleared | None] = [None] * len(clearances)
        for positions in one_per_flight([c.flight_id for c in clearances]):
            batch = [clearances[p] for p in positions]
            rows = await self._pool.fetch(
                self._q["clear_many"],
                [c.flight_id for c in batch],
                [c.clearance_id for c in batch],
                [c.first_step for c in batch],
                [c.last_step for c in batch],
                [c.not_before for c in batch],
                [codec.dumps(list(c.attempts)) for c in batch],
            )
            found = {
                r["flight_id"]: Cleared(codec.flight_from_row(r), applied=bool(r["applied"]))
                for r in rows
            }
            for p in positions:
                answers[p] = found.get(clearances[p].flight_id)
        return answers

    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()
        # Rows locked in flight-id order, as clear_many locks them: no deadlock between
        # a Pilot's completions and the agent's clearances of the same flights.
        completions = sorted(completions, key=lambda c: c.claim.flight_id)
        events = [(c.claim.flight_id, e) for c in completions for e in c.outbox_events]
        rows = await self._pool.fetch(
            self._q["complete_many"],
            [c.claim.flight_id for c in completions],
            [c.claim.fencing_token for c in completions],
            [str(c.outcome) for c in completions],
            [c.error for c in completions],
            *codec.event_columns(events),
        )
        done = {r["flight_id"] for r in rows}
        return {c.claim.flight_id for c in completions} - done

    # -- wake-ups --------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - port contract
        """Sleep until an enqueue NOTIFYs (True) or ``timeout`` passes (False).

        A notification that arrived since the last wake-up returns at once, so a
        claimer that found nothing and then waits never misses an enqueue made in
        between. Expired leases do not notify: the caller's timeout bounds reclaim.
        """
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(self._dsn)
            await self._listener.add_listener(CHANNEL, self._on_notify)
            # Anything enqueued before LISTEN took effect would be missed: look once.
            if await self._listener.fetchval(self._q["has_work"]):
                return True
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            return False
        self._woken.clear()
        return True

    def _on_notify(self, *_args: Any) -> None:
        self._woken.set()

    # -- the outbox relay's side -----------------------------------------------------

    async def outbox_pending(self, limit: int) -> list[StoredOutboxEvent]:
        rows = await self._pool.fetch(self._q["outbox_pending"], limit)
        return [codec.outbox_from_row(r) for r in rows]

    async def mark_published(self, event_ids: Sequence[object]) -> None:
        await self._pool.execute(self._q["mark_published"], list(event_ids))

    async def prune_published(self, keep_published_s: float, limit: int) -> int:
        status = await self._pool.execute(self._q["prune_published"], keep_published_s, limit)
        return int(status.split()[-1])  # "DELETE n"

    async def prune_finished(self, keep_finished_s: float, limit: int) -> int:
        status = await self._pool.execute(self._q["prune_finished"], keep_finished_s, limit)
        return int(status.split()[-1])  # "DELETE n"
