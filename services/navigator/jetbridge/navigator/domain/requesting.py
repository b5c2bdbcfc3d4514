"""Decisions on operator commands: request, cancel, enable failover; start a request.

One writer decides: :func:`decide_request` is given every request known so far and
refuses (with a recorded rejection) a second request using a cluster that an active
request already holds, so two concurrent requests for the same source or destination
can never both be accepted (but a Forced request may supersede a Controlled one whose
source became unreachable: :mod:`superseding`). Re-deciding a command whose request
already exists yields no events, so a restarted Navigator never decides twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.common.images import qualified
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain import reasons as rs
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.commands import CancelFailover, EnableFailover, RequestFailover
from jetbridge.navigator.domain.deployment import Deployment, next_fencing_epoch
from jetbridge.navigator.domain.deployment_eligibility import deployment_scope, tainted_clusters
from jetbridge.navigator.domain.eligibility import (
    mode_blockers,
    request_blockers,
    warnings,
    winding_down,
)
from jetbridge.navigator.domain.errors import CommandRefused
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.reasons import Code, finding
from jetbridge.navigator.domain.superseding import takeover
from jetbridge.navigator.domain.vocabulary import (
    FlightKind,
    Health,
    PlaneMode,
    RequestStatus,
)


def decide_request(
    cmd: RequestFailover,
    clusters: Mapping[str, Cluster],
    deployments: Mapping[str, Deployment],
    requests: Mapping[str, FailoverRequest],
    now: int,
    *,
    missions: Mapping[str, Mission],
    registry: str = "",
    flights: Mapping[str, Flight] | None = None,
) -> list[ev.DomainEvent]:
    """FailoverRequested, plus FailoverRejected when it may not go ahead.

    ``missions``: every mission so far (a pending source clean-up on the destination
    makes its Deployment ineligible). ``registry``: the installation's container
    registry (see :mod:`jetbridge.common.images`).
    """
    if cmd.request_id in requests and requests[cmd.request_id].exists:
        return []
    src, dst = cmd.source_cluster_id, cmd.destination_cluster_id
    tainted = tainted_clusters(clusters, deployments)
    busy = winding_down(missions, flights or {})
    take = takeover(cmd.mode, src, dst, clusters, requests.values())
    taken_over = take.superseded  # judged as if it did not hold the clusters
    blockers = request_blockers(src, dst, clusters, take.holding, tainted=tainted, busy=busy)
    blockers += take.blockers
    scope = deployment_scope(
        src, clusters, deployments, registry, destination_id=dst, missions=missions, tainted=tainted
    )
    warned: list[rs.Finding] = []
    if src in clusters and dst in clusters and src != dst:
        warned = warnings(clusters[src], clusters[dst], cmd.mode)
    if src in clusters:
        blockers += mode_blockers(clusters[src], cmd.mode)
    if not scope.eligible:
        warned.append(finding(Code.NO_DEPLOYMENTS_TO_MOVE, src))
    if taken_over is not None:
        warned.append(finding(Code.SUPERSEDES_CONTROLLED_FAILOVER, src, taken_over.id))
    ineligible = list(scope.ineligible)
    p = cmd.policy
    requested = ev.FailoverRequested(
        request_id=cmd.request_id,
        source_cluster_id=src,
        destination_cluster_id=dst,
        mode=cmd.mode.value,
        requested_by=cmd.requested_by,
        requested_at=now,
        drain_timeout_seconds=p.drain_timeout_seconds,
        exclude_ineligible=cmd.exclude_ineligible,
        max_concurrent_missions=p.blast_radius.max_concurrent_missions,
        halt_failure_ratio=p.blast_radius.halt_failure_ratio,
        max_attempts=p.retry.max_attempts,
        backoff_base_seconds=p.retry.backoff_base_seconds,
        backoff_max_seconds=p.retry.backoff_max_seconds,
        deployment_ids=[d.deployment_id for d in scope.eligible],
        ineligible_deployment_ids=rs.subjects(ineligible),
        ineligible_reason_codes=rs.codes(ineligible),
        ineligible_reason_messages=rs.messages(ineligible),
        warning_codes=rs.codes(warned),
        warning_subjects=rs.subjects(warned),
        warning_messages=rs.messages(warned),
    )
    reasons = list(blockers)
    if ineligible and not cmd.exclude_ineligible:
        reasons.append(finding(Code.INELIGIBLE_DEPLOYMENTS, src, len(scope.ineligible_ids)))
        reasons += ineligible
    elif ineligible and not scope.eligible:
        # Excluding is for leaving some behind, not all: a request that moves nothing
        # from a cluster that holds Deployments would read as the cluster evacuated.
        reasons.append(finding(Code.EVERY_DEPLOYMENT_EXCLUDED, src, len(scope.ineligible_ids)))
        reasons += ineligible
    if not reasons and taken_over is not None:
        superseded = ev.FailoverSuperseded(
            request_id=taken_over.id,
            superseded_by_request_id=cmd.request_id,
            requested_by=cmd.requested_by,
            superseded_at=now,
        )
        return [requested, superseded]
    if not reasons:
        return [requested]
    rejected = ev.FailoverRejected(
        request_id=cmd.request_id,
        rejected_at=now,
        reason_codes=rs.codes(reasons),
        reason_subjects=rs.subjects(reasons),
        reason_messages=rs.messages(reasons),
    )
    return [requested, rejected]


def decide_cancel(
    cmd: CancelFailover, request: FailoverRequest | None, now: int
) -> list[ev.DomainEvent]:
    if request is None or not request.exists:
        raise CommandRefused("UNKNOWN_REQUEST", f"no failover request {cmd.request_id!r}")
    if request.status is RequestStatus.PENDING:
        return [
            ev.FailoverCancelled(
                request_id=request.id, cancelled_by=cmd.requested_by, cancelled_at=now
            )
        ]
    if request.status is RequestStatus.IN_PROGRESS:
        if request.cancel_requested:
            return []
        return [
            ev.FailoverCancelRequested(
                request_id=request.id, requested_by=cmd.requested_by, requested_at=now
            )
        ]
    raise CommandRefused(
        "REQUEST_FINISHED", f"failover {request.id!r} already ended {request.status.value}"
    )


def _enable_refused(
    cmd: EnableFailover, why: rs.Finding, now: int, deployment_ids: list[str]
) -> ev.FailoverEnableRefused:
    return ev.FailoverEnableRefused(
        cluster_id=cmd.cluster_id,
        reason_code=why.code.value,
        reason=why.message,
        requested_by=cmd.requested_by,
        refused_at=now,
        deployment_ids=deployment_ids,
    )


def _inventory_untrusted(cluster: Cluster) -> rs.Finding | None:
    """Why the cluster's word on what it holds cannot be taken yet (None: it can).

    The rule is judged on the inventory: one never reported, or last reported by a
    cluster DP-Link cannot reach now, would let a cluster full of Deployments pass as
    empty. A cluster in unified plane mode is refused as well: failover does not
    support it, and enabling it would only promise what no request can do.
    """
    if cluster.facts_observed_at is None:
        return finding(Code.CLUSTER_INVENTORY_UNKNOWN, cluster.id)
    if cluster.health is not Health.HEALTHY:
        return finding(Code.CLUSTER_INVENTORY_STALE, cluster.id, cluster.health.value)
    if cluster.plane_mode is PlaneMode.UNIFIED:
        return finding(Code.CLUSTER_UNIFIED_PLANE_MODE, cluster.id)
    return None


def decide_enable_failover(
    cmd: EnableFailover,
    cluster: Cluster | None,
    deployments: Mapping[str, Deployment],
    now: int,
) -> list[ev.DomainEvent]:
    """The spec: failover cannot be enabled on a cluster that already has Deployments."""
    if cluster is None or not cluster.registered:
        raise CommandRefused(
            Code.CLUSTER_NOT_REGISTERED.value,
            finding(Code.CLUSTER_NOT_REGISTERED, cmd.cluster_id).message,
        )
    if cluster.failover_enabled:
        return []
    if (why := _inventory_untrusted(cluster)) is not None:
        return [_enable_refused(cmd, why, now, [])]
    present = set(cluster.deployment_ids) | {
        d.deployment_id for d in deployments.values() if d.active and d.cluster_id == cluster.id
    }
    if present:
        why = finding(Code.CLUSTER_HAS_DEPLOYMENTS, cluster.id, len(present))
        return [_enable_refused(cmd, why, now, sorted(present))]
    return [ev.FailoverEnabled(cluster_id=cluster.id, enabled_at=now, enabled_by=cmd.requested_by)]


def start_request(
    request: FailoverRequest,
    deployments: Mapping[str, Deployment],
    now: int,
    registry: str = "",
    *,
    spent_epochs: Mapping[str, int],
) -> list[ev.DomainEvent]:
    """PENDING -> IN_PROGRESS: one Mission per Deployment in scope, two Flights each.

    Each flight names the image qualified with the installation's ``registry``.
    """
    if request.status is not RequestStatus.PENDING:
        return []
    out: list[ev.DomainEvent] = []
    mission_ids: list[str] = []
    for dep_id in request.deployment_ids:
        d = deployments.get(dep_id)
        if d is None or not d.active or d.cluster_id != request.source_cluster_id:
            continue  # gone or moved since the request was judged
        mission_ids.append(plans.mission_id(request.id, dep_id))
        out += mission_events(request, d, now, registry, spent_epochs=spent_epochs)
    started = ev.FailoverStarted(request_id=request.id, started_at=now, mission_ids=mission_ids)
    return [started, *out]


def mission_events(
    request: FailoverRequest,
    d: Deployment,
    now: int,
    registry: str,
    *,
    spent_epochs: Mapping[str, int],
) -> list[ev.DomainEvent]:
    """MissionCreated for ``d`` in ``request``, then its two FlightPlanned."""
    mid = plans.mission_id(request.id, d.deployment_id)
    epoch = next_fencing_epoch(d, spent_epochs)
    created = ev.MissionCreated(
        mission_id=mid,
        request_id=request.id,
        deployment_id=d.deployment_id,
        source_cluster_id=request.source_cluster_id,
        destination_cluster_id=request.destination_cluster_id,
        mode=request.mode.value,
        priority=d.priority,
        fencing_epoch=epoch,
        source_flight_id=plans.flight_id(mid, FlightKind.SOURCE),
        destination_flight_id=plans.flight_id(mid, FlightKind.DESTINATION),
        created_at=now,
    )
    flights = [
        _plan_flight(request, d, mid, kind, now, epoch=epoch, registry=registry)
        for kind in (FlightKind.SOURCE, FlightKind.DESTINATION)
    ]
    return [created, *flights]


def _plan_flight(
    request: FailoverRequest,
    d: Deployment,
    mid: str,
    kind: FlightKind,
    now: int,
    *,
    epoch: int,
    registry: str,
) -> ev.FlightPlanned:
    steps = plans.plan(request.mode, kind)
    drain = request.policy.drain_timeout_seconds
    cluster = (
        request.source_cluster_id if kind is FlightKind.SOURCE else request.destination_cluster_id
    )
    # what the destination applies; the source's flight needs none of it
    config = d.configuration if kind is FlightKind.DESTINATION else ()
    return ev.FlightPlanned(
        flight_id=plans.flight_id(mid, kind),
        mission_id=mid,
        request_id=request.id,
        deployment_id=d.deployment_id,
        kind=kind.value,
        cluster_id=cluster,
        mode=request.mode.value,
        fencing_epoch=epoch,
        drain_timeout_seconds=drain,
        image=qualified(d.image, registry),
        planned_at=now,
        steps=[s.name.value for s in steps],
        step_deadline_seconds=[plans.deadline_seconds(s.name, drain) for s in steps],
        component_names=[c.name for c in config],
        component_replicas=[c.replicas for c in config],
        component_cpu=[c.cpu for c in config],
        component_memory=[c.memory for c in config],
    )
