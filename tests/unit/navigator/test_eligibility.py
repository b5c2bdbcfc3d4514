"""Eligibility, table-driven: every rule alone, every pair, and random combinations.

A scenario starts from a valid source ``src`` and destination ``dst`` and each rule
breaks one fact. The oracle: the findings are exactly the union of the broken rules'
findings, except that an unregistered (or identical) cluster masks every other rule
of its side, since nothing else can be checked about it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.deployment_eligibility import tainted_clusters
from jetbridge.navigator.domain.eligibility import (
    destination_options,
    request_blockers,
    source_blockers,
    valid_destinations,
    warnings,
    winding_down,
)
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    FlightKind,
    Health,
    PlaneMode,
    RequestStatus,
    StepName,
)
from tests.unit.navigator.builders import T0, cluster_events, deployment
from tests.unit.navigator.sim import Simulation


@dataclass(frozen=True)
class Side:
    registered: bool = True
    failover: bool = True
    health: Health = Health.HEALTHY
    external_secrets: bool = True
    secret_manager: str | None = "aws"
    store_valid: bool = True
    store_authenticated: bool = True
    plane: PlaneMode = PlaneMode.DATA
    database_side: str | None = None  # None: src reports A, every other cluster B
    held_before: bool = False  # its first inventory lists a Deployment (tainted)
    database_endpoint: str = "db.example:5432"  # every cluster on one server by default


@dataclass(frozen=True)
class Scenario:
    src: Side = Side()
    dst: Side = Side()
    same: bool = False
    active: tuple[tuple[str, str], ...] = field(default=())


def build(s: Scenario) -> Fleet:
    events: list[ev.DomainEvent] = []
    for cid, side in (("src", s.src), ("dst", s.dst), ("x", Side()), ("y", Side())):
        if side.registered:
            events += cluster_events(
                cid,
                failover_enabled=side.failover,
                health=side.health,
                external_secrets=side.external_secrets,
                secret_manager=side.secret_manager,
                store_valid=side.store_valid,
                store_authenticated=side.store_authenticated,
                plane_mode=side.plane,
                database_side=side.database_side or ("A" if cid == "src" else "B"),
                deployment_ids=["legacy"] if side.held_before else None,
                database_endpoint=side.database_endpoint,
            )
    for i, (source, dest) in enumerate(s.active):
        events.append(
            ev.FailoverRequested(
                request_id=f"busy{i}",
                source_cluster_id=source,
                destination_cluster_id=dest,
                mode="FORCED",
                requested_by="op",
                requested_at=T0,
            )
        )
    return Fleet.replay(events)


Breaker = Callable[[Scenario], Scenario]


@dataclass(frozen=True)
class Rule:
    name: str
    side: str  # "src" or "dst"
    fact: str  # rules touching the same fact are not combined
    breaker: Breaker
    expected: tuple[tuple[Code, str], ...]
    masks_side: bool = False
    needs_source: bool = False  # a comparison with the source: masked with it


def src(**kw: object) -> Breaker:
    return lambda s: replace(s, src=replace(s.src, **kw))  # type: ignore[arg-type]


def dst(**kw: object) -> Breaker:
    return lambda s: replace(s, dst=replace(s.dst, **kw))  # type: ignore[arg-type]


def busy(source: str, dest: str) -> Breaker:
    return lambda s: replace(s, active=(*s.active, (source, dest)))


C = Code
RULES = [
    Rule(
        "source not registered",
        "src",
        "src.reg",
        src(registered=False),
        ((C.SOURCE_NOT_REGISTERED, "src"),),
        masks_side=True,
    ),
    Rule(
        "source failover disabled",
        "src",
        "src.fo",
        src(failover=False),
        ((C.SOURCE_FAILOVER_DISABLED, "src"),),
    ),
    Rule(
        "source external secrets off",
        "src",
        "src.es",
        src(external_secrets=False),
        ((C.SOURCE_EXTERNAL_SECRETS_DISABLED, "src"),),
    ),
    Rule(
        "source secret manager unset",
        "src",
        "src.smn",
        src(secret_manager=None),
        ((C.SECRET_MANAGER_NAME_MISSING, "src"),),
    ),
    Rule(
        "source store invalid",
        "src",
        "src.store",
        src(store_valid=False),
        ((C.CLUSTER_SECRET_STORE_INVALID, "src"),),
    ),
    Rule(
        "source store unauthenticated",
        "src",
        "src.store",
        src(store_authenticated=False),
        ((C.CLUSTER_SECRET_STORE_INVALID, "src"),),
    ),
    Rule(
        "source unified",
        "src",
        "src.plane",
        src(plane=PlaneMode.UNIFIED),
        ((C.UNIFIED_PLANE_MODE, "src"),),
    ),
    Rule(
        "source plane unknown",
        "src",
        "src.plane",
        src(plane=PlaneMode.UNKNOWN),
        ((C.PLANE_MODE_NOT_DATA, "src"),),
    ),
    Rule(
        "source busy as source",
        "src",
        "src.busy",
        busy("src", "x"),
        ((C.SOURCE_FAILOVER_IN_PROGRESS, "src"),),
    ),
    Rule(
        "source busy as destination",
        "src",
        "src.busy",
        busy("x", "src"),
        ((C.SOURCE_FAILOVER_IN_PROGRESS, "src"),),
    ),
    Rule(
        "destination not registered",
        "dst",
        "dst.reg",
        dst(registered=False),
        ((C.DESTINATION_NOT_REGISTERED, "dst"),),
        masks_side=True,
    ),
    Rule(
        "same cluster",
        "dst",
        "dst.reg",
        lambda s: replace(s, same=True),
        ((C.SAME_SOURCE_AND_DESTINATION, "src"),),
        masks_side=True,
    ),
    Rule(
        "destination degraded",
        "dst",
        "dst.health",
        dst(health=Health.DEGRADED),
        ((C.DESTINATION_NOT_HEALTHY, "dst"),),
    ),
    Rule(
        "destination unreachable",
        "dst",
        "dst.health",
        dst(health=Health.UNREACHABLE),
        ((C.DESTINATION_NOT_HEALTHY, "dst"),),
    ),
    Rule(
        "destination never heard of",
        "dst",
        "dst.health",
        dst(health=Health.UNKNOWN),
        ((C.DESTINATION_NOT_HEALTHY, "dst"),),
    ),
    Rule(
        "destination failover disabled",
        "dst",
        "dst.fo",
        dst(failover=False),
        ((C.DESTINATION_FAILOVER_DISABLED, "dst"),),
    ),
    Rule(
        "destination held deployments when failover was enabled",
        "dst",
        "dst.fo",
        dst(held_before=True),
        ((C.DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER, "dst"),),
    ),
    Rule(
        "destination pending failover",
        "dst",
        "dst.pending",
        busy("y", "dst"),
        ((C.DESTINATION_HAS_PENDING_FAILOVER, "dst"),),
    ),
    Rule(
        "destination draining",
        "dst",
        "dst.draining",
        busy("dst", "y"),
        ((C.DESTINATION_FAILOVER_IN_PROGRESS, "dst"),),
    ),
    Rule(
        "destination external secrets off",
        "dst",
        "dst.es",
        dst(external_secrets=False),
        ((C.DESTINATION_EXTERNAL_SECRETS_DISABLED, "dst"),),
    ),
    Rule(
        "destination secret manager unset",
        "dst",
        "dst.smn",
        dst(secret_manager=""),
        ((C.SECRET_MANAGER_NAME_MISSING, "dst"),),
    ),
    Rule(
        "destination store invalid",
        "dst",
        "dst.store",
        dst(store_valid=False),
        ((C.CLUSTER_SECRET_STORE_INVALID, "dst"),),
    ),
    Rule(
        "destination unified",
        "dst",
        "dst.plane",
        dst(plane=PlaneMode.UNIFIED),
        ((C.UNIFIED_PLANE_MODE, "dst"),),
    ),
    Rule(
        "destination on the source's database side",
        "dst",
        "dst.side",
        dst(database_side="A"),
        ((C.DATABASE_SIDE_SHARED, "dst"),),
        needs_source=True,
    ),
    Rule(
        "destination on another database server",
        "dst",
        "dst.server",
        dst(database_endpoint="db-west.example:5432"),
        ((C.DATABASE_ENDPOINTS_DIFFER, "dst"),),
        needs_source=True,
    ),
]


def expected(rules: tuple[Rule, ...]) -> set[tuple[Code, str]]:
    masked = {r.side for r in rules if r.masks_side}
    out: set[tuple[Code, str]] = set()
    for r in rules:
        if r.needs_source and "src" in masked:
            continue
        if r.masks_side or r.side not in masked:
            out |= set(r.expected)
    if "src" in masked and any(r.name == "same cluster" for r in rules):
        # Same cluster and unregistered source: the destination *is* the source.
        out = {f for f in out if f[0] is not C.SAME_SOURCE_AND_DESTINATION}
        out.add((C.SAME_SOURCE_AND_DESTINATION, "src"))
    return out


def actual(rules: tuple[Rule, ...]) -> set[tuple[Code, str]]:
    scenario = Scenario()
    for r in rules:
        scenario = r.breaker(scenario)
    fleet = build(scenario)
    destination = "src" if scenario.same else "dst"
    tainted = tainted_clusters(fleet.clusters, fleet.deployments)
    findings = request_blockers(
        "src", destination, fleet.clusters, fleet.requests.values(), tainted=tainted
    )
    for f in findings:  # every finding reads as a sentence naming its subject
        assert f.subject_id in f.message and f.message.endswith((".", ")"))
    return {(f.code, f.subject_id) for f in findings}


def compatible(rules: tuple[Rule, ...]) -> bool:
    return len({r.fact for r in rules}) == len(rules)


def test_the_valid_scenario_has_no_findings() -> None:
    assert actual(()) == set()


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_rule_alone(rule: Rule) -> None:
    assert actual((rule,)) == set(rule.expected)


PAIRS = [p for p in itertools.combinations(RULES, 2) if compatible(p)]


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{a.name} + {b.name}" for a, b in PAIRS])
def test_every_pair(pair: tuple[Rule, Rule]) -> None:
    assert actual(pair) == expected(pair)


@settings(max_examples=150, deadline=None)
@given(st.sets(st.sampled_from(RULES), min_size=3))
def test_any_combination(chosen: set[Rule]) -> None:
    rules = tuple(sorted(chosen, key=RULES.index))
    seen: set[str] = set()
    rules = tuple(r for r in rules if not (r.fact in seen or seen.add(r.fact)))  # type: ignore[func-returns-value]
    assert actual(rules) == expected(rules)


def test_every_code_of_the_brief_is_covered_by_the_table() -> None:
    covered = {code for r in RULES for code, _ in r.expected}
    brief = {
        C.SOURCE_FAILOVER_DISABLED,
        C.SOURCE_EXTERNAL_SECRETS_DISABLED,
        C.DESTINATION_EXTERNAL_SECRETS_DISABLED,
        C.SECRET_MANAGER_NAME_MISSING,
        C.CLUSTER_SECRET_STORE_INVALID,
        C.UNIFIED_PLANE_MODE,
        C.DESTINATION_NOT_REGISTERED,
        C.DESTINATION_NOT_HEALTHY,
        C.DESTINATION_HAS_PENDING_FAILOVER,
        C.SAME_SOURCE_AND_DESTINATION,
        C.SOURCE_FAILOVER_IN_PROGRESS,
    }
    assert brief <= covered


def test_trigger_button_depends_on_the_source_only() -> None:
    fleet = build(dst(registered=False)(Scenario()))
    assert source_blockers("src", fleet.clusters, fleet.requests.values()) == []
    fleet = build(src(external_secrets=False)(Scenario()))
    codes = [f.code for f in source_blockers("src", fleet.clusters, fleet.requests.values())]
    assert codes == [C.SOURCE_EXTERNAL_SECRETS_DISABLED]


def test_valid_destinations_for_the_dropdown() -> None:
    s = Scenario(dst=Side(health=Health.DEGRADED), active=(("x", "y"),))
    fleet = build(s)
    fleet.apply_all(cluster_events("z"))
    fleet.apply_all(cluster_events("w", plane_mode=PlaneMode.UNIFIED))
    # dst is degraded, x drains into y (y is targeted, x is a running source), w is unified.
    assert valid_destinations("src", fleet.clusters, fleet.requests.values()) == ["z"]
    options = destination_options("src", fleet.clusters, fleet.requests.values())
    assert "src" not in options
    assert [f.code for f in options["y"]] == [C.DESTINATION_HAS_PENDING_FAILOVER]
    assert [f.code for f in options["x"]] == [C.DESTINATION_FAILOVER_IN_PROGRESS]
    assert [f.code for f in options["dst"]] == [C.DESTINATION_NOT_HEALTHY]
    assert options["z"] == []
    # A finished request frees its clusters.
    fleet.apply(ev.FailoverRejected(request_id="busy0", rejected_at=T0))
    assert valid_destinations("src", fleet.clusters, fleet.requests.values()) == [
        "x",
        "y",
        "z",
    ]


def test_an_unreachable_source_is_not_a_blocker() -> None:
    fleet = build(Scenario(src=Side(health=Health.UNREACHABLE)))
    # An unreachable source can still fail over (Forced exists for exactly that).
    assert request_blockers("src", "dst", fleet.clusters, fleet.requests.values()) == []


def test_a_destination_sharing_the_sources_database_side_is_greyed_out() -> None:
    """Fencing grants the destination's login role and revokes the other: on one side
    both clusters hold the same role, and the fence would cut the source off nothing."""
    fleet = build(Scenario())
    fleet.apply_all(cluster_events("z", database_side="A"))
    fleet.apply_all(cluster_events("old"))  # an agent that does not report a side
    options = destination_options("src", fleet.clusters, fleet.requests.values())
    (shared,) = options["z"]
    assert shared.code is C.DATABASE_SIDE_SHARED and "side A" in shared.message
    assert options["old"] == [] and options["dst"] == []
    assert valid_destinations("src", fleet.clusters, fleet.requests.values()) == [
        "dst",
        "old",
        "x",
        "y",
    ]


def test_a_cluster_that_does_not_report_its_database_server_is_not_compared() -> None:
    """Not blocked (an older agent, or pilot.database.endpoint unset), but the request
    warns that the spec's one stable endpoint could not be checked."""
    fleet = build(Scenario(dst=Side(database_endpoint="")))
    assert request_blockers("src", "dst", fleet.clusters, fleet.requests.values()) == []
    src, dst = fleet.clusters["src"], fleet.clusters["dst"]
    unreported = [
        w
        for w in warnings(src, dst, FailoverMode.FORCED)
        if w.code is C.DATABASE_ENDPOINT_UNREPORTED
    ]
    assert [w.subject_id for w in unreported] == ["dst"]
    assert "pilot.database.endpoint" in unreported[0].message
    both = build(Scenario())
    assert not [
        w
        for w in warnings(both.clusters["src"], both.clusters["dst"], FailoverMode.FORCED)
        if w.code is C.DATABASE_ENDPOINT_UNREPORTED
    ]


