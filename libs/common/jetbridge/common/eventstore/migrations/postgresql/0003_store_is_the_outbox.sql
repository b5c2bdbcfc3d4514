-- Event store 0003: the store is its own outbox.
--
-- Until now every stored event was written twice in its transaction: once here and
-- once as a row of "jetbridge_outbox" (per topic), which the relay then marked
-- published row by row and pruned a day later. Now a stored event says where it goes
-- ("topics", with its Kafka "key" and "headers"), and the relay keeps one position
-- per database: it publishes the stored events after it, in position order, and
-- moves it past what Kafka acknowledged.
--
-- Reading by position is safe only if positions commit in order. The one writer's
-- appends take its "jetbridge_writers" row FOR UPDATE before they insert anything
-- (queries.sql, check_writer_epoch), so its transactions run one after another and
-- each one's positions are all above the previous one's.

ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "topics" text[];
ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "key" bytea;
ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "headers" jsonb;
-- The chain's previous link travels in a ledger record's headers (chain.prev).
ALTER TABLE "jetbridge_event_store" ADD COLUMN IF NOT EXISTS "chain_prev" text;

CREATE TABLE IF NOT EXISTS "jetbridge_relay_positions" (
    "relay"    text PRIMARY KEY,
    "position" bigint NOT NULL  -- the last stored position published
);

-- One wake-up per appending statement: the relay LISTENs and otherwise sleeps.
CREATE OR REPLACE FUNCTION "jetbridge_event_store_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jetbridge_event_store', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS "jetbridge_event_store_notify" ON "jetbridge_event_store";
CREATE TRIGGER "jetbridge_event_store_notify"
    AFTER INSERT ON "jetbridge_event_store"
    FOR EACH STATEMENT EXECUTE FUNCTION "jetbridge_event_store_notify"();

-- A writer still running the old code would go on filling the old outbox: a newer
-- epoch fences it (its next append fails), and waits for an append in progress.
UPDATE "jetbridge_writers" SET "epoch" = "epoch" + 1, "holder" = 'event store 0003';

-- Hand the old outbox over: the relay starts at the first stored event with a row
-- not yet published (everything after it goes out again: at-least-once, and readers
-- drop repeats by event id), each such event taking its rows' topics, key and headers
-- (the chain's headers apart: the relay adds them again from the chain columns).
DO $$
DECLARE
    first_pending bigint;
BEGIN
    IF to_regclass('"jetbridge_outbox"') IS NOT NULL THEN
        SELECT min(s."position") INTO first_pending
        FROM "jetbridge_event_store" s
        JOIN "jetbridge_outbox" o ON o."event_id" = s."event_id"
        WHERE o."published_at" IS NULL;

        UPDATE "jetbridge_event_store" AS s
        SET "topics" = o."topics", "key" = o."key", "headers" = o."headers",
            "chain_prev" = o."chain_prev"
        FROM (
            SELECT
                "event_id",
                array_agg("topic" ORDER BY "position") AS "topics",
                (array_agg("key" ORDER BY "position"))[1] AS "key",
                (SELECT COALESCE(jsonb_agg(h), '[]'::jsonb)
                 FROM jsonb_array_elements((array_agg("headers" ORDER BY "position"))[1]) h
                 WHERE h->>0 NOT IN ('chain.seq', 'chain.prev', 'chain.link')) AS "headers",
                (SELECT max(h->>1)
                 FROM unnest(array_agg("headers")) AS row_headers,
                      jsonb_array_elements(row_headers) h
                 WHERE h->>0 = 'chain.prev') AS "chain_prev"
            FROM "jetbridge_outbox"
            GROUP BY "event_id"
        ) AS o
        WHERE s."event_id" = o."event_id" AND s."position" >= first_pending;
    END IF;

    INSERT INTO "jetbridge_relay_positions" ("relay", "position")
    SELECT 'event_store', COALESCE(first_pending - 1, max("position"), 0)
    FROM "jetbridge_event_store"
    ON CONFLICT ("relay") DO NOTHING;
END;
$$;
