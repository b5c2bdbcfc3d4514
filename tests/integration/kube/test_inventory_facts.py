"""The agent's inventory off a real API server: the namespaces the Pilot made, and
Airflow installed without it.

The Pilot's own CREATE_NAMESPACE manifests on the local dp-east cluster, plus a
labelled namespace without the annotations (as an older Pilot made it), an unlabelled
one running an Airflow scheduler as Airflow's chart labels it (installed without the
Pilot: it counts), and one running something else. The listings are paged one object
at a time, so the continue tokens of a large cluster are exercised too.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubestack
import pytest

from jetbridge.agent.adapters import inventory_kube
from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.inventory_kube import KubeInventoryReader
from jetbridge.agent.service_layer.observed_inventory import ObservedInventory
from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.namespace_marks import DEPLOYMENT_LABEL
from jetbridge.common.tls import cluster_identity
from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster
from jetbridge.pilot.domain.airflow import DeploymentSpec, namespace_manifests
from tests.integration.agent.test_agent import _no_control, free_port
from tests.integration.kube.conftest import EAST
from tests.integration.planes import make_tls, pg_database, unique_cluster


@pytest.fixture
async def cluster(kube_stack: kubestack.KubeStack) -> AsyncIterator[KubernetesCluster]:
    east = KubernetesCluster(EAST, kube_stack.kubeconfigs[EAST])
    yield east
    await east.close()


def bare_namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def a_deployment(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A one-replica Deployment carrying ``labels`` (kwok runs its pod)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "r/a:1"}]},
            },
        },
    }


async def test_the_inventory_lists_every_namespace_the_pilot_labels(
    kube_stack: kubestack.KubeStack, cluster: KubernetesCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:6]
    # An id the namespace name cannot hold as it is: the annotation keeps it exact.
    made = [DeploymentSpec(f"Inventory_{tag}_One", "r/a:1"), DeploymentSpec(f"inv-{tag}", "r/a:1")]
    older = f"airflow-older-{tag}"
    unrelated = f"unrelated-{tag}"
    manifests = [namespace_manifests(spec, epoch=1)[0] for spec in made]
    manifests += [bare_namespace(older, {DEPLOYMENT_LABEL: f"older-{tag}"})]
    manifests += [bare_namespace(unrelated, {"team": "data"})]
    by_hand, other = f"by-hand-{tag}", f"other-{tag}"
    manifests += [bare_namespace(by_hand, {"team": "data"}), bare_namespace(other, {})]
    airflow = {"tier": "airflow", "component": "scheduler", "release": f"legacy-{tag}"}
    workloads = [
        a_deployment(by_hand, "legacy-scheduler", airflow),  # Airflow's chart, no Pilot
        a_deployment(other, "scheduler", {"tier": "batch", "component": "scheduler"}),
        # the Pilot's own scheduler in a labelled namespace: counted once, by its label
        a_deployment(made[1].namespace, "own-scheduler", airflow | {"release": made[1].release}),
    ]
    for manifest in manifests + workloads:
        await cluster.apply(manifest)
    monkeypatch.setattr(inventory_kube, "PAGE", 1)
    observed = ObservedInventory(
        StaticFactsSource(), KubeInventoryReader(kube_stack.kubeconfigs[EAST])
    )
    try:
        await observed.start()
        mine = {
            d.deployment_id: d
            for d in (await observed.facts()).deployments
            if tag in d.deployment_id
        }
        assert sorted(mine) == sorted(
            [f"Inventory_{tag}_One", f"inv-{tag}", f"older-{tag}", f"{by_hand}/legacy-{tag}"]
        )
        assert mine[f"inv-{tag}"].deploy_mechanism == "IMAGE"
        assert mine[f"older-{tag}"].deploy_mechanism == ""  # labelled, no annotations
        assert mine[f"{by_hand}/legacy-{tag}"].deploy_mechanism == ""  # found by its scheduler
        assert all(d.created_at_ms > 1_700_000_000_000 for d in mine.values())
        assert await observed.checks() == []
    finally:
        await observed.stop()
        for manifest in manifests:
            await cluster.delete("Namespace", None, manifest["metadata"]["name"])


async def test_the_agent_process_reports_the_listed_inventory_in_its_heartbeats(
    kube_stack: kubestack.KubeStack,
    cluster: KubernetesCluster,
    postgres_dsn: str,
    tmp_path: Path,
) -> None:
    """``python -m jetbridge.agent`` with JETBRIDGE_AGENT_INVENTORY_FROM=cluster: what
    the Helm chart runs (agent.observeInventory)."""
    spec = DeploymentSpec(f"Agent_{uuid.uuid4().hex[:6]}", "r/a:1")
    await cluster.apply(namespace_manifests(spec, epoch=1)[0])
    cluster_id = unique_cluster()
    tls = make_tls(tmp_path, cluster_id)
    port = free_port()
    try:
        async with pg_database(postgres_dsn) as dsn:
            env = {
                **os.environ,
                "JETBRIDGE_AGENT_CLUSTER_ID": cluster_id,
                "JETBRIDGE_AGENT_LISTEN": f"127.0.0.1:{port}",
                "JETBRIDGE_AGENT_FLIGHTDECK_DSN": dsn,
                "JETBRIDGE_AGENT_TLS_DIR": str(tls.root),
                "JETBRIDGE_AGENT_INVENTORY_FROM": "cluster",
                "JETBRIDGE_AGENT_KUBECONFIG": str(kube_stack.kubeconfigs[EAST]),
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "jetbridge.agent", env=env
            )
            try:
                beat = await asyncio.wait_for(first_heartbeat(port, tls, cluster_id), 30)
            finally:
                process.terminate()
                assert await asyncio.wait_for(process.wait(), 10) == 0
        assert spec.deployment_id in {d.id for d in beat.facts.deployments}
    finally:
        await cluster.delete("Namespace", None, spec.namespace)


async def first_heartbeat(port: int, tls: Any, cluster_id: str) -> pb2.Heartbeat:
    async with secure_channel(
        f"127.0.0.1:{port}", tls.control_plane(), cluster_identity(cluster_id)
    ) as channel:
        link = pb2_grpc.DataPlaneStub(channel).Link(_no_control(), wait_for_ready=True)
        try:
            async for message in link:
                if message.WhichOneof("body") == "heartbeat":
                    return message.heartbeat
        finally:
            link.cancel()
    raise AssertionError("the Link stream ended without a heartbeat")
