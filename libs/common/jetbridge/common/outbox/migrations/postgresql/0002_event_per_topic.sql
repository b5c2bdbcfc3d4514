-- Outbox 0002: one row per event AND topic. An event-sourced writer publishes a
-- decision on its own topic and copies it to its ledger when that is another topic
-- (the Navigator's FailoverEnabled goes to jetbridge.cluster.events and to
-- jetbridge.failover.events). With event ids unique on their own, the copy's insert
-- met the first row and was dropped (ON CONFLICT DO NOTHING): the ledger never got
-- it, and its readers (projections, Console, auditors) missed the event and found a
-- gap in that aggregate's hash chain. A repeated row of the same event and topic is
-- still skipped, which keeps the writer's retries idempotent.

ALTER TABLE "jetbridge_outbox" DROP CONSTRAINT IF EXISTS "jetbridge_outbox_event_id_key";
CREATE UNIQUE INDEX IF NOT EXISTS "jetbridge_outbox_event_topic"
    ON "jetbridge_outbox" ("event_id", "topic");
