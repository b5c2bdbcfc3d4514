"""DP-Link's Prometheus metrics: heartbeat age and health of every cluster it links to."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge

from jetbridge.dplink.domain.health import Health

HEARTBEAT_AGE = Gauge(
    "jetbridge_cluster_heartbeat_age_seconds",
    "Seconds since the last heartbeat of a cluster this replica owns",
    ["cluster"],
)
CLUSTER_HEALTH = Gauge(
    "jetbridge_cluster_health",
    "1 for the health a cluster this replica owns is in, 0 for the others",
    ["cluster", "health"],
)


class LinkMetrics:
    """Sets the gauges from the monitor's view; drops clusters no longer owned."""

    def __init__(self) -> None:
        self._shown: set[str] = set()

    def update(self, ages: Mapping[str, float], health: Mapping[str, Health]) -> None:
        for gone in self._shown - set(ages):
            HEARTBEAT_AGE.remove(gone)
            for h in Health:
                CLUSTER_HEALTH.remove(gone, h.value)
        for cluster, age in ages.items():
            HEARTBEAT_AGE.labels(cluster).set(age)
            for h in Health:
                CLUSTER_HEALTH.labels(cluster, h.value).set(1 if health.get(cluster) is h else 0)
        self._shown = set(ages)
