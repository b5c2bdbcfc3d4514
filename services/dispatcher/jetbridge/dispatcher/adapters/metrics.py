"""The Dispatcher's Prometheus metrics: how long handing a decision to a data plane
takes, and how many calls each batch call carried."""

from __future__ import annotations

from prometheus_client import Histogram

DISPATCH_DURATION = Histogram(
    "jetbridge_dispatch_duration_seconds",
    "Handling one flight decision (StartFlight, ClearSteps or CancelFlight with its "
    "retries), by decision and outcome",
    ["decision", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_dispatch(decision: str, outcome: str, seconds: float) -> None:
    DISPATCH_DURATION.labels(decision, outcome).observe(seconds)


BATCH_ITEMS = Histogram(
    "jetbridge_dispatch_batch_items",
    "Calls carried by one batch call to a data plane (StartFlights, ClearStepsBatch)",
    ["rpc"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)


def observe_batch(rpc: str, items: int) -> None:
    BATCH_ITEMS.labels(rpc).observe(items)
