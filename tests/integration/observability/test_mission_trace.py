"""One Mission is one trace across real processes, and every service's /metrics answers.

``make demo``'s world on one Deployment (``deploy/local/demo.py``: every service its
own OS process on the local stack, both Kubernetes data planes, the failover started
through the Console API), each process writing its finished spans to its own file
and serving ``/metrics`` on its own port. Then the span tree of the Mission is
checked: one trace id, spans from the navigator, dispatcher, agent and pilot
processes, and each span's parent where the design puts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
from demo import Demo  # noqa: E402
from demo_world import read_env_file  # noqa: E402

from jetbridge.common.settings import env_file_path  # noqa: E402

pytestmark = pytest.mark.integration

Span = dict[str, Any]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def read_spans(trace_dir: Path) -> list[Span]:
    spans = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                spans.append(json.loads(line) | {"file": path.stem})
    return spans


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def mission_tree(spans: list[Span]) -> tuple[Span, list[Span]]:
    """The first Mission's root span and every span of its trace."""
    roots = [s for s in spans if s["name"] == "navigator.mission"]
    assert roots, f"no navigator.mission span in {Counter(s['name'] for s in spans)}"
    root = roots[0]
    return root, [s for s in spans if s["trace_id"] == root["trace_id"]]


def check_tree(root: Span, tree: list[Span]) -> None:
    by_id = {s["span_id"]: s for s in tree}
    parent = {s["span_id"]: by_id.get(s["parent_span_id"] or "") for s in tree}
    assert root["parent_span_id"] is None and root["service"] == "navigator"
    orphans = [s["name"] for s in tree if s is not root and parent[s["span_id"]] is None]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"
    services = {s["service"] for s in tree}
    assert {"navigator", "dispatcher", "agent", "pilot"} <= services, services
    pilots = {s["resource"].get("jetbridge.cluster") for s in tree if s["service"] == "pilot"}
    assert pilots == {"dp-east", "dp-west"}, "both sides' flights are in the Mission's trace"

    def of(name: str) -> list[Span]:
        found = [s for s in tree if s["name"] == name or s["name"].startswith(name + " ")]
        assert found, f"no {name} span in the Mission's trace"
        return found

    for s in of("navigator.decide"):
        assert parent[s["span_id"]] is root
    for s in of("dispatcher.dispatch"):
        up = parent[s["span_id"]]
        assert up is not None and up["service"] == "navigator", s["name"]
        assert up["attributes"]["jetbridge.flight.id"] == s["attributes"]["jetbridge.flight.id"]
    starts = [s for s in tree if s["name"].endswith("/StartFlight")]
    clients = [s for s in starts if s["kind"] == "CLIENT"]
    servers = [s for s in starts if s["kind"] == "SERVER"]
    assert clients and servers and {s["service"] for s in clients} == {"dispatcher"}
    for s in clients:
        up = parent[s["span_id"]]
        assert up is not None and up["name"] == "dispatcher.dispatch"
    for s in servers:
        up = parent[s["span_id"]]
        assert s["service"] == "agent"
        assert up is not None and up["kind"] == "CLIENT" and up["service"] == "dispatcher"
    flights = of("pilot.flight")
    for s in flights:
        up = parent[s["span_id"]]
        assert up is not None and up in servers, "the Pilot continues the StartFlight's trace"
    steps = of("pilot.step")
    for s in steps:
        up = parent[s["span_id"]]
        assert up is not None and up["name"] == "pilot.flight"
        attrs = s["attributes"]
        assert attrs["jetbridge.flight.id"] == up["attributes"]["jetbridge.flight.id"]
        assert attrs["jetbridge.step.name"] == s["name"].removeprefix("pilot.step ")
        assert attrs["jetbridge.step.attempt"] >= 1
        assert attrs["jetbridge.outcome"]
    # A step may fail an attempt under load and be cleared again: each succeeded once.
    succeeded = {
        s["attributes"]["jetbridge.step.name"]
        for s in steps
        if s["attributes"]["jetbridge.outcome"] == "SUCCEEDED"
    }
    assert {"DRAIN_TASKS", "WAIT_READY"} <= succeeded, succeeded
    assert succeeded == {s["attributes"]["jetbridge.step.name"] for s in steps}


async def check_metrics(demo: Demo) -> None:
    ports = demo.procs.metrics_ports
    scraped = dict(
        zip(ports, await asyncio.gather(*(scrape(p) for p in ports.values())), strict=True)
    )
    nav = scraped["navigator"]
    assert value(nav, "jetbridge_missions", state="SUCCEEDED") == 1
    assert value(nav, "jetbridge_missions", state="RUNNING") == 0
    assert value(nav, "jetbridge_failover_duration_seconds_count", outcome="SUCCEEDED") == 1
    assert value(nav, "jetbridge_mission_duration_seconds_count", outcome="SUCCEEDED") == 1
    for service in ("navigator", "dispatcher", "dplink", "projections"):
        lags = named(scraped[service], "jetbridge_kafka_consumer_lag")
        assert lags, f"{service}: no consumer lag"
        assert all(v >= 0 for v in lags.values())
    for cluster in ("dp-east", "dp-west"):
        age = value(scraped["dplink"], "jetbridge_cluster_heartbeat_age_seconds", cluster=cluster)
        assert age is not None and age < 5, (cluster, age)
        assert (
            value(
                scraped[f"agent-{cluster}"],
                "jetbridge_flightdeck_flights",
                cluster=cluster,
                state="QUEUED",
            )
            is not None
        )
    dispatched = value(
        scraped["dispatcher"],
        "jetbridge_dispatch_duration_seconds_count",
        decision="FlightStepsCleared",
        outcome="DISPATCHED",
    )
    # the source and destination flights, each handed over with its first clearance
    assert dispatched is not None and dispatched >= 2
    drains = value(
        scraped["pilot-dp-east"],
        "jetbridge_step_duration_seconds_count",
        cluster="dp-east",
        step="DRAIN_TASKS",
        outcome="SUCCEEDED",
    )
    assert drains is not None and drains >= 1
    assert named(scraped["console"], "process_cpu_seconds_total")  # it answers too


@pytest.mark.timeout(240)
async def test_one_mission_is_one_trace_across_the_services_and_metrics_answer() -> None:
    env_file = env_file_path()  # .state/stack.env, or under $JETBRIDGE_STATE_DIR
    if not env_file.exists():
        pytest.fail("the local stack is not up: run `make stack-up`", pytrace=False)
    args = argparse.Namespace(deployments=1, exit_when_done=True, port=0, keep=False)
    demo = Demo(args, read_env_file(env_file))
    began = time.monotonic()
    try:
        await demo.build()
        detail = await demo.failover(await demo.running_tasks())
        assert detail["status"] == "SUCCEEDED", detail
        failover_s = detail["wall_s"]
        # Spans are on disk when they end; the last flight's span ends just after its
        # completion is committed, so give the Pilots a moment.
        deadline = time.monotonic() + 10
        while True:
            spans = read_spans(demo.procs.trace_dir)
            try:
                root, tree = mission_tree(spans)
                check_tree(root, tree)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        # The Navigator samples its state gauges once a second: the end may be on the
        # ledger (which the demo reads) up to a second before it is in the gauges.
        deadline = time.monotonic() + 10
        while True:
            try:
                await check_metrics(demo)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        print(
            f"failover {failover_s:.1f}s, whole test {time.monotonic() - began:.1f}s, "
            f"{len(tree)} spans in the Mission's trace"
        )
    finally:
        demo.procs.stop_all()
        await demo.cleanup()
