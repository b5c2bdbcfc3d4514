"""The pure parts of the metrics: lag arithmetic and sampling, state counts, durations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from jetbridge.agent.adapters.metrics import depth_by_state
from jetbridge.common.events import new_event
from jetbridge.common.metrics import lag, metrics_port, sample_lag
from jetbridge.dplink.adapters.metrics import LinkMetrics
from jetbridge.dplink.domain.health import Health
from jetbridge.dplink.service_layer.monitor import HealthMonitor
from jetbridge.navigator.adapters.metrics import _MISSION_ENDS, counts_by_state, ended


def test_lag_is_highwater_minus_position_and_unknown_before_a_fetch() -> None:
    assert lag(120, 100) == 20
    assert lag(100, 100) == 0
    assert lag(None, 5) is None
    assert lag(3, 7) == 0  # a position past a stale high watermark is not negative lag


def test_metrics_are_off_unless_a_port_is_set() -> None:
    assert metrics_port({}) == 0
    assert metrics_port({"JETBRIDGE_METRICS_PORT": "0"}) == 0
    assert metrics_port({"JETBRIDGE_METRICS_PORT": " 9464 "}) == 9464


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned = {TopicPartition("t", 0): (50, 40), TopicPartition("t", 1): (None, 0)}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.assigned[partition][0]

    async def position(self, partition: TopicPartition) -> int:
        return self.assigned[partition][1]


async def test_lag_is_sampled_per_partition_and_dropped_when_revoked() -> None:
    consumer = FakeConsumer()
    task = asyncio.create_task(sample_lag(consumer, "unit-lag", interval_s=0.01))
    await asyncio.sleep(0.05)

    def value(partition: str) -> float | None:
        return REGISTRY.get_sample_value(
            "jetbridge_kafka_consumer_lag",
            {"consumer": "unit-lag", "topic": "t", "partition": partition},
        )

    assert value("0") == 10
    assert value("1") is None  # nothing fetched there yet
    del consumer.assigned[TopicPartition("t", 0)]
    await asyncio.sleep(0.05)
    task.cancel()
    assert value("0") is None


class SwallowingConsumer(FakeConsumer):
    """aiokafka's ``position`` retries inside (NotLeaderForPartition in a CI run) and
    may end a cancel's CancelledError there, running on until the consumer stops; the
    Navigator stopped its lag sampler before its consumer, so it never stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.stopped = False

    async def position(self, partition: TopicPartition) -> int:
        self.calls += 1
        while not self.stopped:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue  # swallowed
        raise RuntimeError("consumer stopped")


async def test_the_sampler_stops_at_once_even_if_a_position_call_ignores_its_cancel() -> None:
    consumer = SwallowingConsumer()
    task = asyncio.create_task(sample_lag(consumer, "unit-swallow", interval_s=0.01))
    await asyncio.sleep(0.05)
    assert consumer.calls >= 1  # parked in a position call
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    consumer.stopped = True  # what the service does next: its consumer stops
    assert task in done, "sample_lag did not stop within 2 s of its cancel"
    assert task.cancelled()


async def test_a_position_call_slower_than_its_timeout_is_skipped_not_awaited() -> None:
    consumer = SwallowingConsumer()
    task = asyncio.create_task(
        sample_lag(consumer, "unit-slow", interval_s=0.01, position_timeout_s=0.05)
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    while consumer.calls < 4 and loop.time() < started + 30:
        await asyncio.sleep(0.05)
    took = loop.time() - started
    calls = consumer.calls
    task.cancel()
    await asyncio.wait({task}, timeout=2.0)
    consumer.stopped = True
    assert task.cancelled()
    assert calls >= 4  # rounds went on: each stuck call was left behind after 0.05 s
    assert took < 3.0, took  # about 0.25 s: not a wait of the default 1 s timeout each


def test_state_counts_name_every_state() -> None:
    states = ["SUCCEEDED", "SUCCEEDED", "RUNNING"]
    every = ["CREATED", "RUNNING", "SUCCEEDED"]
    assert counts_by_state(states, every) == {"CREATED": 0, "RUNNING": 1, "SUCCEEDED": 2}
    assert depth_by_state({"QUEUED": 3}) == {"QUEUED": 3, "RUNNING": 0}


def test_a_mission_duration_is_its_end_minus_its_creation() -> None:
    record = new_event(
        "MissionSucceeded",
        {"mission_id": "m1", "succeeded_at": 12_500},
        aggregate_type="Mission",
        aggregate_id="m1",
        producer="test",
        schema_version=1,
        occurred_at=datetime.now(UTC),
    )
    assert ended(record, {"m1": 10_000}, _MISSION_ENDS) == ("SUCCEEDED", 2.5)
    assert ended(record, {}, _MISSION_ENDS) is None


class Sink:
    def emit(self, event: object) -> None:
        return None


def test_heartbeat_age_follows_the_monitors_clock_and_unowned_clusters_vanish() -> None:
    now = [100.0]
    monitor = HealthMonitor(Sink(), clock=lambda: now[0])  # type: ignore[arg-type]
    monitor.watch("dp-a")
    monitor.heartbeat("dp-a", [], b"{}", dict)
    now[0] = 102.5
    assert monitor.heartbeat_ages() == {"dp-a": pytest.approx(2.5)}
    metrics = LinkMetrics()
    metrics.update(monitor.heartbeat_ages(), {"dp-a": Health.HEALTHY})
    sample = REGISTRY.get_sample_value
    assert sample("jetbridge_cluster_heartbeat_age_seconds", {"cluster": "dp-a"}) == 2.5
    assert sample("jetbridge_cluster_health", {"cluster": "dp-a", "health": "HEALTHY"}) == 1
    metrics.update({}, {})
    assert sample("jetbridge_cluster_heartbeat_age_seconds", {"cluster": "dp-a"}) is None
