"""The agent's Kubernetes API client: a kubeconfig file (the local stack) or the pod's
ServiceAccount (in a cluster). Its readers run their few calls on an executor."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config


def api_client(kubeconfig: Path | None) -> client.ApiClient:
    cfg = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(str(kubeconfig), client_configuration=cfg)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return client.ApiClient(cfg)
