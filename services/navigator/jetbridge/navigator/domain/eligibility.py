"""Cluster-level eligibility of a failover, as the spec states it, plus warnings.

The spec's rules, each with its stable code:
- Trigger button (source): registered; ``failoverEnabled``; ``external-secrets.enabled``;
  ``global.dataPlaneFailover.externalSecretManagerName`` set; a valid, authenticated
  ClusterSecretStore; split plane mode (``global.plane.mode: data``, not unified); no
  failover already in progress on it.
- Destination (dropdown): not the source; registered; HEALTHY; no pending failover
  targeting it; and the secrets/plane prerequisites, which must hold on both clusters.
- A failed or cancelled mission lets a step that already runs end (mission_saga's
  wind-down) after its request ended: until it has, its cluster counts as busy for both
  roles (FLIGHTS_WINDING_DOWN), as the spec's "no pending failover operations" means.
- The limitation "supported only on newly registered failover-enabled clusters" on the
  destination too: one without failover enabled (DESTINATION_FAILOVER_DISABLED) or that
  held Deployments when it was enabled (DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER) is
  refused. A Deployment moved there could never move again: failover cannot be enabled
  on a cluster holding Deployments, and a tainted cluster's Deployments are ineligible.
- Two additions for the one-writer rule: a destination that is itself the source of a
  running failover is refused (DESTINATION_FAILOVER_IN_PROGRESS), and so is one whose
  Pilot uses the same login role side as the source's (DATABASE_SIDE_SHARED): the
  fence would grant the role the source already holds and cut nobody off. A cluster
  that does not report its side (an older agent) is not checked. Likewise one whose
  Pilot fences on another database server (DATABASE_ENDPOINTS_DIFFER): the spec wants
  one stable endpoint for both clusters.
Warnings never block; they are recorded in FailoverRequested.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.reasons import Code, Finding, finding
from jetbridge.navigator.domain.vocabulary import (
    DatabaseEndpointStatus,
    FailoverMode,
    Health,
    MissionStatus,
    PlaneMode,
)

# The spec's supported external secrets stores, as the agent names a store's provider
# (agent/domain/secret_store.py provider_of): AWS Secrets Manager, Google Cloud Secret
# Manager. Another provider may well work; the spec does not support it, so it warns.
SUPPORTED_SECRET_PROVIDERS = frozenset({"aws/SecretsManager", "gcpsm"})


def _prerequisites(cluster: Cluster, secrets_code: Code) -> list[Finding]:
    """What both sides need: external secrets, a secret manager, a store, data plane."""
    out: list[Finding] = []
    cid = cluster.cluster_id
    if not cluster.external_secrets_enabled:
        out.append(finding(secrets_code, cid))
    if not cluster.external_secret_manager_name:
        out.append(finding(Code.SECRET_MANAGER_NAME_MISSING, cid))
    if not cluster.cluster_secret_store_ok:
        out.append(finding(Code.CLUSTER_SECRET_STORE_INVALID, cid))
    if cluster.plane_mode is PlaneMode.UNIFIED:
        out.append(finding(Code.UNIFIED_PLANE_MODE, cid))
    elif cluster.plane_mode is not PlaneMode.DATA:
        out.append(finding(Code.PLANE_MODE_NOT_DATA, cid, cluster.plane_mode.value))
    return out


def _active(requests: Iterable[FailoverRequest]) -> list[FailoverRequest]:
    return sorted((r for r in requests if r.active), key=lambda r: r.request_id)


def winding_down(missions: Mapping[str, Mission], flights: Mapping[str, Flight]) -> dict[str, str]:
    """Cluster id -> a mission that ended without success while one of its flights there
    still runs a step (it is left to end). A succeeded mission's pending source clean-up
    is not counted: CLEANUP_PENDING_ON_DESTINATION handles those, per Deployment."""
    out: dict[str, str] = {}
    for m in missions.values():
        if not m.terminal or m.status is MissionStatus.SUCCEEDED:
            continue
        for fid in (m.destination_flight_id, m.source_flight_id):
            f = flights.get(fid)
            if f is not None and not f.terminal:
                out.setdefault(f.cluster_id, m.id)
    return out


def source_blockers(
    source_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    busy: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Why the Trigger Failover button is inactive for this source (empty: active).

    ``busy``: :func:`winding_down`."""
    source = clusters.get(source_id)
    if source is None or not source.registered:
        return [finding(Code.SOURCE_NOT_REGISTERED, source_id)]
    out: list[Finding] = []
    if not source.failover_enabled:
        out.append(finding(Code.SOURCE_FAILOVER_DISABLED, source_id))
    out += _prerequisites(source, Code.SOURCE_EXTERNAL_SECRETS_DISABLED)
    for r in _active(requests):
        if r.involves(source_id):
            out.append(finding(Code.SOURCE_FAILOVER_IN_PROGRESS, source_id, r.request_id))
            break
    if busy and source_id in busy:
        out.append(finding(Code.FLIGHTS_WINDING_DOWN, source_id, f"mission {busy[source_id]}"))
    return out


