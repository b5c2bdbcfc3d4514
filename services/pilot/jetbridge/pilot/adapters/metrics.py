"""The Pilot's Prometheus metrics: how long each step takes and how it ends, how many
writes each Flightdeck batch carried, and what made a wait look again."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Steps range from a namespace create (ms) to a drain that waits for tasks (minutes).
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

STEP_DURATION = Histogram(
    "jetbridge_step_duration_seconds",
    "One attempt of a flight step, from its start to its result (retries inside included)",
    ["cluster", "step", "outcome"],
    buckets=STEP_BUCKETS,
)


FLIGHTDECK_BATCH_ITEMS = Histogram(
    "jetbridge_pilot_flightdeck_batch_items",
    "Step results (record_many) or completions (complete_many) written by one Flightdeck "
    "call: the flights that finished a step in the same turn of the Pilot's loop",
    ["cluster", "operation"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)


class StepMetrics:
    """The runner's ``on_step`` observer for one cluster."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster

    def __call__(self, step: str, outcome: str, seconds: float) -> None:
        STEP_DURATION.labels(self.cluster, step, outcome).observe(seconds)


WAIT_RECHECKS = Counter(
    "jetbridge_pilot_wait_rechecks",
    "Re-checks of a step's wait, by what prompted them: change (a watch woke it), fallback "
    "(watched, nothing changed for the fallback time: many of these mean events arrive "
    "late or not at all) or poll (no watch open)",
    ["cluster", "step", "cause"],
)


class WaitMetrics:
    """The steps' ``on_recheck`` observer for one cluster."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster

    def __call__(self, step: str, cause: str) -> None:
        WAIT_RECHECKS.labels(self.cluster, step, cause).inc()
