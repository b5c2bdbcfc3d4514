"""What every Flightdeck adapter derives from its batch operations, written once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from .models import (
    Claim,
    Cleared,
    Completion,
    JSONValue,
    LeaseLost,
    OutboxEvent,
    Outcome,
    StepClearance,
    StepRecord,
)


class CompleteOneFromMany:
    """``complete`` is ``complete_many`` of one completion that raises on a lost lease."""

    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        raise NotImplementedError

    async def complete(
        self,
        claim: Claim,
        outcome: Outcome,
        outbox_events: Sequence[OutboxEvent] = (),
        error: str | None = None,
    ) -> None:
        lost = await self.complete_many([Completion(claim, outcome, outbox_events, error)])
        if lost:
            raise LeaseLost(claim.flight_id, claim.fencing_token)


class ClearOneFromMany:
    """``clear_steps`` is ``clear_many`` of one clearance."""

    async def clear_many(self, clearances: Sequence[StepClearance]) -> list[Cleared | None]:
        raise NotImplementedError

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
        clearance = StepClearance(
            flight_id, clearance_id, first_step, last_step, not_before, tuple(attempts)
        )
        (cleared,) = await self.clear_many([clearance])
        return cleared


class RecordOneFromMany:
    """``record_step_result`` is ``record_many`` of one record that raises on a lost
    lease."""

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        raise NotImplementedError

    async def record_step_result(
        self,
        claim: Claim,
        step_index: int,
        result: Mapping[str, JSONValue],
        outbox_events: Sequence[OutboxEvent] = (),
        *,
        attempt: int | None = None,
    ) -> Claim:
        (recorded,) = await self.record_many(
            [StepRecord(claim, step_index, result, outbox_events, attempt)]
        )
        if recorded is None:
            raise LeaseLost(claim.flight_id, claim.fencing_token)
        return recorded
