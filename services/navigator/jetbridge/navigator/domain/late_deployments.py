"""Deployments that appear on a request's source while it runs join the request.

The spec makes failover a full-cluster operation: every Deployment on the source is
included. The scope is judged when the request is made, and provisioning (not
Jetbridge's) can create a Deployment on the source after that; left out, it would
stay behind while the request SUCCEEDED. So while a request is IN_PROGRESS, neither
halted nor cancelled, every Deployment recorded on its source that it has not judged
yet joins it: :class:`FailoverScopeExtended`, then a mission and two flights each, as
at the start. One that cannot fail over (git-sync, say) gets its mission cancelled at
once with the reason, so the request ends FAILED naming it. The operator's
``exclude_ineligible`` covered the Deployments they were shown, not this one.

A Deployment the request judged already (in scope, or named ineligible and excluded)
is never judged again: only a new Deployment can make this decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.deployment_eligibility import deployment_scope, start_order
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.requesting import mission_events
from jetbridge.navigator.domain.vocabulary import RequestStatus


def late_deployments(
    request: FailoverRequest, deployments: Mapping[str, Deployment]
) -> list[Deployment]:
    """Deployments on the request's source it has not judged yet, in start order."""
    if (
        request.status is not RequestStatus.IN_PROGRESS
        or request.halted
        or request.cancel_requested
    ):
        return []
    judged = set(request.deployment_ids) | set(request.ineligible_deployment_ids)
    late = [
        d
        for d in deployments.values()
        if d.active and d.cluster_id == request.source_cluster_id and d.id not in judged
    ]
    return sorted(late, key=start_order)


def extend_request(
    request: FailoverRequest,
    clusters: Mapping[str, Cluster],
    deployments: Mapping[str, Deployment],
    missions: Mapping[str, Mission],
    now: int,
    *,
    registry: str = "",
    spent_epochs: Mapping[str, int],
) -> list[ev.DomainEvent]:
    """FailoverScopeExtended and the missions of the late Deployments (none: [])."""
    late = late_deployments(request, deployments)
    if not late:
        return []
    scope = deployment_scope(
        request.source_cluster_id,
        clusters,
        deployments,
        registry,
        destination_id=request.destination_cluster_id,
        missions=missions,
    )
    reasons: dict[str, list[str]] = {}
    codes: dict[str, str] = {}
    for f in scope.ineligible:
        reasons.setdefault(f.subject_id, []).append(f.message)
        codes.setdefault(f.subject_id, f.code.value)
    out: list[ev.DomainEvent] = [
        ev.FailoverScopeExtended(
            request_id=request.id,
            extended_at=now,
            deployment_ids=[d.id for d in late],
            mission_ids=[plans.mission_id(request.id, d.id) for d in late],
        )
    ]
    for d in late:
        out += mission_events(request, d, now, registry, spent_epochs=spent_epochs)
        if d.id in reasons:
            out.append(
                ev.MissionCancelled(
                    mission_id=plans.mission_id(request.id, d.id),
                    reason_code=codes[d.id],
                    reason="Created on the source during the failover, and cannot fail "
                    "over: " + " ".join(reasons[d.id]),
                    cancelled_at=now,
                )
            )
    return out
