"""Per-Deployment eligibility, the operator's exclude flag, enabling failover, warnings."""

from __future__ import annotations

import itertools

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import EnableFailover, RequestFailover
from jetbridge.navigator.domain.deployment_eligibility import held_before_failover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import (
    DatabaseEndpointStatus,
    FailoverMode,
    Health,
    MissionStatus,
    PlaneMode,
    RequestStatus,
)
from tests.unit.navigator.builders import T0, cluster_events, deployment, facts, health
from tests.unit.navigator.sim import Simulation
from tests.unit.navigator.test_blast_radius import sided

C = Code
ENABLED_AT = T0 + 50_000


def fleet_with(*extra: ev.DomainEvent, src_kw: dict[str, object] | None = None) -> Fleet:
    """src registered without failover, switched on at ENABLED_AT; dst valid."""
    f = Fleet.replay(
        cluster_events("src", failover_enabled=False, **(src_kw or {})) + cluster_events("dst")
    )
    f.apply(ev.FailoverEnabled(cluster_id="src", enabled_at=ENABLED_AT, enabled_by="op"))
    f.apply(deployment("good", "src", created_at=ENABLED_AT + 1, priority=3))
    f.apply_all(extra)
    return f


def request(f: Fleet, exclude: bool = False, mode: FailoverMode = FailoverMode.CONTROLLED):
    cmd = RequestFailover("r1", "src", "dst", mode, "op", exclude_ineligible=exclude)
    return f.decide(cmd, ENABLED_AT + 100_000)


# name -> (events that add the case, expected per-Deployment findings)
CASES: dict[str, tuple[list[ev.DomainEvent], set[tuple[Code, str]]]] = {
    "git-sync": (
        [deployment("gs", "src", created_at=ENABLED_AT + 5, mechanism="GIT_SYNC")],
        {(C.GIT_SYNC_NOT_SUPPORTED, "gs")},
    ),
    "dag-only": (
        [deployment("dag", "src", created_at=ENABLED_AT + 5, mechanism="DAG_ONLY")],
        {(C.DAG_ONLY_NOT_SUPPORTED, "dag")},
    ),
    "old git-sync": (
        [deployment("oldgs", "src", created_at=ENABLED_AT - 5, mechanism="GIT_SYNC")],
        {(C.GIT_SYNC_NOT_SUPPORTED, "oldgs"), (C.CREATED_BEFORE_FAILOVER_ENABLED, "oldgs")},
    ),
    "unknown to navigator": (
        [facts("src", deployment_ids=["good", "ghost"])],
        {(C.DEPLOYMENT_UNKNOWN, "ghost")},
    ),
}


def findings(events: list[ev.DomainEvent]) -> tuple[set[tuple[Code, str]], list[ev.DomainEvent]]:
    out = request(fleet_with(*events))
    requested = out[0]
    assert isinstance(requested, ev.FailoverRequested)
    got = set(
        zip(
            (Code(c) for c in requested.ineligible_reason_codes),
            requested.ineligible_deployment_ids,
            strict=True,
        )
    )
    return got, out


def test_created_before_enabling_taints_the_cluster_for_every_deployment() -> None:
    got, _ = findings([deployment("old", "src", created_at=ENABLED_AT - 1)])
    assert got == {
        (C.CREATED_BEFORE_FAILOVER_ENABLED, "old"),
        (C.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER, "good"),
    }


def test_cluster_that_reported_deployments_when_failover_was_enabled_is_tainted() -> None:
    f = Fleet.replay(cluster_events("src", failover_enabled=False) + cluster_events("dst"))
    f.apply(facts("src", deployment_ids=["legacy"]))
    f.apply(ev.FailoverEnabled(cluster_id="src", enabled_at=ENABLED_AT, enabled_by="op"))
    f.apply(facts("src", deployment_ids=[]))  # legacy was removed since
    f.apply(deployment("new", "src", created_at=ENABLED_AT + 1))
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), ENABLED_AT)
    assert isinstance(out[-1], ev.FailoverRejected)
    assert (C.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER.value, "new") in zip(
        out[-1].reason_codes, out[-1].reason_subjects, strict=True
    )


