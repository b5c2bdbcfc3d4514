-- An event-sourced service's own log: every event it folded (its decisions and the
-- outside facts it consumed), in the one order it folded them, so a restart replays
-- exactly the state it had. Values are the same Avro bytes that travel on Kafka.
CREATE TABLE IF NOT EXISTS "jetbridge_event_store" (
    "position"          bigserial PRIMARY KEY,
    "event_id"          uuid NOT NULL UNIQUE,
    "event_type"        text NOT NULL,
    "aggregate_id"      text NOT NULL,
    "correlation_id"    text NOT NULL,
    "occurred_at"       timestamptz NOT NULL,
    "record"            bytea NOT NULL,
    "stored_at"         timestamptz NOT NULL DEFAULT now()
);

-- Where each consumed partition continues: written in the same transaction as the
-- events folded from it, so input is consumed effectively once.
CREATE TABLE IF NOT EXISTS "jetbridge_consumer_positions" (
    "consumer"    text NOT NULL,
    "topic"       text NOT NULL,
    "partition"   integer NOT NULL,
    "next_offset" bigint NOT NULL,
    PRIMARY KEY ("consumer", "topic", "partition")
);

-- The single-writer fencing token: a writer takes epoch+1 when it starts and every
-- append checks that it still holds the newest epoch, so a paused or partitioned old
-- writer can never append after a new one took over.
CREATE TABLE IF NOT EXISTS "jetbridge_writers" (
    "name"        text PRIMARY KEY,
    "epoch"       bigint NOT NULL,
    "holder"      text NOT NULL,
    "acquired_at" timestamptz NOT NULL DEFAULT now()
);
