"""A Deployment's configuration reaches the destination's manifests, and bad ones are
refused where they enter.

The spec: a failover "applies each Deployment's configuration and secrets to the
destination cluster". The configuration (replicas and resources per component) comes
with DeploymentCreated/Updated, is planned into the destination's FlightPlanned, and
crosses the Dispatcher, the gRPC StartFlight, the agent's plan column and the Pilot's
manifest builder. Every hop here is the production code's pure part (the same
conversions the services run), chained.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from jetbridge.agent.adapters.convert import start_flight_from_proto
from jetbridge.agent.domain.flights import plan_of
from jetbridge.common.components import COMPONENTS
from jetbridge.common.events import EventCodec, SchemaRegistry
from jetbridge.dispatcher.adapters.grpc_client import start_request
from jetbridge.dispatcher.domain.model import PlannedFlight
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.configuration import ComponentConfig, InvalidConfiguration
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.vocabulary import FailoverMode, FlightKind
from jetbridge.pilot.domain.airflow import DEFAULT_COMPONENTS, DeploymentSpec, component_manifest
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation

CONFIGURED = {
    "component_names": ["worker", "scheduler"],
    "component_replicas": [3, 2],
    "component_cpu": ["2", "500m"],
    "component_memory": ["4Gi", "1Gi"],
}
MAPPER = EventMapper(SchemaRegistry(), producer="test")
CODEC = EventCodec()


def configured(deployment_id: str, cluster_id: str) -> ev.DeploymentCreated:
    return dataclasses.replace(deployment(deployment_id, cluster_id), **CONFIGURED)


def planned_flights() -> dict[str, ev.FlightPlanned]:
    sim = Simulation([*cluster_events("a"), *cluster_events("b"), configured("d1", "a")])
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.FORCED, "alice"))
    sim.run()
    return {e.kind: e for e in sim.of_type(ev.FlightPlanned) if isinstance(e, ev.FlightPlanned)}


def test_the_configuration_reaches_the_destinations_manifests() -> None:
    flights = planned_flights()
    destination = flights[FlightKind.DESTINATION.value]
    assert destination.component_names == CONFIGURED["component_names"]
    assert flights[FlightKind.SOURCE.value].component_names == []  # nothing to apply there

    # the Navigator's log record, as the Dispatcher decodes it
    record = MAPPER.to_record(
        destination, correlation_id="r1", caused_by=None, actor=None, occurred_at_ms=0
    )
    flight = PlannedFlight.from_payload(CODEC.decode(CODEC.encode(record)).payload)
    # the StartFlight RPC, as the agent receives it (serialised and parsed again)
    request = type(start_request(flight)).FromString(start_request(flight).SerializeToString())
    command = start_flight_from_proto(request)
    # the plan column, as the Pilot reads it from Flightdeck
    params = json.loads(json.dumps(plan_of(command)))[0]["params"]
    spec = DeploymentSpec.from_params("d1", params)

    by_name = {c.name: c for c in spec.components}
    assert (by_name["worker"].replicas, by_name["worker"].cpu, by_name["worker"].memory) == (
        3,
        "2",
        "4Gi",
    )
    assert (by_name["scheduler"].replicas, by_name["scheduler"].memory) == (2, "1Gi")
    assert (by_name["triggerer"].replicas, by_name["triggerer"].cpu) == (1, "100m")  # default
    worker = component_manifest(spec, by_name["worker"], "reg.test/airflow:1", "B")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert worker["spec"]["replicas"] == 3
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    default = component_manifest(spec, by_name["triggerer"], "reg.test/airflow:1", "B")
    # a component the configuration does not name keeps the namespace's default limits
    assert "limits" not in default["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_an_update_replaces_the_configuration_and_the_next_plan_carries_it() -> None:
    d = Deployment("d1")
    d.apply(configured("d1", "a"))
    assert d.configuration[0] == ComponentConfig("worker", 3, "2", "4Gi")
    d.apply(
        ev.DeploymentUpdated(
            deployment_id="d1",
            deploy_mechanism="IMAGE",
            image="org/d1:2.0",
            priority=0,
            updated_at=2,
            component_names=["worker"],
            component_replicas=[1],
            component_cpu=["1"],
            component_memory=["2Gi"],
        )
    )
    assert d.configuration == (ComponentConfig("worker", 1, "1", "2Gi"),)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"component_replicas": [3]}, "lengths 2, 1, 2, 2"),
        ({"component_names": ["worker", "worker"]}, "named twice"),
        ({"component_names": ["worker", "flower"]}, "'flower' is not one of"),
        ({"component_replicas": [3, -1]}, "replicas -1"),
        ({"component_cpu": ["2", "lots"]}, "cpu 'lots'"),
        ({"component_memory": ["4Gi", "1 GB"]}, "memory '1 GB'"),
    ],
)
def test_a_bad_configuration_is_refused_naming_it_and_changes_nothing(
    change: dict[str, list[object]], named: str
) -> None:
    d = Deployment("d1")
    d.apply(deployment("d1", "a"))
    before = vars(d.clone())
    update = ev.DeploymentUpdated(
        deployment_id="d1",
        deploy_mechanism="IMAGE",
        image="org/d1:2.0",
        priority=5,
        updated_at=2,
        **(CONFIGURED | change),  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidConfiguration, match=named):
        d.apply(update)
    assert vars(d) == before


@pytest.mark.parametrize(
    ("components", "named"),
    [
        ([{"name": "flower", "replicas": 1, "cpu": "1", "memory": "1Gi"}], "'flower'"),
        ([{"name": "worker", "replicas": "3", "cpu": "1", "memory": "1Gi"}], "replicas '3'"),
        ([{"name": "worker", "replicas": 51, "cpu": "1", "memory": "1Gi"}], "not in 0..50"),
        ([{"name": "worker", "replicas": 1, "cpu": "1", "memory": None}], "memory None"),
        ([{"name": "worker", "replicas": 1, "cpu": "1", "memory": "1Gi"}] * 2, "twice"),
        ("worker=3", "must be a list"),
    ],
)
def test_the_pilot_refuses_a_configuration_its_manifests_cannot_take(
    components: object, named: str
) -> None:
    with pytest.raises(StepFailure, match=named) as refused:
        DeploymentSpec.from_params("d1", {"deployment_spec": {"components": components}})
    assert refused.value.code is ErrorCode.INVALID_CONFIGURATION
    assert refused.value.transient is False


def test_the_pilot_makes_exactly_the_components_a_configuration_may_name() -> None:
    assert tuple(c.name for c in DEFAULT_COMPONENTS) == COMPONENTS


def test_a_v1_record_without_a_configuration_plans_the_defaults() -> None:
    """Records written before v2 read with empty arrays: the data plane's defaults."""
    spec = DeploymentSpec.from_params("d1", {"deployment_spec": {"image": "reg.test/a:1"}})
    assert [(c.replicas, c.cpu, c.configured) for c in spec.components] == [(1, "100m", False)] * 5
