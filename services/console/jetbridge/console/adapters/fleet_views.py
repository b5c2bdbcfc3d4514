"""Views of the Navigator's own ``Fleet``: the same objects, rules and sentences it decides with.

Eligibility, valid destinations, Deployment readiness and the dry-run plan call the
Navigator's pure domain directly (``eligibility``, ``deployment_eligibility``,
``requesting``), so the Console can never explain a rule differently from the way the
Navigator applies it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jetbridge.console.domain.intents import MODE_HELP, Mode, StartIntent
from jetbridge.console.domain.progress import MissionProgress, duration_ms, progress
from jetbridge.console.service_layer.views import (
    ClusterFacts,
    ClusterView,
    DeploymentView,
    DestinationOption,
    DestinationsView,
    FlightView,
    MissionView,
    PlannedFlight,
    PlannedMission,
    PlannedStep,
    PlanView,
    ProgressView,
    Reason,
    RequestDetail,
    RequestSummary,
    StepView,
)
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.deployment_eligibility import judge, tainted_clusters, tainting
from jetbridge.navigator.domain.eligibility import (
    destination_options,
    source_blockers,
    trigger_blockers,
    valid_destinations,
    winding_down,
)
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.reasons import Code, Finding, finding
from jetbridge.navigator.domain.requesting import start_request
from jetbridge.navigator.domain.superseding import supersedable
from jetbridge.navigator.domain.vocabulary import FailoverMode, FlightKind, StepName, StepStatus


def reason(f: Finding) -> Reason:
    return Reason(code=f.code.value, subject_id=f.subject_id, message=f.message)


def zipped(
    payload: Mapping[str, Any] | None, codes: str, subjects: str, texts: str
) -> list[Reason]:
    """Reasons recorded in an event as parallel lists (codes, subjects, messages)."""
    if not payload:
        return []
    return [
        Reason(code=c, subject_id=s, message=m)
        for c, s, m in zip(payload[codes], payload[subjects], payload[texts], strict=False)
    ]


def _active_request(fleet: Fleet, cluster_id: str) -> str | None:
    found = sorted(r.id for r in fleet.requests.values() if r.active and r.involves(cluster_id))
    return found[0] if found else None


def cluster_view(
    fleet: Fleet,
    c: Cluster,
    seq: int,
    tainted: set[str],
    busy: Mapping[str, str] | None = None,
) -> ClusterView:
    """``tainted``, ``busy``: computed once for a list of clusters (tainted_clusters,
    winding_down); ``busy`` None: computed here."""
    requests = list(fleet.requests.values())
    busy = winding_down(fleet.missions, fleet.flights) if busy is None else busy
    source = source_blockers(c.id, fleet.clusters, requests, busy)
    on_it = [d for d in fleet.deployments.values() if d.active and d.cluster_id == c.id]
    ineligible = sum(1 for d in on_it if judge(d, fleet.clusters, tainted, fleet.registry))
    destinations = (
        []
        if source
        else valid_destinations(c.id, fleet.clusters, requests, tainted=tainted, busy=busy)
    )
    # The spec's rules hold on both sides: no valid destination, no Trigger; and every
    # inactive Trigger says why.
    blockers = trigger_blockers(
        c.id,
        fleet.clusters,
        requests,
        destinations=destinations,
        held_before=tainting(c, fleet.deployments) if c.id in tainted else (),
        busy=busy,
    )
    return ClusterView(
        cluster_id=c.id,
        name=c.name or c.id,
        registration=c.registration.value,
        endpoint=c.endpoint,
        certificate_identity=c.certificate_identity,
        health=c.health.value,
        failover_enabled=c.failover_enabled,
        failover_enabled_at=c.failover_enabled_at,
        registered_at=c.registered_at,
        declared_lost_at=c.declared_lost_at,
        declared_lost_by=c.declared_lost_by,
        lost_attestation=c.lost_attestation,
        facts=ClusterFacts(
            observed_at=c.facts_observed_at,
            jetbridge_version=c.jetbridge_version,
            plane_mode=c.plane_mode.value,
            external_secrets_enabled=c.external_secrets_enabled,
            external_secret_manager_name=c.external_secret_manager_name,
            cluster_secret_store_valid=c.cluster_secret_store_valid,
            cluster_secret_store_authenticated=c.cluster_secret_store_authenticated,
            log_sink_configured=c.log_sink_configured,
            database_endpoint_status=c.database_endpoint_status.value,
            reported_deployment_ids=list(c.deployment_ids),
        ),
        deployment_count=len(on_it),
        ineligible_deployment_count=ineligible,
        can_trigger_failover=not blockers,
        trigger_blockers=[reason(f) for f in blockers],
        valid_destinations=destinations,
        active_request_id=_active_request(fleet, c.id),
        seq=seq,
    )


def destinations_view(fleet: Fleet, source_id: str) -> DestinationsView:
    requests = list(fleet.requests.values())
    tainted = tainted_clusters(fleet.clusters, fleet.deployments)
    busy = winding_down(fleet.missions, fleet.flights)
    options = destination_options(source_id, fleet.clusters, requests, tainted=tainted, busy=busy)
    return DestinationsView(
        source_cluster_id=source_id,
        source_blockers=[
            reason(f) for f in source_blockers(source_id, fleet.clusters, requests, busy)
        ],
        valid_destinations=[cid for cid, why in options.items() if not why],
        options=[
            DestinationOption(cluster_id=cid, valid=not why, reasons=[reason(f) for f in why])
            for cid, why in options.items()
        ],
    )


def deployment_views(fleet: Fleet, cluster_id: str) -> list[DeploymentView]:
    tainted = tainted_clusters(fleet.clusters, fleet.deployments)
    running = {m.deployment_id: m.id for m in fleet.missions.values() if not m.terminal}
    on_it = [d for d in fleet.deployments.values() if d.active and d.cluster_id == cluster_id]
    out = []
    for d in sorted(on_it, key=lambda d: (-d.priority, d.id)):
        why = judge(d, fleet.clusters, tainted, fleet.registry)
        out.append(_deployment(d, why, running.get(d.id)))
    return out


def _deployment(d: Deployment, why: list[Finding], mission_id: str | None) -> DeploymentView:
    return DeploymentView(
        deployment_id=d.id,
        name=d.name or d.id,
        cluster_id=d.cluster_id,
        origin_cluster_id=d.origin_cluster_id,
        status=d.status.value,
        deploy_mechanism=d.deploy_mechanism.value,
        image=d.image,
        priority=d.priority,
        created_at=d.created_at,
        fencing_epoch=d.fencing_epoch,
        writer_cluster_id=d.writer_cluster_id,
        failover_ready=not why,
        reasons=[reason(f) for f in why],
        active_mission_id=mission_id,
    )


MissionProgressOf = Callable[[str], MissionProgress]


def request_summary(
    fleet: Fleet,
    r: FailoverRequest,
    extras: RequestExtras,
    seq: int,
    now: int,
    *,
    progress_of: MissionProgressOf | None = None,
) -> RequestSummary:
    """``progress_of`` may answer from a cache (the ledger model's); without it every
    mission's flights are walked, which for a large request is most of the answer's cost."""
    of = progress_of or (lambda mission_id: mission_progress(fleet, mission_id))
    p = progress(r.status.value, [of(m) for m in r.mission_ids])
    return RequestSummary(
        request_id=r.id,
        source_cluster_id=r.source_cluster_id,
        destination_cluster_id=r.destination_cluster_id,
        mode=r.mode.value,
        status=r.status.value,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        started_at=extras.started_at,
        ended_at=r.ended_at,
        duration_ms=duration_ms(r.requested_at, r.ended_at, now),
        cancel_requested_by=r.cancel_requested_by,
        superseded_by=r.superseded_by,
        progress=ProgressView(**vars(p)),
        seq=seq,
    )


def mission_progress(fleet: Fleet, mission_id: str) -> MissionProgress:
    m = fleet.missions.get(mission_id)
    if m is None:  # read before its MissionCreated: count it as waiting
        return MissionProgress("CREATED", 0, 0)
    done = total = 0
    for fid in (m.source_flight_id, m.destination_flight_id):
        flight = fleet.flights.get(fid)
        if flight is not None:
            total += len(flight.steps)
            done += sum(1 for s in flight.steps if s.status is StepStatus.SUCCEEDED)
    return MissionProgress(m.status.value, done, total)


class RequestExtras:
    """What a request's events say that its aggregate does not keep (sentences, times)."""

    def __init__(self) -> None:
        self.requested: dict[str, Any] | None = None
        self.rejected: dict[str, Any] | None = None
        self.failed: dict[str, Any] | None = None
        self.started_at: int | None = None


def request_detail(
    fleet: Fleet,
    r: FailoverRequest,
    extras: RequestExtras,
    seq: int,
    now: int,
    *,
    progress_of: MissionProgressOf | None = None,
) -> RequestDetail:
    summary = request_summary(fleet, r, extras, seq, now, progress_of=progress_of)
    p = r.policy
    failed = extras.failed or {}
    failures = [
        Reason(code=c, subject_id=m, message=t)
        for m, c, t in zip(
            failed.get("failed_mission_ids", []),
            failed.get("failed_reason_codes", []),
            failed.get("failed_reasons", []),
            strict=False,
        )
    ]
    if excluded := failed.get("excluded_deployment_ids"):
        shown = ", ".join(excluded[:5]) + (
            f" and {len(excluded) - 5} more" if len(excluded) > 5 else ""
        )
        failures.append(reason(finding(Code.EXCLUDED_DEPLOYMENTS_LEFT, r.source_cluster_id, shown)))
    missions = [fleet.missions[m] for m in r.mission_ids if m in fleet.missions]
    return RequestDetail(
        **summary.model_dump(),
        drain_timeout_seconds=p.drain_timeout_seconds,
        exclude_ineligible=r.exclude_ineligible,
        max_concurrent_missions=p.blast_radius.max_concurrent_missions,
        halt_failure_ratio=p.blast_radius.halt_failure_ratio,
        max_attempts=p.retry.max_attempts,
        halted=r.halted,
        can_force=supersedable(r.source_cluster_id, fleet.clusters, [r]) is r,
        warnings=zipped(extras.requested, "warning_codes", "warning_subjects", "warning_messages"),
        ineligible=zipped(
            extras.requested,
            "ineligible_reason_codes",
            "ineligible_deployment_ids",
            "ineligible_reason_messages",
        ),
        rejection_reasons=zipped(
            extras.rejected, "reason_codes", "reason_subjects", "reason_messages"
        ),
        failure_reasons=failures,
        missions=[mission_view(fleet, m, now) for m in missions],
    )


def mission_view(fleet: Fleet, m: Mission, now: int) -> MissionView:
    # Partitions interleave: a mission may be read before its flights (shown once they are).
    flights = [
        fleet.flights[f]
        for f in (m.source_flight_id, m.destination_flight_id)
        if f in fleet.flights
    ]
    current = next(
        (
            f"{f.kind.value}:{s.name.value}"
            for f in flights
            if (s := f.current()) is not None and s.status.value in ("CLEARED", "RUNNING", "FAILED")
        ),
        None,
    )
    return MissionView(
        mission_id=m.id,
        deployment_id=m.deployment_id,
        status=m.status.value,
        cleanup=m.cleanup.value,
        priority=m.priority,
        fencing_epoch=m.fencing_epoch,
        created_at=m.created_at,
        started_at=m.started_at,
        ended_at=m.ended_at,
        duration_ms=duration_ms(m.started_at, m.ended_at, now),
        reason_code=m.reason_code,
        reason=m.reason,
        current_step=current if not m.terminal else None,
        flights=[flight_view(f, now) for f in flights],
    )


def flight_view(f: Flight, now: int) -> FlightView:
    failure = None
    if f.failure is not None:
        step, code, why = f.failure
        failure = Reason(code=code, subject_id=step, message=why)
    return FlightView(
        flight_id=f.id,
        kind=f.kind.value,
        cluster_id=f.cluster_id,
        status=f.status.value,
        dispatched_at=f.dispatched_at,
        failure=failure,
        tasks_still_running_after_drain=f.tasks_still_running_after_drain,
        steps=[
            StepView(
                name=s.name.value,
                status=s.status.value,
                attempts=s.attempts,
                failures=s.failures,
                deadline_seconds=s.deadline_seconds,
                started_at=s.started_at,
                ended_at=s.ended_at,
                duration_ms=duration_ms(s.started_at, s.ended_at, now)
                if s.status.value in ("RUNNING", "SUCCEEDED", "FAILED")
                else None,
                error_code=s.error_code,
                error=s.error,
                transient=s.transient,
            )
            for s in f.steps
        ],
    )


def plan_view(fleet: Fleet, intent: StartIntent, now: int) -> PlanView:
    """A dry run: the Navigator's own decision and mission plan, on a throwaway id."""
    command = RequestFailover(
        request_id=f"dry-run-{uuid.uuid4().hex[:8]}",
        source_cluster_id=intent.source_cluster_id,
        destination_cluster_id=intent.destination_cluster_id,
        mode=FailoverMode(intent.mode.value),
        requested_by="dry-run",
        exclude_ineligible=intent.exclude_ineligible,
        policy=FailoverPolicy(
            drain_timeout_seconds=intent.drain_timeout_seconds,
            retry=RetryPolicy(max_attempts=intent.max_attempts),
            blast_radius=BlastRadius(
                max_concurrent_missions=intent.max_concurrent_missions,
                halt_failure_ratio=intent.halt_failure_ratio,
            ),
        ),
    )
    decided = fleet.decide(command, now)  # the Navigator's own decision, not applied
    requested = next(e for e in decided if isinstance(e, ev.FailoverRequested))
    rejected = next((e for e in decided if isinstance(e, ev.FailoverRejected)), None)
    request = FailoverRequest.fold(command.request_id, [requested])
    started = start_request(
        request, fleet.deployments, now, fleet.registry, spent_epochs=fleet.spent_epochs
    )
    payload = requested.to_payload()
    return PlanView(
        source_cluster_id=intent.source_cluster_id,
        destination_cluster_id=intent.destination_cluster_id,
        mode=intent.mode.value,
        mode_help=MODE_HELP[Mode(intent.mode.value)],
        would_be_accepted=rejected is None,
        blocking_reasons=zipped(
            rejected.to_payload() if rejected else None,
            "reason_codes",
            "reason_subjects",
            "reason_messages",
        ),
        warnings=zipped(payload, "warning_codes", "warning_subjects", "warning_messages"),
        ineligible=zipped(
            payload,
            "ineligible_reason_codes",
            "ineligible_deployment_ids",
            "ineligible_reason_messages",
        ),
        excluded_deployment_ids=list(dict.fromkeys(requested.ineligible_deployment_ids))
        if intent.exclude_ineligible
        else [],
        missions=_planned_missions(started, command.request_id),
    )


def _planned_missions(started: Sequence[ev.DomainEvent], request_id: str) -> list[PlannedMission]:
    flights: dict[str, list[PlannedFlight]] = {}
    missions: list[ev.MissionCreated] = []
    for e in started:
        if isinstance(e, ev.MissionCreated):
            missions.append(e)
        elif isinstance(e, ev.FlightPlanned):
            mode, kind = FailoverMode(e.mode), FlightKind(e.kind)
            steps = []
            for name, deadline in zip(e.steps, e.step_deadline_seconds, strict=True):
                spec = plans.spec(mode, kind, StepName(name))
                steps.append(
                    PlannedStep(
                        name=name,
                        deadline_seconds=deadline,
                        waits_for=[f"{k.value}:{s.value}" for k, s in spec.after],
                        cleanup=spec.cleanup,
                    )
                )
            flights.setdefault(e.mission_id, []).append(
                PlannedFlight(
                    flight_id=_undry(e.flight_id, request_id),
                    kind=e.kind,
                    cluster_id=e.cluster_id,
                    steps=steps,
                )
            )
    return [
        PlannedMission(
            mission_id=_undry(m.mission_id, request_id),
            deployment_id=m.deployment_id,
            priority=m.priority,
            fencing_epoch=m.fencing_epoch,
            flights=flights.get(m.mission_id, []),
        )
        for m in missions
    ]


def _undry(identifier: str, request_id: str) -> str:
    """Plan ids are relative to the request: ``<request>/<deployment>/...``."""
    return identifier.replace(request_id, "<request>", 1)
