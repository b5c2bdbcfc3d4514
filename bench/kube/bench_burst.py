"""How fast a local cluster makes a burst of Airflow-shaped Deployments available.

N namespaces of five one-replica Deployments each (the Pilot's five components) are
created at once, in parallel, on a running local cluster; each namespace is listed
every ``--poll`` seconds until all five report one available replica. Prints the
creation time and the p50 / max time to available, then deletes the namespaces.
This isolates the cluster's own pace (controllers, scheduler, kwok, API server) from
Jetbridge's: the UPSERT_DEPLOYMENT step waits for exactly this.

    .venv/bin/python bench/kube/bench_burst.py --cluster dp-west --namespaces 16
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config

COMPONENTS = ("scheduler", "api-server", "triggerer", "dag-processor", "worker")
IMAGE = "registry.jetbridge.local/apache/airflow:3.0.2"


def deployment(name: str) -> dict[str, Any]:
    labels = {"component": name}
    container = {
        "name": name,
        "image": IMAGE,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cluster", default="dp-west")
    ap.add_argument("--namespaces", type=int, default=16)
    ap.add_argument("--poll", type=float, default=0.25)
    ap.add_argument("--state-dir", type=Path, default=Path(".state"))
    args = ap.parse_args()
    api = config.new_client_from_config(str(args.state_dir / "kube" / args.cluster / "kubeconfig"))
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    names = [f"jbburst-{int(time.time())}-{i}" for i in range(args.namespaces)]
    for ns in names:
        core.create_namespace({"metadata": {"name": ns}})
    try:
        started = time.monotonic()

        def create(ns: str) -> None:
            for component in COMPONENTS:
                apps.create_namespaced_deployment(ns, deployment(component))

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(create, names))
        created = time.monotonic() - started
        ready: dict[str, float] = {}
        while len(ready) < len(names) and time.monotonic() - started < 300:
            for ns in names:
                if ns not in ready:
                    found = apps.list_namespaced_deployment(ns).items
                    if len(found) == len(COMPONENTS) and all(
                        (d.status.available_replicas or 0) == 1 for d in found
                    ):
                        ready[ns] = time.monotonic() - started
            time.sleep(args.poll)
        times = sorted(ready.values())
        print(
            f"{args.cluster}: {len(names)} namespaces x {len(COMPONENTS)} Deployments created "
            f"in {created:.2f} s; available p50 {times[len(times) // 2]:.1f} s, "
            f"max {times[-1]:.1f} s ({len(times)}/{len(names)})"
        )
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(core.delete_namespace, names))


if __name__ == "__main__":
    main()
