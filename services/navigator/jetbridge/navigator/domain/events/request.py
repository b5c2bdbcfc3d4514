"""Events of the FailoverRequest aggregate (key ``request_id``).

Findings (reasons, warnings, ineligible Deployments) travel as parallel lists of
strings: index ``i`` of ``*_codes``, ``*_subjects`` and ``*_messages`` is one finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jetbridge.navigator.domain.events.base import RequestEvent


@dataclass(frozen=True, kw_only=True)
class FailoverRequested(RequestEvent):
    """The accepted-for-review request and the eligibility snapshot it was judged on.

    ``deployment_ids`` is the scope in start order (highest priority first, then id).
    ``ineligible_*`` names every Deployment that cannot fail over, one finding per
    (Deployment, reason). With ``exclude_ineligible`` (the operator's explicit choice)
    they are excluded and stay where they are; without it a non-empty list comes with a
    :class:`FailoverRejected`.
    """

    source_cluster_id: str
    destination_cluster_id: str
    mode: str
    requested_by: str
    requested_at: int
    drain_timeout_seconds: int = 600
    exclude_ineligible: bool = False
    max_concurrent_missions: int = 0
    halt_failure_ratio: float = 1.0
    max_attempts: int = 5
    backoff_base_seconds: int = 2
    backoff_max_seconds: int = 60
    deployment_ids: list[str] = field(default_factory=list)
    ineligible_deployment_ids: list[str] = field(default_factory=list)
    ineligible_reason_codes: list[str] = field(default_factory=list)
    ineligible_reason_messages: list[str] = field(default_factory=list)
    warning_codes: list[str] = field(default_factory=list)
    warning_subjects: list[str] = field(default_factory=list)
    warning_messages: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FailoverRejected(RequestEvent):
    rejected_at: int
    reason_codes: list[str] = field(default_factory=list)
    reason_subjects: list[str] = field(default_factory=list)
    reason_messages: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FailoverStarted(RequestEvent):
    started_at: int
    mission_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FailoverScopeExtended(RequestEvent):
    """Deployments that appeared on the source while the request ran join it.

    One mission per Deployment follows (``mission_ids``, in ``deployment_ids``' order),
    as at the start; one that cannot fail over has its mission cancelled at once, with
    the reason, so the request cannot end SUCCEEDED with it left behind.
    """

    extended_at: int
    deployment_ids: list[str] = field(default_factory=list)
    mission_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class MissionsHalted(RequestEvent):
    """Blast radius: too many missions failed, no new mission starts."""

    halted_at: int
    failed_count: int
    mission_count: int
    halt_failure_ratio: float


@dataclass(frozen=True, kw_only=True)
class FailoverCancelRequested(RequestEvent):
    """Operator cancel of a running request: no new mission starts; running ones end."""

    requested_by: str
    requested_at: int


@dataclass(frozen=True, kw_only=True)
class FailoverSuperseded(RequestEvent):
    """A Forced request (``superseded_by_request_id``) takes over this Controlled one
    whose source became unreachable: every mission of this one not ended is cancelled
    (``SUPERSEDED``, started ones too) and the Forced request moves their Deployments.
    The request then ends CANCELLED, as after an operator's cancel."""

    superseded_by_request_id: str
    requested_by: str
    superseded_at: int


@dataclass(frozen=True, kw_only=True)
class FailoverCancelled(RequestEvent):
    cancelled_by: str
    cancelled_at: int
    succeeded_mission_ids: list[str] = field(default_factory=list)
    failed_mission_ids: list[str] = field(default_factory=list)
    cancelled_mission_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FailoverSucceeded(RequestEvent):
    succeeded_at: int
    mission_ids: list[str] = field(default_factory=list)
    cleanup_pending_mission_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FailoverFailed(RequestEvent):
    """Partial success stays visible: every mission is listed with its outcome, and every
    Deployment the request excluded as ineligible (left on the source) is named.

    The spec's outcome: a request succeeds when every Deployment on the source runs on
    the destination. One the operator excluded (``exclude_ineligible``) did not move and
    needs their attention, so a request that excluded any ends here even when every
    mission succeeded (``excluded_deployment_ids``, v2)."""

    failed_at: int
    succeeded_mission_ids: list[str] = field(default_factory=list)
    failed_mission_ids: list[str] = field(default_factory=list)
    failed_reason_codes: list[str] = field(default_factory=list)
    failed_reasons: list[str] = field(default_factory=list)
    cancelled_mission_ids: list[str] = field(default_factory=list)
    excluded_deployment_ids: list[str] = field(default_factory=list)
