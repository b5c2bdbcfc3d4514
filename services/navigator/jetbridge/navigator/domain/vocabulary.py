"""The closed vocabularies of the domain (state names, modes, step names).

They are ``StrEnum`` so that events can carry the plain string value (Avro enums map
1:1 to these symbols) while the domain compares typed members.
"""

from __future__ import annotations

from enum import StrEnum


class Health(StrEnum):
    """Cluster health as DP-Link reports it; UNKNOWN until the first heartbeat."""

    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNREACHABLE = "UNREACHABLE"


class Registration(StrEnum):
    UNREGISTERED = "UNREGISTERED"
    REGISTERED = "REGISTERED"
    DEREGISTERED = "DEREGISTERED"


class FailoverSwitch(StrEnum):
    """Whether failover management is on for a cluster (never switched off again)."""

    DISABLED = "DISABLED"
    ENABLED = "ENABLED"


class PlaneMode(StrEnum):
    """``global.plane.mode`` of the cluster's installation."""

    UNKNOWN = "UNKNOWN"
    CONTROL = "CONTROL"
    DATA = "DATA"
    UNIFIED = "UNIFIED"


class DatabaseEndpointStatus(StrEnum):
    """What the cluster sees behind the Deployments' database endpoint."""

    UNKNOWN = "UNKNOWN"
    PRIMARY = "PRIMARY"
    READ_ONLY_REPLICA = "READ_ONLY_REPLICA"
    UNREACHABLE = "UNREACHABLE"


class DeployMechanism(StrEnum):
    IMAGE = "IMAGE"
    GIT_SYNC = "GIT_SYNC"
    DAG_ONLY = "DAG_ONLY"


class DeploymentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


class FailoverMode(StrEnum):
    CONTROLLED = "CONTROLLED"
    FORCED = "FORCED"


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class MissionStatus(StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class CleanupStatus(StrEnum):
    """Source-side cleanup of a Forced mission, tracked apart from its outcome."""

    NOT_NEEDED = "NOT_NEEDED"
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class FlightKind(StrEnum):
    SOURCE = "SOURCE"
    DESTINATION = "DESTINATION"


class FlightStatus(StrEnum):
    PLANNED = "PLANNED"
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepStatus(StrEnum):
    """PLANNED: not cleared yet. CLEARED: Navigator allowed it to run.

    FAILED is an attempt that failed; Navigator then clears a retry or fails the flight.
    """

    PLANNED = "PLANNED"
    CLEARED = "CLEARED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class StepName(StrEnum):
    """What Pilot knows how to do (the spec's flight plan steps)."""

    CREATE_NAMESPACE = "CREATE_NAMESPACE"
    APPLY_EXTERNAL_SECRETS = "APPLY_EXTERNAL_SECRETS"
    FENCE_DATABASE = "FENCE_DATABASE"
    UPSERT_DEPLOYMENT = "UPSERT_DEPLOYMENT"
    WAIT_READY = "WAIT_READY"
    STOP_SCHEDULING = "STOP_SCHEDULING"
    DRAIN_TASKS = "DRAIN_TASKS"
    DELETE_DEPLOYMENT = "DELETE_DEPLOYMENT"