def trigger_blockers(
    source_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    *,
    destinations: Collection[str],
    held_before: Collection[str] = (),
    busy: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Why the Trigger Failover button is inactive (empty: active), each with its
    reason: the source's blockers; a source that held Deployments when failover was
    switched on (``held_before``, deployment_eligibility.held_before_failover: a
    request would exclude every Deployment); no valid destination (``destinations``)."""
    out = source_blockers(source_id, clusters, requests, busy)
    if held_before:
        shown = ", ".join(sorted(held_before)[:3]) + (", ..." if len(held_before) > 3 else "")
        out.append(finding(Code.SOURCE_HAD_DEPLOYMENTS_BEFORE_FAILOVER, source_id, shown))
    if not out and not destinations:
        out.append(finding(Code.NO_VALID_DESTINATION, source_id))
    return out


def destination_blockers(
    source_id: str,
    destination_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    *,
    tainted: Collection[str] = (),
    busy: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Why ``destination_id`` is not a valid target for ``source_id`` (empty: valid).

    ``tainted``: the clusters that held Deployments when failover was switched on
    (deployment_eligibility.tainted_clusters); ``busy``: :func:`winding_down`."""
    if destination_id == source_id:
        return [finding(Code.SAME_SOURCE_AND_DESTINATION, destination_id)]
    dest = clusters.get(destination_id)
    if dest is None or not dest.registered:
        return [finding(Code.DESTINATION_NOT_REGISTERED, destination_id)]
    out: list[Finding] = []
    if dest.health is not Health.HEALTHY:
        out.append(finding(Code.DESTINATION_NOT_HEALTHY, destination_id, dest.health.value))
    if not dest.failover_enabled:
        out.append(finding(Code.DESTINATION_FAILOVER_DISABLED, destination_id))
    elif destination_id in tainted:
        out.append(finding(Code.DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER, destination_id))
    active = _active(requests)
    targeting = [r for r in active if r.destination_cluster_id == destination_id]
    if targeting:
        out.append(finding(Code.DESTINATION_HAS_PENDING_FAILOVER, destination_id, targeting[0].id))
    draining = [r for r in active if r.source_cluster_id == destination_id]
    if draining:
        out.append(finding(Code.DESTINATION_FAILOVER_IN_PROGRESS, destination_id, draining[0].id))
    if busy and destination_id in busy:
        detail = f"mission {busy[destination_id]}"
        out.append(finding(Code.FLIGHTS_WINDING_DOWN, destination_id, detail))
    out += _prerequisites(dest, Code.DESTINATION_EXTERNAL_SECRETS_DISABLED)
    source = clusters.get(source_id)
    side = source.database_side if source is not None else None
    if side is not None and side == dest.database_side:
        out.append(finding(Code.DATABASE_SIDE_SHARED, destination_id, f"side {side}"))
    here = source.database_endpoint if source is not None else ""
    if here and dest.database_endpoint and here != dest.database_endpoint:
        detail = f"{dest.database_endpoint} vs {here}"
        out.append(finding(Code.DATABASE_ENDPOINTS_DIFFER, destination_id, detail))
    return out


def request_blockers(
    source_id: str,
    destination_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    *,
    tainted: Collection[str] = (),
    busy: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every cluster-level reason to reject, source first (order is stable)."""
    requests = list(requests)
    out = source_blockers(source_id, clusters, requests, busy)
    for f in destination_blockers(
        source_id, destination_id, clusters, requests, tainted=tainted, busy=busy
    ):
        if f not in out:  # SAME_SOURCE_AND_DESTINATION can otherwise repeat findings
            out.append(f)
    return out


def valid_destinations(
    source_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    *,
    tainted: Collection[str] = (),
    busy: Mapping[str, str] | None = None,
) -> list[str]:
    """The UI dropdown: clusters a request from ``source_id`` could target right now."""
    options = destination_options(source_id, clusters, requests, tainted=tainted, busy=busy)
    return [cid for cid, why in options.items() if not why]


def destination_options(
    source_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
    *,
    tainted: Collection[str] = (),
    busy: Mapping[str, str] | None = None,
) -> dict[str, list[Finding]]:
    """Every other cluster with why it is not a valid target (for greyed-out entries)."""
    requests = list(requests)
    return {
        cid: destination_blockers(source_id, cid, clusters, requests, tainted=tainted, busy=busy)
        for cid in sorted(clusters)
        if cid != source_id
    }


def warnings(source: Cluster, destination: Cluster, mode: FailoverMode) -> list[Finding]:
    """Go past the spec: risks an operator should see, none of which blocks."""
    out: list[Finding] = []
    dst = destination.cluster_id
    sv, dv = source.jetbridge_version, destination.jetbridge_version
    if sv and dv and sv != dv:
        out.append(finding(Code.JETBRIDGE_VERSION_MISMATCH, dst, f"{sv} vs {dv}"))
    if destination.database_endpoint_status is DatabaseEndpointStatus.READ_ONLY_REPLICA:
        out.append(finding(Code.DATABASE_ENDPOINT_READ_ONLY, dst))
    elif destination.database_endpoint_status is DatabaseEndpointStatus.UNREACHABLE:
        out.append(finding(Code.DATABASE_ENDPOINT_UNREACHABLE, dst))
    if not destination.log_sink_configured:
        out.append(finding(Code.DESTINATION_LOG_SINK_MISSING, dst))
    if not source.log_sink_configured:  # the spec: a sink reachable from every data plane
        out.append(finding(Code.SOURCE_LOG_SINK_MISSING, source.cluster_id))
    for cluster in (source, destination):  # DATABASE_ENDPOINTS_DIFFER compares only these
        if not cluster.database_endpoint:
            out.append(finding(Code.DATABASE_ENDPOINT_UNREPORTED, cluster.cluster_id))
    sn, dn = source.external_secret_manager_name, destination.external_secret_manager_name
    if sn and dn and sn != dn:
        out.append(finding(Code.SECRET_MANAGER_NAMES_DIFFER, dst, f"{sn} vs {dn}"))
    for cluster in (source, destination):
        provider = cluster.cluster_secret_store_provider
        if provider and provider not in SUPPORTED_SECRET_PROVIDERS:
            out.append(finding(Code.SECRET_PROVIDER_UNSUPPORTED, cluster.cluster_id, provider))
    return out


def mode_blockers(source: Cluster, mode: FailoverMode) -> list[Finding]:
    """Why ``mode`` cannot serve this source now. A Controlled failover of an UNREACHABLE
    source could neither drain nor delete there: its missions would fail only after
    the drain timeout and every retry, holding the source (SOURCE_FAILOVER_IN_PROGRESS)
    from the Forced failover the spec names for that case all the while."""
    if mode is FailoverMode.CONTROLLED and not source.reachable:
        return [finding(Code.SOURCE_UNREACHABLE_FOR_CONTROLLED, source.cluster_id)]
    return []
