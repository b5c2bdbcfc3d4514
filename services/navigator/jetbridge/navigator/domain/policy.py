"""Operator-tunable knobs of a failover: drain timeout, retries, blast radius.

They are chosen when the request is made and recorded in FailoverRequested, so a
replay decides exactly as the live run did even if defaults change later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MS = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried with capped exponential backoff."""

    max_attempts: int = 5
    backoff_base_seconds: int = 2
    backoff_max_seconds: int = 60
    # How long a cleared step may wait to be started by the data plane.
    claim_timeout_seconds: int = 120

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("backoff must be >= 0")

    def may_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def delay_ms(self, attempts_made: int) -> int:
        """Wait before attempt ``attempts_made + 1``: base * 2^(n-1), capped."""
        exponent = max(attempts_made - 1, 0)
        delay = min(self.backoff_base_seconds * (1 << exponent), self.backoff_max_seconds)
        return delay * MS


@dataclass(frozen=True)
class BlastRadius:
    """``max_concurrent_missions`` 0 means no limit; ``halt_failure_ratio`` 1.0 never halts
    before every mission has been tried (the same conventions as the Avro schema)."""

    max_concurrent_missions: int = 0
    halt_failure_ratio: float = 1.0

    def __post_init__(self) -> None:
        if self.max_concurrent_missions < 0:
            raise ValueError("max_concurrent_missions must be >= 0")
        if not 0.0 < self.halt_failure_ratio <= 1.0:
            raise ValueError("halt_failure_ratio must be in (0, 1]")

    def free_slots(self, running: int) -> int | None:
        """How many more missions may start now; None means unlimited."""
        if self.max_concurrent_missions == 0:
            return None
        return max(self.max_concurrent_missions - running, 0)

    def should_halt(self, failed: int, total: int) -> bool:
        """Halt once the failed share of *all* missions reaches the ratio."""
        if total == 0 or failed == 0:
            return False
        return failed / total >= self.halt_failure_ratio


@dataclass(frozen=True)
class FailoverPolicy:
    drain_timeout_seconds: int = 600
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
