"""A data plane cut off from the control plane, on the local stack (demo's world).

"Cut off" = the source cluster's agent and pilot are SIGKILLed and kept down: DP-Link
loses its stream (DEGRADED after 3 s, UNREACHABLE after 10 s), no flight reaches the
cluster and nothing runs there. Two scenarios, each with its own world:

- ``controlled``: a Controlled failover whose Deployments all have running tasks; the
  source is cut off while every drain is waiting. The drain step is counted as failed
  at its deadline, the drain timeout as configured (``--drain-timeout``) plus the
  Navigator's grace; with ``max_attempts=1`` the missions then fail. Checked: the
  request ends FAILED, every mission FAILED with a reason, no destination flight ever
  fenced, and side A (the source's credentials) can still connect: a Controlled
  failover never takes the database away from a source it could not drain.
- ``forced``: the source is cut off, and once the Console shows it UNREACHABLE a Forced
  failover starts. Checked: the request SUCCEEDS with every mission's cleanup PENDING
  and the namespaces still on the source; side A is refused and side B connects; then
  the source comes back (agent and pilot started again) and every cleanup COMPLETES,
  the namespaces gone from the source.
- ``takeover``: as ``controlled`` (every drain waiting, a long drain timeout), then
  once the Console shows the source UNREACHABLE a Forced failover to the same
  destination supersedes it (docs/operations.md, "When the source dies during a
  Controlled failover"). Checked: the Controlled request ends CANCELLED with every
  mission cancelled as SUPERSEDED, long before its drain timeout; the Forced one
  SUCCEEDS with every cleanup PENDING; side A is refused and side B connects; every
  Deployment runs on the destination; then the source comes back and every cleanup
  COMPLETES, the namespaces gone from the source.

    .venv/bin/python bench/chaos/cutoff.py controlled|forced|takeover [--deployments 3]

Prints one JSON document (the checks, the times) and exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy" / "local")]

from demo import DEST, OUT, SOURCE, bring_up_stack, can_connect, phase  # noqa: E402
from demo_world import Service  # noqa: E402

from bench.chaos.chaos import ChaosDemo  # noqa: E402
from jetbridge.fencing.domain import DeploymentDatabases  # noqa: E402
from jetbridge.pilot.domain.airflow import DeploymentSpec  # noqa: E402

CUT = (f"agent-{SOURCE}", f"pilot-{SOURCE}")
# What a scenario does in its world: the checks and figures it adds to the verdict.
Scenario = Callable[["CutoffDemo"], Awaitable[dict[str, Any]]]


class CutoffDemo(ChaosDemo):
    def cut_off_source(self) -> dict[str, Service]:
        """SIGKILL the source's agent and pilot and keep them down (no supervisor)."""
        kept = {}
        for name in CUT:
            service = self.procs.services[name]
            if service.proc is not None:
                service.proc.kill()
                service.proc.wait()
            self.procs.stop(name)  # forgets it: the supervisor restarts only what it knows
            kept[name] = service
        return kept

    def bring_back(self, kept: dict[str, Service]) -> None:
        for name, service in kept.items():
            self.procs.start(name, service.args[0], service.env)

    async def running_tasks_everywhere(self) -> None:
        """Two tasks 'running' in every metadata database, never finishing: each drain
        waits until its timeout."""
        for d in self.deployments:
            db = DeploymentDatabases.named(d, prefix=self.dbs.prefix).epoch_database
            conn = await asyncpg.connect(self.dbs.superuser_dsn, database=db)
            try:
                await conn.execute(
                    "INSERT INTO task_instance VALUES ('extract', 'running'), ('load', 'running')"
                )
            finally:
                await conn.close()

    async def health(self, cluster: str) -> str:
        body = await self.api("GET", "/api/v1/clusters")
        items = body if isinstance(body, list) else body.get("clusters", body.get("items", []))
        return str(next(c.get("health") for c in items if c.get("cluster_id") == cluster))

    async def start(self, mode: str, **policy: Any) -> str:
        body = {
            "source_cluster_id": SOURCE,
            "destination_cluster_id": DEST,
            "mode": mode,
            **policy,
        }
        if mode == "FORCED":
            body["confirm_forced"] = True
        accepted = await self.api("POST", "/api/v1/failovers", json=body)
        self.request_id = str(accepted["subject_id"])
        return self.request_id

    async def detail(self) -> dict[str, Any]:
        return dict(await self.api("GET", f"/api/v1/failovers/{self.request_id}"))

    async def wait_detail(self, what: str, ok: Any, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            detail = await self.detail()
            if ok(detail):
                return detail
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {timeout_s:.0f} s ({detail['status']})")
            await asyncio.sleep(0.5)

    async def namespaces_on(self, cluster: str) -> list[str]:
        return [
            d
            for d in self.deployments
            if await self.kube[cluster].get("Namespace", None, DeploymentSpec(d, "").namespace)
        ]


def step(detail: dict[str, Any], kind: str, name: str) -> list[dict[str, Any]]:
    return [
        s
        for m in detail["missions"]
        for f in m["flights"]
        if f["kind"] == kind
        for s in f["steps"]
        if s["name"] == name
    ]


async def controlled_until_every_drain_waits(
    demo: CutoffDemo, drain_timeout: int, **policy: Any
) -> str:
    """A Controlled failover whose every Deployment has running tasks, once every drain
    waits for them; its request id."""
    await demo.running_tasks_everywhere()
    request_id = await demo.start("CONTROLLED", drain_timeout_seconds=drain_timeout, **policy)
    n = len(demo.deployments)
    await demo.wait_detail(
        "every drain waiting",
        lambda d: sum(s["status"] == "RUNNING" for s in step(d, "SOURCE", "DRAIN_TASKS")) == n,
        120,
    )
    return request_id


async def sides_connecting(demo: CutoffDemo) -> tuple[list[str], list[str]]:
    """The Deployments whose side A (the source's login) and side B (the
    destination's) can connect now."""
    side_a = [d for d in demo.deployments if await can_connect(demo.source_dsns[d])]
    side_b = [d for d in demo.deployments if await can_connect(await demo.role_dsn(DEST, d, "b"))]
    return side_a, side_b


async def in_world(scenario: str, deployments: int, body: Scenario) -> dict[str, Any]:
    """A fresh demo world (stack up, every service, ``deployments`` provisioned, empty
    task tables), ``body`` run in it, everything stopped and dropped after."""
    env = bring_up_stack()
    world = argparse.Namespace(deployments=deployments, exit_when_done=True, port=0, keep=False)
    demo = CutoffDemo(world, env)
    result: dict[str, Any] = {"scenario": scenario, "deployments": deployments}
    try:
        await demo.build()
        await demo.create_task_tables()
        result |= await body(demo)
    finally:
        demo.procs.stop_all()
        await demo.cleanup()
    return result


def report(result: dict[str, Any]) -> NoReturn:
    """Print the verdict as one JSON line and exit 1 if a check failed."""
    OUT.print(json.dumps(result), soft_wrap=True)
    sys.exit(0 if result["ok"] else 1)


async def controlled(demo: CutoffDemo, drain_timeout: int) -> dict[str, Any]:
    await controlled_until_every_drain_waits(demo, drain_timeout, max_attempts=1)
    n = len(demo.deployments)
    phase(f"cut off {SOURCE} while every drain waits (drain timeout {drain_timeout} s)")
    cut_at = time.monotonic()
    demo.cut_off_source()
    detail = await demo.wait_detail(
        "the request ends", lambda d: d["status"] not in ("IN_PROGRESS", "REQUESTED"), 600
    )
    ended_after = time.monotonic() - cut_at
    side_a_open, _ = await sides_connecting(demo)
    fenced = [s for s in step(detail, "DESTINATION", "FENCE_DATABASE") if s["started_at"]]
    checks = {
        "request_failed": detail["status"] == "FAILED",
        "missions": sorted({m["status"] for m in detail["missions"]}),
        "reasons": sorted({m["reason"] for m in detail["missions"]}),
        "destination_fence_started": len(fenced),
        "side_a_can_still_connect": len(side_a_open),
    }
    ok = (
        checks["request_failed"]
        and checks["missions"] == ["FAILED"]
        and all(checks["reasons"])
        and not fenced
        and len(side_a_open) == n
    )
    return {"ok": ok, "ended_s_after_cut": round(ended_after, 1), "checks": checks}


async def forced(demo: CutoffDemo) -> dict[str, Any]:
    phase(f"cut off {SOURCE}; wait until the Console shows it UNREACHABLE")
    cut_at = time.monotonic()
    kept = demo.cut_off_source()
    await wait_unreachable(demo)
    unreachable_after = time.monotonic() - cut_at
    await demo.start("FORCED")
    detail = await demo.wait_detail(
        "the request ends", lambda d: d["status"] not in ("IN_PROGRESS", "REQUESTED"), 300
    )
    succeeded_after = time.monotonic() - cut_at
    cleanup_while_cut = sorted({m["cleanup"] for m in detail["missions"]})
    left_on_source = await demo.namespaces_on(SOURCE)
    side_a_open, side_b_open = await sides_connecting(demo)
    phase(f"{SOURCE} comes back (agent and pilot started again)")
    back_at = time.monotonic()
    demo.bring_back(kept)
    settled = await demo.wait_detail(
        "every cleanup ends",
        lambda d: all(m["cleanup"] in ("COMPLETED", "FAILED") for m in d["missions"]),
        300,
    )
    cleaned_after = time.monotonic() - back_at
    n = len(demo.deployments)
    checks = {
        "request_succeeded": detail["status"] == "SUCCEEDED",
        "cleanup_while_cut_off": cleanup_while_cut,
        "namespaces_on_source_while_cut_off": len(left_on_source),
        "side_a_can_connect": len(side_a_open),
        "side_b_can_connect": len(side_b_open),
        "cleanup_after_return": sorted({m["cleanup"] for m in settled["missions"]}),
        "namespaces_on_source_after_return": len(await demo.namespaces_on(SOURCE)),
    }
    ok = (
        checks["request_succeeded"]
        and cleanup_while_cut == ["PENDING"]
        and len(left_on_source) == n
        and not side_a_open
        and len(side_b_open) == n
        and checks["cleanup_after_return"] == ["COMPLETED"]
        and checks["namespaces_on_source_after_return"] == 0
    )
    return {
        "ok": ok,
        "unreachable_s_after_cut": round(unreachable_after, 1),
        "succeeded_s_after_cut": round(succeeded_after, 1),
        "cleaned_s_after_return": round(cleaned_after, 1),
        "checks": checks,
    }


async def wait_unreachable(demo: CutoffDemo) -> None:
    deadline = time.monotonic() + 60
    while await demo.health(SOURCE) != "UNREACHABLE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{SOURCE} not UNREACHABLE after 60 s")
        await asyncio.sleep(0.5)


