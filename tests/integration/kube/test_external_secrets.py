"""Secret replication between data planes through ONE shared store (moto Secrets Manager).

The ESO stand-in of deploy/local/kube does the operator's part; the CRDs, the
apiserver and the Secrets Manager API are real. The store-outage tests run last in
this module: a stopped moto comes back empty.
"""

from __future__ import annotations

import base64
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import boto3
import kubebootstrap
import kubestack
from kubernetes import client

from .conftest import ready_condition, unique, wait_until

GROUP = "external-secrets.io"
STORE = kubebootstrap.STORE_NAME
OUTAGE_BOUND = 10.0  # seconds; measured values are printed (see docs/local-kubernetes.md)


def secrets_manager(stack: kubestack.KubeStack) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=stack.secrets_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def ready_status(
    api: client.ApiClient, version: str, plural: str, name: str, ns: str | None = None
) -> dict[str, Any] | None:
    crd = client.CustomObjectsApi(api)
    obj = (
        crd.get_namespaced_custom_object(GROUP, version, ns, plural, name)
        if ns
        else crd.get_cluster_custom_object(GROUP, version, plural, name)
    )
    return ready_condition(obj)


def is_ready(
    api: client.ApiClient,
    version: str,
    plural: str,
    name: str,
    ns: str | None = None,
    want: str = "True",
) -> dict[str, Any] | None:
    cond = ready_status(api, version, plural, name, ns)
    return cond if cond and cond["status"] == want else None


def test_secret_pushed_on_one_cluster_is_pulled_on_the_other(
    kube_stack: kubestack.KubeStack,
    east: client.ApiClient,
    west: client.ApiClient,
    namespace_on: Callable[[client.ApiClient, str], str],
) -> None:
    for api in (east, west):
        wait_until(
            lambda api=api: is_ready(api, "v1", "clustersecretstores", STORE),
            30,
            "the ClusterSecretStore to be Ready",
        )
    src_ns, dst_ns = namespace_on(east, "src"), namespace_on(west, "dst")
    remote_key = f"jetbridge/{unique('dep')}/fernet-key"
    fernet = base64.urlsafe_b64encode(os.urandom(32)).decode()

    client.CoreV1Api(east).create_namespaced_secret(
        src_ns, {"metadata": {"name": "airflow-fernet-key"}, "stringData": {"fernet-key": fernet}}
    )
    client.CustomObjectsApi(east).create_namespaced_custom_object(
        GROUP,
        "v1alpha1",
        src_ns,
        "pushsecrets",
        {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "PushSecret",
            "metadata": {"name": "fernet"},
            "spec": {
                "refreshInterval": "1h",
                "deletionPolicy": "Delete",
                "secretStoreRefs": [{"name": STORE, "kind": "ClusterSecretStore"}],
                "selector": {"secret": {"name": "airflow-fernet-key"}},
                "data": [
                    {"match": {"secretKey": "fernet-key", "remoteRef": {"remoteKey": remote_key}}}
                ],
            },
        },
    )
    client.CustomObjectsApi(west).create_namespaced_custom_object(
        GROUP,
        "v1",
        dst_ns,
        "externalsecrets",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "fernet"},
            "spec": {
                "refreshInterval": "10s",
                "secretStoreRef": {"name": STORE, "kind": "ClusterSecretStore"},
                "target": {"name": "airflow-fernet-key", "creationPolicy": "Owner"},
                "data": [{"secretKey": "fernet-key", "remoteRef": {"key": remote_key}}],
            },
        },
    )

    pushed = wait_until(
        lambda: is_ready(east, "v1alpha1", "pushsecrets", "fernet", src_ns),
        20,
        "the PushSecret to be Ready",
    )
    assert pushed["reason"] == "Synced"
    assert (
        secrets_manager(kube_stack).get_secret_value(SecretId=remote_key)["SecretString"] == fernet
    )  # really in the shared store
    pulled = wait_until(
        lambda: is_ready(west, "v1", "externalsecrets", "fernet", dst_ns),
        20,
        "the ExternalSecret to be Ready",
    )
    assert pulled["reason"] == "SecretSynced"
    target = client.CoreV1Api(west).read_namespaced_secret("airflow-fernet-key", dst_ns)
    assert base64.b64decode(target.data["fernet-key"]).decode() == fernet
    assert target.metadata.owner_references[0].kind == "ExternalSecret"

    # deletionPolicy Delete: the stand-in's finalizer removes the remote secret first
    client.CustomObjectsApi(east).delete_namespaced_custom_object(
        GROUP, "v1alpha1", src_ns, "pushsecrets", "fernet"
    )
    sm = secrets_manager(kube_stack)

    def remote_gone() -> bool:
        return not sm.list_secrets(Filters=[{"Key": "name", "Values": [remote_key]}])["SecretList"]

    wait_until(remote_gone, 20, f"remote secret {remote_key} to be deleted")


