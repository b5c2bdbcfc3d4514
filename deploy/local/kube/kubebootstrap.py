"""Objects every local cluster gets once its apiserver answers (server-side apply, idempotent).

- RBAC for kwok and the ESO stand-in: they authenticate as plain users, so the roles
  below are what actually lets them work (no system:masters shortcut).
- External Secrets CRDs: same group/versions/kinds as the real operator's, minimal
  schemas (spec/status preserve unknown fields) with a status subresource, so clients
  exercise the real API paths, including ``/status`` writes.
- Fake nodes that kwok manages, and the ClusterSecretStore pointing at the shared store.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from kubeprocs import KubeStackError
from kubernetes import client, config, dynamic, utils

GROUP = "external-secrets.io"
FIELD_MANAGER = "jetbridge-kube-stack"
STORE_NAME = "jetbridge-secrets"  # global.dataPlaneFailover.externalSecretManagerName
ESO_NAMESPACE = "external-secrets"
CREDENTIALS_SECRET = "aws-secretsmanager-credentials"
FAKE_NODES = 3
# Pods a fake node takes. Each Airflow Deployment is 5 pods; the 1,000-Deployment
# benchmark puts 5,000 on one cluster, so 3 nodes x 110 (a kubelet's default) capped a
# cluster at 66 Deployments. kwok runs no containers: capacity costs nothing.
FAKE_NODE_PODS = 2000

# kind, plural, version, scope, short name
ESO_KINDS = (
    ("ExternalSecret", "externalsecrets", "v1", "Namespaced", "es"),
    ("SecretStore", "secretstores", "v1", "Namespaced", "ss"),
    ("ClusterSecretStore", "clustersecretstores", "v1", "Cluster", "css"),
    ("PushSecret", "pushsecrets", "v1alpha1", "Namespaced", "ps"),
)


def _crd(kind: str, plural: str, version: str, scope: str, short: str) -> dict[str, Any]:
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    ready = '.status.conditions[?(@.type=="Ready")]'
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["external-secrets"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": loose, "status": loose},
                        }
                    },
                    "additionalPrinterColumns": [
                        {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
                        {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules},
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
        },
    ]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


READ = ["get", "list", "watch"]
WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]

RBAC = [
    # kwok's own kustomize role, minus its optional CRDs
    *_cluster_role(
        "jetbridge:kwok",
        [
            _rule([""], ["events"], WRITE),
            _rule([""], ["nodes"], READ),
            _rule([""], ["nodes/status", "pods/status"], ["patch", "update"]),
            _rule([""], ["pods"], ["get", "list", "watch", "patch", "update", "delete"]),
            _rule(
                ["coordination.k8s.io"],
                ["leases"],
                ["create", "get", "list", "patch", "update", "watch"],
            ),
        ],
    ),
    *_cluster_role(
        "jetbridge:eso-standin",
        [
            _rule(
                [GROUP], [p for _, p, *_ in ESO_KINDS], ["get", "list", "watch", "patch", "update"]
            ),
            _rule([GROUP], [f"{p}/status" for _, p, *_ in ESO_KINDS], ["get", "patch", "update"]),
            _rule([""], ["secrets"], WRITE),
            _rule([""], ["events"], ["create", "patch"]),
        ],
    ),
]


def _resources() -> dict[str, str]:
    return {"cpu": "1000", "memory": "4Ti", "pods": str(FAKE_NODE_PODS)}


def fake_node(cluster: str, i: int) -> dict[str, Any]:
    name = f"kwok-{cluster}-{i}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "topology.kubernetes.io/zone": f"{cluster}-{'abc'[i % 3]}",
            },
        },
        "spec": {},
        "status": {"allocatable": _resources(), "capacity": _resources()},
    }


def secret_store_objects(region: str = "us-east-1") -> list[dict[str, Any]]:
    """The ClusterSecretStore as a real ESO install declares it for AWS Secrets Manager.

    The endpoint is not in the spec (ESO's AWS provider has no such field; a custom
    endpoint is operator configuration), so the stand-in gets it on its command line.
    """
    ref = {"name": CREDENTIALS_SECRET, "namespace": ESO_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ESO_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CREDENTIALS_SECRET, "namespace": ESO_NAMESPACE},
            # moto accepts any credentials; real clusters would use IRSA or real keys
            "stringData": {"access-key-id": "testing", "secret-access-key": "testing"},
        },
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": STORE_NAME},
            "spec": {
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": region,
                        "auth": {
                            "secretRef": {
                                "accessKeyIDSecretRef": {**ref, "key": "access-key-id"},
                                "secretAccessKeySecretRef": {**ref, "key": "secret-access-key"},
                            }
                        },
                    }
                }
            },
        },
    ]


def api_client(kubeconfig: Path) -> client.ApiClient:
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return cast(client.ApiClient, api)


def apply_all(dyn: dynamic.DynamicClient, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        ns = obj["metadata"].get("namespace")
        name = obj["metadata"]["name"]
        dyn.server_side_apply(  # type: ignore[no-untyped-call]
            res,
            body=obj,
            name=name,
            namespace=ns,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )


def _wait_established(ext: client.ApiextensionsV1Api, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in list(pending):
            status = ext.read_custom_resource_definition(name).status
            conds = (status.conditions if status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conds):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise KubeStackError(f"CRDs not established after {timeout:.0f}s: {sorted(pending)}")
        if pending:
            time.sleep(0.1)


def bootstrap(kubeconfig: Path, cluster: str) -> None:
    """RBAC, ESO CRDs, fake nodes and the ClusterSecretStore; safe to run on every up."""
    with api_client(kubeconfig) as api:
        dyn = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
        crds = [_crd(*k) for k in ESO_KINDS]
        apply_all(dyn, RBAC + crds)
        _wait_established(
            client.ApiextensionsV1Api(api), [c["metadata"]["name"] for c in crds], 30.0
        )
        # fresh discovery: the CRDs' kinds now exist
        dyn = dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]
        apply_all(dyn, secret_store_objects())
        core = client.CoreV1Api(api)
        existing = {n.metadata.name: n for n in core.list_node().items if n.metadata}
        for i in range(FAKE_NODES):
            node = fake_node(cluster, i)
            name = node["metadata"]["name"]
            if name not in existing:
                core.create_node(cast(Any, node))
            elif _pods(existing[name]) != FAKE_NODE_PODS:
                # a node of an older stack: same name, smaller capacity
                core.patch_node_status(name, cast(Any, {"status": node["status"]}))


def _pods(node: Any) -> int:
    """A node's pod capacity; the API server writes 2000 back as "2k"."""
    return int(utils.parse_quantity((node.status.capacity or {}).get("pods", "0")))


def nodes_ready(kubeconfig: Path) -> int:
    """How many fake nodes kwok reports Ready."""
    with api_client(kubeconfig) as api:
        nodes = client.CoreV1Api(api).list_node(label_selector="type=kwok").items
    return sum(
        1
        for n in nodes
        for c in ((n.status.conditions if n.status else None) or [])
        if c.type == "Ready" and c.status == "True"
    )
