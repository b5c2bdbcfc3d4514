"""A keyed hash chain per aggregate, carried in the Kafka headers of ledger records.

Why per aggregate: one aggregate's events share a key, so they stay in order on one
partition, and one writer (the Navigator) appends them, so it always knows the previous
link. Why in headers: ledger records include byte-exact copies of events other services
produced, which the Navigator must not re-encode; the link covers the exact value bytes.
Why keyed (HMAC-SHA256): without the key nobody can forge a record or rewrite the rest
of a chain to hide an edit; auditors get the key to verify.

link(n) = HMAC(key, prev_link | aggregate_id | n | event_id | SHA-256(value))

``verify_records`` walks records in partition order and reports every break with its
position: UNSIGNED (no link: produced around the Navigator), BAD_LINK (value or headers
altered, or forged without the key), GAP (events missing before this one),
OUT_OF_ORDER (a sequence number already seen: replayed or reordered), PREV_MISMATCH
(the predecessor this record names is not the one on the log), TRUNCATED (given the
writer's heads: the newest events of a chain are missing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

GENESIS = "0" * 64
SEQ_HEADER, PREV_HEADER, LINK_HEADER = "chain.seq", "chain.prev", "chain.link"


@dataclass(frozen=True)
class Link:
    seq: int
    prev: str
    link: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (SEQ_HEADER, str(self.seq).encode()),
            (PREV_HEADER, self.prev.encode()),
            (LINK_HEADER, self.link.encode()),
        ]


def compute_link(
    key: bytes, *, prev: str, aggregate_id: str, seq: int, event_id: str, value: bytes
) -> str:
    message = f"{prev}|{aggregate_id}|{seq}|{event_id}|".encode() + hashlib.sha256(value).digest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class LedgerChain:
    """The head (last sequence number and link) of every aggregate's chain."""

    def __init__(self, key: bytes, heads: Mapping[str, tuple[int, str]] | None = None) -> None:
        if len(key) < 16:
            raise ValueError("the ledger key must be at least 16 bytes")
        self._key = key
        self.heads: dict[str, tuple[int, str]] = dict(heads or {})

    def fork(self) -> LedgerChain:
        """A copy to link a batch on: the writer keeps it only once the batch is stored."""
        return LedgerChain(self._key, self.heads)

    def next(self, aggregate_id: str, event_id: str, value: bytes) -> Link:
        seq, prev = self.heads.get(aggregate_id, (0, GENESIS))
        link = Link(
            seq + 1,
            prev,
            compute_link(
                self._key,
                prev=prev,
                aggregate_id=aggregate_id,
                seq=seq + 1,
                event_id=event_id,
                value=value,
            ),
        )
        self.heads[aggregate_id] = (link.seq, link.link)
        return link


@dataclass(frozen=True)
class LedgerRecord:
    partition: int
    offset: int
    key: str
    event_id: str
    value: bytes
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class Break:
    partition: int
    offset: int
    aggregate_id: str
    kind: str
    detail: str


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


def verify_records(
    key: bytes,
    records: Iterable[LedgerRecord],
    expected_heads: Mapping[str, tuple[int, str]] | None = None,
) -> list[Break]:
    """Every break in the chains of ``records`` (given in each partition's order).

    ``expected_heads`` (the writer's own heads, from its event store) also catches
    events dropped from the END of a chain, which no later link can reveal.
    """
    heads: dict[str, tuple[int, str]] = {}
    breaks: list[Break] = []
    for r in records:
        seq_text, prev, link = (
            _header(r.headers, h) for h in (SEQ_HEADER, PREV_HEADER, LINK_HEADER)
        )

        def report(kind: str, detail: str, record: LedgerRecord = r) -> None:
            breaks.append(Break(record.partition, record.offset, record.key, kind, detail))

        if seq_text is None or prev is None or link is None or not seq_text.isdigit():
            report("UNSIGNED", f"event {r.event_id} carries no chain link")
            continue
        seq = int(seq_text)
        expected_seq, expected_prev = heads.get(r.key, (0, GENESIS))
        expected_seq += 1
        if seq < expected_seq:
            report(
                "OUT_OF_ORDER", f"sequence {seq} after {expected_seq - 1}: replayed or reordered"
            )
            continue
        if not hmac.compare_digest(
            link,
            compute_link(
                key, prev=prev, aggregate_id=r.key, seq=seq, event_id=r.event_id, value=r.value
            ),
        ):
            report("BAD_LINK", f"event {r.event_id} (sequence {seq}) was altered or forged")
        if seq > expected_seq:
            report("GAP", f"sequences {expected_seq}..{seq - 1} are missing before this event")
        elif prev != expected_prev:
            report(
                "PREV_MISMATCH", f"names a predecessor that is not sequence {seq - 1} on the log"
            )
        heads[r.key] = (seq, link)
    for aggregate_id, (seq, link) in sorted((expected_heads or {}).items()):
        seen = heads.get(aggregate_id, (0, GENESIS))
        if seen != (seq, link):
            breaks.append(
                Break(
                    -1,
                    -1,
                    aggregate_id,
                    "TRUNCATED",
                    f"the log ends at sequence {seen[0]}; the writer's head is {seq}",
                )
            )
    return breaks
