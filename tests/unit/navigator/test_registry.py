"""The installation's one container registry, held by the control plane.

The spec: every data plane pulls Airflow images from the single registry endpoint
configured on the control plane. So the Navigator refuses a Deployment whose image
names another registry (before anything moves) and plans flights with the qualified
reference; a Pilot adds nothing.
"""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from jetbridge.common.images import qualified, registry_of, served_by
from jetbridge.common.settings import RegistryHost
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import FailoverMode
from tests.unit.navigator.builders import T0, cluster_events, deployment

REGISTRY = "registry.example.com"
NOW = T0 + 100_000


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("airflow:3", None),
        ("apache/airflow:3.0.2", None),
        ("apache/airflow@sha256:abc", None),
        ("registry.example.com/apache/airflow:3", "registry.example.com"),
        ("localhost/airflow:3", "localhost"),
        ("localhost:5000/airflow:3", "localhost:5000"),
        ("ghcr.io/org/airflow:3", "ghcr.io"),
    ],
)
def test_the_registry_an_image_names(image: str, host: str | None) -> None:
    assert registry_of(image) == host
    assert served_by(image, REGISTRY) is (host in (None, REGISTRY))
    assert served_by(image, "")  # no registry configured: nothing is refused
    expected = f"{REGISTRY}/{image}" if host is None else image
    assert qualified(image, REGISTRY) == expected


def fleet(*images: tuple[str, str], registry: str = REGISTRY) -> Fleet:
    f = Fleet.replay(cluster_events("src") + cluster_events("dst"), registry=registry)
    for deployment_id, image in images:
        f.apply(deployment(deployment_id, "src", image=image))
    return f


def request(f: Fleet) -> list[ev.DomainEvent]:
    cmd = RequestFailover("r1", "src", "dst", FailoverMode.FORCED, "op")
    return f.decide(cmd, NOW)


def test_an_image_from_another_registry_rejects_the_request_naming_both() -> None:
    f = fleet(("ok", "apache/airflow:3"), ("far", "ghcr.io/org/airflow:3"))
    requested, rejected = request(f)
    assert isinstance(requested, ev.FailoverRequested)
    assert isinstance(rejected, ev.FailoverRejected)
    assert requested.deployment_ids == ["ok"]
    assert requested.ineligible_deployment_ids == ["far"]
    assert requested.ineligible_reason_codes == [Code.IMAGE_REGISTRY_MISMATCH.value]
    message = requested.ineligible_reason_messages[0]
    assert "far" in message and "ghcr.io/org/airflow:3" in message and REGISTRY in message
    assert Code.INELIGIBLE_DEPLOYMENTS.value in rejected.reason_codes


def test_flights_carry_the_image_qualified_with_the_installation_registry() -> None:
    f = fleet(("bare", "apache/airflow:3"), ("full", f"{REGISTRY}/org/airflow:2"))
    decided = request(f)
    assert len(decided) == 1  # accepted
    f.apply_all(decided)
    planned = [e for e in f.react(NOW + 1) if isinstance(e, ev.FlightPlanned)]
    images = {(e.deployment_id, e.kind): e.image for e in planned}
    assert images == {
        ("bare", "SOURCE"): f"{REGISTRY}/apache/airflow:3",
        ("bare", "DESTINATION"): f"{REGISTRY}/apache/airflow:3",
        ("full", "SOURCE"): f"{REGISTRY}/org/airflow:2",
        ("full", "DESTINATION"): f"{REGISTRY}/org/airflow:2",
    }


def test_without_a_registry_images_pass_as_reported() -> None:
    f = fleet(("far", "ghcr.io/org/airflow:3"), ("bare", "airflow:3"), registry="")
    decided = request(f)
    assert len(decided) == 1
    f.apply_all(decided)
    planned = {e.image for e in f.react(NOW + 1) if isinstance(e, ev.FlightPlanned)}
    assert planned == {"ghcr.io/org/airflow:3", "airflow:3"}


@pytest.mark.parametrize("value", ["registry.example.com", "localhost:5000", "10.0.0.7:443"])
def test_the_registry_setting_is_a_host_and_port(value: str) -> None:
    assert TypeAdapter(RegistryHost).validate_python(value) == value


@pytest.mark.parametrize("value", ["", "registry.example.com/org", "https://registry.io", "a b"])
def test_a_registry_setting_that_is_not_a_host_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="pattern"):
        TypeAdapter(RegistryHost).validate_python(value)


def test_fleets_compare_by_state_not_by_registry() -> None:
    """A projector's fleet (no registry) equals the Navigator's with the same log."""
    log = [*cluster_events("src"), deployment("d", "src", image="airflow:3")]
    assert Fleet.replay(log, registry=REGISTRY) == Fleet.replay(log)
    assert Fleet.replay(log, registry=REGISTRY) != Fleet.replay(log[:-1], registry=REGISTRY)
