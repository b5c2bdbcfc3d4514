"""A PostgreSQL event store for an event-sourced service with one writer, and the relay
that publishes what it stores (the store is its own outbox)."""

from jetbridge.common.eventstore.postgres import (
    Appended,
    PostgresEventStore,
    WriterFenced,
    migrate_event_store,
)
from jetbridge.common.eventstore.relay import EventStoreRelay, count_unpublished

__all__ = [
    "Appended",
    "EventStoreRelay",
    "PostgresEventStore",
    "WriterFenced",
    "count_unpublished",
    "migrate_event_store",
]
