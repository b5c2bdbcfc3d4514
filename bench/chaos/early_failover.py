"""A Controlled failover started before the database replica was promoted, on the local
stack (the demo's world).

The spec's order: promote the replica, move the endpoint, then fail over. Here the
failover comes first: the fencing role's sessions are made read-only (PostgreSQL
``default_transaction_read_only`` on the Pilots' admin role, as a standby would
answer), a Controlled failover starts, and the destination's APPLY_EXTERNAL_SECRETS
refuses with DATABASE_READ_ONLY, a transient failure the Pilot retries within the step
(its log says why; the step stays RUNNING). Checked after 10 s of that: the source
never stopped (no STOP_SCHEDULING started, every scheduler still has its replicas),
side A still connects, and the Pilot's log names the cause. Then the "promotion" (the
setting reset): the same request goes on and SUCCEEDS, side A refused and side B
connecting.

    .venv/bin/python bench/chaos/early_failover.py [--deployments 2]

Prints one JSON document (the checks, the times) and exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy" / "local")]

from demo import DEST, SOURCE, phase  # noqa: E402

from bench.chaos.cutoff import (  # noqa: E402
    CutoffDemo,
    in_world,
    report,
    sides_connecting,
    step,
)
from jetbridge.fencing.quoting import pg_ident  # noqa: E402
from jetbridge.pilot.domain.airflow import DeploymentSpec  # noqa: E402


async def set_read_only(demo: CutoffDemo, on: bool) -> None:
    """The Pilots' fencing role: every new session read-only (on) or not."""
    role = unquote(urlsplit(demo.dbs.fencing_admin).username or "")
    setting = (
        "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
    )
    conn = await asyncpg.connect(demo.dbs.superuser_dsn)
    try:
        await conn.execute(f"ALTER ROLE {pg_ident(role)} {setting}")
    finally:
        await conn.close()


async def scheduler_replicas(demo: CutoffDemo, cluster: str) -> list[int]:
    out = []
    for d in demo.deployments:
        spec = DeploymentSpec(d, "")
        live = await demo.kube[cluster].get(
            "Deployment", spec.namespace, spec.deployment_name("scheduler")
        )
        out.append(int(((live or {}).get("spec") or {}).get("replicas", 0)))
    return out


def preparing(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for s in step(detail, "DESTINATION", "APPLY_EXTERNAL_SECRETS") if s["status"] == "RUNNING"
    ]


def refusals(demo: CutoffDemo) -> list[str]:
    """The destination Pilot's retries of this request's secrets step for a read-only
    server (the log file is appended to by every run)."""
    log = demo.procs.log_dir / f"pilot-{DEST}.log"
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if f"APPLY_EXTERNAL_SECRETS of {demo.request_id}/" in line and "read-only" in line:
            out.append(str(json.loads(line).get("msg", "")))
    return out


async def early(demo: CutoffDemo) -> dict[str, Any]:
    n = len(demo.deployments)
    phase("the database is not promoted yet: the fencing role's sessions are read-only")
    await set_read_only(demo, True)
    try:
        await demo.start("CONTROLLED", drain_timeout_seconds=30, max_attempts=20)
        await demo.wait_detail("the destination preparing", lambda d: len(preparing(d)) == n, 120)
        await asyncio.sleep(10)  # time for the source to stop, were it allowed to
        detail = await demo.detail()
        stop_started = [s for s in step(detail, "SOURCE", "STOP_SCHEDULING") if s["attempts"]]
        replicas_while_refused = await scheduler_replicas(demo, SOURCE)
        side_a_while_refused, _ = await sides_connecting(demo)
        still_preparing = len(preparing(detail))
        said = refusals(demo)
        message = said[-1] if said else ""
    finally:
        phase("the replica is promoted (the setting reset): the request goes on")
        promoted_at = time.monotonic()
        await set_read_only(demo, False)
    done = await demo.wait_detail(
        "the request ends", lambda d: d["status"] not in ("IN_PROGRESS", "REQUESTED"), 300
    )
    side_a_after, side_b_after = await sides_connecting(demo)
    checks = {
        "destination_still_preparing": still_preparing,
        "pilot_retries_logged": len(said),
        "refusal_names_the_cause": "transaction_read_only" in message and "Promote" in message,
        "source_stop_started_while_refused": len(stop_started),
        "source_scheduler_replicas_while_refused": replicas_while_refused,
        "side_a_connects_while_refused": len(side_a_while_refused),
        "status_after_promotion": done["status"],
        "side_a_connects_after": len(side_a_after),
        "side_b_connects_after": len(side_b_after),
    }
    ok = (
        still_preparing == n
        and checks["refusal_names_the_cause"]
        and not stop_started
        and all(r > 0 for r in replicas_while_refused)
        and len(side_a_while_refused) == n
        and done["status"] == "SUCCEEDED"
        and not side_a_after
        and len(side_b_after) == n
    )
    return {
        "ok": ok,
        "succeeded_s_after_promotion": round(time.monotonic() - promoted_at, 1),
        "refusal": message,
        "checks": checks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=2)
    args = parser.parse_args()
    report(asyncio.run(in_world("early", args.deployments, early)))


if __name__ == "__main__":
    main()
