"""The Console's API on the real broker, a real Navigator and scripted data planes."""

from __future__ import annotations

import asyncio
import time

from jetbridge.navigator.domain.vocabulary import Health
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


WRITES = [
    (
        "POST",
        "/api/v1/failovers",
        {"source_cluster_id": "rm-east", "destination_cluster_id": "rm-west", "mode": "CONTROLLED"},
    ),
    ("POST", "/api/v1/failovers/{request}/cancel", None),
    ("POST", "/api/v1/clusters/rm-east/enable-failover", None),
]


async def test_a_viewer_can_read_and_stream_but_not_write(world: ConsoleWorld) -> None:
    """Every write endpoint, on the real stack: 403 for a viewer and no command sent."""
    await world.seed("rm-east", "rm-west", ["rm-a", "rm-b"])
    async with world.client("operator") as c:
        started = await c.post(
            "/api/v1/failovers",
            json={
                "source_cluster_id": "rm-east",
                "destination_cluster_id": "rm-west",
                "mode": "CONTROLLED",
                "max_concurrent_missions": 1,
            },
        )
    assert started.status_code == 202, started.text
    request_id = started.json()["subject_id"]
    before = await world.commands()
    async with world.client("viewer") as c:
        for method, path, body in WRITES:
            r = await c.request(method, path.format(request=request_id), json=body)
            assert r.status_code == 403, (path, r.text)
            assert r.json()["error"] == "FORBIDDEN"
        async with world.client("operator") as op:
            r = await op.post("/api/v1/clusters/rm-east/enable-failover")
            assert r.status_code == 403, r.text  # admin only
        # Reading works, the live stream too.
        assert (await c.get(f"/api/v1/failovers/{request_id}")).status_code == 200
        async with c.stream("GET", "/api/v1/stream", params={"after": 0}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = []
            async for line in stream.aiter_lines():
                lines.append(line)
                if line.startswith("data: ") and '"seq"' in line and len(lines) > 4:
                    break
            assert lines[0] == "retry: 2000" and lines[1] == "event: hello"
            assert any(line == "event: change" for line in lines)
    # Partitions are read in no fixed order: compare the sets of commands.
    assert sorted(e.event_id for e in await world.commands()) == sorted(e.event_id for e in before)
    await wait_status(world, request_id, {"SUCCEEDED"})


BAD = [
    # (body, field, rule)
    ({"source_cluster_id": "bad-east", "destination_cluster_id": "bad-west"}, "mode", "missing"),
    (
        {"source_cluster_id": "bad-east", "destination_cluster_id": "bad-west", "mode": "FAST"},
        "mode",
        "enum",
    ),
    (
        {"source_cluster_id": "bad-east", "destination_cluster_id": "bad-west", "mode": "FORCED"},
        "confirm_forced",
        "required_for_forced",
    ),
    (
        {
            "source_cluster_id": "bad-east",
            "destination_cluster_id": "bad-east",
            "mode": "CONTROLLED",
        },
        "destination_cluster_id",
        "differs_from_source",
    ),
    (
        {
            "source_cluster_id": "bad-east",
            "destination_cluster_id": "bad-west",
            "mode": "CONTROLLED",
            "drain_timeout_seconds": 10**9,
        },
        "drain_timeout_seconds",
        "less_than_equal",
    ),
    (
        {
            "source_cluster_id": "bad-east",
            "destination_cluster_id": "bad-west",
            "mode": "CONTROLLED",
            "halt_failure_ratio": 0,
        },
        "halt_failure_ratio",
        "greater_than",
    ),
    (
        {
            "source_cluster_id": "bad east!",
            "destination_cluster_id": "bad-west",
            "mode": "CONTROLLED",
        },
        "source_cluster_id",
        "string_pattern_mismatch",
    ),
    (
        {
            "source_cluster_id": "bad-east",
            "destination_cluster_id": "bad-west",
            "mode": "CONTROLLED",
            "request_id": "NOT OK",
        },
        "request_id",
        "string_pattern_mismatch",
    ),
    (
        {
            "source_cluster_id": "bad-east",
            "destination_cluster_id": "bad-west",
            "mode": "CONTROLLED",
            "surprise": 1,
        },
        "surprise",
        "extra_forbidden",
    ),
]


async def test_bad_input_gets_a_4xx_naming_field_and_rule_and_changes_nothing(
    world: ConsoleWorld,
) -> None:
    await world.seed(
        "bad-east", "bad-west", ["bad-a"], others={"bad-sick": {"health": Health.DEGRADED}}
    )
    before = await world.commands()
    requests_before = len(world.runtime.model.fleet.requests)
    async with world.client("operator") as c:
        for body, field, rule in BAD:
            r = await c.post("/api/v1/failovers", json=body)
            assert r.status_code == 422, (body, r.text)
            problems = {(p["field"], p["rule"]) for p in r.json()["problems"]}
            assert (field, rule) in problems, (body, r.json())
            assert field in r.json()["message"]
        r = await c.post(
            "/api/v1/failovers", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["problems"], r.text
        # Well-formed but refused by the fleet's state: 409 with every reason, nothing sent.
        r = await c.post(
            "/api/v1/failovers",
            json={
                "source_cluster_id": "bad-east",
                "destination_cluster_id": "bad-sick",
                "mode": "CONTROLLED",
            },
        )
        assert r.status_code == 409, r.text
        assert [x["code"] for x in r.json()["reasons"]] == ["DESTINATION_NOT_HEALTHY"]
        r = await c.post(
            "/api/v1/failovers",
            json={
                "source_cluster_id": "no-such",
                "destination_cluster_id": "bad-west",
                "mode": "CONTROLLED",
            },
        )
        assert r.status_code == 409 and r.json()["reasons"][0]["code"] == "SOURCE_NOT_REGISTERED"
        assert (await c.get("/api/v1/failovers/fo-unknown")).status_code == 404
        assert (await c.post("/api/v1/failovers/fo-unknown/cancel")).status_code == 404
        r = await c.get("/api/v1/events", params={"limit": 0})
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "limit"
    # Partitions are read in no fixed order: compare the sets of commands.
    assert sorted(e.event_id for e in await world.commands()) == sorted(e.event_id for e in before)
    assert len(world.runtime.model.fleet.requests) == requests_before


async def test_cancel_through_the_api_ends_the_request_cancelled(world: ConsoleWorld) -> None:
    deployments = [f"cx-{i}" for i in range(6)]
    await world.seed("cx-east", "cx-west", deployments)
    async with world.client("operator") as c:
        started = await c.post(
            "/api/v1/failovers",
            json={
                "source_cluster_id": "cx-east",
                "destination_cluster_id": "cx-west",
                "mode": "CONTROLLED",
                "max_concurrent_missions": 1,
            },
        )
        request_id = started.json()["subject_id"]
        cancelled = await c.post(f"/api/v1/failovers/{request_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["actor"] == "operator@example.com"
    detail = await wait_status(world, request_id, {"CANCELLED", "SUCCEEDED", "FAILED"})
    assert detail["status"] == "CANCELLED", detail["status"]
    assert detail["cancel_requested_by"] == "operator@example.com"
    statuses = [m["status"] for m in detail["missions"]]
    assert "CANCELLED" in statuses and "RUNNING" not in statuses
    async with world.client("operator") as c:
        again = await c.post(f"/api/v1/failovers/{request_id}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "REQUEST_FINISHED"
