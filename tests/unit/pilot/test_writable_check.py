"""The destination's "is the database writable" check (LibFencer.check_writable): a
server-wide question asked once per few seconds, not once per Deployment; a refusal is
never remembered, so the promotion is seen at the next attempt."""

from __future__ import annotations

import pytest

from jetbridge.pilot.adapters.database import WRITABLE_FOR_S, LibFencer
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure


class CountingFencer:
    """A libs/fencing Fencer that only answers read_only (the rest is not called)."""

    def __init__(self) -> None:
        self.asked = 0
        self.problem: str | None = None

    async def read_only(self) -> str | None:
        self.asked += 1
        return self.problem


async def test_a_writable_server_is_asked_once_per_window_and_a_refusal_never_kept() -> None:
    lib, now = CountingFencer(), [100.0]
    fencer = LibFencer(lib, side="B", server_url="postgresql://db/x", monotonic=lambda: now[0])  # type: ignore[arg-type]
    lib.problem = "the database server is a standby"
    for _ in range(2):
        with pytest.raises(StepFailure) as refused:
            await fencer.check_writable()
        assert refused.value.code is ErrorCode.DATABASE_READ_ONLY
    assert lib.asked == 2  # refused: asked again every time
    lib.problem = None  # promoted
    for _ in range(1000):  # a failover of 1,000 Deployments within the window
        await fencer.check_writable()
    assert lib.asked == 3
    now[0] += WRITABLE_FOR_S
    await fencer.check_writable()
    assert lib.asked == 4
