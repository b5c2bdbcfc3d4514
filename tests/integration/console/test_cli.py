"""The ``jetbridge`` CLI as a real process against a real Console, Navigator and Kafka."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.vocabulary import FlightKind, Health, StepStatus
from tests.integration.console.world import TOKENS, ConsoleWorld
from tests.unit.navigator.builders import health

JETBRIDGE = str(Path(sys.executable).with_name("jetbridge"))


async def cli(world: ConsoleWorld, *args: str, role: str | None = "operator") -> tuple[int, str]:
    token = ["--token", TOKENS[role]] if role else []
    proc = await asyncio.create_subprocess_exec(
        JETBRIDGE,
        "--url",
        world.url,
        *token,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_cli_starts_and_watches_a_failover_to_success(world: ConsoleWorld) -> None:
    await world.seed(
        "cli-east",
        "cli-west",
        ["cli-a", "cli-b", "cli-c"],
        others={"cli-legacy": {"failover_enabled": False}},
    )
    code, text = await cli(world, "--json", "clusters")
    assert code == 0, text
    ids = {c["cluster_id"]: c for c in json.loads(text)}
    # A cluster without failover enabled is no valid target: a Deployment moved there
    # could never move again.
    assert ids["cli-east"]["valid_destinations"] == ["cli-west"]
    assert [r["code"] for r in ids["cli-legacy"]["trigger_blockers"]] == [
        "SOURCE_FAILOVER_DISABLED"
    ]

    code, text = await cli(
        world, "failover", "plan", "--from", "cli-legacy", "--to", "cli-west", "--json"
    )
    assert code == 3, text
    assert "SOURCE_FAILOVER_DISABLED" in text
    code, text = await cli(world, "failover", "plan", "--from", "cli-east", "--to", "cli-west")
    assert code == 0, text

    code, text = await cli(
        world,
        "--json",
        "failover",
        "start",
        "--from",
        "cli-east",
        "--to",
        "cli-west",
        "--drain-timeout",
        "30",
        "--watch",
    )
    assert code == 0, text
    lines = text.strip().splitlines()
    last = json.loads(lines[-1])
    assert last["status"] == "SUCCEEDED" and last["progress"]["percent"] == 100.0
    request_id = last["request_id"]

    code, text = await cli(
        world, "--json", "events", "tail", "--request", request_id, "-n", "1000", role="viewer"
    )
    assert code == 0, text
    events = json.loads(text)
    commands = [e for e in events if e["event_type"] == "RequestFailover"]
    assert [c["actor"] for c in commands] == ["operator@example.com"]
    assert any(e["event_type"] == "FailoverSucceeded" for e in events)

    # Watching a failover that already ended returns at once with its exit code.
    code, text = await cli(world, "failover", "watch", request_id, role="viewer")
    assert code == 0, text
    assert "SUCCEEDED" in text


async def test_cli_forces_a_controlled_failover_whose_source_died(world: ConsoleWorld) -> None:
    """`failover show` says how to take a stuck Controlled failover over; the Forced
    start does it (superseding) and `show` then names the request that took over."""
    await world.seed("cut-east", "cut-west", ["cut-a", "cut-b"])
    for d in ("cut-a", "cut-b"):  # their drains start and never end: the source dies
        world.planes.hang.add((d, "SOURCE", "DRAIN_TASKS"))
    code, text = await cli(
        world, "--json", "failover", "start", "--from", "cut-east", "--to", "cut-west"
    )
    assert code == 0, text
    controlled = json.loads(text)["subject_id"]
    navigator = world.navigator.service
    assert navigator is not None
    fleet = navigator.fleet
    await world.until(
        "both drains running",
        lambda: (
            sum(
                1
                for f in fleet.flights.values()
                if f.request_id == controlled
                and f.kind is FlightKind.SOURCE
                and f.step("DRAIN_TASKS").status is StepStatus.RUNNING
            )
            == 2
        ),
    )
    await world.publish([health("cut-east", Health.HEALTHY, Health.UNREACHABLE)])
    seen = world.runtime.model.fleet
    await world.until(
        "the console to see cut-east unreachable",
        lambda: seen.clusters["cut-east"].health is Health.UNREACHABLE,
    )
    code, text = await cli(world, "failover", "show", controlled, role="viewer")
    assert code == 0, text
    said = " ".join(text.split())
    assert "cut-east is unreachable" in said, said
    assert "--mode forced --confirm-forced` takes this Controlled failover over" in said, said

    code, text = await cli(
        world,
        "--json",
        "failover",
        "start",
        "--from",
        "cut-east",
        "--to",
        "cut-west",
        "--mode",
        "forced",
        "--confirm-forced",
        "--watch",
    )
    assert code == 0, text
    forced = json.loads(text.strip().splitlines()[-1])
    assert forced["status"] == "SUCCEEDED", forced
    code, text = await cli(world, "failover", "show", controlled, role="viewer")
    said = " ".join(text.split())
    assert f"taken over by Forced failover {forced['request_id']}" in said, said
    assert f"{controlled} CANCELLED" in said, said


async def test_cli_watch_of_a_failed_failover_exits_1(world: ConsoleWorld) -> None:
    await world.seed("fail-east", "fail-west", ["fail-a", "fail-b"])
    world.planes.fail_permanently.add(("fail-b", "DESTINATION", "UPSERT_DEPLOYMENT"))
    code, text = await cli(
        world,
        "--json",
        "failover",
        "start",
        "--from",
        "fail-east",
        "--to",
        "fail-west",
        "--drain-timeout",
        "30",
    )
    assert code == 0, text
    request_id = json.loads(text)["subject_id"]
    code, text = await cli(world, "failover", "watch", request_id)
    assert code == 1, text
    assert "FAILED" in text and "fail-b" in text


async def test_cli_exit_codes_for_refusals(world: ConsoleWorld) -> None:
    await world.seed("code-east", "code-west", ["code-a"])
    before = len(await world.commands(0))
    start = ["failover", "start", "--from", "code-east", "--to", "code-west"]
    assert (await cli(world, *start, role="viewer"))[0] == 4
    assert (await cli(world, *start, role=None))[0] == 4
    code, text = await cli(world, *start, "--mode", "forced")
    assert code == 8 and "confirm_forced" in text, text
    code, text = await cli(world, "failover", "start", "--from", "code-east", "--to", "code-east")
    assert code == 8, text
    assert (await cli(world, "failover", "watch", "fo-does-not-exist"))[0] == 5
    assert (await cli(world, "--url", "http://127.0.0.1:1", "clusters"))[0] == 6
    assert (await cli(world, "failover", "start"))[0] == 2
    # None of these sent a command.
    assert len(await world.commands()) == before


async def test_an_admin_registers_a_cluster_and_the_navigator_decides_it(
    world: ConsoleWorld,
) -> None:
    """CLI -> Console -> RegisterCluster -> the Navigator's ClusterRegistered -> the
    Console's ledger: registered, then re-registered on a new endpoint."""
    register = ("register-cluster", "cli-north", "--endpoint", "agent.north.example:8443")
    code, text = await cli(world, *register, "--failover-enabled", role="operator")
    assert code == 4, text  # an operator may not: 403
    code, text = await cli(
        world, "register-cluster", "cli-north", "--endpoint", "north", role="admin"
    )
    assert code == 8 and "endpoint 'north': host:port of the agent" in text, text  # 422
    code, text = await cli(world, "--json", *register, "--failover-enabled", role="admin")
    assert code == 0, text
    answer = json.loads(text)
    assert (
        answer["answered"] and answer["refusal"] is None and answer["actor"] == "admin@example.com"
    )
    code, text = await cli(world, "--json", "clusters", "cli-north", role="viewer")
    north = json.loads(text)
    assert (north["registration"], north["endpoint"], north["failover_enabled"]) == (
        "REGISTERED",
        "agent.north.example:8443",
        True,
    )
    moved = ("register-cluster", "cli-north", "--endpoint", "10.9.8.7:9443", "--json")
    code, text = await cli(world, *moved, role="admin")
    assert code == 0 and json.loads(text)["answered"], text
    navigator = world.navigator.service
    assert navigator is not None
    cluster = navigator.fleet.clusters["cli-north"]
    assert (cluster.endpoint, cluster.failover_enabled) == ("10.9.8.7:9443", True)


