"""How soon the ESO stand-in says a stopped store is NOT Ready while it is busy.

N ExternalSecrets (all pulling one key) are created in namespace ``store-outage`` on a
cluster of the running local stack; a stand-in is started there from the repository's
``deploy/local/kube/eso_standin.py`` (stop the stack's own stand-in of that cluster
first, or both write), so every object is new to it and due; ``--stop-after`` seconds
later the store is stopped, and the ClusterSecretStore's Ready condition is read every
50 ms until it says False. Prints that delay, then restarts the store (empty: moto keeps
secrets in memory; the key is made again on the next run) and stops the stand-in.
docs/local-kubernetes.md ("Store outage") has the figures, before and after the store
checks got a thread of their own (run with that file checked out at d3225fd).

    kill <the stack's dp-west eso_standin pid>; set -a; . .state/stack.env; set +a
    .venv/bin/python bench/kube/bench_store_outage.py --cluster dp-west --objects 2000
    .venv/bin/python deploy/local/stack.py up   # starts the stack's stand-in again
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local" / "kube"))
import kubebootstrap  # noqa: E402
import kubestack  # noqa: E402

NAMESPACE, KEY, GROUP = "store-outage", "jetbridge/store-outage", "external-secrets.io"


def create_objects(api: client.ApiClient, endpoint: str, n: int) -> None:
    store = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(store.exceptions.ResourceExistsException):
        store.create_secret(Name=KEY, SecretString=json.dumps({"a": "1"}))
    try:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as err:
        if err.status != 409:
            raise
    crd = client.CustomObjectsApi(api)
    for i in range(n):
        body = {
            "apiVersion": f"{GROUP}/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": f"es-{i}"},
            "spec": {
                "secretStoreRef": {"name": kubebootstrap.STORE_NAME, "kind": "ClusterSecretStore"},
                "refreshInterval": "1h",
                "dataFrom": [{"extract": {"key": KEY}}],
            },
        }
        try:
            crd.create_namespaced_custom_object(GROUP, "v1", NAMESPACE, "externalsecrets", body)
        except client.ApiException as err:
            if err.status != 409:
                raise


def store_ready(api: client.ApiClient) -> str | None:
    obj: dict[str, Any] = client.CustomObjectsApi(api).get_cluster_custom_object(
        GROUP, "v1", "clustersecretstores", kubebootstrap.STORE_NAME
    )
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == "Ready":
            return str(cond["status"])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cluster", default="dp-west")
    ap.add_argument("--objects", type=int, default=600)
    ap.add_argument("--stop-after", type=float, default=2.5, help="seconds after its start")
    ap.add_argument(
        "--endpoint",
        default=os.environ.get("JETBRIDGE_SECRETS_MANAGER_ENDPOINT"),
        help="the store's URL (default: from the environment, .state/stack.env)",
    )
    args = ap.parse_args()
    if not args.endpoint:
        ap.error("no --endpoint and no JETBRIDGE_SECRETS_MANAGER_ENDPOINT: source .state/stack.env")
    endpoint = args.endpoint
    root = kubestack.state_root() / args.cluster
    api = config.new_client_from_config(config_file=str(root / "kubeconfig"))
    create_objects(api, endpoint, args.objects)
    standin = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy" / "local" / "kube" / "eso_standin.py"),
            f"--kubeconfig={root}/kubeconfigs/jetbridge-eso-standin.kubeconfig",
            f"--endpoint={endpoint}",
            "--interval=1",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(args.stop_after)
        stopped = time.monotonic()
        kubestack.stop_secrets_store()
        try:
            while store_ready(api) != "False":
                if time.monotonic() - stopped > 120:
                    raise SystemExit("still Ready 120 s after the store stopped")
                time.sleep(0.05)
            took = time.monotonic() - stopped
        finally:
            kubestack.start_secrets_store()
        print(f"{args.objects} ExternalSecrets: NOT Ready {took:.2f} s after the store stopped")
    finally:
        standin.send_signal(signal.SIGTERM)
        standin.wait(30)


if __name__ == "__main__":
    main()
