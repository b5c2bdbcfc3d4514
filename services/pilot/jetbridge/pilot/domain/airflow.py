"""An Airflow Deployment as Kubernetes objects: pure manifest builders.

One namespace per Deployment; its components (scheduler, api-server, triggerer,
dag-processor, workers) as Kubernetes Deployments labelled ``tier=airflow``,
``component=...``, ``release=...``; secrets by name only. Every object carries the
labels that let the Pilot find (and delete) exactly what it made. Re-applying the same
manifests is a no-op, which is what makes the steps idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from jetbridge.common.components import component_problem
from jetbridge.common.images import registry_of
from jetbridge.common.namespace_marks import (
    DEPLOY_MECHANISM_ANNOTATION,
    DEPLOYMENT_ID_ANNOTATION,
    DEPLOYMENT_LABEL,
    EPOCH_ANNOTATION,
)
from jetbridge.common.naming import release_name
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, permanent

Manifest = dict[str, Any]
MANAGED_BY = "jetbridge-pilot"


@dataclass(frozen=True)
class Component:
    name: str
    replicas: int
    args: tuple[str, ...]
    cpu: str = "100m"
    memory: str = "256Mi"
    # Set by the Deployment's configuration: its cpu and memory are the container's
    # limits too (a default component is limited by the namespace's LimitRange).
    configured: bool = False


DEFAULT_COMPONENTS = (
    Component("scheduler", 1, ("scheduler",)),
    Component("api-server", 1, ("api-server",)),
    Component("triggerer", 1, ("triggerer",)),
    Component("dag-processor", 1, ("dag-processor",)),
    Component("worker", 1, ("celery", "worker")),
)
# A controlled drain stops the scheduler first, then workers (they finish running
# tasks on SIGTERM), then the rest.
SCHEDULER = "scheduler"
WORKER = "worker"


def configured_components(configuration: object) -> tuple[Component, ...]:
    """``DEFAULT_COMPONENTS`` with the configuration's entries applied (a list of
    ``{name, replicas, cpu, memory}``); raises a permanent ``INVALID_CONFIGURATION``."""
    if not isinstance(configuration, (list, tuple)):
        raise _invalid(f"components must be a list, not {type(configuration).__name__}")
    by_name = {c.name: c for c in DEFAULT_COMPONENTS}
    seen: set[str] = set()
    for entry in configuration:
        if not isinstance(entry, Mapping):
            raise _invalid(f"a component entry must be an object, not {entry!r}")
        name = str(entry.get("name") or "")
        if name in seen:
            raise _invalid(f"component {name!r} is configured twice")
        seen.add(name)
        replicas, cpu, memory = entry.get("replicas"), entry.get("cpu"), entry.get("memory")
        if (problem := component_problem(name, replicas, cpu, memory)) is not None:
            raise _invalid(problem)
        by_name[name] = replace(
            by_name[name],
            replicas=cast(int, replicas),  # component_problem checked it
            cpu=str(cpu),
            memory=str(memory),
            configured=True,
        )
    return tuple(by_name.values())


def _invalid(message: str) -> StepFailure:
    return permanent(ErrorCode.INVALID_CONFIGURATION, f"the Deployment's configuration: {message}")


# A DNS-1123 label fragment, one per id: see ``jetbridge.common.naming`` for why folded
# ids carry a hash (the Navigator checks the same names for collisions).
slug = release_name


@dataclass(frozen=True)
class DeploymentSpec:
    deployment_id: str
    image: str
    components: tuple[Component, ...] = DEFAULT_COMPONENTS
    env: Mapping[str, str] = field(default_factory=dict)  # provisioning only; a Secret

    @classmethod
    def from_params(cls, deployment_id: str, params: Mapping[str, Any]) -> DeploymentSpec:
        """The spec a step's params name. The Deployment's configuration
        (``deployment_spec.components``, planned by the control plane) sets its
        components' replicas and resources; ``replicas`` (provisioning) only replicas.
        A configuration that does not fit the manifests is a permanent failure that
        names the problem."""
        spec = params.get("deployment_spec")
        spec = spec if isinstance(spec, Mapping) else {}
        comps = configured_components(spec.get("components") or ())
        overrides = params.get("replicas")
        if isinstance(overrides, Mapping):
            comps = tuple(
                replace(c, replicas=int(overrides.get(c.name, c.replicas))) for c in comps
            )
        env = params.get("env")
        return cls(
            deployment_id=str(spec.get("deployment_id") or deployment_id),
            image=str(spec.get("image") or ""),
            components=comps,
            env={str(k): str(v) for k, v in env.items()} if isinstance(env, Mapping) else {},
        )

    @property
    def release(self) -> str:
        return slug(self.deployment_id)

    @property
    def namespace(self) -> str:
        return f"airflow-{self.release}"

    def labels(self, component: str | None = None) -> dict[str, str]:
        labels = {
            "app.kubernetes.io/managed-by": MANAGED_BY,
            DEPLOYMENT_LABEL: self.release,
            "release": self.release,
            "tier": "airflow",
        }
        if component is not None:
            labels["component"] = component
        return labels

    def deployment_name(self, component: str) -> str:
        return f"{self.release}-{component}"

    def secret_name(self, kind: str) -> str:
        return f"{self.release}-{kind}"


def image_to_pull(image: str) -> str:
    """The reference the flight names, which the control plane qualified with the
    installation's one registry (a data plane has no registry of its own to add).

    A bare reference means a control plane without a registry: refused rather than
    pulled from wherever the container runtime defaults to.
    """
    if not image:
        raise permanent(ErrorCode.IMAGE_PULL_FAILED, "the Deployment spec names no image")
    if registry_of(image) is None:
        raise permanent(
            ErrorCode.IMAGE_NOT_QUALIFIED,
            f"image {image} names no registry: the control plane qualifies every image "
            "with the installation's registry (JETBRIDGE_REGISTRY)",
        )
    return image


def newer_copy_epoch(live: Manifest | None, flight_epoch: int) -> int | None:
    """The epoch of a newer mission that wrote this object (its namespace, one of its
    components) since, else None.

    An object without the annotation (made before it existed) or with an unreadable one
    tells nothing, and is treated as this flight's to write or delete.
    """
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    try:
        epoch = int(annotations.get(EPOCH_ANNOTATION, ""))
    except ValueError:
        return None
    return epoch if epoch > flight_epoch else None


def _meta(spec: DeploymentSpec, name: str, component: str | None = None) -> Manifest:
    return {"name": name, "namespace": spec.namespace, "labels": spec.labels(component)}


SECRETS_BINDING = "jetbridge-pilot-secrets"


def secrets_access_manifest(spec: DeploymentSpec, role: str, service_account: str) -> Manifest:
    """A RoleBinding that gives the Pilot's ServiceAccount (``namespace/name``) the
    ClusterRole ``role`` (Secrets: get, create) in this namespace only.

    RBAC cannot grant Secrets in ``airflow-*`` namespaces alone, and admission control
    does not see reads: a ClusterRole would let the Pilot read every Secret of the
    cluster. So the chart binds Secrets per namespace, as the Pilot creates them.
    """
    sa_namespace, _, sa_name = service_account.partition("/")
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(spec, SECRETS_BINDING),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
    }


REGISTRY_SECRET = "jetbridge-registry"
DOCKER_CONFIG = "kubernetes.io/dockerconfigjson"
PULL_SECRET_SETTING = "JETBRIDGE_PILOT_IMAGE_PULL_SECRET"


def registry_secret_copy(spec: DeploymentSpec, source: Manifest, source_name: str) -> Manifest:
    """The namespace's copy of the cluster's registry credentials (``source``, read from
    ``source_name``): the same type and data, nothing of the source's metadata.

    A Secret of another type, or without its ``.dockerconfigjson``, is refused
    (permanent: the kubelet would not use it, and every pull would fail after the
    fence in Controlled mode); the message names it, never its values."""
    kind = source.get("type")
    data = source.get("data") or {}
    if kind != DOCKER_CONFIG or ".dockerconfigjson" not in data:
        raise permanent(
            ErrorCode.INVALID_CONFIGURATION,
            f"this cluster's registry credentials {source_name} ({PULL_SECRET_SETTING}) must "
            f"be a Secret of type {DOCKER_CONFIG} with a .dockerconfigjson key (found type "
            f"{kind!r}, keys {sorted(data)})",
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(spec, REGISTRY_SECRET),
        "type": DOCKER_CONFIG,
        "data": {".dockerconfigjson": data[".dockerconfigjson"]},
    }


def namespace_manifests(
    spec: DeploymentSpec, cpu: str = "8", memory: str = "16Gi", epoch: int = 0
) -> list[Manifest]:
    """The namespace (annotated with the flight's fencing ``epoch`` and what the agent's
    inventory reports: the exact Deployment id, the deploy mechanism), its quota and
    limits."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": spec.namespace,
                "labels": spec.labels(),
                "annotations": {
                    EPOCH_ANNOTATION: str(epoch),
                    DEPLOYMENT_ID_ANNOTATION: spec.deployment_id,
                    DEPLOY_MECHANISM_ANNOTATION: "IMAGE",
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta(spec, f"{spec.release}-quota"),
            "spec": {"hard": {"requests.cpu": cpu, "requests.memory": memory, "pods": "50"}},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": _meta(spec, f"{spec.release}-limits"),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "1", "memory": "2Gi"},
                        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
                    }
                ]
            },
        },
    ]


