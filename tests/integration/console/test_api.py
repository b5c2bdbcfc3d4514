"""The Console's API on the real broker, a real Navigator and scripted data planes."""

from __future__ import annotations

import asyncio
import time

from tests.integration.console.world import ConsoleWorld


async def wait_status(
    world: ConsoleWorld, request_id: str, wanted: set[str], timeout_s: float = 60
) -> dict:
    deadline = time.monotonic() + timeout_s
    async with world.client("viewer") as c:
        while True:
            r = await c.get(f"/api/v1/failovers/{request_id}")
            if r.status_code == 200 and r.json()["status"] in wanted:
                return r.json()
            assert time.monotonic() < deadline, (
                f"{request_id} never reached {wanted}: {r.text[:300]}"
            )
            await asyncio.sleep(0.1)


async def test_a_controlled_failover_started_through_the_api_succeeds(world: ConsoleWorld) -> None:
    deployments = [f"api-dep-{i}" for i in range(4)]
    await world.seed("api-east", "api-west", deployments)
    async with world.client("operator") as c:
        plan = await c.post(
            "/api/v1/failovers/plan",
            json={
                "source_cluster_id": "api-east",
                "destination_cluster_id": "api-west",
                "mode": "CONTROLLED",
            },
        )
        assert plan.status_code == 200, plan.text
        assert plan.json()["would_be_accepted"] is True
        assert [m["deployment_id"] for m in plan.json()["missions"]] == deployments
        started = await c.post(
            "/api/v1/failovers",
            json={
                "source_cluster_id": "api-east",
                "destination_cluster_id": "api-west",
                "mode": "CONTROLLED",
                "drain_timeout_seconds": 30,
            },
        )
    assert started.status_code == 202, started.text
    answer = started.json()
    assert answer["answered"] is True and answer["status"] == "IN_PROGRESS", answer
    detail = await wait_status(world, answer["subject_id"], {"SUCCEEDED", "FAILED"})
    assert detail["status"] == "SUCCEEDED"
    assert detail["requested_by"] == "operator@example.com"
    assert detail["progress"]["succeeded"] == 4 and detail["progress"]["percent"] == 100.0
    steps = [s for m in detail["missions"] for f in m["flights"] for s in f["steps"]]
    assert steps and all(s["status"] == "SUCCEEDED" and s["duration_ms"] is not None for s in steps)
    # The command on the topic names the operator as its actor.
    commands = [c for c in await world.commands(0) if c.event_type == "RequestFailover"]
    mine = [c for c in commands if c.payload["request_id"] == answer["subject_id"]]
    assert [c.envelope.actor for c in mine] == ["operator@example.com"]
