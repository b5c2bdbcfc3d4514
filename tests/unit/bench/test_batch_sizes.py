"""The bench reads batch sizes from live /metrics endpoints, summed over processes."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from batch_sizes import batch_totals, delta, families, recheck_delta, recheck_totals


def _serve(registry: CollectorRegistry) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return port


def test_batches_and_items_between_two_scrapes_summed_over_services() -> None:
    dispatcher, agent = CollectorRegistry(), CollectorRegistry()
    rpc = Histogram("jetbridge_dispatch_batch_items", "", ["rpc"], registry=dispatcher)
    deck = Histogram(
        "jetbridge_agent_flightdeck_batch_items", "", ["cluster", "operation"], registry=agent
    )
    unrelated = Histogram("jetbridge_other_items", "", registry=agent)
    ports = {"dispatcher": _serve(dispatcher), "agent": _serve(agent), "gone": 1}
    rpc.labels("StartFlights").observe(3)  # before the run: not counted
    before = batch_totals(families(ports))
    for items in (4, 6):
        rpc.labels("StartFlights").observe(items)
    rpc.labels("ClearStepsBatch").observe(1)
    deck.labels("dp-east", "admit").observe(5)
    deck.labels("dp-west", "admit").observe(3)  # two agents: summed
    unrelated.observe(99)
    assert delta(before, batch_totals(families(ports))) == {
        "jetbridge_agent_flightdeck_batch_items admit": {
            "calls": 2,
            "items": 8,
            "items_per_call": 4.0,
        },
        "jetbridge_dispatch_batch_items ClearStepsBatch": {
            "calls": 1,
            "items": 1,
            "items_per_call": 1.0,
        },
        "jetbridge_dispatch_batch_items StartFlights": {
            "calls": 2,
            "items": 10,
            "items_per_call": 5.0,
        },
    }


def test_wait_rechecks_between_two_scrapes_by_cluster_step_and_cause() -> None:
    east, west = CollectorRegistry(), CollectorRegistry()
    name, labels = "jetbridge_pilot_wait_rechecks", ["cluster", "step", "cause"]
    on_east = Counter(name, "", labels, registry=east)
    on_west = Counter(name, "", labels, registry=west)
    ports = {"pilot-east": _serve(east), "pilot-west": _serve(west)}
    on_west.labels("dp-west", "WAIT_READY", "change").inc(7)  # before the run
    on_east.labels("dp-east", "DELETE_NAMESPACE", "poll").inc(2)  # before, unchanged
    before = recheck_totals(families(ports))
    on_west.labels("dp-west", "WAIT_READY", "change").inc(3)
    on_west.labels("dp-west", "WAIT_READY", "fallback").inc()
    on_east.labels("dp-east", "DELETE_NAMESPACE", "change").inc(4)
    assert recheck_delta(before, recheck_totals(families(ports))) == {
        "dp-east DELETE_NAMESPACE change": 4,
        "dp-west WAIT_READY change": 3,
        "dp-west WAIT_READY fallback": 1,
    }
