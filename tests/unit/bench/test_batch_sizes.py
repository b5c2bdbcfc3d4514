"""The bench reads batch sizes from live /metrics endpoints, summed over processes."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, start_http_server

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from batch_sizes import delta, scrape


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
    before = scrape(ports)
    for items in (4, 6):
        rpc.labels("StartFlights").observe(items)
    rpc.labels("ClearStepsBatch").observe(1)
    deck.labels("dp-east", "admit").observe(5)
    deck.labels("dp-west", "admit").observe(3)  # two agents: summed
    unrelated.observe(99)
    assert delta(before, scrape(ports)) == {
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
