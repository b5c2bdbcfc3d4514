"""`audit export`: every ledger event of a window, to JSON Lines or CSV.

The window is on ``recorded_at`` (when the Navigator appended the record), inclusive at
both ends, so two exports of adjacent windows never miss or repeat a record. CSV keeps
the envelope in columns and the payload as one JSON column. Events never carry secret
values (only names of stores and references), so an export is safe to hand over.
Records no schema reads (forged garbage) are exported too, as base64 in ``raw_value``.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterable
from typing import IO, Any

from jetbridge.navigator.audit.ledger import RawRecord
from jetbridge.navigator.audit.records import AuditEvent, decode_all, iso

COLUMNS = (
    "partition",
    "offset",
    "recorded_at",
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "producer",
    "actor",
    "trace_context",
    "payload",
    "raw_value",
)


def in_window(
    raws: Iterable[RawRecord], since_ms: int | None, until_ms: int | None
) -> list[RawRecord]:
    return [
        r
        for r in raws
        if (since_ms is None or r.timestamp_ms >= since_ms)
        and (until_ms is None or r.timestamp_ms <= until_ms)
    ]


def documents(raws: Iterable[RawRecord]) -> list[dict[str, Any]]:
    """One flat document per record, ordered by recorded time then position."""
    out: list[dict[str, Any]] = []
    for item in decode_all(raws):
        if isinstance(item, AuditEvent):
            out.append({**item.as_json(), "raw_value": None})
        else:
            out.append(
                {c: None for c in COLUMNS}
                | {
                    "partition": item.ledger.partition,
                    "offset": item.ledger.offset,
                    "recorded_at": iso(item.timestamp_ms),
                    "event_id": item.ledger.event_id or None,
                    "aggregate_id": item.ledger.key,
                    "raw_value": base64.b64encode(item.ledger.value).decode(),
                }
            )
    out.sort(key=lambda d: (d["recorded_at"], d["partition"], d["offset"]))
    return out


def write(docs: list[dict[str, Any]], fmt: str, stream: IO[str]) -> int:
    if fmt == "jsonl":
        for d in docs:
            stream.write(json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        for d in docs:
            writer.writerow(
                {
                    c: json.dumps(d[c], sort_keys=True)
                    if c in ("payload", "trace_context")
                    else d[c]
                    for c in COLUMNS
                }
            )
    else:
        raise ValueError(f"format {fmt!r}: jsonl or csv")
    return len(docs)
