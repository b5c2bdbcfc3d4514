"""The event catalogue: every event type with its aggregate, key, topic and fields.

Schema files (``schemas/avro/events/<Name>.v<N>.avsc``) and ``docs/events.md`` are
written from :func:`describe`; a test keeps every field Avro-friendly. Fields whose
value is one of the domain's vocabularies are listed in :data:`ENUM_FIELDS` so the
schema can declare an Avro enum with exactly those symbols.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import StrEnum
from typing import Any

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import vocabulary as voc

EVENT_TYPES: tuple[type[ev.DomainEvent], ...] = (
    ev.ClusterRegistered,
    ev.ClusterDeregistered,
    ev.ClusterDeclaredLost,
    ev.ClusterFactsChanged,
    ev.ClusterHealthChanged,
    ev.FailoverEnabled,
    ev.FailoverEnableRefused,
    ev.DeploymentCreated,
    ev.DeploymentUpdated,
    ev.DeploymentDeleted,
    ev.DeploymentFenced,
    ev.DeploymentRelocated,
    ev.FailoverRequested,
    ev.FailoverRejected,
    ev.FailoverStarted,
    ev.FailoverScopeExtended,
    ev.MissionsHalted,
    ev.FailoverCancelRequested,
    ev.FailoverSuperseded,
    ev.FailoverCancelled,
    ev.FailoverSucceeded,
    ev.FailoverFailed,
    ev.MissionCreated,
    ev.MissionStarted,
    ev.MissionSucceeded,
    ev.MissionFailed,
    ev.MissionCancelled,
    ev.SourceCleanupPending,
    ev.SourceCleanupCompleted,
    ev.SourceCleanupFailed,
    ev.FlightPlanned,
    ev.FlightStepsCleared,
    ev.FlightStepDeadlineExceeded,
    ev.FlightSucceeded,
    ev.FlightFailed,
    ev.FlightCancelled,
    ev.FlightDispatched,
    ev.FlightDispatchFailed,
    ev.FlightStepStarted,
    ev.FlightStepSucceeded,
    ev.FlightStepFailed,
    ev.DrainCompleted,
    ev.DrainTimedOut,
    ev.FencingCompleted,
)

BY_NAME: dict[str, type[ev.DomainEvent]] = {t.event_type(): t for t in EVENT_TYPES}

# (event type or "*", field) -> vocabulary of its values.
ENUM_FIELDS: dict[tuple[str, str], type[StrEnum]] = {
    ("ClusterFactsChanged", "plane_mode"): voc.PlaneMode,
    ("ClusterFactsChanged", "database_endpoint_status"): voc.DatabaseEndpointStatus,
    ("ClusterHealthChanged", "previous"): voc.Health,
    ("ClusterHealthChanged", "current"): voc.Health,
    ("DeploymentCreated", "deploy_mechanism"): voc.DeployMechanism,
    ("DeploymentUpdated", "deploy_mechanism"): voc.DeployMechanism,
    ("FailoverRequested", "mode"): voc.FailoverMode,
    ("MissionCreated", "mode"): voc.FailoverMode,
    ("FlightPlanned", "mode"): voc.FailoverMode,
    ("FlightPlanned", "kind"): voc.FlightKind,
    ("MissionFailed", "flight_kind"): voc.FlightKind,
    ("*", "step"): voc.StepName,
    ("*", "steps"): voc.StepName,
}

_SIMPLE: dict[Any, str] = {str: "string", int: "long", bool: "boolean", float: "double"}


def avro_type(annotation: Any) -> str:
    """A short Avro-ish rendering of a field annotation; raises for anything else."""
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return f"array<{avro_type(args[0])}>"
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        (inner,) = (a for a in args if a is not type(None))
        return f"null|{avro_type(inner)}"
    raise TypeError(f"not an Avro-friendly annotation: {annotation!r}")


def enum_for(event: str, field_name: str) -> type[StrEnum] | None:
    return ENUM_FIELDS.get((event, field_name)) or ENUM_FIELDS.get(("*", field_name))


def describe() -> list[dict[str, Any]]:
    """Name, aggregate, key, topic and typed fields of every event, in catalogue order."""
    out: list[dict[str, Any]] = []
    for cls in EVENT_TYPES:
        hints = typing.get_type_hints(cls)
        rows = []
        for f in dataclasses.fields(cls):
            enum = enum_for(cls.event_type(), f.name)
            rows.append(
                {
                    "name": f.name,
                    "type": avro_type(hints[f.name]),
                    "enum": [m.value for m in enum] if enum else None,
                    "has_default": f.default is not dataclasses.MISSING
                    or f.default_factory is not dataclasses.MISSING,
                }
            )
        out.append(
            {
                "name": cls.event_type(),
                "aggregate": cls.AGGREGATE,
                "key": cls.KEY,
                "topic": cls.TOPIC,
                "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                "fields": rows,
            }
        )
    return out
