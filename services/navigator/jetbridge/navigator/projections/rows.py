"""Rows of the read model, built from the domain's own aggregates (pure functions).

Each builder returns a tuple in the column order of its table (migrations/0001) and of
its upsert in ``queries.sql``; times stay epoch milliseconds (SQL converts them).
What an aggregate does not keep but a console shows (when a request started, the
sentences of its findings, who enabled failover) comes from the events' payloads and
is kept beside the aggregate in :class:`Extras`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    MissionStatus,
    StepStatus,
)

Position = tuple[str, int, int]  # topic, partition, offset
Row = tuple[Any, ...]
TABLES = ("failover_requests", "missions", "flights", "flight_steps", "clusters", "deployments")


@dataclass
class Extras:
    """Console details the aggregates do not keep, taken from event payloads."""

    request_started_at: dict[str, int] = field(default_factory=dict)
    ineligible: dict[str, str] = field(default_factory=dict)  # request id -> json
    warnings: dict[str, str] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)
    flight_planned_at: dict[str, int] = field(default_factory=dict)
    flight_ended_at: dict[str, int] = field(default_factory=dict)
    failover_enabled_by: dict[str, str] = field(default_factory=dict)


def findings(codes: list[str], subjects: list[str], messages: list[str], subject: str) -> str:
    """Parallel lists of an event (one finding per index) as a JSON list of objects."""
    return _json(
        [
            {"code": c, subject: s, "message": m}
            for c, s, m in zip(codes, subjects, messages, strict=False)
        ]
    )


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _duration(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start


def request_row(r: FailoverRequest, missions: list[Mission], extras: Extras, at: Position) -> Row:
    status = [m.status for m in missions]
    failed = [m for m in missions if m.status is MissionStatus.FAILED]
    policy = r.policy
    return (
        r.id,
        r.status.value,
        r.source_cluster_id,
        r.destination_cluster_id,
        r.mode.value,
        r.requested_by,
        r.cancel_requested_by,
        r.requested_at,
        extras.request_started_at.get(r.id),
        r.ended_at,
        _duration(r.requested_at, r.ended_at),
        r.exclude_ineligible,
        r.halted,
        policy.drain_timeout_seconds,
        policy.retry.max_attempts,
        policy.blast_radius.max_concurrent_missions,
        policy.blast_radius.halt_failure_ratio,
        _json(list(r.deployment_ids)),
        extras.ineligible.get(r.id, "[]"),
        extras.warnings.get(r.id, "[]"),
        extras.rejections.get(r.id, "[]"),
        len(r.mission_ids),
        status.count(MissionStatus.CREATED),
        status.count(MissionStatus.RUNNING),
        status.count(MissionStatus.SUCCEEDED),
        len(failed),
        status.count(MissionStatus.CANCELLED),
        sum(1 for m in missions if m.cleanup is CleanupStatus.PENDING),
        _json([{"mission_id": m.id, "code": m.reason_code, "reason": m.reason} for m in failed]),
        r.version,
        *at,
    )


def mission_row(m: Mission, flights: list[Flight], at: Position) -> Row:
    steps = [s for f in flights for s in f.steps]
    return (
        m.id,
        m.request_id,
        m.deployment_id,
        m.source_cluster_id,
        m.destination_cluster_id,
        m.mode.value,
        m.priority,
        m.fencing_epoch,
        m.status.value,
        m.cleanup.value,
        m.created_at,
        m.started_at,
        m.ended_at,
        _duration(m.started_at, m.ended_at),
        m.reason_code,
        m.reason,
        m.fenced_when_failed,
        m.tasks_still_running_after_drain,
        m.source_flight_id,
        m.destination_flight_id,
        len(steps),
        sum(1 for s in steps if s.status is StepStatus.SUCCEEDED),
        m.version,
        *at,
    )


def flight_row(f: Flight, extras: Extras, at: Position) -> Row:
    cur = f.current()
    step, code, reason = f.failure or (None, None, None)
    return (
        f.id,
        f.mission_id,
        f.request_id,
        f.deployment_id,
        f.kind.value,
        f.cluster_id,
        f.mode.value,
        f.status.value,
        f.fencing_epoch,
        f.fenced_epoch,
        None if cur is None else cur.name.value,
        None if cur is None else cur.status.value,
        len(f.steps),
        sum(1 for s in f.steps if s.status is StepStatus.SUCCEEDED),
        extras.flight_planned_at.get(f.id, f.last_progress_at),
        f.dispatched_at,
        f.last_progress_at,
        extras.flight_ended_at.get(f.id),
        f.tasks_still_running_after_drain,
        step,
        code,
        reason,
        f.ignored_outcomes,
        f.version,
        *at,
    )


def step_rows(f: Flight, at: Position) -> list[Row]:
    return [
        (
            f.id,
            i,
            s.name.value,
            s.status.value,
            s.attempts,
            s.failures,
            s.deadline_seconds,
            s.not_before or None,
            s.started_at,
            s.ended_at,
            s.error_code,
            s.error,
            s.transient,
            *at,
        )
        for i, s in enumerate(f.steps)
    ]


def cluster_row(c: Cluster, held_before_failover: list[str], extras: Extras, at: Position) -> Row:
    return (
        c.id,
        c.name,
        c.registration.value,
        c.health.value,
        c.failover.value,
        c.registered_at,
        c.failover_enabled_at,
        extras.failover_enabled_by.get(c.id),
        c.facts_observed_at,
        c.jetbridge_version,
        c.plane_mode.value,
        c.external_secrets_enabled,
        c.external_secret_manager_name,
        c.cluster_secret_store_valid,
        c.cluster_secret_store_authenticated,
        c.log_sink_configured,
        c.database_endpoint_status.value,
        _json(list(c.deployment_ids)),
        _json(held_before_failover),
        c.version,
        *at,
    )


def deployment_row(d: Deployment, at: Position) -> Row:
    return (
        d.id,
        d.name,
        d.status.value,
        d.cluster_id,
        d.origin_cluster_id,
        d.deploy_mechanism.value,
        d.image,
        d.priority,
        d.created_at,
        d.fencing_epoch,
        d.writer_cluster_id,
        d.version,
        *at,
    )