async def takeover(demo: CutoffDemo, drain_timeout: int) -> dict[str, Any]:
    controlled_id = await controlled_until_every_drain_waits(demo, drain_timeout)
    n = len(demo.deployments)
    phase(f"cut off {SOURCE} while every drain waits (drain timeout {drain_timeout} s)")
    cut_at = time.monotonic()
    kept = demo.cut_off_source()
    await wait_unreachable(demo)
    phase(f"a Forced failover {SOURCE} -> {DEST} takes over {controlled_id}")
    forced_id = await demo.start("FORCED")
    detail = await demo.wait_detail(
        "the Forced request ends", lambda d: d["status"] not in ("IN_PROGRESS", "REQUESTED"), 300
    )
    succeeded_after = time.monotonic() - cut_at
    taken_over = await demo.api("GET", f"/api/v1/failovers/{controlled_id}")
    left_on_source = await demo.namespaces_on(SOURCE)
    on_destination = await demo.namespaces_on(DEST)
    side_a_open, side_b_open = await sides_connecting(demo)
    phase(f"{SOURCE} comes back (agent and pilot started again)")
    demo.bring_back(kept)
    settled = await demo.wait_detail(
        "every cleanup ends",
        lambda d: all(m["cleanup"] in ("COMPLETED", "FAILED") for m in d["missions"]),
        300,
    )
    checks = {
        "controlled_status": taken_over["status"],
        "controlled_superseded_by": taken_over.get("superseded_by"),
        "controlled_missions": sorted({m["status"] for m in taken_over["missions"]}),
        "controlled_reasons": sorted({m["reason_code"] for m in taken_over["missions"]}),
        "forced_status": detail["status"],
        "forced_warnings": sorted({w["code"] for w in detail["warnings"]}),
        "cleanup_while_cut_off": sorted({m["cleanup"] for m in detail["missions"]}),
        "namespaces_on_source_while_cut_off": len(left_on_source),
        "namespaces_on_destination": len(on_destination),
        "side_a_can_connect": len(side_a_open),
        "side_b_can_connect": len(side_b_open),
        "cleanup_after_return": sorted({m["cleanup"] for m in settled["missions"]}),
        "namespaces_on_source_after_return": len(await demo.namespaces_on(SOURCE)),
    }
    ok = (
        checks["controlled_status"] == "CANCELLED"
        and checks["controlled_superseded_by"] == forced_id
        and checks["controlled_missions"] == ["CANCELLED"]
        and checks["controlled_reasons"] == ["SUPERSEDED"]
        and checks["forced_status"] == "SUCCEEDED"
        and checks["cleanup_while_cut_off"] == ["PENDING"]
        and len(on_destination) == n
        and not side_a_open
        and len(side_b_open) == n
        and checks["cleanup_after_return"] == ["COMPLETED"]
        and checks["namespaces_on_source_after_return"] == 0
    )
    return {
        "ok": ok,
        "drain_timeout_s": drain_timeout,
        "succeeded_s_after_cut": round(succeeded_after, 1),
        "checks": checks,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    scenarios: dict[str, Scenario] = {
        "controlled": lambda demo: controlled(demo, args.drain_timeout),
        "takeover": lambda demo: takeover(demo, args.drain_timeout),
        "forced": forced,
    }
    return await in_world(args.scenario, args.deployments, scenarios[args.scenario])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["controlled", "forced", "takeover"])
    parser.add_argument("--deployments", type=int, default=3)
    parser.add_argument("--drain-timeout", type=int, default=10)
    args = parser.parse_args()
    report(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