def test_a_deployment_deleted_before_the_switch_does_not_taint_the_cluster() -> None:
    """The cluster held nothing when failover was enabled (enabling checked it): a
    Deployment created and deleted before then must not make it ineligible for ever,
    as source or as destination."""
    f = Fleet.replay(cluster_events("src", failover_enabled=False) + cluster_events("dst"))
    f.apply(deployment("old", "src", created_at=ENABLED_AT - 300))
    f.apply(ev.DeploymentDeleted(deployment_id="old", deleted_at=ENABLED_AT - 200))
    f.apply(facts("src", at=ENABLED_AT - 100, deployment_ids=[]))
    (enabled,) = f.decide(EnableFailover("src", "op"), ENABLED_AT)
    assert isinstance(enabled, ev.FailoverEnabled)
    f.apply(enabled)
    f.apply(deployment("new", "src", created_at=ENABLED_AT + 1))
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), ENABLED_AT + 2)
    assert isinstance(out[0], ev.FailoverRequested) and not out[0].ineligible_deployment_ids, out


def test_deployments_whose_derived_names_collide_are_refused_naming_each_other() -> None:
    """``Prod`` is folded (upper case) and gets a hashed name; ``prod_<that hash>`` is a
    valid name used as it is, and the same: one database, one set of roles. A failover
    of either would fence and delete the other's."""
    from jetbridge.common.naming import database_slug  # noqa: PLC0415

    twin = database_slug("Prod")
    f = Fleet.replay(cluster_events("src") + cluster_events("dst"))
    for did in ("Prod", twin, "fine"):
        f.apply(deployment(did, "src", created_at=T0 + 1))
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0 + 2)
    found = rejection_findings(out)
    assert (C.DEPLOYMENT_NAMES_COLLIDE.value, "Prod") in found
    assert (C.DEPLOYMENT_NAMES_COLLIDE.value, twin) in found
    assert not any(subject == "fine" for _, subject in found)


def rejection_findings(out: list[ev.DomainEvent]) -> set[tuple[str, str]]:
    assert isinstance(out[-1], ev.FailoverRejected), out
    return set(zip(out[-1].reason_codes, out[-1].reason_subjects, strict=True))


def test_installed_with_failover_on_its_first_inventory_is_what_it_held_before() -> None:
    """No EnableFailover check runs for such a cluster: its first report taints it."""
    f = Fleet.replay(cluster_events("src", deployment_ids=["legacy"]) + cluster_events("dst"))
    f.apply(deployment("new", "src", created_at=T0 + 1))
    f.apply(facts("src", at=T0 + 2, deployment_ids=["new"]))  # legacy was removed since
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0 + 3)
    assert (C.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER.value, "new") in rejection_findings(out)
    assert f.clusters["src"].deployments_before_failover == ("legacy",)
    assert held_before_failover(f.clusters["src"], f.deployments) == ["legacy"]


def test_a_first_inventory_of_deployments_created_after_the_switch_does_not_taint() -> None:
    registered = ev.ClusterRegistered(
        cluster_id="src", name="src", registered_at=T0, failover_enabled=True
    )
    f = Fleet.replay([registered, *cluster_events("dst")])
    f.apply(deployment("new", "src", created_at=T0 + 1))
    f.apply_all(cluster_events("src", at=T0 + 2, deployment_ids=["new"])[1:])
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0 + 3)
    assert [type(e) for e in out] == [ev.FailoverRequested]
    assert out[0].deployment_ids == ["new"]  # type: ignore[attr-defined]
    # Only the first inventory counts: a later one does not re-judge the cluster.
    f.apply(facts("src", at=T0 + 4, deployment_ids=["new", "later"]))
    assert f.clusters["src"].deployments_before_failover == ("new",)
    assert held_before_failover(f.clusters["src"], f.deployments) == []  # what the UI shows


def oracle(names: tuple[str, ...]) -> set[tuple[Code, str]]:
    """Each case's own findings; an old Deployment also taints every other known one."""
    want: set[tuple[Code, str]] = set().union(*(CASES[n][1] for n in names))
    if "old git-sync" in names:
        others = {"good"} | {
            d for n in names if n in ("git-sync", "dag-only") for _, d in CASES[n][1]
        }
        want |= {(C.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER, d) for d in others}
    return want


