"""The step results and completions of the flights a Pilot runs side by side, written
together.

A Pilot runs up to ``max_flights`` flights at once, and most steps take milliseconds.
Each result and completion was its own Flightdeck transaction; here the ones that land
in one turn of the event loop go in one ``record_many`` or ``complete_many``
(``jetbridge.common.coalesce``). Each keeps its meaning: it is written only under its
own claim, and a lost claim raises ``LeaseLost`` for that flight alone. A store error
reaches every flight of the batch, as it would have reached each one's own call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from jetbridge.common.coalesce import Coalescer
from jetbridge.flightdeck import Claim, Completion, Flightdeck, StepRecord
from jetbridge.flightdeck.single import CompleteOneFromMany, RecordOneFromMany

# (operation, items in one batch call): the composition root feeds a histogram with it.
BatchObserver = Callable[[str, int], None]


class SharedWrites(RecordOneFromMany, CompleteOneFromMany):
    """``record_step_result`` and ``complete`` (from ``jetbridge.flightdeck.single``)
    each wait for the end of the loop's turn and go with the turn's others."""

    def __init__(self, deck: Flightdeck, observe: BatchObserver | None = None) -> None:
        self._deck = deck
        seen = observe or (lambda _operation, _items: None)
        self._records: Coalescer[StepRecord, Claim | None] = Coalescer(
            deck.record_many, lambda n: seen("record_many", n)
        )
        self._completions: Coalescer[Completion, bool] = Coalescer(
            self._lost_of, lambda n: seen("complete_many", n)
        )

    async def record_many(self, records: Sequence[StepRecord]) -> list[Claim | None]:
        return list(await asyncio.gather(*map(self._records.submit, records)))

    async def complete_many(self, completions: Sequence[Completion]) -> set[str]:
        lost = await asyncio.gather(*map(self._completions.submit, completions))
        return {c.claim.flight_id for c, gone in zip(completions, lost, strict=True) if gone}

    async def _lost_of(self, completions: Sequence[Completion]) -> list[bool]:
        """Per completion, in order: was its claim lost (nothing written for it)?"""
        lost = await self._deck.complete_many(completions)
        return [c.claim.flight_id in lost for c in completions]
