"""Waiting out a broker or database that is away at start (pure: no I/O, no sleeping)."""

from __future__ import annotations

import pytest

from jetbridge.common.backoff import Backoff
from jetbridge.common.reachable import kafka_away, until_reachable


class Flaky:
    """Fails with each of ``errors`` in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


async def test_away_errors_are_waited_out_within_the_backoff() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    attempt = Flaky(ConnectionRefusedError(111, "refused"), TimeoutError(), OSError("reset"))
    backoff = Backoff(base=0.5, cap=2.0)
    failures = await until_reachable(attempt, "Kafka", kafka_away, backoff=backoff, sleep=sleep)
    assert (failures, attempt.calls, len(slept)) == (3, 4, 3)
    assert all(0 <= s <= backoff.ceiling(i) for i, s in enumerate(slept))


async def test_any_other_error_ends_the_wait_at_once() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    attempt = Flaky(OSError("refused"), PermissionError("not this user"))
    with pytest.raises(PermissionError, match="not this user"):
        await until_reachable(attempt, "PostgreSQL", lambda e: type(e) is OSError, sleep=sleep)
    assert (attempt.calls, len(slept)) == (2, 1)