def test_external_secret_for_a_missing_key_is_not_ready(
    west: client.ApiClient, namespace_on: Callable[[client.ApiClient, str], str]
) -> None:
    ns = namespace_on(west, "missing")
    client.CustomObjectsApi(west).create_namespaced_custom_object(
        GROUP,
        "v1",
        ns,
        "externalsecrets",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "nothing"},
            "spec": {
                "secretStoreRef": {"name": STORE, "kind": "ClusterSecretStore"},
                "data": [{"secretKey": "k", "remoteRef": {"key": f"jetbridge/{unique('absent')}"}}],
            },
        },
    )
    cond = wait_until(
        lambda: is_ready(west, "v1", "externalsecrets", "nothing", ns, "False"),
        20,
        "the ExternalSecret to report NOT Ready",
    )
    assert cond["reason"] == "SecretSyncedError"
    assert "not found" in cond["message"]


def _time_until_stores(state: str, since: float, clusters: list[client.ApiClient]) -> float:
    for api in clusters:
        wait_until(
            lambda api=api: is_ready(api, "v1", "clustersecretstores", STORE, want=state),
            30,
            f"ClusterSecretStore Ready={state}",
            interval=0.05,
        )
    return time.monotonic() - since


def test_stopped_store_turns_cluster_secret_stores_not_ready(
    kube_stack: kubestack.KubeStack, east: client.ApiClient, west: client.ApiClient
) -> None:
    both = [east, west]
    _time_until_stores("True", time.monotonic(), both)
    stopped = time.monotonic()
    kubestack.stop_secrets_store()
    try:
        took = _time_until_stores("False", stopped, both)
        print(f"\nstore stopped -> both ClusterSecretStores NOT Ready in {took:.2f}s")
        assert took < OUTAGE_BOUND
        cond = ready_status(east, "v1", "clustersecretstores", STORE)
        assert cond is not None and cond["reason"] == "ValidationFailed"
    finally:
        kubestack.start_secrets_store()
    back = _time_until_stores("True", time.monotonic(), both)
    print(f"store restarted -> both Ready again in {back:.2f}s")


def test_hung_store_turns_cluster_secret_stores_not_ready(
    kube_stack: kubestack.KubeStack, east: client.ApiClient, west: client.ApiClient
) -> None:
    """SIGSTOP: the port still accepts connections but nothing answers (a hung store)."""
    both = [east, west]
    _time_until_stores("True", time.monotonic(), both)
    pid = kubestack.SecretsStore(kubestack.state_root()).pids()[0]
    frozen = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        took = _time_until_stores("False", frozen, both)
        print(f"\nstore hung -> both ClusterSecretStores NOT Ready in {took:.2f}s")
        assert took < OUTAGE_BOUND
    finally:
        os.kill(pid, signal.SIGCONT)
    _time_until_stores("True", time.monotonic(), both)
