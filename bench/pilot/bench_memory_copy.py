"""What the in-memory cluster's copies cost: the walk, marshal, and copy.deepcopy.

The in-memory twin hands out copies (nothing a caller gets is shared with what it
stores). The end-to-end benchmark's Pilots copy every object they get or list, so the
twin's copy is part of what a 1,000-Deployment in-memory run measures. This times the
three ways on what a Pilot really stores: the Deployments of one Airflow Deployment
(``component_manifest``), as the twin holds them after ``apply``, and one ``list`` of
that namespace's Deployments with 1,000 Airflow Deployments stored. Pure CPU, no stack.

    .venv/bin/python -m bench.pilot.bench_memory_copy [--out bench/results/memory-copy.json]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jetbridge.pilot.adapters.memory_cluster as twin
from jetbridge.pilot.domain.airflow import DeploymentSpec, component_manifest, namespace_manifests

COPIES: dict[str, Callable[[Any], Any]] = {
    "walk (_clone)": twin._clone,
    "marshal (_copy_stored)": twin._copy_stored,
    "copy.deepcopy": copy.deepcopy,
}


def best_us(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best of ``repeat`` runs of ``number`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            fn()
        best = min(best, time.process_time() - started)
    return best / number * 1e6


async def stored_world(deployments: int) -> tuple[twin.InMemoryCluster, list[DeploymentSpec]]:
    cluster = twin.InMemoryCluster("bench")
    specs = [DeploymentSpec(f"dep-{i}", "registry.test/airflow:1") for i in range(deployments)]
    for spec in specs:
        for manifest in namespace_manifests(spec):
            await cluster.apply(manifest)
        for component in spec.components:
            await cluster.apply(component_manifest(spec, component, spec.image, "A"))
    return cluster, specs


async def run(deployments: int) -> dict[str, Any]:
    cluster, specs = await stored_world(deployments)
    stored = next(o for o in cluster.objects().values() if o["kind"] == "Deployment")
    per_object = {
        name: round(best_us(lambda f=f: f(stored), 5000), 2) for name, f in COPIES.items()
    }
    per_list: dict[str, float] = {}
    original = twin._copy_stored
    for _ in range(3):  # best of three passes each, the ways taken in turns
        for name, f in COPIES.items():
            twin._copy_stored = f  # what list() copies with
            started = time.process_time()
            for spec in specs:
                await cluster.list("Deployment", spec.namespace, {"release": spec.release})
            took = round((time.process_time() - started) / len(specs) * 1e6, 1)
            per_list[name] = min(per_list.get(name, took), took)
    twin._copy_stored = original
    return {
        "machine": {"python": platform.python_version(), "processor": platform.processor()},
        "deployments_stored": deployments,
        "object_bytes_json": len(json.dumps(stored)),
        "us_per_object_copy": per_object,
        "us_per_list_of_one_namespace": per_list,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args.deployments))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
