"""`audit replay --at T`: the read model as it was at T, folded from the ledger.

"As it was at T" means: from every partition, the records the Navigator had appended
by T (record timestamp <= T), as a prefix in offset order, because that is exactly
what a projector that was caught up at T had applied. They are folded with the
projections' own decoder, fold and row builders, so a replay can only differ from the
live read model if the ledger does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jetbridge.common.events import SchemaRegistry, default_registry
from jetbridge.navigator.audit.ledger import RawRecord, read_ledger
from jetbridge.navigator.audit.records import iso
from jetbridge.navigator.projections.fold import LedgerDecoder, LedgerFold
from jetbridge.navigator.projections.rows import Row
from jetbridge.navigator.projections.store import Q, ReadModelStore

_INSERT = re.compile(r'INSERT INTO "\w+" \(([^)]*)\)', re.S)


def columns(table: str) -> list[str]:
    """The column order of a table's rows, read from its upsert in queries.sql."""
    found = _INSERT.search(Q[f"upsert_{table}"])
    assert found is not None, table
    return [c.strip().strip('"') for c in found.group(1).split(",")]


@dataclass
class Replay:
    at_ms: int
    topic: str
    events: int = 0  # ledger records folded (at or before T)
    undecodable: int = 0
    tables: dict[str, list[Row]] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offsets
    fold: LedgerFold = field(default_factory=LedgerFold)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at_ms),
            "topic": self.topic,
            "events": self.events,
            "applied": self.fold.applied,
            "repeats_dropped": self.fold.repeats,
            "undecodable": self.undecodable,
            "tables": {t: [_named(t, r) for r in rs] for t, rs in self.tables.items()},
        }


def _named(table: str, row: Row) -> dict[str, Any]:
    named = dict(zip(columns(table), row, strict=True))
    for name, value in named.items():
        if name.endswith("_at") and isinstance(value, int):
            named[name] = iso(value)
    return named


def replay_records(
    raws: Iterable[RawRecord], at_ms: int, topic: str, registry: SchemaRegistry | None = None
) -> Replay:
    """Fold the prefix of each partition recorded at or before ``at_ms`` (pure)."""
    decoder = LedgerDecoder(registry or default_registry())
    result = Replay(at_ms, topic)
    stopped: set[int] = set()
    for raw in raws:
        r = raw.ledger
        if r.partition in stopped:
            continue
        if raw.timestamp_ms > at_ms:
            stopped.add(r.partition)  # later records of this partition came after T
            continue
        result.positions[(topic, r.partition)] = r.offset + 1
        result.events += 1
        try:
            decoded = decoder.decode(r.value)
        except Exception:  # the projector skips these too (and counts them)
            result.undecodable += 1
            continue
        if decoded is not None:
            result.fold.fold(decoded[0], decoded[1], (topic, r.partition, r.offset))
    result.tables = result.fold.take_rows()
    for table in result.tables.values():
        table.sort(key=lambda row: row[:2])
    return result


async def replay_ledger(bootstrap: str, topic: str, at_ms: int) -> Replay:
    return replay_records([raw async for raw in read_ledger(bootstrap, topic)], at_ms, topic)


async def write_into(replay: Replay, dsn: str, schema: str) -> dict[str, tuple[int, str]]:
    """Write a replay into an empty schema (migrated first); returns its checksums."""
    store = await ReadModelStore.open(dsn, schema)
    try:
        if not await store.take_lock(wait=False):
            raise ValueError(f"another projector writes schema {schema!r}")
        if not await store.is_empty():
            raise ValueError(f"schema {schema!r} is not empty: replay --into needs an empty one")
        await store.write(replay.tables, replay.positions)
        return await store.checksums()
    finally:
        await store.close()
