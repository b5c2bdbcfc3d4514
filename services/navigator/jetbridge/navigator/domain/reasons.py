"""Stable reason codes and the sentences an operator reads.

Codes are part of the event contract (UIs and alerts match on them): never rename one,
only add. Each finding names its subject (a cluster or Deployment id) so a message
can say which one is at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    # The request as a whole (blocking).
    SOURCE_NOT_REGISTERED = "SOURCE_NOT_REGISTERED"
    SOURCE_FAILOVER_DISABLED = "SOURCE_FAILOVER_DISABLED"
    SOURCE_EXTERNAL_SECRETS_DISABLED = "SOURCE_EXTERNAL_SECRETS_DISABLED"
    DESTINATION_EXTERNAL_SECRETS_DISABLED = "DESTINATION_EXTERNAL_SECRETS_DISABLED"
    SECRET_MANAGER_NAME_MISSING = "SECRET_MANAGER_NAME_MISSING"
    CLUSTER_SECRET_STORE_INVALID = "CLUSTER_SECRET_STORE_INVALID"
    UNIFIED_PLANE_MODE = "UNIFIED_PLANE_MODE"
    PLANE_MODE_NOT_DATA = "PLANE_MODE_NOT_DATA"
    DESTINATION_NOT_REGISTERED = "DESTINATION_NOT_REGISTERED"
    DESTINATION_NOT_HEALTHY = "DESTINATION_NOT_HEALTHY"
    DESTINATION_HAS_PENDING_FAILOVER = "DESTINATION_HAS_PENDING_FAILOVER"
    DESTINATION_FAILOVER_IN_PROGRESS = "DESTINATION_FAILOVER_IN_PROGRESS"
    SAME_SOURCE_AND_DESTINATION = "SAME_SOURCE_AND_DESTINATION"
    SOURCE_FAILOVER_IN_PROGRESS = "SOURCE_FAILOVER_IN_PROGRESS"
    SOURCE_UNREACHABLE_FOR_CONTROLLED = "SOURCE_UNREACHABLE_FOR_CONTROLLED"
    SUPERSEDING_NEEDS_SAME_DESTINATION = "SUPERSEDING_NEEDS_SAME_DESTINATION"
    FLIGHTS_WINDING_DOWN = "FLIGHTS_WINDING_DOWN"
    DATABASE_SIDE_SHARED = "DATABASE_SIDE_SHARED"
    DATABASE_ENDPOINTS_DIFFER = "DATABASE_ENDPOINTS_DIFFER"
    DESTINATION_FAILOVER_DISABLED = "DESTINATION_FAILOVER_DISABLED"
    DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER = "DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER"
    # The Trigger button only (a request is judged per Deployment and per destination)
    SOURCE_HAD_DEPLOYMENTS_BEFORE_FAILOVER = "SOURCE_HAD_DEPLOYMENTS_BEFORE_FAILOVER"
    NO_VALID_DESTINATION = "NO_VALID_DESTINATION"
    INELIGIBLE_DEPLOYMENTS = "INELIGIBLE_DEPLOYMENTS"
    EVERY_DEPLOYMENT_EXCLUDED = "EVERY_DEPLOYMENT_EXCLUDED"
    # Why a request that excluded ineligible Deployments ended FAILED.
    EXCLUDED_DEPLOYMENTS_LEFT = "EXCLUDED_DEPLOYMENTS_LEFT"
    # One Deployment.
    DEPLOYMENT_UNKNOWN = "DEPLOYMENT_UNKNOWN"
    GIT_SYNC_NOT_SUPPORTED = "GIT_SYNC_NOT_SUPPORTED"
    DAG_ONLY_NOT_SUPPORTED = "DAG_ONLY_NOT_SUPPORTED"
    CREATED_BEFORE_FAILOVER_ENABLED = "CREATED_BEFORE_FAILOVER_ENABLED"
    CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER = "CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER"
    IMAGE_REGISTRY_MISMATCH = "IMAGE_REGISTRY_MISMATCH"
    CLEANUP_PENDING_ON_DESTINATION = "CLEANUP_PENDING_ON_DESTINATION"
    CLEANUP_PENDING_ON_SAME_SIDE = "CLEANUP_PENDING_ON_SAME_SIDE"
    FAILED_COPY_ON_SAME_SIDE = "FAILED_COPY_ON_SAME_SIDE"
    CLEANUP_FAILED_ON_SAME_SIDE = "CLEANUP_FAILED_ON_SAME_SIDE"
    DEPLOYMENT_NAMES_COLLIDE = "DEPLOYMENT_NAMES_COLLIDE"
    # Enabling failover on a cluster.
    CLUSTER_NOT_REGISTERED = "CLUSTER_NOT_REGISTERED"
    CLUSTER_HAS_DEPLOYMENTS = "CLUSTER_HAS_DEPLOYMENTS"
    CLUSTER_INVENTORY_UNKNOWN = "CLUSTER_INVENTORY_UNKNOWN"
    CLUSTER_INVENTORY_STALE = "CLUSTER_INVENTORY_STALE"
    CLUSTER_UNIFIED_PLANE_MODE = "CLUSTER_UNIFIED_PLANE_MODE"
    # Warnings: shown, recorded, never blocking.
    JETBRIDGE_VERSION_MISMATCH = "JETBRIDGE_VERSION_MISMATCH"
    DATABASE_ENDPOINT_READ_ONLY = "DATABASE_ENDPOINT_READ_ONLY"
    DATABASE_ENDPOINT_UNREACHABLE = "DATABASE_ENDPOINT_UNREACHABLE"
    DESTINATION_LOG_SINK_MISSING = "DESTINATION_LOG_SINK_MISSING"
    SOURCE_LOG_SINK_MISSING = "SOURCE_LOG_SINK_MISSING"
    SECRET_MANAGER_NAMES_DIFFER = "SECRET_MANAGER_NAMES_DIFFER"
    SECRET_PROVIDER_UNSUPPORTED = "SECRET_PROVIDER_UNSUPPORTED"
    NO_DEPLOYMENTS_TO_MOVE = "NO_DEPLOYMENTS_TO_MOVE"
    SUPERSEDES_CONTROLLED_FAILOVER = "SUPERSEDES_CONTROLLED_FAILOVER"
    DATABASE_ENDPOINT_UNREPORTED = "DATABASE_ENDPOINT_UNREPORTED"


MESSAGES: dict[Code, str] = {
    Code.SOURCE_NOT_REGISTERED: "Cluster {s} is not registered with the control plane.",
    Code.SOURCE_FAILOVER_DISABLED: "Failover is not enabled on source cluster {s} "
    "(failoverEnabled is false).",
    Code.SOURCE_EXTERNAL_SECRETS_DISABLED: "External secrets are not enabled on source "
    "cluster {s} (external-secrets.enabled is false).",
    Code.DESTINATION_EXTERNAL_SECRETS_DISABLED: "External secrets are not enabled on "
    "destination cluster {s} (external-secrets.enabled is false).",
    Code.SECRET_MANAGER_NAME_MISSING: "Cluster {s} has no external secret manager name "
    "(global.dataPlaneFailover.externalSecretManagerName is not set).",
    Code.CLUSTER_SECRET_STORE_INVALID: "Cluster {s} has no valid, authenticated "
    "ClusterSecretStore.",
    Code.UNIFIED_PLANE_MODE: "Cluster {s} runs in unified plane mode; failover needs "
    "separate control and data planes.",
    Code.PLANE_MODE_NOT_DATA: "Cluster {s} does not report global.plane.mode: data "
    "(reported: {detail}; its agent reports the plane_mode of its facts, agent.facts in "
    "the data-plane chart).",
    Code.DESTINATION_NOT_REGISTERED: "Destination cluster {s} is not registered.",
    Code.DESTINATION_NOT_HEALTHY: "Destination cluster {s} is not healthy (health: {detail}).",
    Code.DESTINATION_HAS_PENDING_FAILOVER: "Destination cluster {s} is already the "
    "destination of failover {detail}.",
    Code.DESTINATION_FAILOVER_IN_PROGRESS: "Destination cluster {s} is the source of "
    "failover {detail}, which is still running.",
    Code.SAME_SOURCE_AND_DESTINATION: "Source and destination are the same cluster ({s}).",
    Code.SOURCE_FAILOVER_IN_PROGRESS: "Failover {detail} is already in progress on "
    "source cluster {s}.",
    Code.FLIGHTS_WINDING_DOWN: "Cluster {s} still runs steps of {detail}, which ended "
    "without success: a step that ran is left to end, so wait until it has.",
    Code.DATABASE_ENDPOINTS_DIFFER: "Destination {s} names another database endpoint "
    "than the source ({detail}): the spec wants one stable endpoint for both clusters, "
    "and a fence on one server does not cut off a cluster writing to another.",
    Code.DATABASE_SIDE_SHARED: "Destination cluster {s} uses the same database login "
    "role side as the source ({detail}): fencing could not cut the source off. Give each "
    "cluster its own side (pilot.database.side A or B).",
    Code.INELIGIBLE_DEPLOYMENTS: "{detail} Deployment(s) on {s} cannot fail over; "
    "exclude them explicitly to proceed without them (the request then moves the others "
    "and ends FAILED, naming those left on {s}).",
    Code.EXCLUDED_DEPLOYMENTS_LEFT: "Excluded as ineligible, {detail} stayed on {s}: "
    "failover moves every Deployment on a cluster, and these need an operator (the "
    "request's findings say why each cannot fail over).",
    Code.EVERY_DEPLOYMENT_EXCLUDED: "Every Deployment on {s} ({detail}) is ineligible: "
    "excluding them all would move none, and the request would end SUCCEEDED with each "
    "of them still on {s}.",
    Code.DEPLOYMENT_UNKNOWN: "Deployment {s} is reported by the cluster but unknown to "
    "the control plane, so its deploy mechanism and age cannot be checked.",
    Code.GIT_SYNC_NOT_SUPPORTED: "Deployment {s} uses git-sync deploys; only image-based "
    "Deployments can fail over.",
    Code.DAG_ONLY_NOT_SUPPORTED: "Deployment {s} uses DAG-only deploys; only image-based "
    "Deployments can fail over.",
    Code.CREATED_BEFORE_FAILOVER_ENABLED: "Deployment {s} was created before failover "
    "was enabled on cluster {detail}.",
    Code.CLUSTER_HAD_DEPLOYMENTS_BEFORE_FAILOVER: "Deployment {s} lives on cluster "
    "{detail}, which already had Deployments when failover was enabled.",
    Code.IMAGE_REGISTRY_MISMATCH: "Deployment {s}'s image {detail}; every data plane "
    "pulls Airflow images from that one registry.",
    Code.CLEANUP_PENDING_ON_DESTINATION: "Deployment {s} cannot move back yet: the "
    "source clean-up of mission {detail} has not ended, and it would delete the "
    "Deployment there once it runs. Wait for it to end (the cluster must be reachable).",
    Code.DEPLOYMENT_NAMES_COLLIDE: "Deployment {s} shares the names derived from its id "
    "with Deployment {detail}: the same namespace or the same databases and roles. A "
    "failover of one would fence and delete the other's; rename one of them.",
    Code.CLEANUP_PENDING_ON_SAME_SIDE: "Deployment {s} cannot move to this destination "
    "yet: the source clean-up of mission {detail} has not ended, so the old copy there "
    "may still run with the credentials of the destination's database side, which the "
    "fence would let connect again (two writers). Wait for the clean-up to end (that "
    "cluster must be reachable), or choose a destination of the other side.",
    Code.FAILED_COPY_ON_SAME_SIDE: "Deployment {s} cannot move to this destination: "
    "mission {detail} failed (or was superseded) after its fence, so a copy it started "
    "there may run with "
    "the credentials of the destination's database side, which the fence would let "
    "connect again (two writers). Fail it over to that cluster again: the retry takes "
    "the copy over, and from there the Deployment can move on or back.",
    Code.CLEANUP_FAILED_ON_SAME_SIDE: "Deployment {s} cannot move to this destination: "
    "the source clean-up of mission {detail} failed, so the old copy there may still run "
    "with the credentials of the destination's database side, which the fence would let "
    "connect again (two writers). Fail it back onto that cluster first (the failback "
    "takes the old copy over), or choose a destination of the other side.",
    Code.CLUSTER_NOT_REGISTERED: "Cluster {s} is not registered.",
    Code.CLUSTER_HAS_DEPLOYMENTS: "Failover cannot be enabled on cluster {s}: it already "
    "has {detail} Deployment(s).",
    Code.JETBRIDGE_VERSION_MISMATCH: "Source and destination run different Jetbridge "
    "versions ({detail}); keep them compatible.",
    Code.DATABASE_ENDPOINT_READ_ONLY: "From destination {s} the database endpoint is a "
    "read-only replica: promote it and move the endpoint before failing over.",
    Code.DATABASE_ENDPOINT_UNREACHABLE: "Destination {s} cannot reach the database endpoint.",
    Code.DESTINATION_LOG_SINK_MISSING: "Destination {s} has no log sink configured; task "
    "logs written there will not be readable from the UI.",
    Code.SOURCE_LOG_SINK_MISSING: "Source {s} has no log sink configured; the task logs "
    "its Deployments wrote there will not be readable after they move.",
    Code.SECRET_MANAGER_NAMES_DIFFER: "Source and destination use different external "
    "secret managers ({detail}); both must reach the same store.",
    Code.SECRET_PROVIDER_UNSUPPORTED: "The ClusterSecretStore of {s} uses {detail}: "
    "failover supports AWS Secrets Manager and Google Cloud Secret Manager only.",
    Code.DESTINATION_FAILOVER_DISABLED: "Failover is not enabled on destination {s}: a "
    "Deployment moved there could never move again (failover cannot be enabled on a "
    "cluster that holds Deployments).",
    Code.DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER: "Destination {s} held Deployments "
    "when failover was enabled on it: a Deployment moved there could never move again.",
    Code.SOURCE_HAD_DEPLOYMENTS_BEFORE_FAILOVER: "Cluster {s} held Airflow Deployments when "
    "failover was enabled on it ({detail}): failover cannot be enabled on a cluster that "
    "already has Deployments, so none of its Deployments can fail over.",
    Code.NO_VALID_DESTINATION: "No other cluster is a valid destination for {s} now: "
    "each cluster's reasons are in the destination list.",
    Code.CLUSTER_INVENTORY_UNKNOWN: "Failover cannot be enabled on cluster {s} yet: it has "
    "not reported which Deployments it holds (no heartbeat with facts so far).",
    Code.CLUSTER_INVENTORY_STALE: "Failover cannot be enabled on cluster {s} while it is "
    "{detail}: its last inventory may not be what it holds now.",
    Code.CLUSTER_UNIFIED_PLANE_MODE: "Failover cannot be enabled on cluster {s}: it runs in "
    "unified plane mode, which failover does not support.",
    Code.SOURCE_UNREACHABLE_FOR_CONTROLLED: "Source {s} is unreachable: a Controlled "
    "failover could neither drain nor delete there, and would hold the cluster until its "
    "missions failed. Use Forced, or wait until the source is reachable.",
    Code.NO_DEPLOYMENTS_TO_MOVE: "No Deployment on {s} will move.",
    Code.DATABASE_ENDPOINT_UNREPORTED: "Cluster {s} does not report its database endpoint "
    "(pilot.database.endpoint), so the spec's one stable endpoint for both clusters "
    "cannot be checked: a fence on one server cuts nobody off on another.",
    Code.SUPERSEDING_NEEDS_SAME_DESTINATION: "Source {s} is unreachable during Controlled "
    "failover {detail}: a Forced failover may take it over, but only to its destination, "
    "where its missions may already have created namespaces and fenced databases.",
    Code.SUPERSEDES_CONTROLLED_FAILOVER: "Source {s} is unreachable: this Forced failover "
    "takes over Controlled failover {detail}. Its unfinished missions are cancelled and "
    "their Deployments move without a drain; tasks still running on {s} are lost, and "
    "the old copies there are deleted when it is reachable again.",
}


@dataclass(frozen=True)
class Finding:
    """One reason or warning: a stable code, its subject and an operator sentence."""

    code: Code
    subject_id: str
    message: str


def finding(code: Code, subject_id: str, detail: object = "") -> Finding:
    return Finding(code, subject_id, MESSAGES[code].format(s=subject_id, detail=detail))


def codes(findings: list[Finding]) -> list[str]:
    return [f.code.value for f in findings]


def subjects(findings: list[Finding]) -> list[str]:
    return [f.subject_id for f in findings]


def messages(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings]