async def test_an_admin_deregisters_a_cluster_once_nothing_needs_it(world: ConsoleWorld) -> None:
    await world.seed("cli-busy", "cli-spare", ["cli-d"])
    code, text = await cli(world, "--json", "deregister-cluster", "cli-busy", role="admin")
    assert code == 3, text  # refused by the Navigator
    refusal = json.loads(text)["refusal"]
    assert refusal["code"] == "CLUSTER_IN_USE" and "holds 1 Deployment(s)" in refusal["message"]
    code, text = await cli(world, "--json", "deregister-cluster", "cli-spare", role="admin")
    assert code == 0 and json.loads(text)["answered"], text
    code, text = await cli(world, "--json", "clusters", "cli-spare", role="viewer")
    assert json.loads(text)["registration"] == "DEREGISTERED"


async def test_an_admin_declares_a_lost_source_and_its_clean_ups_are_given_up(
    world: ConsoleWorld,
) -> None:
    """A Forced failover off a silent cluster leaves its clean-up waiting for it; the
    declaration ends it (CLUSTER_LOST) and deregisters the cluster, through the real
    Console, Kafka and Navigator."""
    await world.seed("lost-src", "lost-dst", ["lost-d"])
    silent = ev.ClusterHealthChanged(
        cluster_id="lost-src", previous="HEALTHY", current="UNREACHABLE"
    )
    await world.publish([silent])
    fleet = world.runtime.model.fleet
    await world.until(
        "the source to be unreachable", lambda: not fleet.clusters["lost-src"].reachable
    )
    declare = ["--json", "declare-cluster-lost", "lost-src", "--attestation", "rack burnt, INC-9"]
    code, text = await cli(world, *declare, role="admin")
    assert code == 8 and "confirm_lost" in text, text  # not confirmed: nothing sent
    code, text = await cli(world, *declare, "--confirm-lost", role="admin")
    assert code == 3, text  # the Deployment is still there
    assert "still holds 1 Deployment(s)" in json.loads(text)["refusal"]["message"]

    start = ["failover", "start", "--from", "lost-src", "--to", "lost-dst", "--mode", "forced"]
    code, text = await cli(world, "--json", *start, "--confirm-forced", "--watch")
    assert code == 0, text

    def mission() -> Any:
        (found,) = [m for m in fleet.missions.values() if m.deployment_id == "lost-d"]
        return found

    assert mission().cleanup.value == "PENDING"  # the delete waits for lost-src

    code, text = await cli(world, *declare, "--confirm-lost", role="operator")
    assert code == 4, text  # admins only
    code, text = await cli(world, *declare, "--confirm-lost", role="admin")
    assert code == 0 and json.loads(text)["answered"], text
    await world.until("the clean-up to be given up", lambda: mission().cleanup.value == "FAILED")
    assert mission().reason_code == "CLUSTER_LOST" and "rack burnt, INC-9" in mission().reason
    code, text = await cli(world, "--json", "clusters", "lost-src", role="viewer")
    view = json.loads(text)
    assert (view["registration"], view["declared_lost_by"], view["lost_attestation"]) == (
        "DEREGISTERED",
        "admin@example.com",
        "rack burnt, INC-9",
    )
