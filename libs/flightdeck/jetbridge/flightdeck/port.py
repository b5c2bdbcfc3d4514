"""The Flightdeck port: what the agent and the Pilot may ask of the claim store.

Two adapters implement it (PostgreSQL, MySQL/MariaDB); one contract test suite holds
them to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from .models import (
    Admitted,
    Claim,
    Cleared,
    Completion,
    Flight,
    JSONValue,
    NewFlight,
    OutboxEvent,
    Outcome,
    StepClearance,
    StepRecord,
    StoredOutboxEvent,
)


@runtime_checkable
class Flightdeck(Protocol):
    async def enqueue(self, flight: NewFlight) -> bool:
        """Insert the flight unless its id exists; True when it was new.

        Idempotent by ``flight_id`` so a retried StartFlight is harmless.
        """
        ...

    async def enqueue_many(self, flights: Sequence[NewFlight]) -> int:
        """Batch ``enqueue``; returns how many were new."""
        ...

    async def admit(self, flights: Sequence[NewFlight]) -> list[Admitted]:
        """``enqueue_many`` that also returns each flight as stored, in the given order,
        marked ``created`` when this call inserted it (a repeated id: only its first
        occurrence can be). The agent's StartFlight in one round trip where it can: it
        needs the stored row to tell a retry from a conflicting flight."""
        ...

    async def claim(self, owner: str, limit: int, lease_seconds: float) -> list[Claim]:
        """Claim up to ``limit`` flights: expired leases first (reclaim), then QUEUED
        flights in enqueue order. Each claim bumps ``attempt`` and ``fencing_token``."""
        ...

    async def renew(self, claim: Claim, lease_seconds: float) -> Claim:
        """Extend the lease from now; raises ``LeaseLost``. The returned claim carries
        the current ``cancel_requested`` flag."""
        ...

    async def record_step_result(
        self,
        claim: Claim,
        step_index: int,
        result: Mapping[str, JSONValue],
        outbox_events: Sequence[OutboxEvent] = (),
        *,
        attempt: int | None = None,
    ) -> Claim:
        """Store a step's result, advance ``current_step`` and insert the events that
        report it, all in one transaction and only if the claim still holds (else
        ``LeaseLost`` and nothing is written).

        With ``attempt``, the step is not counted done when a newer clearance of it (a
        higher attempt) or a rewind arrived meanwhile: the claimer then runs it again.
        The returned claim carries the stored clearance and cancel flag."""
        ...

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        """``record_step_result`` of each, answered in order: the refreshed claim, or
        None where the claim no longer held (nothing was written for that record). In
        as few statements as the dialect allows (a Pilot's flights that finish a step
        together). A flight named twice is recorded in the order given."""
        ...

    async def report(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent],
        *,
        step: int | None = None,
        note: Mapping[str, JSONValue] | None = None,
    ) -> Claim:
        """Insert events (a step started), only while the claim holds (else
        ``LeaseLost``); returns the claim with the stored clearance and cancel flag.
        With ``step`` and ``note``, store ``note`` as that step's result while it runs:
        what a re-run after a lost claim must know (when the step first started)."""
        ...

    async def release(
        self,
        claim: Claim,
        outbox_events: Sequence[OutboxEvent] = (),
        *,
        failed_step: int | None = None,
        result: Mapping[str, JSONValue] | None = None,
        attempt: int | None = None,
    ) -> None:
        """Hand the flight back to the queue (QUEUED, lease dropped) with its events.

        With ``failed_step``: store that step's ``result`` and revoke the clearance from
        that step on (never widening it: a clearance that rewound the flight while the
        step ran keeps its end). Claimable again once a step past ``current_step`` is
        cleared. ``attempt``: the failed attempt; if a newer attempt of the step was
        cleared while it ran (the Navigator retried it meanwhile), the clearance stands
        and the newer attempt runs next, as ``record_step_result`` keeps it too.
        A flight whose cancellation was requested while it ran ends CANCELLED instead
        (parked, nothing would claim it). Raises ``LeaseLost``."""
        ...

    async def clear_steps(
        self,
        flight_id: str,
        clearance_id: str,
        first_step: int,
        last_step: int,
        not_before: datetime | None = None,
        *,
        attempts: Sequence[int] = (),
    ) -> Cleared | None:
        """Allow steps ``first_step..last_step`` (indexes, inclusive) to run, not before
        ``not_before``. Idempotent by ``clearance_id``.

        ``attempts`` numbers each step's attempt as Navigator counts them, and outcomes
        are reported with those numbers: a clearance that never arrived (its dispatch
        failed) must not shift the count. Without them each step gets one more attempt
        than Flightdeck recorded (clearances of older Navigators).

        Rewinds ``current_step`` to ``first_step`` if needed, reopens a SUCCEEDED flight
        unless a cancellation flagged it since; a FAILED or CANCELLED one is left alone
        (``applied`` False). None: unknown id."""
        ...

    async def clear_many(self, clearances: Sequence[StepClearance]) -> list[Cleared | None]:
        """``clear_steps`` of each, answered in order, in as few statements as the
        dialect allows (the agent's ClearSteps that arrive together). A flight named
        twice is cleared in the order given, the second seeing the first. Raises
        ``ValueError`` before writing anything if any clearance is malformed."""
        ...

    async def complete(
        self,
        claim: Claim,
        outcome: Outcome,
        outbox_events: Sequence[OutboxEvent] = (),
        error: str | None = None,
    ) -> None:
        """Finish the flight (and insert its events) atomically; raises ``LeaseLost``,
        also for SUCCEEDED while a cleared step is left to run (a retry cleared after
        the last step's result): that step must run, under the next claim."""
        ...

    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        """Batch ``complete`` in one transaction; returns the ids whose lease was lost
        (nothing was written for those)."""
        ...

    async def request_cancel(self, flight_id: str) -> Flight:
        """Cancel a QUEUED flight at once; flag a RUNNING one for its claimer, and a
        SUCCEEDED one, which a late clearance then does not reopen. Returns
        the flight afterwards. An unknown flight is stored CANCELLED with no plan (a
        tombstone, ``Flight.never_started``): a StartFlight that arrives after its
        cancellation, from a Dispatcher replica that stalled past its turn, then finds it
        ended instead of creating a flight that would run. Pruned with finished flights."""
        ...

    async def get(self, flight_id: str) -> Flight | None: ...

    async def get_many(self, flight_ids: Sequence[str]) -> list[Flight | None]:
        """``get`` of each id, in order, in one round trip."""
        ...

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - a plain bound
        """Block until work may be available or ``timeout`` passes; True when woken."""
        ...

    async def outbox_pending(self, limit: int) -> list[StoredOutboxEvent]:
        """Unpublished outbox events in insertion order (for the relay)."""
        ...

    async def mark_published(self, event_ids: Sequence[object]) -> None: ...

    async def prune_published(self, keep_published_s: float, limit: int) -> int:
        """Delete at most ``limit`` outbox rows published more than ``keep_published_s``
        ago, never one not yet published; returns how many went."""
        ...

    async def prune_finished(self, keep_finished_s: float, limit: int) -> int:
        """Delete at most ``limit`` flights that finished (SUCCEEDED, FAILED, CANCELLED)
        more than ``keep_finished_s`` ago, oldest first, with their clearances; returns
        how many went. A flight row is StartFlight's dedupe record: once it is gone, a
        StartFlight or ClearSteps for that id is a new flight, so the retention must
        outlast any redelivery of a finished Mission's decisions."""
        ...

    async def close(self) -> None: ...