COMBOS = [c for n in (1, 2, 3, 4) for c in itertools.combinations(CASES, n)]


@pytest.mark.parametrize("names", COMBOS, ids=[" + ".join(c) for c in COMBOS])
def test_deployment_rules_alone_and_in_combination(names: tuple[str, ...]) -> None:
    got, out = findings([e for n in names for e in CASES[n][0]])
    assert got == oracle(names)
    assert isinstance(out[-1], ev.FailoverRejected)  # default: rejected, not excluded


def test_by_default_ineligible_deployments_reject_the_request_one_by_one() -> None:
    f = fleet_with(*CASES["git-sync"][0], *CASES["dag-only"][0])
    requested, rejected = request(f)
    assert isinstance(requested, ev.FailoverRequested) and not requested.exclude_ineligible
    assert isinstance(rejected, ev.FailoverRejected)
    assert rejected.reason_codes[0] == C.INELIGIBLE_DEPLOYMENTS
    assert "2 Deployment(s) on src cannot fail over" in rejected.reason_messages[0]
    assert list(zip(rejected.reason_codes[1:], rejected.reason_subjects[1:], strict=True)) == [
        (C.DAG_ONLY_NOT_SUPPORTED, "dag"),
        (C.GIT_SYNC_NOT_SUPPORTED, "gs"),
    ]
    assert "git-sync" in rejected.reason_messages[2]


def test_the_operator_flag_excludes_them_and_the_events_record_it() -> None:
    f = fleet_with(*CASES["git-sync"][0], *CASES["dag-only"][0])
    out = request(f, exclude=True)
    assert len(out) == 1
    requested = out[0]
    assert isinstance(requested, ev.FailoverRequested)
    assert requested.exclude_ineligible is True
    assert requested.deployment_ids == ["good"]
    assert requested.ineligible_deployment_ids == ["dag", "gs"]
    f.apply_all(out)
    f.apply_all(f.react(ENABLED_AT + 100_000))
    assert [m.deployment_id for m in f.missions.values()] == ["good"]
    assert f.requests["r1"].status is RequestStatus.IN_PROGRESS


def test_excluding_every_deployment_is_refused_and_names_each() -> None:
    """The flag leaves some behind, never all: a request that moves nothing from a
    cluster holding Deployments would end SUCCEEDED, read as the cluster evacuated."""
    f = Fleet.replay(cluster_events("src", failover_enabled=False) + cluster_events("dst"))
    f.apply(ev.FailoverEnabled(cluster_id="src", enabled_at=ENABLED_AT, enabled_by="op"))
    f.apply_all([*CASES["git-sync"][0], *CASES["dag-only"][0]])
    requested, rejected = request(f, exclude=True)
    assert isinstance(requested, ev.FailoverRequested) and requested.deployment_ids == []
    assert isinstance(rejected, ev.FailoverRejected)
    assert rejected.reason_codes[0] == C.EVERY_DEPLOYMENT_EXCLUDED
    assert "Every Deployment on src (2) is ineligible" in rejected.reason_messages[0]
    assert sorted(zip(rejected.reason_codes[1:], rejected.reason_subjects[1:], strict=True)) == [
        (C.DAG_ONLY_NOT_SUPPORTED, "dag"),
        (C.GIT_SYNC_NOT_SUPPORTED, "gs"),
    ]
    f.apply_all([requested, rejected])
    assert f.requests["r1"].status is RequestStatus.REJECTED
    assert f.react(ENABLED_AT + 100_000) == []  # no mission, nothing started


def test_enabling_failover_on_a_cluster_with_deployments_is_refused() -> None:
    f = Fleet.replay(cluster_events("c", failover_enabled=False))
    f.apply(deployment("d", "c"))
    (refused,) = f.decide(EnableFailover("c", "op"), T0)
    assert isinstance(refused, ev.FailoverEnableRefused)
    assert refused.reason_code == C.CLUSTER_HAS_DEPLOYMENTS and refused.deployment_ids == ["d"]
    f.apply(refused)
    assert not f.clusters["c"].failover_enabled


