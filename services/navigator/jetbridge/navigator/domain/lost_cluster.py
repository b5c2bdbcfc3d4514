"""Declaring a data plane lost: an admin's attestation that it is gone for good.

Why it exists. After a regional outage the source of a Forced failover may never come
back. Its Deployments run on the destination, but what waits for the source waits for
good: each mission's source clean-up (the delete of the old copy) stays PENDING, the
cluster cannot be deregistered while it does (:func:`registering.still_in_use`), and
the old copies keep the source's database side held: no Deployment may be moved onto
another cluster of that side (``CLEANUP_PENDING_ON_SAME_SIDE``,
``FAILED_COPY_ON_SAME_SIDE``, ``CLEANUP_FAILED_ON_SAME_SIDE``), because fencing that
side in again would let an old copy write beside the new one. Rebuilding the region
and failing back is then refused.

Only a person can know that a silent cluster is destroyed and not merely cut off, so
the way out is their word, recorded: ``DeclareClusterLost`` (admin) with an
attestation, refused while the cluster answers heartbeats, holds a Deployment that
could still be failed over (a Forced failover moves it off an unreachable cluster), or
is named by an active failover. The decision records the Deployments that could not
fail over (git-sync, created before failover was enabled...) as deleted, lost with the
cluster (refusing instead would have kept it registered for good), fails or cancels
its open flights (``CLUSTER_LOST``), so the saga ends their clean-ups as failed, and
deregisters it. From then on copies left on it no longer hold its side
(``deployment_eligibility``). If the attestation is wrong and the cluster comes back,
its old copies could write again once their side is fenced in elsewhere: operations.md
says to rotate that side's credentials when in doubt.
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.commands import DeclareClusterLost
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.deployment_eligibility import judge, tainted_clusters
from jetbridge.navigator.domain.errors import CommandRefused
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.vocabulary import FlightStatus, Registration

CLUSTER_LOST = "CLUSTER_LOST"
ATTESTATION_MIN, ATTESTATION_MAX = 10, 2000


def attestation_problem(attestation: str) -> str | None:
    """What is wrong with an attestation (the Console checks the same before sending)."""
    text = attestation.strip()
    if not ATTESTATION_MIN <= len(text) <= ATTESTATION_MAX:
        return (
            f"attestation: {ATTESTATION_MIN}-{ATTESTATION_MAX} characters saying why the"
            " cluster is gone for good (an incident, a ticket, who destroyed it)"
        )
    if any(not (c.isprintable() or c in "\n\t") for c in text):
        return "attestation: printable text only"
    return None


def decide_declare_lost(
    cmd: DeclareClusterLost,
    cluster: Cluster | None,
    now: int,
    *,
    clusters: Mapping[str, Cluster],
    deployments: Mapping[str, Deployment],
    requests: Mapping[str, FailoverRequest],
    flights: Mapping[str, Flight],
    registry: str = "",
) -> list[ev.DomainEvent]:
    """ClusterDeclaredLost, the Deployments that could not fail over deleted, each open
    flight there failed or cancelled, then ClusterDeregistered; nothing for a repeat."""
    if problem := attestation_problem(cmd.attestation):
        raise CommandRefused("INVALID_DECLARATION", problem)
    if cluster is None or cluster.registration is Registration.UNREGISTERED:
        raise CommandRefused(
            "CLUSTER_NOT_REGISTERED", f"cluster {cmd.cluster_id!r} is not registered"
        )
    if cluster.registration is Registration.DEREGISTERED:
        if cluster.lost:
            return []  # a repeat: already so
        raise CommandRefused(
            "CLUSTER_DEREGISTERED",
            f"cluster {cluster.id!r} was deregistered: nothing waits for it any more",
        )
    if cluster.reachable:
        raise CommandRefused(
            "CLUSTER_REACHABLE",
            f"cluster {cluster.id!r} is {cluster.health.value}: it answers heartbeats, so it"
            " is not lost; fail its Deployments over and deregister it",
        )
    held = sorted(
        (d for d in deployments.values() if d.active and d.cluster_id == cluster.id),
        key=lambda d: d.deployment_id,
    )
    tainted = tainted_clusters(clusters, deployments)
    stranded = [d for d in held if judge(d, clusters, tainted, registry)]
    if in_use := _in_use(cluster, [d for d in held if d not in stranded], requests):
        raise CommandRefused("CLUSTER_IN_USE", f"cluster {cluster.id!r} {in_use}")
    why = f"cluster {cluster.id} declared lost by {cmd.requested_by}: {cmd.attestation.strip()}"
    out: list[ev.DomainEvent] = [
        ev.ClusterDeclaredLost(
            cluster_id=cluster.id,
            declared_by=cmd.requested_by,
            attestation=cmd.attestation.strip(),
            declared_at=now,
        )
    ]
    out += [ev.DeploymentDeleted(deployment_id=d.deployment_id, deleted_at=now) for d in stranded]
    for f in sorted(flights.values(), key=lambda f: f.id):
        if f.cluster_id != cluster.id or f.terminal:
            continue
        if f.status is FlightStatus.PLANNED:
            out.append(ev.FlightCancelled(flight_id=f.id, reason=why, cancelled_at=now))
        else:
            step = f.current() or f.steps[-1]  # an active flight has a plan
            out.append(
                ev.FlightFailed(
                    flight_id=f.id,
                    step=step.name.value,
                    reason_code=CLUSTER_LOST,
                    reason=why,
                    failed_at=now,
                )
            )
    out.append(ev.ClusterDeregistered(cluster_id=cluster.id, deregistered_at=now))
    return out


def _in_use(
    cluster: Cluster, movable: list[Deployment], requests: Mapping[str, FailoverRequest]
) -> str | None:
    """What the declaration would strand that need not be. Its last inventory is not
    asked: what it reported and the Navigator never knew is gone with it."""
    if movable:
        return (
            f"still holds {len(movable)} Deployment(s) that can fail over, e.g."
            f" {movable[0].deployment_id!r}: fail them over first (a Forced failover moves"
            " them off an unreachable cluster)"
        )
    for r in sorted(requests.values(), key=lambda r: r.id):
        if r.active and cluster.id in (r.source_cluster_id, r.destination_cluster_id):
            return f"is named by failover {r.id!r}, which is {r.status.value}: let it end first"
    return None
