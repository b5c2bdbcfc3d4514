"""The ledger read model: the Navigator's Fleet folded from ledger records, and its views."""

from __future__ import annotations

import asyncio
import json
import random

from jetbridge.common.events import new_event
from jetbridge.console.adapters import fleet_views as fv
from jetbridge.console.domain.audit import EventFilter
from jetbridge.console.domain.intents import Mode, StartIntent
from jetbridge.console.entrypoints.stream import change_stream
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.vocabulary import FailoverMode, StepName
from tests.unit.console.world import make_world
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation


async def test_views_explain_eligibility_with_the_navigators_reasons() -> None:
    world = make_world()
    model = world.model
    gray = await model.destinations("east")
    assert gray is not None
    options = {o.cluster_id: [r.code for r in o.reasons] for o in gray.options}
    assert options["gray"] == ["DESTINATION_NOT_HEALTHY"]
    assert options["south"] == ["DESTINATION_HAS_PENDING_FAILOVER"]
    assert options["north"] == ["DESTINATION_FAILOVER_IN_PROGRESS"]
    assert gray.valid_destinations == ["west"]
    world.feed([deployment("dep-git", "east", mechanism="GIT_SYNC")])
    deps = {d.deployment_id: d for d in await model.deployments("east") or []}
    assert deps["dep-git"].failover_ready is False
    assert [r.code for r in deps["dep-git"].reasons] == ["GIT_SYNC_NOT_SUPPORTED"]
    assert deps["dep-1"].failover_ready is True


async def test_a_plan_lists_every_blocking_reason_and_creates_nothing() -> None:
    world = make_world()
    world.feed([deployment("dep-git", "east", mechanism="GIT_SYNC")])
    before = world.model.fleet.clone()
    seq = world.model.last_seq()
    plan = await world.model.plan(StartIntent("fo-x", "east", "gray", Mode.CONTROLLED), world.now)
    assert not plan.would_be_accepted
    assert [r.code for r in plan.blocking_reasons] == [
        "DESTINATION_NOT_HEALTHY",
        "INELIGIBLE_DEPLOYMENTS",
        "GIT_SYNC_NOT_SUPPORTED",
    ]
    assert [m.deployment_id for m in plan.missions] == ["dep-3", "dep-2", "dep-1"]
    excluded = await world.model.plan(
        StartIntent("fo-y", "east", "west", Mode.FORCED, exclude_ineligible=True), world.now
    )
    assert excluded.would_be_accepted and excluded.excluded_deployment_ids == ["dep-git"]
    steps = [s.name for s in excluded.missions[0].flights[0].steps]
    assert steps == ["DELETE_DEPLOYMENT"]  # Forced: the source only cleans up
    assert excluded.missions[0].flights[0].steps[0].cleanup is True
    assert world.model.fleet == before and world.model.last_seq() == seq
    assert world.sender.sent == []


async def test_audit_entries_name_request_deployment_and_clusters() -> None:
    world = make_world()
    found = await world.model.events(EventFilter(request_id="fo-running-1"), 100)
    types = [e.event_type for e in found]
    assert types[:3] == ["FailoverRequested", "FailoverStarted", "MissionCreated"]
    flight_events = [e for e in found if e.aggregate_type == "Flight"]
    assert flight_events and all(e.deployment_id == "dep-gs" for e in flight_events)
    assert all({"north", "south"} & set(e.cluster_ids) for e in flight_events)
    assert all(e.actor == "carol@example.com" for e in found[:1])
    newest = await world.model.events(EventFilter(), 2, newest_first=True)
    assert [e.seq for e in newest] == [world.model.last_seq(), world.model.last_seq() - 1]


