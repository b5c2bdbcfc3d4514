-- The ledger's hash chain (jetbridge.common.audit.chain): each stored event's place in
-- its aggregate's chain, so a restarted writer continues every chain where it ended
-- and auditors can compare the log's heads with the writer's.
ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "chain_seq" bigint;
ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "chain_link" text;
CREATE INDEX IF NOT EXISTS "jetbridge_event_store_chain"
    ON "jetbridge_event_store" ("aggregate_id", "chain_seq" DESC) WHERE "chain_seq" IS NOT NULL;
