"""Which Deployments on a source cluster can fail over, named one by one.

The spec's limitations: image-based Deployments only (no git-sync, no DAG-only deploys);
only Deployments created after failover was enabled on the cluster that created them;
clusters that already had Deployments when failover was enabled are not supported.
And an image the installation's one registry cannot serve could not start anywhere
(:mod:`jetbridge.common.images`).
A Deployment is judged against the cluster it was *created* on (its origin), so one that
moved away under failover management can move back (failback), but not onto a cluster
where the source clean-up of its last Forced move is still pending: that clean-up
deletes the Deployment's namespace there once it runs, and would delete the copy just
brought back. Nor, while that clean-up is pending, onto another cluster of the same
database side: the fence would let the old copy's credentials connect again. Nor onto
another cluster of the side of a destination where a mission failed after its fence,
or of a source whose clean-up failed, for the same reason: nothing deletes those copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jetbridge.common.images import served_by
from jetbridge.common.naming import derived_names
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.reasons import Code, Finding, finding
from jetbridge.navigator.domain.vocabulary import CleanupStatus, DeployMechanism, MissionStatus

_MECHANISM_CODES = {
    DeployMechanism.GIT_SYNC: Code.GIT_SYNC_NOT_SUPPORTED,
    DeployMechanism.DAG_ONLY: Code.DAG_ONLY_NOT_SUPPORTED,
}


@dataclass(frozen=True)
class Scope:
    """Eligible Deployments in start order, and a finding per ineligible one and reason."""

    eligible: tuple[Deployment, ...]
    ineligible: tuple[Finding, ...]

    @property
    def ineligible_ids(self) -> list[str]:
        return list(dict.fromkeys(f.subject_id for f in self.ineligible))


def start_order(deployment: Deployment) -> tuple[int, str]:
    """Higher priority starts first; ties by id so the order is total and replayable."""
    return (-deployment.priority, deployment.deployment_id)


def _created_before(d: Deployment, origin: Cluster | None) -> bool:
    enabled_at = origin.failover_enabled_at if origin is not None else None
    return enabled_at is None or d.created_at < enabled_at


def _created_after_switch(
    deployment_id: str, cluster: Cluster, deployments: Mapping[str, Deployment]
) -> bool:
    d = deployments.get(deployment_id)
    return d is not None and d.origin_cluster_id == cluster.id and not _created_before(d, cluster)


def held_before_failover(cluster: Cluster, deployments: Mapping[str, Deployment]) -> list[str]:
    """The Deployments of the cluster's inventory at the switch that taint it: all but
    those the Navigator created there after the switch."""
    return [
        i
        for i in cluster.deployments_before_failover
        if not _created_after_switch(i, cluster, deployments)
    ]


def tainted_clusters(
    clusters: Mapping[str, Cluster], deployments: Mapping[str, Deployment]
) -> set[str]:
    """Clusters that held Deployments when failover was switched on for them.

    A cluster's first inventory may already list Deployments the Navigator created on
    it after the switch (its first report comes a heartbeat after registration): those
    do not count. Nor does one deleted since: gone before the switch, the cluster did
    not hold it then (enabling checked that); gone after, the inventory taken at the
    switch already names it.
    """
    out = {cid for cid, c in clusters.items() if held_before_failover(c, deployments)}
    for d in deployments.values():
        origin = clusters.get(d.origin_cluster_id)
        if origin is not None and _born_before_switch(d, origin):
            out.add(d.origin_cluster_id)
    return out


def tainting(cluster: Cluster, deployments: Mapping[str, Deployment]) -> list[str]:
    """The Deployments that make ``cluster`` tainted (:func:`tainted_clusters`), by id:
    held when failover was switched on, or created on it before the switch."""
    before = [
        d.deployment_id
        for d in deployments.values()
        if d.origin_cluster_id == cluster.id and _born_before_switch(d, cluster)
    ]
    return sorted({*held_before_failover(cluster, deployments), *before})


def _born_before_switch(d: Deployment, origin: Cluster) -> bool:
    """Still there, and created on its failover-enabled origin before the switch."""
    return d.active and origin.failover_enabled and _created_before(d, origin)


def cleanups_pending_on(cluster_id: str, missions: Mapping[str, Mission]) -> dict[str, str]:
    """Deployment id -> the mission whose source clean-up on ``cluster_id`` has not ended."""
    return {
        m.deployment_id: m.id
        for m in missions.values()
        if m.cleanup is CleanupStatus.PENDING and m.source_cluster_id == cluster_id
    }


def cleanups_pending_on_side(
    side: str | None,
    destination_id: str,
    clusters: Mapping[str, Cluster],
    missions: Mapping[str, Mission],
) -> dict[str, str]:
    """Deployment id -> "<mission> on <cluster>", for each source clean-up not ended on
    another cluster of database side ``side`` (none when the side is not reported).

    Each cluster's Pilot fences with its side's credentials (A or B), so with three
    clusters two share a side. A Forced move leaves the old copy running on an
    unreachable source until its clean-up runs; moving the Deployment on to a cluster
    of that source's side would fence that side in again, and the old copy could then
    write beside the new one."""
    if side is None:
        return {}
    return {
        m.deployment_id: f"{m.id} on {m.source_cluster_id}"
        for m in missions.values()
        if m.cleanup is CleanupStatus.PENDING
        and m.source_cluster_id != destination_id
        and (c := clusters.get(m.source_cluster_id)) is not None
        and not c.lost
        and c.database_side == side
    }


_UNSUCCESSFUL = frozenset({MissionStatus.FAILED, MissionStatus.CANCELLED})


def stale_copies_on_side(
    side: str | None,
    destination_id: str,
    clusters: Mapping[str, Cluster],
    missions: Mapping[str, Mission],
) -> dict[str, list[tuple[Code, str, str]]]:
    """Deployment id -> [(code, mission, cluster)], a copy of it that a mission may
    have left running on another cluster of database side ``side`` (none when the side
    is not reported), where nothing will delete it:

    - ``FAILED_COPY_ON_SAME_SIDE``: a mission failed after its fence succeeded
      (``fenced_when_failed``); it had let its destination's side connect, and may have
      started the Deployment there (the upsert comes after the fence in both plans).
      Likewise a mission cancelled as SUPERSEDED whose fence may have run: the Forced
      mission that took it over settles it once it succeeds, but may itself end before
      its fence;
    - ``CLEANUP_FAILED_ON_SAME_SIDE``: a Forced mission's source clean-up failed for
      good; the old copy on its source was never stopped.

    Moving the Deployment on to another cluster of that side would fence the side in
    again, and the copy could write beside the new one. A later mission of the
    Deployment that succeeded to or from that cluster settles it: the copy became the
    Deployment, or went with it. A cluster declared lost settles it too: an admin
    attested that no copy there will run again (``lost_cluster``). (A clean-up still
    pending is :func:`cleanups_pending_on_side`'s.)"""
    if side is None:
        return {}
    latest: dict[tuple[str, str], tuple[tuple[int, str], Code | None, str]] = {}

    def note(m: Mission, cluster_id: str, stale: Code | None) -> None:
        key, when = (m.deployment_id, cluster_id), (m.created_at, m.id)
        if key not in latest or latest[key][0] < when:
            latest[key] = (when, stale, m.id)

    for m in missions.values():
        if m.status in _UNSUCCESSFUL and m.fenced_when_failed:
            note(m, m.destination_cluster_id, Code.FAILED_COPY_ON_SAME_SIDE)
        elif m.status is MissionStatus.SUCCEEDED:
            note(m, m.destination_cluster_id, None)
            if m.cleanup is CleanupStatus.FAILED:
                note(m, m.source_cluster_id, Code.CLEANUP_FAILED_ON_SAME_SIDE)
            elif m.cleanup is not CleanupStatus.PENDING:
                note(m, m.source_cluster_id, None)
    out: dict[str, list[tuple[Code, str, str]]] = {}
    for (deployment_id, cluster_id), (_, stale, mission_id) in sorted(latest.items()):
        cluster = clusters.get(cluster_id)
        if (
            stale is not None
            and cluster_id != destination_id
            and cluster is not None
            and not cluster.lost
            and cluster.database_side == side
        ):
            out.setdefault(deployment_id, []).append((stale, mission_id, cluster_id))
    return out


def deployment_scope(
    source_id: str,
    clusters: Mapping[str, Cluster],
    deployments: Mapping[str, Deployment],
    registry: str = "",
    *,
    destination_id: str,
    missions: Mapping[str, Mission],
    tainted: set[str] | None = None,
) -> Scope:
    """Every Deployment on ``source_id`` (known to Navigator or reported by the cluster).

    A Deployment whose clean-up is pending on ``destination_id``, or on another cluster
    of the destination's database side, is ineligible (module docstring,
    :func:`cleanups_pending_on_side`), and so is one a mission may have left a copy of
    on another cluster of that side, for good (:func:`stale_copies_on_side`).
    ``tainted``: :func:`tainted_clusters`, when the caller has it already.
    """
    source = clusters.get(source_id)
    on_source = {
        d.deployment_id: d for d in deployments.values() if d.active and d.cluster_id == source_id
    }
    reported = source.deployment_ids if source is not None else ()
    unknown = sorted({i for i in reported if i not in deployments} - set(on_source))
    if tainted is None:
        tainted = tainted_clusters(clusters, deployments)
    pending = cleanups_pending_on(destination_id, missions)
    destination = clusters.get(destination_id)
    side = destination.database_side if destination is not None else None
    same_side = cleanups_pending_on_side(side, destination_id, clusters, missions)
    stale_copies = stale_copies_on_side(side, destination_id, clusters, missions)
    findings: list[Finding] = [finding(Code.DEPLOYMENT_UNKNOWN, i) for i in unknown]
    eligible: list[Deployment] = []
    collisions = name_collisions(deployments, on_source)
    for d in sorted(on_source.values(), key=start_order):
        reasons = judge(d, clusters, tainted, registry)
        if other := collisions.get(d.deployment_id):
            reasons.append(finding(Code.DEPLOYMENT_NAMES_COLLIDE, d.deployment_id, other))
        if mission_id := pending.get(d.deployment_id):
            detail = f"{mission_id} on {destination_id}"
            reasons.append(finding(Code.CLEANUP_PENDING_ON_DESTINATION, d.deployment_id, detail))
        if elsewhere := same_side.get(d.deployment_id):
            detail = f"{elsewhere} (side {side})"
            reasons.append(finding(Code.CLEANUP_PENDING_ON_SAME_SIDE, d.deployment_id, detail))
        for code, mission_id, cluster_id in stale_copies.get(d.deployment_id, ()):
            if cluster_id != d.cluster_id:  # a copy where it now lives is the Deployment
                detail = f"{mission_id} on {cluster_id} (side {side})"
                reasons.append(finding(code, d.deployment_id, detail))
        findings += reasons
        if not reasons:
            eligible.append(d)
    return Scope(tuple(eligible), tuple(findings))


def name_collisions(
    deployments: Mapping[str, Deployment], moving: Mapping[str, Deployment]
) -> dict[str, str]:
    """Deployment id (of ``moving``) -> "<other id> (<name>)" for each that shares a
    derived name (``jetbridge.common.naming.derived_names``) with another active
    Deployment, on any cluster: databases live on a shared server."""
    owners: dict[str, list[str]] = {}
    for d in deployments.values():
        if d.active:
            release, database = derived_names(d.deployment_id)
            owners.setdefault(f"release {release}", []).append(d.deployment_id)
            owners.setdefault(f"databases {database}", []).append(d.deployment_id)
    out: dict[str, str] = {}
    for name, ids in sorted(owners.items()):
        for did in ids:
            others = [i for i in ids if i != did]
            if others and did in moving and did not in out:
                out[did] = f"{others[0]} ({name})"
    return out


def judge(
    d: Deployment, clusters: Mapping[str, Cluster], tainted: set[str], registry: str = ""
) -> list[Finding]:
    """Every reason this Deployment cannot fail over (empty: it can).

    ``registry``: the installation's registry ("" when none is configured: not checked).
    """
    out: list[Finding] = []
    did = d.deployment_id
    if d.deploy_mechanism in _MECHANISM_CODES:
        out.append(finding(_MECHANISM_CODES[d.deploy_mechanism], did))
    origin = clusters.get(d.origin_cluster_id)
    if _created_before(d, origin):
        out.append(finding(Code.CREATED_BEFORE_FAILOVER_ENABLED, did, d.origin_cluster_id))
    else:
        for cid in dict.fromkeys((d.origin_cluster_id, d.cluster_id)):
            if cid in tainted:
                out.append(finding(Code.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER, did, cid))
                break
    if not served_by(d.image, registry):
        detail = f"{d.image} is not served by the installation's registry {registry}"
        out.append(finding(Code.IMAGE_REGISTRY_MISMATCH, did, detail))
    return out