def test_enabling_failover_needs_an_inventory_the_cluster_reported_and_still_stands_by() -> None:
    """Judged on an inventory never reported, or reported by a cluster that cannot be
    reached now, a cluster full of Deployments would pass as empty."""
    registered = ev.ClusterRegistered(cluster_id="c", name="c", registered_at=T0)
    f = Fleet.replay([registered])
    (refused,) = f.decide(EnableFailover("c", "op"), T0 + 1)
    assert isinstance(refused, ev.FailoverEnableRefused)
    assert refused.reason_code == C.CLUSTER_INVENTORY_UNKNOWN
    assert "not reported which Deployments it holds" in refused.reason
    f.apply(refused)
    f.apply_all(cluster_events("c", failover_enabled=False)[1:])  # facts, HEALTHY
    f.apply(health("c", Health.HEALTHY, Health.UNREACHABLE))
    (stale,) = f.decide(EnableFailover("c", "op"), T0 + 2)
    assert isinstance(stale, ev.FailoverEnableRefused)
    assert stale.reason_code == C.CLUSTER_INVENTORY_STALE and "UNREACHABLE" in stale.reason
    unified = Fleet.replay(
        cluster_events("u", failover_enabled=False, plane_mode=PlaneMode.UNIFIED)
    )
    (refused,) = unified.decide(EnableFailover("u", "op"), T0 + 3)
    assert isinstance(refused, ev.FailoverEnableRefused)
    assert refused.reason_code == C.CLUSTER_UNIFIED_PLANE_MODE
    assert not unified.clusters["u"].failover_enabled


def test_enabling_failover_on_an_empty_cluster_works_once() -> None:
    f = Fleet.replay(cluster_events("c", failover_enabled=False))
    (enabled,) = f.decide(EnableFailover("c", "op"), T0 + 5)
    f.apply(enabled)
    assert f.clusters["c"].failover_enabled and f.clusters["c"].failover_enabled_at == T0 + 5
    assert f.decide(EnableFailover("c", "op"), T0 + 6) == []


WARNINGS = {
    "versions differ": ({"version": "2.1.0"}, C.JETBRIDGE_VERSION_MISMATCH),
    "read-only replica": (
        {"db": DatabaseEndpointStatus.READ_ONLY_REPLICA},
        C.DATABASE_ENDPOINT_READ_ONLY,
    ),
    "db unreachable": ({"db": DatabaseEndpointStatus.UNREACHABLE}, C.DATABASE_ENDPOINT_UNREACHABLE),
    "no log sink": ({"log_sink": False}, C.DESTINATION_LOG_SINK_MISSING),
    "other secret manager": ({"secret_manager": "gcp"}, C.SECRET_MANAGER_NAMES_DIFFER),
    "vault store": ({"provider": "vault"}, C.SECRET_PROVIDER_UNSUPPORTED),
    "parameter store": ({"provider": "aws/ParameterStore"}, C.SECRET_PROVIDER_UNSUPPORTED),
}


@pytest.mark.parametrize("name", list(WARNINGS))
def test_warnings_are_recorded_and_never_block(name: str) -> None:
    kw, code = WARNINGS[name]
    f = Fleet.replay(cluster_events("src") + cluster_events("dst", **kw))  # type: ignore[arg-type]
    f.apply(deployment("d", "src"))
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0 + 5000)
    assert len(out) == 1
    requested = out[0]
    assert isinstance(requested, ev.FailoverRequested)
    assert requested.warning_codes == [code.value]
    assert requested.warning_subjects == ["dst"]


def test_a_source_without_a_log_sink_warns_too() -> None:
    f = Fleet.replay(cluster_events("src", log_sink=False) + cluster_events("dst"))
    f.apply(deployment("d", "src"))
    (requested,) = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0)
    assert isinstance(requested, ev.FailoverRequested)
    assert requested.warning_codes == [C.SOURCE_LOG_SINK_MISSING.value]
    assert requested.warning_subjects == ["src"]


