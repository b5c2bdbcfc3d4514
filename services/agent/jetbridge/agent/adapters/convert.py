"""Proto messages <-> the agent's domain values (the only place that knows both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jetbridge.agent.domain.flights import (
    ClearSteps,
    ComponentSpec,
    DeploymentSpecRef,
    InvalidFlight,
    PlanStep,
    StartFlight,
    step_names,
)
from jetbridge.agent.service_layer.heartbeats import Beat
from jetbridge.common.dataplane_api import pb2
from jetbridge.flightdeck import Flight, FlightState, Side

_SIDES = {pb2.SIDE_SOURCE: Side.SOURCE, pb2.SIDE_DESTINATION: Side.DESTINATION}
_MODES = {pb2.FAILOVER_MODE_CONTROLLED: "CONTROLLED", pb2.FAILOVER_MODE_FORCED: "FORCED"}
_STATES: dict[FlightState, Any] = {
    FlightState.QUEUED: pb2.FLIGHT_STATE_QUEUED,
    FlightState.RUNNING: pb2.FLIGHT_STATE_RUNNING,
    FlightState.SUCCEEDED: pb2.FLIGHT_STATE_SUCCEEDED,
    FlightState.FAILED: pb2.FLIGHT_STATE_FAILED,
    FlightState.CANCELLED: pb2.FLIGHT_STATE_CANCELLED,
}


def start_flight_from_proto(request: Any) -> StartFlight:
    """Unknown enum values map to "" so validation names them instead of guessing."""
    spec = request.deployment_spec
    side = _SIDES.get(request.side)
    if side is None:
        raise InvalidFlight("side is required (SOURCE or DESTINATION)")
    return StartFlight(
        flight_id=request.flight_id,
        mission_id=request.mission_id,
        request_id=request.request_id,
        deployment_id=request.deployment_id,
        side=side,
        mode=_MODES.get(request.mode, ""),
        fencing_epoch=request.fencing_epoch,
        steps=tuple(PlanStep(s.name, s.deadline_seconds) for s in request.steps),
        deployment_spec=DeploymentSpecRef(
            deployment_id=spec.deployment_id,
            image=spec.image,
            uri=spec.uri,
            revision=spec.revision,
            components=tuple(
                ComponentSpec(c.name, c.replicas, c.cpu, c.memory) for c in spec.components
            ),
        ),
        drain_timeout_seconds=request.drain_timeout_seconds,
        cluster_id=request.cluster_id,
        clearance=(
            clear_steps_from_proto(request.clearance, request.flight_id)
            if request.HasField("clearance")
            else None
        ),
    )


def clear_steps_from_proto(request: Any, flight_id: str = "") -> ClearSteps:
    """``flight_id``: the StartFlight's, for a clearance sent with it that names none."""
    return ClearSteps(
        flight_id=request.flight_id or flight_id,
        steps=tuple(request.steps),
        clearance_id=request.clearance_id,
        not_before_ms=request.not_before_ms,
        attempts=tuple(request.attempts),
    )


def flight_to_proto(flight: Flight) -> Any:
    return pb2.Flight(
        flight_id=flight.flight_id,
        mission_id=flight.mission_id,
        request_id=flight.request_id,
        deployment_id=flight.deployment_id,
        side=pb2.SIDE_SOURCE if flight.side is Side.SOURCE else pb2.SIDE_DESTINATION,
        mode=pb2.FAILOVER_MODE_FORCED if flight.mode == "FORCED" else pb2.FAILOVER_MODE_CONTROLLED,
        fencing_epoch=flight.fencing_epoch,
        state=_STATES[flight.state],
        current_step=flight.current_step,
        attempt=flight.attempt,
        cancel_requested=flight.cancel_requested,
        error=flight.error or "",
        steps=step_names(flight),
        created_at=_ms(flight.created_at),
        updated_at=_ms(flight.updated_at),
        cleared_steps=len(flight.plan)
        if flight.cleared_through is None
        else max(0, flight.cleared_through + 1),
    )


def state_to_proto(state: FlightState) -> Any:
    return _STATES[state]


def heartbeat_to_proto(beat: Beat) -> Any:
    f = beat.facts
    store = f.cluster_secret_store
    facts = pb2.ClusterFacts(
        jetbridge_version=f.jetbridge_version,
        plane_mode=_enum(pb2.PlaneMode, "PLANE_MODE_", f.plane_mode),
        external_secrets_enabled=f.external_secrets_enabled,
        external_secret_manager_name=f.external_secret_manager_name,
        cluster_secret_store=pb2.ClusterSecretStore(
            name=store.name,
            ready=store.ready,
            authenticated=store.authenticated,
            message=store.message,
            provider=store.provider,
        ),
        failover_enabled=f.failover_enabled,
        failover_enabled_at=f.failover_enabled_at_ms,
        deployments=[
            pb2.DeploymentFact(
                id=d.deployment_id,
                deploy_mechanism=_enum(
                    pb2.DeployMechanism, "DEPLOY_MECHANISM_", d.deploy_mechanism
                ),
                created_at=d.created_at_ms,
                image=d.image,
            )
            for d in f.deployments
        ],
        log_sink_configured=f.log_sink_configured,
        database_endpoint_status=_enum(
            pb2.DatabaseEndpointStatus, "DATABASE_ENDPOINT_STATUS_", f.database_endpoint_status
        ),
        database_side=f.database_side,
        database_endpoint=f.database_endpoint,
    )
    return pb2.DataPlaneMessage(
        heartbeat=pb2.Heartbeat(
            cluster_id=beat.cluster_id,
            seq=beat.seq,
            sent_at=beat.sent_at_ms,
            facts=facts,
            checks=[pb2.Check(name=c.name, ok=c.ok, message=c.message) for c in beat.checks],
        )
    )


def _enum(enum: Any, prefix: str, value: str) -> Any:
    name = prefix + value
    known = enum.keys()  # EnumTypeWrapper has no __contains__
    return int(enum.Value(name)) if name in known else 0


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
