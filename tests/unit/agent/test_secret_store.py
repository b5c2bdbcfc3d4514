"""The ClusterSecretStore's status as the agent reports it, and how readings age."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.domain.facts import ClusterFacts, SecretStoreStatus
from jetbridge.agent.domain.secret_store import provider_of, store_status
from jetbridge.agent.service_layer.observed_facts import ObservedFactsSource


def store(status: str | None, reason: str = "", message: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "aws"}, "spec": {}}
    if status is not None:
        cond = {"type": "Ready", "status": status, "reason": reason, "message": message}
        obj["status"] = {"conditions": [{"type": "Other", "status": "True"}, cond]}
    return obj


@pytest.mark.parametrize(
    ("obj", "valid", "authenticated", "says"),
    [
        (None, False, False, "ClusterSecretStore aws not found"),
        (store(None), False, False, "no Ready condition yet"),
        (store("True", "Valid", "store validated"), True, True, "store validated"),
        (store("False", "InvalidProviderConfig", "no region"), False, False, "no region"),
        (store("False", "ValidationFailed", "403 denied"), True, False, "403 denied"),
        (store("Unknown", "", ""), True, False, ""),
    ],
    ids=["missing", "not yet", "ready", "bad config", "auth refused", "unknown"],
)
def test_the_ready_condition_says_valid_and_authenticated(
    obj: dict[str, Any] | None, valid: bool, authenticated: bool, says: str
) -> None:
    assert store_status("aws", obj) == SecretStoreStatus("aws", valid, authenticated, says)


@pytest.mark.parametrize(
    ("spec", "provider"),
    [
        (
            {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
            "aws/SecretsManager",
        ),
        ({"provider": {"aws": {"service": "ParameterStore"}}}, "aws/ParameterStore"),
        ({"provider": {"gcpsm": {"projectID": "p"}}}, "gcpsm"),
        ({"provider": {"vault": {"server": "https://vault"}}}, "vault"),
        ({}, ""),
        ({"provider": "garbage"}, ""),
    ],
)
def test_the_provider_is_named_as_the_spec_gives_it(spec: dict[str, Any], provider: str) -> None:
    obj = {**store("True", "Valid", "ok"), "spec": spec}
    assert provider_of(obj) == provider
    assert store_status("aws", obj).provider == provider


class Reader:
    """Answers with the next object, or raises the next error."""

    def __init__(self) -> None:
        self.answers: list[Mapping[str, Any] | Exception | None] = []
        self.reads = 0

    async def read(self, name: str) -> Mapping[str, Any] | None:
        self.reads += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_reading_overlays_the_static_facts_and_an_outage_fails_closed_late() -> None:
    base = StaticFactsSource(ClusterFacts(plane_mode="DATA", database_side="A"))
    reader, clock = Reader(), Clock()
    observed = ObservedFactsSource(base, reader, "aws", stale_after_s=60, clock=clock)
    before = (await observed.facts()).cluster_secret_store
    assert not before.ready and before.message == "not observed yet"

    reader.answers = [store("True", "Valid", "store validated")]
    await observed.refresh()
    facts = await observed.facts()
    assert facts.cluster_secret_store == SecretStoreStatus("aws", True, True, "store validated")
    assert facts.plane_mode == "DATA" and facts.database_side == "A"  # the rest as stated

    clock.now += 30  # an API blip: the last reading stands
    reader.answers = [TimeoutError("read timed out")]
    assert (await observed.refresh()).authenticated
    clock.now += 31  # 61 s since the last reading: fail closed, with the error
    reader.answers = [OSError("connection refused")]
    down = await observed.refresh()
    assert not down.ready and not down.authenticated
    assert down.message == "cannot read ClusterSecretStore aws: OSError: connection refused"

    reader.answers = [store("False", "ValidationFailed", "token expired")]
    assert await observed.refresh() == SecretStoreStatus("aws", True, False, "token expired")


async def test_an_api_server_that_never_answered_reports_the_error_at_once() -> None:
    reader = Reader()
    reader.answers = [ConnectionError("no route")]
    observed = ObservedFactsSource(StaticFactsSource(), reader, "aws", clock=Clock())
    status = await observed.refresh()
    assert (status.ready, status.authenticated) == (False, False)
    assert "ConnectionError: no route" in status.message
