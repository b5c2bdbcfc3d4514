"""A request that excluded ineligible Deployments ends FAILED: the Console says which
stayed on the source, and why that is a failure."""

from __future__ import annotations

from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.vocabulary import FailoverMode
from tests.unit.console.world import make_world
from tests.unit.navigator.builders import deployment
from tests.unit.navigator.sim import Simulation
from tests.unit.navigator.test_blast_radius import sided


async def test_the_detail_names_the_deployments_left_on_the_source() -> None:
    sim = Simulation(sided({"a": "A", "b": "B"}, "img"))
    sim.record([deployment("git", "a", mechanism="GIT_SYNC")])
    mode = FailoverMode.CONTROLLED
    sim.command(RequestFailover("r1", "a", "b", mode, "op", exclude_ineligible=True))
    sim.run()
    world = make_world()
    world.feed(sim.log)
    async with world.client("viewer") as c:
        answer = await c.get("/api/v1/failovers/r1")
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert detail["status"] == "FAILED"
    assert detail["progress"]["succeeded"] == 1 and detail["progress"]["failed"] == 0
    (left,) = [r for r in detail["failure_reasons"] if r["code"] == "EXCLUDED_DEPLOYMENTS_LEFT"]
    assert left["subject_id"] == "a"
    assert left["message"].startswith("Excluded as ineligible, git stayed on a:"), left
    assert [r["subject_id"] for r in detail["ineligible"]] == ["git"]  # and why
