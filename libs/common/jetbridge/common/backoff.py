"""Exponential backoff with full jitter (pure: the random source is passed in).

Full jitter (sleep uniformly in [0, min(cap, base * 2**attempt)]) spreads the retries
of many clients that failed together, e.g. every DP-Link stream after a network blip,
instead of having them reconnect in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.1
    cap: float = 10.0
    multiplier: float = 2.0

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the delay before retry number ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        exponent = min(attempt, 64)  # avoid float overflow; the cap wins long before
        return min(self.cap, self.base * self.multiplier**exponent)

    def delay(
        self, attempt: int, uniform: Callable[[float, float], float] = random.uniform
    ) -> float:
        return uniform(0.0, self.ceiling(attempt))
