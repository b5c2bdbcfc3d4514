"""What every Flightdeck adapter derives from its batch operations, written once."""

from __future__ import annotations

from collections.abc import Sequence

from .models import Claim, Completion, LeaseLost, OutboxEvent, Outcome


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
