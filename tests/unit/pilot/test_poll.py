"""StepContext.poll: a watched wait re-checks on a change, an unwatched one polls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest

from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure
from jetbridge.pilot.service_layer.context import PilotConfig, Ports, StepContext

from .test_domain import flight

POLL_S, FALLBACK_S = 0.05, 0.4


class ScriptedChanges:
    """A watch that reports a change ``after_s`` into every wait (None: never)."""

    def __init__(self, live: bool, after_s: float | None) -> None:
        self.live, self.after_s = live, after_s
        self.waits: list[float] = []
        self.closed = False

    async def wait(self, at_most_s: float) -> bool:
        self.waits.append(at_most_s)
        woken = self.after_s is not None and self.after_s < at_most_s
        await asyncio.sleep(self.after_s if woken else at_most_s)  # type: ignore[arg-type]
        return woken

    def close(self) -> None:
        self.closed = True


class WatchingCluster:
    name = "dp-test"

    def __init__(self, changes: ScriptedChanges) -> None:
        self.opened: list[list[tuple[str, str]]] = []
        self._changes = changes

    def changes(self, watched: Iterable[tuple[str, str]]) -> ScriptedChanges:
        self.opened.append(sorted(watched))
        return self._changes


def context(cluster: Any, seconds: float, causes: list[str] | None = None) -> StepContext:
    params = {"deployment_spec": {"deployment_id": "dep-1", "image": "reg.test/a:1"}}
    return StepContext(
        flight=replace(flight(), deployment_id="dep-1"),
        step="WAIT_READY",
        attempt=1,
        params=params,
        spec=DeploymentSpec.from_params("dep-1", params),
        config=PilotConfig(poll_interval_s=POLL_S, watch_fallback_s=FALLBACK_S),
        ports=Ports(
            cluster,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            SystemClock(),
            lambda step, cause: (causes if causes is not None else []).append(cause),
        ),
        deadline=time.monotonic() + seconds,
    )


class Check:
    """False until its ``n``-th call; remembers when each call began."""

    def __init__(self, n: int) -> None:
        self.n, self.at = n, []

    async def __call__(self) -> tuple[bool, str]:
        self.at.append(time.monotonic())
        return len(self.at) >= self.n, f"{len(self.at)} checks"


async def test_a_watched_wait_checks_again_on_a_change_but_not_sooner_than_the_poll() -> None:
    changes = ScriptedChanges(live=True, after_s=0.0)  # something changes all the time
    cluster = WatchingCluster(changes)
    check, causes = Check(4), []
    await context(cluster, 5.0, causes).poll(
        check, ErrorCode.NOT_READY, "ready", watch=[("Deployment", "ns")]
    )
    assert cluster.opened == [[("Deployment", "ns")]] and changes.closed
    gaps = [b - a for a, b in zip(check.at, check.at[1:], strict=False)]
    # not sooner than the poll, and sooner than the fallback (room for a loaded machine)
    assert len(gaps) == 3 and all(POLL_S * 0.9 <= g < FALLBACK_S for g in gaps), gaps
    assert changes.waits and all(w <= FALLBACK_S for w in changes.waits)
    assert causes == ["change"] * 3


async def test_a_watched_wait_without_changes_checks_at_the_fallback_pace() -> None:
    changes = ScriptedChanges(live=True, after_s=None)
    check, causes = Check(3), []
    started = time.monotonic()
    await context(WatchingCluster(changes), 5.0, causes).poll(
        check, ErrorCode.NOT_READY, "gone", watch=[("Namespace", "ns")]
    )
    assert causes == ["fallback", "fallback"]
    # two waits of the whole fallback, not ten polls of 0.05 s
    assert changes.waits == [FALLBACK_S, FALLBACK_S]
    assert 2 * FALLBACK_S <= time.monotonic() - started < 2 * FALLBACK_S + 2.0


async def test_while_the_watch_is_not_live_the_wait_polls() -> None:
    changes = ScriptedChanges(live=False, after_s=None)
    check, causes = Check(3), []
    started = time.monotonic()
    await context(WatchingCluster(changes), 5.0, causes).poll(
        check, ErrorCode.NOT_READY, "ready", watch=[("Deployment", "ns")]
    )
    assert causes == ["poll", "poll"]
    assert changes.waits == [] and changes.closed
    assert time.monotonic() - started < 2 * FALLBACK_S  # polls, not two fallback waits


async def test_at_the_deadline_the_failure_says_what_was_still_wrong_and_the_watch_closes() -> None:
    changes = ScriptedChanges(live=True, after_s=None)
    check = Check(10**6)
    with pytest.raises(StepFailure, match=r"secrets: \d+ checks") as failure:
        await context(WatchingCluster(changes), 0.3).poll(
            check, ErrorCode.SECRETS_NOT_READY, "secrets", watch=[("ExternalSecret", "ns")]
        )
    assert failure.value.code is ErrorCode.SECRETS_NOT_READY and failure.value.transient
    assert changes.closed
    assert all(w <= 0.3 for w in changes.waits)  # never past the deadline


async def test_without_anything_to_watch_the_cluster_is_not_asked() -> None:
    cluster = WatchingCluster(ScriptedChanges(live=True, after_s=0.0))
    await context(cluster, 1.0).poll(Check(2), ErrorCode.NOT_READY, "x")
    assert cluster.opened == []
