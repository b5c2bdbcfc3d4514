-- name: take_writer_epoch
INSERT INTO "jetbridge_writers" ("name", "epoch", "holder") VALUES ($1, 1, $2)
ON CONFLICT ("name") DO UPDATE
SET "epoch" = "jetbridge_writers"."epoch" + 1, "holder" = $2, "acquired_at" = now()
RETURNING "epoch";

-- name: check_writer_epoch
SELECT "epoch", "holder" FROM "jetbridge_writers" WHERE "name" = $1 FOR SHARE;

-- name: append_events
-- Chain links come with the rows (NULL when the events are not on the ledger): one
-- statement, no second write of the same rows.
INSERT INTO "jetbridge_event_store"
    ("event_id", "event_type", "aggregate_id", "correlation_id", "occurred_at", "record",
     "chain_seq", "chain_link")
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::bytea[], $7::bigint[], $8::text[])
ON CONFLICT ("event_id") DO NOTHING
RETURNING "event_id";

-- name: save_position
INSERT INTO "jetbridge_consumer_positions" ("consumer", "topic", "partition", "next_offset")
SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[])
ON CONFLICT ("consumer", "topic", "partition") DO UPDATE SET "next_offset" = EXCLUDED."next_offset";

-- name: positions
SELECT "topic", "partition", "next_offset" FROM "jetbridge_consumer_positions"
WHERE "consumer" = $1;

-- name: read_from
SELECT "position", "record" FROM "jetbridge_event_store"
WHERE "position" > $1 ORDER BY "position" LIMIT $2;

-- name: known_ids
SELECT "event_id" FROM "jetbridge_event_store" WHERE "event_id" = ANY($1::uuid[]);

-- name: set_chain_links
-- Only when an append skipped a repeated event: the links given at insert assumed every
-- event was new, so the new ones are linked again without the repeats.
UPDATE "jetbridge_event_store" AS s
SET "chain_seq" = c."seq", "chain_link" = c."link"
FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS c("event_id", "seq", "link")
WHERE s."event_id" = c."event_id";

-- name: chain_heads
SELECT DISTINCT ON ("aggregate_id") "aggregate_id", "chain_seq", "chain_link"
FROM "jetbridge_event_store"
WHERE "chain_seq" IS NOT NULL
ORDER BY "aggregate_id", "chain_seq" DESC;
