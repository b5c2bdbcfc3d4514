"""Health and facts of every cluster this replica owns, turned into events.

Links report heartbeats; a ticker reports the passing of time. The pure state machine
(``domain.health``) decides; this class keeps one state per cluster and emits
``ClusterHealthChanged`` on transitions only and ``ClusterFactsChanged`` when the
facts digest changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jetbridge.common.events.envelope import EventRecord, new_event
from jetbridge.dplink.domain import health as hm
from jetbridge.dplink.domain.facts import facts_changed, facts_digest
from jetbridge.dplink.service_layer.ports import EventSink

log = logging.getLogger(__name__)
PRODUCER = "dplink"


@dataclass
class _Watched:
    state: hm.HealthState
    digest: str | None


# The version each event is written with (ClusterFactsChanged v2 adds the store's
# provider, v3 the database endpoint).
SCHEMA_VERSIONS = {"ClusterFactsChanged": 3}


class HealthMonitor:
    def __init__(
        self,
        sink: EventSink,
        thresholds: hm.Thresholds | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.thresholds = thresholds or hm.Thresholds()
        self._sink = sink
        self._clock = clock
        self._watched: dict[str, _Watched] = {}
        self.heartbeats = 0

    def watch(
        self,
        cluster_id: str,
        known_health: hm.Health = hm.Health.UNKNOWN,
        known_digest: str | None = None,
    ) -> None:
        """Start (or keep) watching; the known values come from the event log."""
        if cluster_id not in self._watched:
            self._watched[cluster_id] = _Watched(
                hm.initial(self._clock(), known_health), known_digest
            )

    def unwatch(self, cluster_id: str) -> None:
        self._watched.pop(cluster_id, None)

    def health(self, cluster_id: str) -> hm.Health:
        return self._watched[cluster_id].state.health

    def watched(self) -> list[str]:
        return list(self._watched)

    def heartbeat(
        self,
        cluster_id: str,
        failing_checks: Sequence[str],
        canonical_facts: bytes,
        facts_payload: Callable[[], Mapping[str, Any]],
    ) -> None:
        """One heartbeat; ``facts_payload`` is only called when the facts changed."""
        watched = self._watched.get(cluster_id)
        if watched is None:  # a link outlived its ownership for a moment
            return
        self.heartbeats += 1
        watched.state, transitions = hm.observe_heartbeat(
            watched.state, self._clock(), self.thresholds, failing_checks
        )
        self._emit_transitions(cluster_id, transitions)
        digest = facts_digest(canonical_facts, SCHEMA_VERSIONS["ClusterFactsChanged"])
        if facts_changed(watched.digest, digest):
            watched.digest = digest
            payload = {**facts_payload(), "cluster_id": cluster_id, "facts_digest": digest}
            self._sink.emit(self._event("ClusterFactsChanged", cluster_id, payload))

    def heartbeat_ages(self) -> dict[str, float]:
        """Seconds since each watched cluster's last heartbeat (since watching began if
        none came yet): what an operator alerts on before the health thresholds trip."""
        now = self._clock()
        return {cluster_id: w.state.silence(now) for cluster_id, w in self._watched.items()}

    def tick(self) -> None:
        now = self._clock()
        for cluster_id, watched in self._watched.items():
            watched.state, transitions = hm.observe_time(watched.state, now, self.thresholds)
            self._emit_transitions(cluster_id, transitions)

    def _emit_transitions(self, cluster_id: str, transitions: Sequence[hm.Transition]) -> None:
        for transition in transitions:
            log.info(
                "cluster %s %s -> %s (%s)",
                cluster_id,
                transition.previous,
                transition.current,
                transition.reason,
                extra={"cluster_id": cluster_id},
            )
            payload = {
                "cluster_id": cluster_id,
                "previous": transition.previous.value,
                "current": transition.current.value,
                "reason": transition.reason,
            }
            self._sink.emit(self._event("ClusterHealthChanged", cluster_id, payload))

    @staticmethod
    def _event(event_type: str, cluster_id: str, payload: Mapping[str, Any]) -> EventRecord:
        return new_event(
            event_type,
            payload,
            aggregate_type="Cluster",
            aggregate_id=cluster_id,
            producer=PRODUCER,
            schema_version=SCHEMA_VERSIONS.get(event_type, 1),
        )