def test_the_spec_s_two_secret_providers_do_not_warn_and_a_source_s_other_one_does() -> None:
    for provider in ("aws/SecretsManager", "gcpsm", ""):  # "": an agent that cannot say
        f = Fleet.replay(cluster_events("src", provider=provider) + cluster_events("dst"))
        f.apply(deployment("d", "src"))
        (requested,) = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0)
        assert isinstance(requested, ev.FailoverRequested) and requested.warning_codes == []
    f = Fleet.replay(cluster_events("src", provider="vault") + cluster_events("dst"))
    f.apply(deployment("d", "src"))
    (requested,) = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0)
    assert isinstance(requested, ev.FailoverRequested)
    assert (requested.warning_codes, requested.warning_subjects) == (
        [C.SECRET_PROVIDER_UNSUPPORTED.value],
        ["src"],
    )
    assert "uses vault" in requested.warning_messages[0]


def test_controlled_with_an_unreachable_source_is_refused_and_forced_is_not() -> None:
    """Before 2026-12-07 a warning: the Controlled request went ahead, could neither drain
    nor delete on the source, and held it from a Forced one until every mission had
    failed (the drain timeout plus every retry)."""
    f = Fleet.replay(cluster_events("src") + cluster_events("dst"))
    f.apply_all([deployment("d", "src"), health("src", Health.HEALTHY, Health.UNREACHABLE)])
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.CONTROLLED, "op"), T0)
    assert [type(e) for e in out] == [ev.FailoverRequested, ev.FailoverRejected]
    assert rejection_findings(out) == {(C.SOURCE_UNREACHABLE_FOR_CONTROLLED.value, "src")}
    assert "Use Forced" in out[-1].reason_messages[0]  # type: ignore[attr-defined]
    forced = f.decide(RequestFailover("r2", "src", "dst", FailoverMode.FORCED, "op"), T0)
    assert [type(e) for e in forced] == [ev.FailoverRequested]
    assert forced[0].warning_codes == []  # type: ignore[attr-defined]
    f.apply(health("src", Health.UNREACHABLE, Health.DEGRADED))  # answers again
    again = f.decide(RequestFailover("r3", "src", "dst", FailoverMode.CONTROLLED, "op"), T0)
    assert [type(e) for e in again] == [ev.FailoverRequested]


def test_an_empty_source_warns_and_succeeds_with_nothing_to_move() -> None:
    f = Fleet.replay(cluster_events("src") + cluster_events("dst"))
    out = f.decide(RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op"), T0)
    assert isinstance(out[0], ev.FailoverRequested)
    assert out[0].warning_codes == [C.NO_DEPLOYMENTS_TO_MOVE.value]
    f.apply_all(out)
    f.apply_all(f.react(T0))
    assert f.requests["r1"].status is RequestStatus.SUCCEEDED


def test_a_request_that_excluded_deployments_moves_the_others_and_ends_failed() -> None:
    """The spec's failover moves every Deployment on the cluster: one left behind needs an
    operator, so the request that excluded it cannot end SUCCEEDED (read as the cluster
    evacuated), even when every mission succeeded. Without an excluded one it succeeds."""
    sim = Simulation(sided({"a": "A", "b": "B"}, "img"))
    sim.record([deployment("git", "a", mechanism="GIT_SYNC")])
    sim.command(
        RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", exclude_ineligible=True)
    )
    sim.run()
    r = sim.fleet.requests["r1"]
    assert r.status is RequestStatus.FAILED
    assert {m.status for m in sim.fleet.missions.values()} == {MissionStatus.SUCCEEDED}
    assert sim.fleet.deployments["img"].cluster_id == "b"
    (failed,) = sim.of_type(ev.FailoverFailed)
    assert isinstance(failed, ev.FailoverFailed)
    assert failed.excluded_deployment_ids == ["git"] and failed.failed_mission_ids == []

    sim.command(RequestFailover("back", "b", "a", FailoverMode.CONTROLLED, "op"))
    sim.run()
    assert sim.fleet.requests["back"].status is RequestStatus.SUCCEEDED  # nothing excluded
