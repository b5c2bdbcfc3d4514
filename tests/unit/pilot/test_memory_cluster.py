"""The cluster contract on the in-memory twin (plus what only the twin can fake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jetbridge.pilot.adapters.memory_cluster import (
    DirectoryValues,
    InMemoryCluster,
    MemorySecretStore,
    directory_secret_store,
)
from jetbridge.pilot.domain.airflow import DeploymentSpec, component_manifest, namespace_manifests
from jetbridge.pilot.entrypoints.app import make_cluster
from jetbridge.pilot.entrypoints.settings import PilotSettings
from jetbridge.pilot.service_layer.ports import ClusterPort

from .cluster_contract import ClusterContract


class TestInMemoryCluster(ClusterContract):
    @pytest.fixture
    def pair(self) -> tuple[ClusterPort, ClusterPort]:
        store = MemorySecretStore()
        return InMemoryCluster("east", store), InMemoryCluster("west", store)


class TestInMemoryClusterDirectoryStore(ClusterContract):
    """Two twins as two Pilot processes would hold them: separate objects, one store
    directory (JETBRIDGE_PILOT_MEMORY_SECRET_STORE_DIR)."""

    @pytest.fixture
    def pair(self, tmp_path: Path) -> tuple[ClusterPort, ClusterPort]:
        east = InMemoryCluster("east", directory_secret_store(tmp_path / "store"))
        west = InMemoryCluster("west", directory_secret_store(tmp_path / "store"))
        return east, west


def test_directory_values_round_trip(tmp_path: Path) -> None:
    values = DirectoryValues(tmp_path)
    values["jetbridge/af1/fernet"] = '{"k": "v"}'
    other = DirectoryValues(tmp_path)  # another process naming the same directory
    assert other["jetbridge/af1/fernet"] == '{"k": "v"}'
    assert "jetbridge/af1/fernet" in other and "missing" not in other
    assert list(other) == ["jetbridge/af1/fernet"] and len(other) == 1
    del other["jetbridge/af1/fernet"]
    assert "jetbridge/af1/fernet" not in values
    with pytest.raises(KeyError):
        values["jetbridge/af1/fernet"]


def test_settings_pick_the_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {
        "JETBRIDGE_PILOT_CLUSTER_NAME": "dp-east",
        "JETBRIDGE_PILOT_FLIGHTDECK_DSN": "postgresql://x/fd",
        "JETBRIDGE_PILOT_DATABASE_ADMIN_DSN": "postgresql://x/postgres",
        "JETBRIDGE_PILOT_DATABASE_SIDE": "A",
    }
    for k, v in base.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match="KUBECONFIG is required"):
        PilotSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_ADAPTER", "memory")
    monkeypatch.setenv("JETBRIDGE_PILOT_MEMORY_SECRET_STORE_DIR", str(tmp_path / "s"))
    settings = PilotSettings()  # type: ignore[call-arg]
    cluster = make_cluster(settings)
    assert isinstance(cluster, InMemoryCluster) and cluster.name == "dp-east"
    assert isinstance(cluster.store.values, DirectoryValues)
    monkeypatch.setenv("JETBRIDGE_PILOT_CLUSTER_ADAPTER", "kubernetes")
    monkeypatch.setenv("JETBRIDGE_PILOT_KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert PilotSettings().kubeconfig == tmp_path / "kubeconfig"  # type: ignore[call-arg]


async def test_lists_see_one_namespace_and_a_deleted_namespace_takes_its_objects() -> None:
    """What the twin's per-namespace index must keep true: two Deployments' namespaces,
    each listed alone; deleting one namespace deletes its objects and nothing else."""
    cluster = InMemoryCluster("east")
    specs = [DeploymentSpec(f"dep-{i}", "registry.test/airflow:1") for i in range(2)]
    for spec in specs:
        for manifest in namespace_manifests(spec):
            await cluster.apply(manifest)
        for component in spec.components:
            await cluster.apply(component_manifest(spec, component, spec.image, "A"))
    first, second = specs
    labels = {"release": first.release}
    listed = await cluster.list("Deployment", first.namespace, labels)
    assert {d["metadata"]["namespace"] for d in listed} == {first.namespace}
    assert len(listed) == len(first.components)
    assert await cluster.list("Deployment", second.namespace, labels) == []  # not its release
    pods = await cluster.list("Pod", first.namespace, {})
    assert {p["metadata"]["namespace"] for p in pods} == {first.namespace}
    before = await cluster.list("Deployment", second.namespace, {"release": second.release})
    assert await cluster.delete("Namespace", None, first.namespace)
    assert not [k for k in cluster.objects() if f"/{first.namespace}/" in k]
    assert await cluster.list("Deployment", first.namespace, labels) == []
    after = await cluster.list("Deployment", second.namespace, {"release": second.release})
    assert after == before and len(after) == len(second.components)
    assert await cluster.get("Namespace", None, second.namespace) is not None


async def test_what_the_twin_hands_out_is_a_copy_with_json_arrays() -> None:
    """Nothing it returns is shared with what it stores, and a tuple applied comes back
    a list, as from an API server (reads copy with marshal, applies walk the object)."""
    cluster = InMemoryCluster("east")
    spec = DeploymentSpec("dep-1", "registry.test/airflow:1")
    for manifest in namespace_manifests(spec):
        await cluster.apply(manifest)
    manifest = component_manifest(spec, spec.components[0], spec.image, "A")
    manifest["metadata"]["finalizers"] = ("jetbridge.io/test",)
    await cluster.apply(manifest)
    name, labels = manifest["metadata"]["name"], {"release": spec.release}
    manifest["metadata"]["labels"]["release"] = "changed by the caller after apply"
    got = await cluster.get("Deployment", spec.namespace, name)
    assert got is not None and got["metadata"]["finalizers"] == ["jetbridge.io/test"]
    got["spec"]["replicas"] = 9
    (listed,) = [d for d in await cluster.list("Deployment", spec.namespace, labels)]
    assert listed["spec"]["replicas"] != 9
    listed["metadata"]["labels"]["release"] = "changed by the reader"
    stored = cluster.objects()
    (key,) = [k for k, o in stored.items() if o["metadata"]["name"] == name]
    assert stored[key]["metadata"]["labels"]["release"] == spec.release
    stored[key]["spec"]["replicas"] = 5
    assert cluster.objects()[key]["spec"]["replicas"] == listed["spec"]["replicas"]
