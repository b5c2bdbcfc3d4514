"""Health and facts of every cluster this replica owns, turned into events.

Links report heartbeats; a ticker reports the passing of time. The pure state machine
(``domain.health``) decides; this class keeps one state per cluster and emits
``ClusterHealthChanged`` on transitions only and ``ClusterFactsChanged`` when the
facts digest changes.

Transitions only, so the log's last word per cluster must be this replica's. A former
owner's events can land after this one replayed the partition (queued in its sink
when its partitions were revoked, or from a member cut off from Kafka that has not
noticed yet). :meth:`adopt` takes such a late event as the last published state, as
a replay would have: the state machine then publishes whatever differs from the truth
(three good heartbeats after a stale UNREACHABLE, silence after a stale HEALTHY, the
current facts after stale ones).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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


OWN_EVENTS_REMEMBERED = 10_000
"""Ids of this replica's latest events, to tell them from a former owner's when they
come back through the consumer (far more than a rebalance can leave in flight)."""

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
        self._own_order: deque[str] = deque()
        self._own: set[str] = set()
        self.adopted = 0  # a former owner's late events taken as the last state

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
            self._publish(self._event("ClusterFactsChanged", cluster_id, payload))

    def adopt(self, event: EventRecord) -> None:
        """A health or facts event published for a watched cluster by someone else
        (a former owner): take it as the last published state (module docstring)."""
        cluster_id = event.payload.get("cluster_id")
        watched = self._watched.get(cluster_id) if isinstance(cluster_id, str) else None
        if watched is None or event.envelope.event_id in self._own:
            return
        if event.event_type == "ClusterHealthChanged":
            reported = hm.Health(str(event.payload["current"]))
            if reported is not watched.state.health:
                watched.state = replace(watched.state, health=reported, good_streak=0)
                self.adopted += 1
                log.warning(
                    "cluster %s: a former owner published %s after us; taken as the last "
                    "state, so the next transitions correct it",
                    cluster_id,
                    reported,
                    extra={"cluster_id": cluster_id},
                )
        elif event.event_type == "ClusterFactsChanged":
            digest = event.payload.get("facts_digest")
            if isinstance(digest, str) and digest != watched.digest:
                watched.digest = digest
                self.adopted += 1

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
            self._publish(self._event("ClusterHealthChanged", cluster_id, payload))

    def _publish(self, event: EventRecord) -> None:
        """Emit, remembering the id: :meth:`adopt` must tell our events from others'."""
        self._own.add(event.envelope.event_id)
        self._own_order.append(event.envelope.event_id)
        if len(self._own_order) > OWN_EVENTS_REMEMBERED:
            self._own.discard(self._own_order.popleft())
        self._sink.emit(event)

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
