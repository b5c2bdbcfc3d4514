"""What a read costs the Pilot's Kubernetes client: the dynamic client's objects or JSON.

Why: by default the official dynamic client wraps every response in
``ResourceInstance`` (a recursive copy into attribute objects) and ``to_dict()``
copies it back; the Pilot only needs the JSON. This times, on this process's CPU
clock, a list of ``--count`` Deployments (two containers, ten env vars each, applied
to a scratch namespace on a real API server, then deleted) read both ways, after
checking both give the same objects:

    .venv/bin/python bench/kube/bench_client_reads.py .state/kube/dp-west/kubeconfig
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

NAMESPACE = "jb-client-reads-bench"
LABEL = "jetbridge.io/bench=client-reads"


def deployment(i: int) -> dict[str, Any]:
    containers = [
        {
            "name": c,
            "image": "registry.example.com/airflow:2.10",
            "args": ["airflow", c],
            "env": [{"name": f"E{j}", "value": "v" * 20} for j in range(10)],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        }
        for c in ("scheduler", "sidecar")
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"d{i}", "labels": {"jetbridge.io/bench": "client-reads"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": f"d{i}"}},
            "template": {
                "metadata": {"labels": {"app": f"d{i}"}},
                "spec": {"containers": containers},
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kubeconfig")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--reads", type=int, default=40)
    args = parser.parse_args()
    cfg = client.Configuration()
    config.load_kube_config(args.kubeconfig, client_configuration=cfg)  # type: ignore[no-untyped-call]
    dyn = dynamic.DynamicClient(client.ApiClient(cfg))  # type: ignore[no-untyped-call]
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    try:
        namespaces.create(body={"metadata": {"name": NAMESPACE}})
    except ApiException as error:
        if error.status != 409:
            raise
    try:
        for i in range(args.count):
            deployments.server_side_apply(
                body=deployment(i),
                name=f"d{i}",
                namespace=NAMESPACE,
                field_manager="bench",
                force_conflicts=True,
            )

        def objects() -> list[dict[str, Any]]:
            found = deployments.get(namespace=NAMESPACE, label_selector=LABEL)
            return [dict(item) for item in found.to_dict()["items"]]

        def plain_json() -> list[dict[str, Any]]:
            response = deployments.get(namespace=NAMESPACE, label_selector=LABEL, serialize=False)
            try:
                body = response.data
            finally:
                response.release_conn()
            return [dict(item) for item in json.loads(body)["items"]]

        names = [d["metadata"]["name"] for d in plain_json()]
        assert len(names) == args.count and names == [d["metadata"]["name"] for d in objects()]
        for name, read in (("ResourceInstance + to_dict", objects), ("plain JSON", plain_json)) * 2:
            started = time.process_time()
            for _ in range(args.reads):
                read()
            spent = (time.process_time() - started) * 1000 / args.reads
            print(f"{name}: {spent:.2f} ms of CPU a list of {args.count} Deployments")
    finally:
        namespaces.delete(name=NAMESPACE)


if __name__ == "__main__":
    main()
