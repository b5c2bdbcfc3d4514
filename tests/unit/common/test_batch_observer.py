"""batch_observer: each batch's size lands under its cluster and operation."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from jetbridge.common.metrics import batch_observer


def test_each_batch_is_observed_under_its_cluster_and_operation() -> None:
    registry = CollectorRegistry()
    histogram = Histogram("t_batch_items", "test", ["cluster", "operation"], registry=registry)
    observe = batch_observer(histogram, "dp-west")
    observe("record_many", 3)
    observe("record_many", 1)
    observe("complete_many", 2)

    def sample(name: str, operation: str) -> float | None:
        labels = {"cluster": "dp-west", "operation": operation}
        return registry.get_sample_value(name, labels)

    assert (
        sample("t_batch_items_count", "record_many"),
        sample("t_batch_items_sum", "record_many"),
    ) == (2, 4)
    assert sample("t_batch_items_count", "complete_many") == 1