def test_a_cluster_still_running_a_failed_missions_step_is_busy_for_both_roles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The source's drain fails for good while the destination's secrets step still
    runs. The mission and the request end FAILED, and the running step is left to end:
    until it has, neither cluster takes part in another failover.

    Today's plans never run both flights at once (Controlled prepares the destination
    before the source stops), so the test runs the Controlled plan as it was before
    2026-12-06, under which missions already in flight may still be: the guard stays."""
    side_by_side = (
        plans.StepSpec(StepName.STOP_SCHEDULING),
        plans.StepSpec(StepName.DRAIN_TASKS),
        plans.PLANS[(FailoverMode.CONTROLLED, FlightKind.SOURCE)][-1],
    )
    monkeypatch.setitem(plans.PLANS, (FailoverMode.CONTROLLED, FlightKind.SOURCE), side_by_side)
    sim = Simulation(cluster_events("s") + cluster_events("d") + [deployment("x", "s")])
    sim.command(RequestFailover("r1", "s", "d", FailoverMode.CONTROLLED, "op"))
    sim.fail("x", "SOURCE", StepName.DRAIN_TASKS, "permanent")
    sim.fail("x", "DESTINATION", StepName.APPLY_EXTERNAL_SECRETS, "hang")
    for _ in range(12):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1000
    fleet = sim.fleet
    assert fleet.requests["r1"].status is RequestStatus.FAILED
    assert not fleet.flights["r1/x/destination"].terminal  # its step still runs
    busy = winding_down(fleet.missions, fleet.flights)
    assert busy == {"d": "r1/x"}
    requests = fleet.requests.values()
    assert valid_destinations("s", fleet.clusters, requests, busy=busy) == []
    (why,) = destination_options("s", fleet.clusters, requests, busy=busy)["d"]
    assert why.code is C.FLIGHTS_WINDING_DOWN and "mission r1/x" in why.message
    assert [f.code for f in source_blockers("d", fleet.clusters, requests, busy)] == [
        C.FLIGHTS_WINDING_DOWN
    ]
    out = fleet.decide(RequestFailover("r2", "s", "d", FailoverMode.FORCED, "op"), sim.now)
    assert isinstance(out[-1], ev.FailoverRejected)
    assert "FLIGHTS_WINDING_DOWN" in out[-1].reason_codes
    assert valid_destinations("s", fleet.clusters, requests) == ["d"]  # what it was before
