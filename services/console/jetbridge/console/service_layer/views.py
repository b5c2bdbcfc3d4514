"""What the Console shows: the shapes of the API (and so of its OpenAPI document).

Times are epoch milliseconds, durations milliseconds unless a name says seconds.
Every reason carries a stable ``code`` (scripts match on it), the ``subject_id`` it is
about and the operator sentence from the Navigator's domain.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Reason(BaseModel):
    code: str = Field(examples=["DESTINATION_NOT_HEALTHY"])
    subject_id: str = Field(description="The cluster, Deployment or request at fault.")
    message: str


class ClusterFacts(BaseModel):
    observed_at: int | None
    jetbridge_version: str
    plane_mode: str
    external_secrets_enabled: bool
    external_secret_manager_name: str | None
    cluster_secret_store_valid: bool
    cluster_secret_store_authenticated: bool
    log_sink_configured: bool
    database_endpoint_status: str
    reported_deployment_ids: list[str]


class ClusterView(BaseModel):
    cluster_id: str
    name: str
    registration: str
    endpoint: str = Field(description="host:port of its agent, as registered ('': not given).")
    certificate_identity: str = Field(
        description="SAN URI its agent must present ('': spiffe://jetbridge/cluster/<id>)."
    )
    health: str = Field(examples=["HEALTHY"])
    failover_enabled: bool
    failover_enabled_at: int | None
    registered_at: int | None
    declared_lost_at: int | None = Field(
        None, description="When an admin declared it lost for good (then deregistered)."
    )
    declared_lost_by: str = ""
    lost_attestation: str = Field("", description="Their stated reason, as recorded.")
    facts: ClusterFacts
    deployment_count: int
    ineligible_deployment_count: int
    can_trigger_failover: bool = Field(
        description="The Trigger Failover button: true only when no reason blocks it."
    )
    trigger_blockers: list[Reason]
    valid_destinations: list[str]
    active_request_id: str | None
    seq: int = Field(description="Console sequence of the last event applied to it.")


class DestinationOption(BaseModel):
    cluster_id: str
    valid: bool
    reasons: list[Reason]


class DestinationsView(BaseModel):
    source_cluster_id: str
    source_blockers: list[Reason]
    valid_destinations: list[str]
    options: list[DestinationOption]


class DeploymentView(BaseModel):
    deployment_id: str
    name: str
    cluster_id: str
    origin_cluster_id: str
    status: str
    deploy_mechanism: str
    image: str
    priority: int
    created_at: int
    fencing_epoch: int
    writer_cluster_id: str
    failover_ready: bool = Field(description="False when this Deployment cannot fail over.")
    reasons: list[Reason]
    active_mission_id: str | None


class StepView(BaseModel):
    name: str
    status: str
    attempts: int = Field(
        description="The attempt number outcomes name: it also counts the clearances of "
        "an earlier step's retries, with which this one was cleared again"
    )
    failures: int = Field(description="Attempts of this step that failed (the retry budget)")
    deadline_seconds: int
    started_at: int | None
    ended_at: int | None
    duration_ms: int | None
    error_code: str
    error: str
    transient: bool


class FlightView(BaseModel):
    flight_id: str
    kind: str
    cluster_id: str
    status: str
    dispatched_at: int | None
    failure: Reason | None
    tasks_still_running_after_drain: int | None
    steps: list[StepView]


class MissionView(BaseModel):
    mission_id: str
    deployment_id: str
    status: str
    cleanup: str
    priority: int
    fencing_epoch: int
    created_at: int
    started_at: int | None
    ended_at: int | None
    duration_ms: int | None
    reason_code: str
    reason: str
    current_step: str | None
    flights: list[FlightView]


class ProgressView(BaseModel):
    total: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    waiting: int
    steps_done: int
    steps_total: int
    percent: float = Field(description="Share of flight steps done (all of a finished mission).")


class RequestSummary(BaseModel):
    request_id: str
    source_cluster_id: str
    destination_cluster_id: str
    mode: str
    status: str = Field(examples=["IN_PROGRESS"])
    requested_by: str
    requested_at: int
    started_at: int | None
    ended_at: int | None
    duration_ms: int | None
    cancel_requested_by: str | None
    superseded_by: str | None = Field(
        default=None, description="The Forced request that took this Controlled one over."
    )
    progress: ProgressView
    seq: int


class RequestDetail(RequestSummary):
    drain_timeout_seconds: int
    exclude_ineligible: bool
    max_concurrent_missions: int
    halt_failure_ratio: float
    max_attempts: int
    halted: bool
    can_force: bool = Field(
        default=False,
        description="A Controlled request whose source is unreachable: a Forced request "
        "from the same source to the same destination would take it over now.",
    )
    warnings: list[Reason]
    ineligible: list[Reason]
    rejection_reasons: list[Reason]
    failure_reasons: list[Reason]
    missions: list[MissionView]


class PlannedStep(BaseModel):
    name: str
    deadline_seconds: int
    waits_for: list[str] = Field(description="Steps of the other flight that must end first.")
    cleanup: bool


class PlannedFlight(BaseModel):
    flight_id: str
    kind: str
    cluster_id: str
    steps: list[PlannedStep]


class PlannedMission(BaseModel):
    mission_id: str
    deployment_id: str
    priority: int
    fencing_epoch: int
    flights: list[PlannedFlight]


class PlanView(BaseModel):
    source_cluster_id: str
    destination_cluster_id: str
    mode: str
    mode_help: str
    would_be_accepted: bool
    blocking_reasons: list[Reason]
    warnings: list[Reason]
    ineligible: list[Reason]
    excluded_deployment_ids: list[str]
    missions: list[PlannedMission]


class EventView(BaseModel):
    seq: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: int
    actor: str | None
    producer: str
    causation_id: str | None
    request_id: str | None
    deployment_id: str | None
    cluster_ids: list[str]
    partition: int
    offset: int
    payload: dict[str, Any]


class EventPage(BaseModel):
    events: list[EventView]
    last_seq: int = Field(description="Pass as ``after`` to continue.")
    more: bool
    first_seq: int = Field(
        description="The oldest seq this Console still holds: it keeps the newest "
        "JETBRIDGE_CONSOLE_EVENTS_KEPT events; `jetbridge audit` reads the whole log."
    )


class CommandAccepted(BaseModel):
    """The command left for the Navigator; ``status`` is its answer if it came in time."""

    command_id: str
    command_type: str
    subject_id: str
    actor: str
    answered: bool
    status: str | None
    refusal: Reason | None
    rejection_reasons: list[Reason]


class WhoAmI(BaseModel):
    subject: str
    role: str
    may: list[str]


class Readiness(BaseModel):
    ready: bool
    last_seq: int
    fold_errors: int
