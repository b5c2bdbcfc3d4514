"""How many calls the batches carried during the timed failover, from /metrics.

Two histograms say it (docs/observability.md): the Dispatcher's
``jetbridge_dispatch_batch_items`` (calls per StartFlights / ClearStepsBatch) and the
agents' ``jetbridge_agent_flightdeck_batch_items`` (StartFlights per Flightdeck
``admit``, ClearSteps reads per ``get_many``, and the clearances of both, carried by a
StartFlight or a ClearSteps, per ``clear_many``), and the
Pilots' ``jetbridge_pilot_flightdeck_batch_items`` (step results per ``record_many``,
completions per ``complete_many``). Read
before and after, their ``_count`` and ``_sum`` give batch calls and items in between,
summed over the processes. The Pilots' wait re-checks by cause are read the same way.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

# metric -> the label that names the batch's kind
BATCH_METRICS = {
    "jetbridge_dispatch_batch_items": "rpc",
    "jetbridge_agent_flightdeck_batch_items": "operation",
    "jetbridge_pilot_flightdeck_batch_items": "operation",
}
Totals = dict[str, tuple[float, float]]  # "metric kind" -> (batches, items)


def families(ports: Mapping[str, int]) -> list[Metric]:
    """Every metric family of every service listening on ``ports``: one scrape, read by
    ``batch_totals`` and ``recheck_totals``."""
    found: list[Metric] = []
    for port in ports.values():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:  # a service without the metric server, or not up
            continue
        found.extend(text_string_to_metric_families(text))
    return found


def batch_totals(scraped: Iterable[Metric]) -> Totals:
    """Batches and items so far, summed over the services scraped."""
    totals: dict[str, list[float]] = {}
    for family in scraped:
        label = BATCH_METRICS.get(family.name)
        if label is None:
            continue
        for sample in family.samples:
            field = {"_count": 0, "_sum": 1}.get(sample.name.removeprefix(family.name))
            if field is not None:
                key = f"{family.name} {sample.labels[label]}"
                totals.setdefault(key, [0.0, 0.0])[field] += sample.value
    return {key: (batches, items) for key, (batches, items) in totals.items()}


def recheck_totals(scraped: Iterable[Metric]) -> dict[str, float]:
    """The Pilots' wait re-checks so far, by "cluster step cause" (a cause of "fallback"
    is a watched wait that no event woke for ``watch_fallback_s``: docs/pilot.md)."""
    totals: dict[str, float] = {}
    for family in scraped:
        if family.name == "jetbridge_pilot_wait_rechecks":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    key = f"{labels['cluster']} {labels['step']} {labels['cause']}"
                    totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def recheck_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, int]:
    changed = {key: int(value - before.get(key, 0.0)) for key, value in sorted(after.items())}
    return {key: n for key, n in changed.items() if n}


def delta(before: Totals, after: Totals) -> dict[str, dict[str, float]]:
    """Per kind: batch calls, items and items per call between two scrapes."""
    out = {}
    for key, (batches, items) in sorted(after.items()):
        b0, i0 = before.get(key, (0.0, 0.0))
        calls, carried = batches - b0, items - i0
        if calls:
            out[key] = {
                "calls": int(calls),
                "items": int(carried),
                "items_per_call": round(carried / calls, 2),
            }
    return out