def component_manifest(
    spec: DeploymentSpec,
    component: Component,
    image: str,
    db_side: str,
    replicas: int | None = None,
    *,
    epoch: int = 0,
    pull_secret: bool = False,
) -> Manifest:
    """One component as a Kubernetes Deployment, annotated with the fencing ``epoch`` of
    the flight that writes it: a flight of an older mission leaves it alone
    (``steps_cluster``, :func:`newer_copy_epoch`). ``pull_secret``: its pods pull with
    the namespace's copy of the cluster's registry credentials (:data:`REGISTRY_SECRET`)."""
    name = spec.deployment_name(component.name)
    labels = spec.labels(component.name)
    selector = {"release": spec.release, "component": component.name}
    env = [
        _secret_env("AIRFLOW__CORE__FERNET_KEY", spec.secret_name("fernet-key"), "fernet-key"),
        _secret_env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            spec.secret_name(f"metadata-{db_side.lower()}"),
            "connection",
        ),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            **_meta(spec, name, component.name),
            "annotations": {EPOCH_ANNOTATION: str(epoch)},
        },
        "spec": {
            "replicas": component.replicas if replicas is None else replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **({"imagePullSecrets": [{"name": REGISTRY_SECRET}]} if pull_secret else {}),
                    "terminationGracePeriodSeconds": 600 if component.name == WORKER else 60,
                    "containers": [
                        {
                            "name": component.name,
                            "image": image,
                            "args": list(component.args),
                            "env": env,
                            "envFrom": [{"secretRef": {"name": spec.secret_name("env")}}],
                            "resources": _resources(component),
                        }
                    ],
                },
            },
        },
    }


def _resources(component: Component) -> dict[str, Any]:
    amounts = {"cpu": component.cpu, "memory": component.memory}
    if component.configured:
        return {"requests": amounts, "limits": dict(amounts)}
    return {"requests": amounts}


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
