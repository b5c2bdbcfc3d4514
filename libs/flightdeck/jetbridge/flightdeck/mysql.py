"""Flightdeck on MySQL 8 / MariaDB 10.6+ (asyncmy pool).

No UPDATE ... RETURNING and no LISTEN here, so: a claim is SELECT ... FOR UPDATE SKIP
LOCKED then UPDATE in one transaction; a claimer's write locks its rows, checks the
fencing token under the lock, then writes (with its outbox rows) before COMMIT; and
``wait_for_work`` polls. Sessions run READ COMMITTED (no gap locks between claimers)
and every time comes from the server's UTC clock.

InnoDB can still pick a transaction as a deadlock victim (error 1213) when claimers and
completers touch the same secondary-index entries (``state``, ``lease_expires_at``)
in different orders; it then rolls the WHOLE transaction back. Each public write here
is one transaction with no effect outside it, so :func:`_retried` simply runs it again
(the MySQL manual's advice); a lock wait timeout (1205) is treated the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

import asyncmy
from asyncmy.cursors import DictCursor
from asyncmy.errors import OperationalError

from . import codec
from .migrator import migrate_mysql
from .models import (
    Admitted,
    Claim,
    Cleared,
    Completion,
    Flight,
    FlightState,
    JSONValue,
    LeaseLost,
    NewFlight,
    OutboxEvent,
    Outcome,
    StepClearance,
    StepRecord,
    StoredOutboxEvent,
    next_attempts,
    one_per_flight,
)
from .queries import load_queries
from .single import ClearOneFromMany, CompleteOneFromMany, RecordOneFromMany

# Portable across MySQL 8 and MariaDB (tx_isolation / transaction_isolation differ).
# No time zone setting needed: DATETIME columns only ever hold UTC_TIMESTAMP values.
_INIT = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
_BATCH_ROWS = 500
_CLEARABLE = (FlightState.QUEUED.value, FlightState.RUNNING.value, FlightState.SUCCEEDED.value)


# ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT: the transaction was rolled back, run it again.
_RETRYABLE = frozenset({1213, 1205})
_RETRIES = 8
_log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")


def _retried(
    method: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Re-run a one-transaction method that InnoDB rolled back as a deadlock victim."""

    @functools.wraps(method)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        for attempt in range(_RETRIES):
            try:
                return await method(*args, **kwargs)
            except OperationalError as exc:
                if exc.args[0] not in _RETRYABLE or attempt == _RETRIES - 1:
                    raise
                _log.info("%s: rolled back (%s), running it again", method.__name__, exc)
            # Jittered so two victims of one deadlock do not collide again at once.
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    return run


