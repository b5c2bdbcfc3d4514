"""`audit verify`: walk the ledger and report every break in its chains."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from jetbridge.common.audit import Break, verify_records
from jetbridge.common.eventstore import PostgresEventStore
from jetbridge.navigator.audit.ledger import read_ledger


async def verify_ledger(
    bootstrap: str,
    topic: str,
    key: bytes,
    expected_heads: Mapping[str, tuple[int, str]] | None = None,
) -> tuple[int, list[Break]]:
    """(records read, breaks); ``expected_heads`` from the Navigator's store catch truncation."""
    records = [raw.ledger async for raw in read_ledger(bootstrap, topic)]
    return len(records), verify_records(key, records, expected_heads)


async def heads_from(dsn: str) -> dict[str, tuple[int, str]]:
    """The writer's chain heads, read from the Navigator's event store (read only)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await PostgresEventStore._heads(conn)
    finally:
        await conn.close()


def break_json(b: Break) -> dict[str, object]:
    return {
        "partition": b.partition,
        "offset": b.offset,
        "aggregate_id": b.aggregate_id,
        "kind": b.kind,
        "detail": b.detail,
    }