async def test_refusals_and_unfoldable_events_are_recorded_not_fatal() -> None:
    world = make_world()
    refused = new_event(
        "CommandRefused",
        {
            "command_id": "cmd-1",
            "command_type": "CancelFailover",
            "subject_id": "fo-zzz",
            "reason_code": "UNKNOWN_REQUEST",
            "reason": "no failover request 'fo-zzz'",
        },
        aggregate_type="Command",
        aggregate_id="fo-zzz",
        producer="navigator",
        schema_version=1,
    )
    world.model.ingest(refused)
    reason = await world.model.refusal("cmd-1")
    assert reason is not None and reason.code == "UNKNOWN_REQUEST"
    # A mission event for a mission never created cannot fold: counted, served on.
    world.feed([ev.MissionStarted(mission_id="nope", started_at=1)])
    assert world.model.fold_errors == 1
    assert (await world.model.events(EventFilter(), 1, newest_first=True))[0].event_type == (
        "MissionStarted"
    )


async def test_the_change_stream_resumes_after_a_seq_and_follows_new_events() -> None:
    world = make_world()
    stop = asyncio.Event()

    async def disconnected() -> bool:
        return stop.is_set()

    where = EventFilter(request_id="fo-running-1")
    stream = change_stream(world.model, where, 0, disconnected)
    hello = await anext(stream)
    assert hello.startswith("retry: 2000\nevent: hello")
    first = await anext(stream)
    data = json.loads(first.split("data: ", 1)[1])
    assert data["event_type"] == "FailoverRequested" and data["request_id"] == "fo-running-1"
    drained = [first]
    total = len(await world.model.events(where, 1000))
    while len(drained) < total:
        drained.append(await anext(stream))
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not pending.done()  # nothing new for this request yet
    world.feed([ev.MissionStarted(mission_id="nope", started_at=1)])  # another request's
    world.decide("east", "west", "fo-second")  # not this request either
    await asyncio.sleep(0.05)
    assert not pending.done()
    world.feed(
        [
            ev.FailoverCancelRequested(
                request_id="fo-running-1", requested_by="olga", requested_at=world.now
            )
        ]
    )
    followed = json.loads((await asyncio.wait_for(pending, 2)).split("data: ", 1)[1])
    assert followed["event_type"] == "FailoverCancelRequested"
    assert followed["seq"] == world.model.last_seq()
    stop.set()


async def test_cached_mission_progress_matches_walking_the_flights_after_every_event() -> None:
    """The summary's per-mission progress is cached and dropped per event: after each
    record of a whole failover, in fold order and with the partitions interleaved (a
    flight may come before its mission), it equals the progress computed from scratch."""
    sim = Simulation(
        cluster_events("a") + cluster_events("b") + [deployment(f"d{i}", "a") for i in range(5)]
    )
    sim.fail("d2", "DESTINATION", StepName.CREATE_NAMESPACE, "transient")
    sim.fail("d4", "SOURCE", StepName.DRAIN_TASKS, "permanent")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "alice"))
    sim.run()
    by_aggregate: dict[str, list[ev.DomainEvent]] = {}
    for e in sim.log:
        by_aggregate.setdefault(e.aggregate_id, []).append(e)
    rng, queues, interleaved = random.Random(7), list(by_aggregate.values()), []
    while queues:  # a uniform merge: each aggregate in its own order
        queue = rng.choices(queues, weights=[len(q) for q in queues])[0]
        interleaved.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    for order in (sim.log, interleaved):
        world = make_world()
        partial = 0
        for e in order:
            world.feed([e])
            for summary in await world.model.requests(status=None, cluster_id="a", limit=5):
                r = world.model.fleet.requests[summary.request_id]
                fresh = fv.request_summary(world.model.fleet, r, fv.RequestExtras(), 0, world.now)
                assert summary.progress == fresh.progress, e
                partial += 0 < fresh.progress.steps_done < fresh.progress.steps_total
        last = (await world.model.requests(status=None, cluster_id="a", limit=1))[0]
        assert last.status == "FAILED" and last.progress.failed == 1
        assert partial > 20  # compared while steps were moving, not only at the ends
