"""The audit trail: one entry per ledger event, and the filters operators use on it.

Entries are numbered in the order this Console read them (``seq``); the live stream
and ``events --follow`` resume from a ``seq``. Each entry names the request, the
Deployment and the clusters it concerns, so one filter serves every view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CLUSTER_FIELDS = (
    "cluster_id",
    "source_cluster_id",
    "destination_cluster_id",
    "writer_cluster_id",
    "from_cluster_id",
    "to_cluster_id",
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: int  # epoch ms
    actor: str | None
    producer: str
    causation_id: str | None
    request_id: str | None
    deployment_id: str | None
    cluster_ids: tuple[str, ...]
    partition: int
    offset: int
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventFilter:
    request_id: str | None = None
    deployment_id: str | None = None
    cluster_id: str | None = None
    event_types: frozenset[str] = frozenset()
    since_ms: int | None = None
    until_ms: int | None = None
    after_seq: int = 0
    before_seq: int | None = None

    def matches(self, e: AuditEntry) -> bool:
        return (
            e.seq > self.after_seq
            and (self.before_seq is None or e.seq < self.before_seq)
            and (self.request_id is None or e.request_id == self.request_id)
            and (self.deployment_id is None or e.deployment_id == self.deployment_id)
            and (self.cluster_id is None or self.cluster_id in e.cluster_ids)
            and (not self.event_types or e.event_type in self.event_types)
            and (self.since_ms is None or e.occurred_at >= self.since_ms)
            and (self.until_ms is None or e.occurred_at < self.until_ms)
        )


def clusters_named(payload: Mapping[str, Any]) -> list[str]:
    """Cluster ids a payload names directly, in field order, without repeats."""
    found: list[str] = []
    for name in CLUSTER_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    return found


class RecentEntries:
    """The newest ``kept`` audit entries, numbered from 1 in the order they came.

    Why a window: the ledger keeps every event for ever, and one entry held in memory
    costs about 1.1 KiB (a 1,000-Deployment failover is some 30,000 entries), so a
    Console that held them all would outgrow any memory limit as failovers accumulate
    and then fail again on every restart. The whole log stays on Kafka for
    ``jetbridge audit``; the Console serves the recent part. The oldest entries are
    dropped in chunks of a tenth of ``kept``, so it holds up to 10% more between trims
    and a trim moves the list once per chunk, not once per entry.
    """

    def __init__(self, kept: int) -> None:
        if kept < 1:
            raise ValueError(f"the Console must keep at least one audit entry, not {kept}")
        self.kept = kept
        self._chunk = max(kept // 10, 1)
        self._entries: list[AuditEntry] = []
        self._dropped = 0  # entries 1.._dropped are gone

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def next_seq(self) -> int:
        return self._dropped + len(self._entries) + 1

    @property
    def first_seq(self) -> int:
        """The oldest seq still held (``next_seq`` when none is)."""
        return self._dropped + 1

    @property
    def last_seq(self) -> int:
        return self._dropped + len(self._entries)

    def append(self, entry: AuditEntry) -> None:
        if entry.seq != self.next_seq:
            raise ValueError(f"audit entry {entry.seq} out of order: expected {self.next_seq}")
        self._entries.append(entry)
        excess = len(self._entries) - self.kept
        if excess >= self._chunk:
            del self._entries[:excess]
            self._dropped += excess

    def between(self, after_seq: int, before_seq: int | None) -> list[AuditEntry]:
        """The entries held with ``after_seq < seq < before_seq``, oldest first."""
        start = max(after_seq - self._dropped, 0)
        end = len(self._entries)
        if before_seq is not None:
            end = min(max(before_seq - 1 - self._dropped, 0), end)
        return self._entries[start:end]
