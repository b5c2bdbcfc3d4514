"""The Done-when prober: 100 fencings back and forth under constant write attempts.

Both sides hold a session and write every ~2 ms, and open a fresh connection and
write every ~5 ms. Every write bumps one counter row, so the database itself orders
all writes (the row lock serialises them: ``n`` is the commit order). The observer
writes markers into the same sequence just before each fence starts and just after it
returns. Split-brain would show as an old-side write after a new-side write inside a
fence window, or as any old-side write after the window: both fail the test.
Figures go to docs/database-fencing.md; with JETBRIDGE_RECORD_RESULTS=bench/results
the raw figures are written there as fencing-<engine>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jetbridge.fencing.domain import DeploymentDatabases, Side

from .conftest import deployed
from .harness import Engine, Session

pytestmark = pytest.mark.integration

FENCINGS = int(os.environ.get("JETBRIDGE_PROBER_FENCINGS", "100"))
HOLD_EVERY_S = 0.002
CONNECT_EVERY_S = float(os.environ.get("JB_CONNECT_EVERY_S", "0.005"))
# Figures are recorded into the repo only when asked (a benchmark run), never by `make test`.
_RECORD = os.environ.get("JETBRIDGE_RECORD_RESULTS")
RESULTS = Path(_RECORD) if _RECORD else None


@dataclass
class Probe:
    """What one side's prober saw, on the client's monotonic clock."""

    writes: list[tuple[float, int]] = field(default_factory=list)  # (ack time, n)
    held_writes: list[float] = field(default_factory=list)  # the long-lived session's acks
    connect_ok: int = 0
    connect_refused: int = 0
    write_failed: int = 0


async def _holder(
    engine: Engine, dep: DeploymentDatabases, side: Side, probe: Probe, stop: asyncio.Event
) -> None:
    session: Session | None = None
    while not stop.is_set():
        try:
            if session is None:
                session = await engine.login(dep, side, connect_timeout=2)
            n = await session.write(side.value)
            probe.writes.append((time.monotonic(), n))
            probe.held_writes.append(probe.writes[-1][0])
        except Exception:
            probe.write_failed += 1
            if session is not None:
                await session.close()
            session = None
        await asyncio.sleep(HOLD_EVERY_S)
    if session is not None:
        await session.close()


async def _connector(
    engine: Engine, dep: DeploymentDatabases, side: Side, probe: Probe, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            session = await engine.login(dep, side, connect_timeout=2)
        except Exception:
            probe.connect_refused += 1
        else:
            probe.connect_ok += 1
            try:
                n = await session.write(side.value)
                probe.writes.append((time.monotonic(), n))
            except Exception:
                probe.write_failed += 1
            finally:
                await session.close()
        await asyncio.sleep(CONNECT_EVERY_S)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def check_no_split_brain(log: list[tuple[int, str]]) -> None:
    """Walk the commit order: one side at a time, the old side never after the new."""
    allowed, window_new, seen_new = {"A"}, "", False
    for n, side in log:
        if side.startswith("M:start:"):
            old = next(iter(allowed))
            window_new = "B" if old == "A" else "A"
            allowed, seen_new = {"A", "B"}, False
        elif side.startswith("M:end:"):
            allowed = {window_new}
        elif side in ("A", "B"):
            assert side in allowed, f"write #{n} by side {side} outside its active period"
            if len(allowed) == 2:
                if side == window_new:
                    seen_new = True
                else:
                    assert not seen_new, f"write #{n} by old side {side} after the new side wrote"


def test_the_checker_catches_split_brain() -> None:
    """The checker itself: clean logs pass, interleavings and late writes fail."""
    clean = [(1, "A"), (2, "M:start:1"), (3, "A"), (4, "B"), (5, "M:end:1"), (6, "B")]
    check_no_split_brain(clean)
    for bad in (
        [(1, "A"), (2, "M:start:1"), (3, "B"), (4, "A"), (5, "M:end:1")],  # interleaved
        [(1, "A"), (2, "M:start:1"), (3, "M:end:1"), (4, "A")],  # old side after fence
        [(1, "B")],  # inactive side before any fence
    ):
        with pytest.raises(AssertionError):
            check_no_split_brain(bad)


async def test_prober_no_split_brain_across_100_fencings(engine: Engine) -> None:
    async with deployed(engine) as dep:
        fencer = engine.fencer(engine.admin)
        observer = await engine.superuser_probe(dep)
        probes = {side: Probe() for side in Side}
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(task(engine, dep, side, probes[side], stop))
            for side in Side
            for task in (_holder, _connector)
        ]
        gone_ms, granted_ms, first_write_ms, terminated = [], [], [], 0
        started = time.monotonic()
        try:
            for epoch in range(1, FENCINGS + 1):
                new = Side.B if epoch % 2 else Side.A
                await observer.write(f"M:start:{epoch}")
                before = await engine.watermark()
                t0 = time.monotonic()
                outcome = await fencer.fence(dep, new, epoch)
                await observer.write(f"M:end:{epoch}")
                left = await engine.sessions_of(dep.role(new.other()), before)
                assert left == 0, f"fence {epoch}: {engine.last_sessions}"
                gone_ms.append(outcome.sessions_gone_ms)
                if os.environ.get("JB_DEBUG"):
                    print(
                        epoch,
                        round(outcome.revoked_ms),
                        round(outcome.sessions_gone_ms),
                        round(outcome.took_ms),
                        outcome.sessions_terminated,
                    )
                granted_ms.append(outcome.took_ms)
                terminated += outcome.sessions_terminated
                deadline = t0 + 20  # seconds on a loaded machine; milliseconds idle
                # The long-lived session of the new side is back (the next fence must
                # find it to end it), not only the short-lived connector.
                while not (probes[new].held_writes and probes[new].held_writes[-1] > t0):
                    assert time.monotonic() < deadline, (
                        f"side {new}'s held session never wrote after fence {epoch}"
                    )
                    await asyncio.sleep(0.001)
                first_write_ms.append((min(t for t, _ in probes[new].writes if t > t0) - t0) * 1000)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await observer.close()
        wall_s = time.monotonic() - started

        log = await engine.probe_log(dep)
        check_no_split_brain(log)
        writes = {s: sum(1 for _, side in log if side == s.value) for s in Side}
        assert writes[Side.A] > FENCINGS // 2 and writes[Side.B] > FENCINGS // 2
        assert (
            sum(p.connect_refused for p in probes.values()) > FENCINGS
        )  # the fenced side kept trying
        assert terminated >= FENCINGS  # a held session was ended on (nearly) every fence

        figures = {
            "engine": engine.name,
            "fencings": FENCINGS,
            "wall_s": round(wall_s, 2),
            "writes": {s.value: writes[s] for s in Side},
            "refused_connects": {s.value: probes[s].connect_refused for s in Side},
            "sessions_terminated": terminated,
            "old_sessions_gone_ms": _summary(gone_ms),
            "new_side_granted_ms": _summary(granted_ms),
            "new_side_first_write_ms": _summary(first_write_ms),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
            f"Python {platform.python_version()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        if RESULTS is not None:
            RESULTS.mkdir(parents=True, exist_ok=True)
            path = RESULTS / f"fencing-{engine.name}.json"
            path.write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures))
        assert max(gone_ms) < 5000  # the bound we document is far lower: see the docs


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 1),
        "p99": round(_pct(values, 0.99), 1),
        "max": round(max(values), 1),
    }
