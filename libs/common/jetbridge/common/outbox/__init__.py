"""Transactional outbox on PostgreSQL: write events with the state, relay them to Kafka."""

from jetbridge.common.outbox.postgres import (
    OUTBOX_MIGRATIONS,
    OutboxRelay,
    OutboxWriter,
    migrate_outbox,
)

__all__ = ["OUTBOX_MIGRATIONS", "OutboxRelay", "OutboxWriter", "migrate_outbox"]
