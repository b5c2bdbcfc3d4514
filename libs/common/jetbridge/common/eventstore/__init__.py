"""A PostgreSQL event store for an event-sourced service with one writer."""

from jetbridge.common.eventstore.postgres import (
    Appended,
    PostgresEventStore,
    WriterFenced,
    migrate_event_store,
)

__all__ = ["Appended", "PostgresEventStore", "WriterFenced", "migrate_event_store"]
