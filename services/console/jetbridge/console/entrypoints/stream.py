"""The live stream: Server-Sent Events, one ``change`` per ledger event the Console applied.

A change names what moved (event type, aggregate, request, Deployment, clusters) so a
client refetches only the views concerned. The stream is the audit log's tail, so a
client that reconnects with ``Last-Event-ID`` misses nothing and nobody can be too
slow: there is no per-client queue to overflow. The one exception: the Console holds
the newest entries only (``RecentEntries``), so a client resuming from a seq already
dropped gets a ``gap`` naming the oldest seq held, then the changes from there; it
should refetch what it shows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from jetbridge.console.domain.audit import AuditEntry, EventFilter
from jetbridge.console.service_layer.ports import ReadModel

KEEPALIVE_S = 15.0
BATCH = 500


def change(e: AuditEntry) -> str:
    data = {
        "seq": e.seq,
        "event_type": e.event_type,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "request_id": e.request_id,
        "deployment_id": e.deployment_id,
        "cluster_ids": list(e.cluster_ids),
        "occurred_at": e.occurred_at,
        "actor": e.actor,
    }
    return f"id: {e.seq}\nevent: change\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def change_stream(
    read: ReadModel,
    where: EventFilter,
    cursor: int | None,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """From ``cursor`` (None: from now) until the client goes away."""
    position = read.last_seq() if cursor is None else cursor
    hello = json.dumps({"seq": position, "ready": read.ready})
    yield f"retry: 2000\nevent: hello\ndata: {hello}\n\n"
    while not await disconnected():
        if position < (oldest := read.first_seq()) - 1:
            missed = json.dumps({"after": position, "first_seq": oldest})
            # with its id: a client reconnecting before its next change resumes past it
            yield f"id: {oldest - 1}\nevent: gap\ndata: {missed}\n\n"
            position = oldest - 1
        upto = read.last_seq()
        if upto > position:
            window = replace(where, after_seq=position, before_seq=upto + 1)
            found = await read.events(window, BATCH)
            for entry in found:
                yield change(entry)
            position = found[-1].seq if len(found) == BATCH else upto
            continue
        if await read.wait_beyond(position, KEEPALIVE_S) <= position:
            yield ": keepalive\n\n"
