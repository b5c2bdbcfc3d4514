"""The inventory the agent reports: read from the cluster's labelled namespaces."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.domain.facts import ClusterFacts, DeploymentFact
from jetbridge.agent.domain.inventory import deployments_in, inventory
from jetbridge.agent.service_layer.observed_inventory import ObservedInventory, outline
from jetbridge.common.namespace_marks import (
    DEPLOY_MECHANISM_ANNOTATION,
    DEPLOYMENT_ID_ANNOTATION,
    DEPLOYMENT_LABEL,
)


def namespace(
    name: str, labels: dict[str, str], notes: dict[str, str] | None = None
) -> dict[str, Any]:
    meta = {"name": name, "labels": labels, "creationTimestamp": "2026-12-06T09:00:00Z"}
    return {"metadata": {**meta, "annotations": notes or {}}}


PILOTS = namespace(
    "airflow-sales-etl",
    {DEPLOYMENT_LABEL: "sales-etl"},
    {DEPLOYMENT_ID_ANNOTATION: "Sales_ETL", DEPLOY_MECHANISM_ANNOTATION: "IMAGE"},
)
OLDER = namespace("airflow-legacy", {DEPLOYMENT_LABEL: "legacy"})  # no annotations
UNRELATED = namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})
AT_9 = 1_796_547_600_000  # 2026-12-06T09:00:00Z


def test_each_labelled_namespace_is_a_deployment_under_its_exact_id() -> None:
    assert deployments_in([UNRELATED, PILOTS, OLDER]) == (
        DeploymentFact("Sales_ETL", "IMAGE", AT_9),
        DeploymentFact("legacy", "", AT_9),  # counts, mechanism unknown
    )
    assert deployments_in([]) == ()


def scheduler(namespace_name: str, release: str) -> dict[str, Any]:
    labels = {"tier": "airflow", "component": "scheduler", "release": release}
    meta = {"name": f"{release}-scheduler", "namespace": namespace_name, "labels": labels}
    return {"metadata": {**meta, "creationTimestamp": "2026-12-06T09:00:00Z"}}


def test_a_namespace_running_an_airflow_scheduler_counts_even_without_the_label() -> None:
    """Installed without the Pilot (Airflow's chart, before failover was enabled), it
    is an Airflow Deployment on the cluster all the same: the spec's "a cluster that
    already has Airflow Deployments" must see it. A labelled namespace's own scheduler
    is not counted twice."""
    found = inventory(
        [UNRELATED, PILOTS, OLDER],
        [scheduler("team-a", "legacy"), scheduler("airflow-sales-etl", "sales-etl")],
    )
    assert found == (
        DeploymentFact("Sales_ETL", "IMAGE", AT_9),
        DeploymentFact("legacy", "", AT_9),
        DeploymentFact("team-a/legacy", "", AT_9),
    )
    assert inventory([], []) == ()


class Reader:
    def __init__(self, *answers: list[Mapping[str, Any]] | Exception) -> None:
        self.answers = list(answers)

    async def namespaces(self) -> list[Mapping[str, Any]]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def schedulers(self) -> list[Mapping[str, Any]]:
        return []


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_listing_adds_to_the_files_inventory_and_an_outage_degrades_late() -> None:
    """The file can declare Deployments no label finds (made before the Pilot, git-sync):
    the report is the union, so the taint rule sees them."""
    stated = DeploymentFact("from-the-file", "GIT_SYNC", 1)
    twice = DeploymentFact("Sales_ETL", "", 2)  # listed too: the listing's fact wins
    base = StaticFactsSource(ClusterFacts(plane_mode="DATA", deployments=(twice, stated)))
    reader, clock = (
        Reader([PILOTS], TimeoutError("read timed out"), ConnectionError("refused")),
        Clock(),
    )
    observed = ObservedInventory(base, reader, stale_after_s=60, clock=clock)
    await observed.start()
    try:
        facts = await observed.facts()
        assert facts.deployments == (DeploymentFact("Sales_ETL", "IMAGE", AT_9), stated)
        assert facts.plane_mode == "DATA" and await observed.checks() == []

        clock.now += 30  # a blip: the last listing stands, no failing check
        assert not await observed.refresh()
        listed = [d.deployment_id for d in (await observed.facts()).deployments]
        assert listed == ["Sales_ETL", "from-the-file"]
        assert await observed.checks() == []
        clock.now += 31  # 61 s since the last listing: a failing check (DEGRADED)
        assert not await observed.refresh()
        (check,) = await observed.checks()
        assert not check.ok and check.name == "inventory"
        assert check.message == (
            "the cluster's Airflow namespaces not read for 61 s: ConnectionError: refused"
        )
    finally:
        await observed.stop()


async def test_nothing_is_reported_before_the_cluster_was_read_once() -> None:
    """A cluster registered with failover on is judged by its first inventory: an empty
    one sent before the listing would let older Deployments pass as new."""
    answered = asyncio.Event()

    class Late(Reader):
        calls = 0

        async def namespaces(self) -> list[Mapping[str, Any]]:
            self.calls += 1
            if self.calls == 2:
                await answered.wait()  # the API server is back only once this is set
            return await super().namespaces()

    reader = Late(ConnectionError("apiserver starting"), [OLDER])
    observed = ObservedInventory(StaticFactsSource(), reader, first_read_retry_s=0.01)
    starting = asyncio.create_task(observed.start())
    while reader.calls < 2:  # the first listing failed, the retry waits on the server
        await asyncio.sleep(0.005)
    assert not starting.done()  # the agent does not serve yet
    (check,) = await observed.checks()
    assert "never read: ConnectionError: apiserver starting" in check.message
    answered.set()
    await asyncio.wait_for(starting, 5)
    try:
        assert [d.deployment_id for d in (await observed.facts()).deployments] == ["legacy"]
        assert await observed.checks() == []
    finally:
        await observed.stop()


def test_an_api_servers_refusal_reads_as_its_status_line_only() -> None:
    refusal = ApiException(status=403, reason="Forbidden")
    refusal.body = '{"message": "namespaces is forbidden: User cannot list"}'
    refusal.headers = {"Audit-Id": "0d1f", "Set-Cookie": "session=secret-value"}
    assert outline(refusal) == "ApiException: 403 Forbidden"
    assert outline(ConnectionError("refused\nsecond line")) == "ConnectionError: refused"
    assert outline(OSError("https://admin:hunter2@api:6443 down")) == (
        "OSError: https://admin:***@api:6443 down"
    )
