-- name: take_writer_epoch
INSERT INTO "jetbridge_writers" ("name", "epoch", "holder") VALUES ($1, 1, $2)
ON CONFLICT ("name") DO UPDATE
SET "epoch" = "jetbridge_writers"."epoch" + 1, "holder" = $2, "acquired_at" = now()
RETURNING "epoch";

-- name: check_writer_epoch
-- FOR UPDATE, not FOR SHARE: the writer's appends then run one after another, so their
-- positions commit in order, which the relay's single position relies on (0003).
SELECT "epoch", "holder" FROM "jetbridge_writers" WHERE "name" = $1 FOR UPDATE;

-- name: append_events
-- Chain links and where each event is published come with the rows (NULL when the
-- event is not on the ledger / not published): one statement, one write of each event.
-- Topics are one comma-separated text per event (unnest cannot take a 2-D array of
-- rows of different lengths).
INSERT INTO "jetbridge_event_store"
    ("event_id", "event_type", "aggregate_id", "correlation_id", "occurred_at", "record",
     "chain_seq", "chain_prev", "chain_link", "topics", "key", "headers")
SELECT "event_id", "event_type", "aggregate_id", "correlation_id", "occurred_at", "record",
       "chain_seq", "chain_prev", "chain_link", string_to_array("topics", ','), "key",
       "headers"
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
            $6::bytea[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bytea[],
            $12::jsonb[])
    AS e("event_id", "event_type", "aggregate_id", "correlation_id", "occurred_at",
         "record", "chain_seq", "chain_prev", "chain_link", "topics", "key", "headers")
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

-- name: set_chain_links
-- Only when an append skipped a repeated event: the links given at insert assumed every
-- event was new, so the new ones are linked again without the repeats.
UPDATE "jetbridge_event_store" AS s
SET "chain_seq" = c."seq", "chain_prev" = c."prev", "chain_link" = c."link"
FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[]) AS c("event_id", "seq", "prev", "link")
WHERE s."event_id" = c."event_id";

-- name: chain_heads
SELECT DISTINCT ON ("aggregate_id") "aggregate_id", "chain_seq", "chain_link"
FROM "jetbridge_event_store"
WHERE "chain_seq" IS NOT NULL
ORDER BY "aggregate_id", "chain_seq" DESC;

-- name: relay_position
SELECT "position" FROM "jetbridge_relay_positions" WHERE "relay" = $1;

-- name: to_publish
-- The next stored events to publish, after the relay's position, in the order stored.
SELECT "position", "topics", "key", "record", "headers", "chain_seq", "chain_prev",
       "chain_link"
FROM "jetbridge_event_store"
WHERE "position" > $1 AND "topics" IS NOT NULL
ORDER BY "position"
LIMIT $2;

-- name: advance_relay
INSERT INTO "jetbridge_relay_positions" ("relay", "position") VALUES ($1, $2)
ON CONFLICT ("relay") DO UPDATE SET "position" = EXCLUDED."position";

-- name: count_unpublished
SELECT count(*) FROM "jetbridge_event_store"
WHERE "topics" IS NOT NULL
  AND "position" > COALESCE(
      (SELECT "position" FROM "jetbridge_relay_positions" WHERE "relay" = $1), 0);

-- name: last_position
SELECT COALESCE(max("position"), 0) FROM "jetbridge_event_store";

-- name: save_snapshot
INSERT INTO "jetbridge_snapshots" ("writer", "kind", "position", "state", "mac")
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ("writer", "kind", "position") DO UPDATE
SET "state" = EXCLUDED."state", "mac" = EXCLUDED."mac", "taken_at" = now();

-- name: prune_snapshots
-- The newest two of the writer are kept (one may be read while the next is written);
-- every kind but the one just written goes (older code's states are never read again).
DELETE FROM "jetbridge_snapshots"
WHERE "writer" = $1
  AND ("kind" <> $2
       OR "position" < (SELECT min(p) FROM (
            SELECT "position" AS p FROM "jetbridge_snapshots"
            WHERE "writer" = $1 AND "kind" = $2 ORDER BY "position" DESC LIMIT 2) AS newest));

-- name: latest_snapshot
SELECT "position", "state", "mac" FROM "jetbridge_snapshots"
WHERE "writer" = $1 AND "kind" = $2 ORDER BY "position" DESC LIMIT 1;