def mysql_connect_kwargs(dsn: str) -> dict[str, Any]:
    """``mysql://user:pw@host:port/db`` to asyncmy keyword arguments."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb", "mysql+asyncmy"):
        raise ValueError(f"not a MySQL DSN: {parts.scheme}://...")
    kwargs: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
    }
    database = parts.path.lstrip("/")
    if database:
        kwargs["database"] = database
    return kwargs


class _AdmitRaced(Exception):
    """A row admit meant to insert was written by another transaction first."""


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


class MySQLFlightdeck(CompleteOneFromMany, ClearOneFromMany, RecordOneFromMany):
    """The ``Flightdeck`` port on MySQL/MariaDB; build it with :meth:`open`."""

    def __init__(self, pool: Any, poll_interval: float) -> None:
        self._pool = pool
        self._poll_interval = poll_interval
        self._q = load_queries("mysql")

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        migrate: bool = True,
        poll_interval: float = 0.05,
    ) -> MySQLFlightdeck:
        kwargs = mysql_connect_kwargs(dsn)
        if migrate:
            conn = await asyncmy.connect(**kwargs, autocommit=True, init_command=_INIT)
            try:
                await migrate_mysql(conn)
            finally:
                await conn.ensure_closed()
        pool = await asyncmy.create_pool(
            minsize=min_size, maxsize=max_size, autocommit=True, init_command=_INIT, **kwargs
        )
        return cls(pool, poll_interval)

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()

    @contextlib.asynccontextmanager
    async def _cursor(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as conn, conn.cursor(DictCursor) as cur:
            yield cur

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as conn, conn.cursor(DictCursor) as cur:
            await conn.begin()
            try:
                yield cur
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    # -- the agent's side ------------------------------------------------------------

    async def enqueue(self, flight: NewFlight) -> bool:
        return await self.enqueue_many([flight]) == 1

    async def enqueue_many(self, flights: Sequence[NewFlight]) -> int:
        async with self._cursor() as cur:
            return await self._insert(cur, flights)

    async def admit(self, flights: Sequence[NewFlight]) -> list[Admitted]:
        """Three round trips in one transaction (which ids exist, insert the others,
        read them all) whatever the batch's size. The insert's row count says whether
        it wrote every missing row; when a concurrent StartFlight wrote one first, it
        cannot say which, so the transaction is undone and each flight admitted alone."""
        if not flights:
            return []
        try:
            return await self._admit_together(flights)
        except _AdmitRaced:
            _log.info("admit: a concurrent StartFlight wrote one of %d flights", len(flights))
        admitted = []
        for f in flights:
            created = await self.enqueue(f)
            flight = await self.get(f.flight_id)
            if flight is None:  # pragma: no cover - deleted in between
                raise RuntimeError(f"flight {f.flight_id} vanished during admit")
            admitted.append(Admitted(flight, created))
        return admitted

    @_retried
    async def _admit_together(self, flights: Sequence[NewFlight]) -> list[Admitted]:
        first: dict[str, NewFlight] = {}  # an id asked twice is inserted as first asked
        for f in flights:
            first.setdefault(f.flight_id, f)
        ids = list(first)
        async with self._transaction() as cur:
            existing = {r["flight_id"] for r in await self._select(cur, "existing_ids", ids)}
            missing = [f for f in first.values() if f.flight_id not in existing]
            if await self._insert(cur, missing) != len(missing):
                raise _AdmitRaced  # rolls the transaction back
            rows = await self._select(cur, "get_many", ids)
        stored = {
            r["flight_id"]: (codec.flight_from_row(r), r["flight_id"] not in existing) for r in rows
        }
        return codec.admitted_in_order(flights, stored)

    async def _select(self, cur: Any, query: str, ids: Sequence[str]) -> list[Any]:
        rows: list[Any] = []
        for start in range(0, len(ids), _BATCH_ROWS):
            chunk = ids[start : start + _BATCH_ROWS]
            await cur.execute(self._q[query].replace("{ids}", _placeholders(len(chunk))), chunk)
            rows += await cur.fetchall()
        return rows

    async def _insert(self, cur: Any, flights: Sequence[NewFlight]) -> int:
        """Insert-if-absent; returns how many rows were new. In id order, so overlapping
        batches take their locks in one order and cannot deadlock (a stable sort: an id
        given twice is inserted as first given)."""
        flights = sorted(flights, key=lambda f: f.flight_id)
        inserted = 0
        for start in range(0, len(flights), _BATCH_ROWS):
            chunk = flights[start : start + _BATCH_ROWS]
            sql = self._q["enqueue"].replace(
                "{values}", ", ".join([self._q["enqueue_values"]] * len(chunk))
            )
            args: list[Any] = []
            for f in chunk:
                args += [
                    f.flight_id,
                    f.mission_id,
                    f.request_id,
                    f.deployment_id,
                    str(f.side),
                    f.mode,
                    codec.dumps(list(f.plan)),
                    f.fencing_epoch,
                    f.cleared_through,
                    f.traceparent,
                ]
            # ON DUPLICATE KEY no-op: affected rows = 1 per new row, 0 per duplicate.
            inserted += await cur.execute(sql, args)
        return inserted

    @_retried
    async def request_cancel(self, flight_id: str) -> Flight:
        async with self._cursor() as cur:
            await cur.execute(self._q["cancel_tombstone"], (flight_id,))
            await cur.execute(self._q["request_cancel"], (flight_id,))
            await cur.execute(self._q["get"], (flight_id,))
            row = await cur.fetchone()
        if not row:  # pragma: no cover - pruned in between
            raise RuntimeError(f"flight {flight_id} vanished during request_cancel")
        return codec.flight_from_row(row)

    async def get(self, flight_id: str) -> Flight | None:
        async with self._cursor() as cur:
            await cur.execute(self._q["get"], (flight_id,))
            row = await cur.fetchone()
        return codec.flight_from_row(row) if row else None

    async def get_many(self, flight_ids: Sequence[str]) -> list[Flight | None]:
        async with self._cursor() as cur:
            rows = await self._select(cur, "get_many", list(dict.fromkeys(flight_ids)))
        return codec.in_order(flight_ids, rows)

    # -- the claimer's side ----------------------------------------------------------

    @_retried
    async def claim(self, owner: str, limit: int, lease_seconds: float) -> list[Claim]:
        async with self._transaction() as cur:
            await cur.execute(self._q["claim_expired"], (limit,))
            rows = list(await cur.fetchall())
            if len(rows) < limit:
                await cur.execute(self._q["claim_queued"], (limit - len(rows),))
                rows += await cur.fetchall()
            if not rows:
                return []
            now: datetime = max(r["now"] for r in rows)
            expires = now + timedelta(seconds=lease_seconds)
            ids = [r["flight_id"] for r in rows]
            await cur.execute(
                self._q["mark_claimed"].replace("{ids}", _placeholders(len(ids))),
                [owner, expires, now, *ids],
            )
        claims = []
        for r in sorted(rows, key=lambda r: r["seq"]):
            flight = codec.flight_from_row(
                {
                    **r,
                    "state": FlightState.RUNNING.value,
                    "lease_owner": owner,
                    "lease_expires_at": expires,
                    "attempt": r["attempt"] + 1,
                    "fencing_token": r["fencing_token"] + 1,
                    "updated_at": now,
                }
            )
            claims.append(codec.claim_from_flight(flight))
        return claims

    async def _lock_valid(self, cur: Any, claims: Sequence[Claim]) -> dict[str, dict[str, Any]]:
        """Lock the claimed rows; return those whose claim still holds, by flight id."""
        ids = [c.flight_id for c in claims]
        await cur.execute(self._q["lock_claimed"].replace("{ids}", _placeholders(len(ids))), ids)
        rows = {r["flight_id"]: r for r in await cur.fetchall()}
        valid = {}
        for c in claims:
            row = rows.get(c.flight_id)
            if (
                row is not None
                and row["fencing_token"] == c.fencing_token
                and row["state"] == FlightState.RUNNING.value
                and row["live"]
            ):
                valid[c.flight_id] = row
        return valid

    @_retried
    async def renew(self, claim: Claim, lease_seconds: float) -> Claim:
        async with self._transaction() as cur:
            row = (await self._lock_valid(cur, [claim])).get(claim.flight_id)
            if row is None:
                raise LeaseLost(claim.flight_id, claim.fencing_token)
            expires = row["now"] + timedelta(seconds=lease_seconds)
            await cur.execute(self._q["renew"], (expires, row["now"], claim.flight_id))
        return codec.refreshed_claim(claim, {**row, "lease_expires_at": expires})

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        """One transaction per round of distinct flights (``one_per_flight``)."""
        answers: list[Claim | None] = [None] * len(records)
        for positions in one_per_flight([r.claim.flight_id for r in records]):
            recorded = await self._record_round([records[p] for p in positions])
            for p, claim in zip(positions, recorded, strict=True):
                answers[p] = claim
        return answers

    @_retried
    async def _record_round(self, batch: Sequence[StepRecord]) -> list[Claim | None]:
        answers: list[Claim | None] = []
        events: list[tuple[str, OutboxEvent]] = []
        async with self._transaction() as cur:
            rows = await self._lock_valid(cur, [r.claim for r in batch])
            for record in batch:
                flight_id, step = record.claim.flight_id, record.step_index
                row = rows.get(flight_id)
                if row is None:
                    answers.append(None)
                    continue
                results = json.loads(row["step_results"])
                results[str(step)] = dict(record.result)
                attempts = codec.loads(row["step_attempts"]) or {}
                attempt = record.attempt
                newer = attempt is not None and int(attempts.get(str(step), 0)) > attempt
                current = row["current_step"]
                if current == step and not newer:
                    current = step + 1  # else: re-cleared or rewound meanwhile
                await cur.execute(
                    self._q["store_step_result"], (codec.dumps(results), current, flight_id)
                )
                events += [(flight_id, e) for e in record.outbox_events]
                stored = {**row, "current_step": current}
                answers.append(codec.refreshed_claim(record.claim, stored))
            await self._insert_events(cur, events)
        return answers

    @_retried
    async def report(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent],
        *,
        step: int | None = None,
        note: Mapping[str, JSONValue] | None = None,
    ) -> Claim:
        async with self._transaction() as cur:
            row = (await self._lock_valid(cur, [claim])).get(claim.flight_id)
            if row is None:
                raise LeaseLost(claim.flight_id, claim.fencing_token)
            if step is not None and note is not None:
                results = json.loads(row["step_results"])
                results[str(step)] = dict(note)
                await cur.execute(
                    self._q["store_step_result"],
                    (codec.dumps(results), row["current_step"], claim.flight_id),
                )
            await self._insert_events(cur, [(claim.flight_id, e) for e in outbox_events])
        return codec.refreshed_claim(claim, row)

    @_retried
    async def release(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent] = (),
        *,
        failed_step: int | None = None,
        result: Mapping[str, JSONValue] | None = None,
        attempt: int | None = None,
    ) -> None:
        async with self._transaction() as cur:
            row = (await self._lock_valid(cur, [claim])).get(claim.flight_id)
            if row is None:
                raise LeaseLost(claim.flight_id, claim.fencing_token)
            results = json.loads(row["step_results"])
            cleared = row["cleared_through"]
            if failed_step is not None:
                results[str(failed_step)] = dict(result or {})
                attempts = codec.loads(row["step_attempts"]) or {}
                newer = attempt is not None and int(attempts.get(str(failed_step), 0)) > attempt
                if not newer:  # else a retry was cleared while it ran: that one runs
                    # Never wider: a clearance that rewound the flight keeps its end.
                    revoked = failed_step - 1
                    cleared = revoked if cleared is None else min(cleared, revoked)
            # Cancelled while it ran: finished here, not parked where nothing claims it.
            state = FlightState.CANCELLED if row["cancel_requested"] else FlightState.QUEUED
            await cur.execute(
                self._q["release"],
                (state.value, state.value, codec.dumps(results), cleared, claim.flight_id),
            )
            await self._insert_events(cur, [(claim.flight_id, e) for e in outbox_events])

    async def clear_many(self, clearances: Sequence[StepClearance]) -> list[Cleared | None]:
        """One transaction per round of distinct flights (``one_per_flight``), its rows
        locked in flight-id order. MySQL has no statement that updates many rows with
        values of their own and returns them: the statements stay four per clearance,
        the commits become one per round. A deadlock victim re-runs its own round only
        (``_clear_round`` is retried): rounds already committed are not cleared again."""
        for clearance in clearances:
            clearance.check()
        answers: list[Cleared | None] = [None] * len(clearances)
        for positions in one_per_flight([c.flight_id for c in clearances]):
            cleared = await self._clear_round([clearances[p] for p in positions])
            for p in positions:
                answers[p] = cleared.get(clearances[p].flight_id)
        return answers

    @_retried
    async def _clear_round(self, batch: Sequence[StepClearance]) -> dict[str, Cleared]:
        """Each flight of ``batch`` (named once) cleared; a missing one is left out."""
        answers: dict[str, Cleared] = {}
        async with self._transaction() as cur:
            for c in sorted(batch, key=lambda c: c.flight_id):
                await cur.execute(self._q["lock_flight"], (c.flight_id,))
                row = await cur.fetchone()
                if row is None:
                    continue
                answers[c.flight_id] = await self._clear_locked(cur, row, c)
        return answers

    async def _clear_locked(self, cur: Any, row: dict[str, Any], c: StepClearance) -> Cleared:
        if row["state"] not in _CLEARABLE or (
            row["state"] == "SUCCEEDED" and row["cancel_requested"]
        ):
            # (finished, then cancelled: a late clearance does not reopen it)
            return Cleared(codec.flight_from_row(row), applied=False)
        naive = c.not_before.astimezone(UTC).replace(tzinfo=None) if c.not_before else None
        inserted = await cur.execute(
            self._q["insert_clearance"],
            (c.flight_id, c.clearance_id, c.first_step, c.last_step, naive),
        )
        if not inserted:
            return Cleared(codec.flight_from_row(row), applied=False)
        stored = codec.loads(row["step_attempts"]) or {}
        numbered = next_attempts(stored, c.first_step, c.last_step, c.attempts)
        await cur.execute(
            self._q["apply_clearance"],
            (c.first_step, c.last_step, naive, codec.dumps(numbered), c.flight_id),
        )
        await cur.execute(self._q["get"], (c.flight_id,))
        return Cleared(codec.flight_from_row(await cur.fetchone()), applied=True)

    @_retried
    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        if not completions:
            return set()
        async with self._transaction() as cur:
            valid = await self._lock_valid(cur, [c.claim for c in completions])
            for c in completions:  # SUCCEEDED only with no cleared step left to run
                row = valid.get(c.claim.flight_id)  # (postgresql.sql, complete_many)
                if (
                    row is not None
                    and c.outcome is Outcome.SUCCEEDED
                    and row["cleared_through"] is not None
                    and row["current_step"] <= row["cleared_through"]
                ):
                    del valid[c.claim.flight_id]
            groups: dict[tuple[str, str | None], list[str]] = {}
            for c in completions:
                if c.claim.flight_id in valid:
                    groups.setdefault((str(c.outcome), c.error), []).append(c.claim.flight_id)
            for (outcome, error), ids in groups.items():
                await cur.execute(
                    self._q["finish"].replace("{ids}", _placeholders(len(ids))),
                    [outcome, error, *ids],
                )
            await self._insert_events(
                cur,
                [
                    (c.claim.flight_id, e)
                    for c in completions
                    if c.claim.flight_id in valid
                    for e in c.outbox_events
                ],
            )
        return {c.claim.flight_id for c in completions} - valid.keys()

    async def _insert_events(self, cur: Any, events: Sequence[tuple[str, OutboxEvent]]) -> None:
        for start in range(0, len(events), _BATCH_ROWS):
            chunk = events[start : start + _BATCH_ROWS]
            sql = self._q["insert_outbox"].replace(
                "{values}", ", ".join([self._q["insert_outbox_values"]] * len(chunk))
            )
            args: list[Any] = []
            for flight_id, e in chunk:
                args += [
                    str(e.event_id),
                    flight_id,
                    e.topic,
                    e.key,
                    e.payload,
                    codec.encode_headers(e.headers),
                ]
            await cur.execute(sql, args)

    # -- wake-ups --------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - port contract
        """Poll every ``poll_interval`` until work exists (True) or ``timeout`` (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self._cursor() as cur:
                await cur.execute(self._q["has_work"])
                if (await cur.fetchone())["has_work"]:
                    return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self._poll_interval, remaining))

    # -- the outbox relay's side -----------------------------------------------------

    async def outbox_pending(self, limit: int) -> list[StoredOutboxEvent]:
        async with self._cursor() as cur:
            await cur.execute(self._q["outbox_pending"], (limit,))
            rows = await cur.fetchall()
        return [codec.outbox_from_row(r) for r in rows]

    @_retried
    async def mark_published(self, event_ids: Sequence[object]) -> None:
        if not event_ids:
            return
        ids = [str(uuid.UUID(str(e))) for e in event_ids]
        async with self._cursor() as cur:
            await cur.execute(
                self._q["mark_published"].replace("{ids}", _placeholders(len(ids))), ids
            )

    @_retried
    async def prune_published(self, keep_published_s: float, limit: int) -> int:
        async with self._cursor() as cur:
            await cur.execute(
                self._q["prune_published"], (round(keep_published_s * 1_000_000), limit)
            )
            return int(cur.rowcount)

    async def prune_finished(self, keep_finished_s: float, limit: int) -> int:
        async with self._cursor() as cur:
            await cur.execute(
                self._q["prune_finished"], (round(keep_finished_s * 1_000_000), limit)
            )
            return int(cur.rowcount)
