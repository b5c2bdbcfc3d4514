"""Controllers really run: kwok + scheduler make Deployments Ready, namespaces finish deleting."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from .conftest import unique, wait_until


def deployment(name: str, replicas: int) -> dict[str, object]:
    labels = {"app": name, "tier": "airflow", "component": "scheduler"}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "example/none:1"}]},
            },
        },
    }


def test_deployment_gets_a_replicaset_and_ready_pods(
    east: client.ApiClient, namespace_on: Callable[[client.ApiClient, str], str]
) -> None:
    ns = namespace_on(east, "deploy")
    name = unique("sched")
    apps, core = client.AppsV1Api(east), client.CoreV1Api(east)
    apps.create_namespaced_deployment(ns, deployment(name, 2))

    def ready() -> int:
        status = apps.read_namespaced_deployment_status(name, ns).status
        return status.ready_replicas == 2 and status.available_replicas == 2

    wait_until(ready, 60, f"deployment {ns}/{name} to report 2 ready replicas")
    rs = apps.list_namespaced_replica_set(ns).items
    assert len(rs) == 1
    assert rs[0].metadata.owner_references[0].name == name
    pods = core.list_namespaced_pod(ns).items
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name.startswith("kwok-")  # bound by the real scheduler
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"


def test_deleted_namespace_with_workloads_disappears(east: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(east), client.AppsV1Api(east)
    ns = unique("gone")
    core.create_namespace({"metadata": {"name": ns}})
    apps.create_namespaced_deployment(ns, deployment("web", 1))
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"a": "b"}})
    wait_until(
        lambda: apps.read_namespaced_deployment_status("web", ns).status.ready_replicas,
        60,
        "deployment web to be ready before the delete",
    )

    core.delete_namespace(ns)

    def gone() -> bool:
        try:
            core.read_namespace(ns)
        except client.ApiException as err:
            return err.status == 404
        return False

    # the namespace controller deletes the content (kwok finishes the pods) and finalizes
    wait_until(gone, 90, f"namespace {ns} to finish terminating", interval=0.25)
