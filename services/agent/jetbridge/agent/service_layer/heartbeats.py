"""The heartbeats of one Link stream: numbered, timed, carrying the current facts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts
from jetbridge.agent.service_layer.ports import FactsSource


@dataclass(frozen=True, slots=True)
class Beat:
    cluster_id: str
    seq: int
    sent_at_ms: int
    facts: ClusterFacts
    checks: Sequence[CheckResult]


class HeartbeatSource:
    """Produces the next heartbeat; ``seq`` is per stream so DP-Link can ack it."""

    def __init__(
        self,
        cluster_id: str,
        facts: FactsSource,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.cluster_id = cluster_id
        self._facts = facts
        self._clock_ms = clock_ms
        self._seq = 0

    async def next(self) -> Beat:
        self._seq += 1
        return Beat(
            cluster_id=self.cluster_id,
            seq=self._seq,
            sent_at_ms=self._clock_ms(),
            facts=await self._facts.facts(),
            checks=tuple(await self._facts.checks()),
        )
