-- name: insert_event
INSERT INTO "jetbridge_outbox" ("event_id", "topic", "key", "value", "headers")
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::jsonb[])
ON CONFLICT ("event_id", "topic") DO NOTHING;

-- name: pending_batch
SELECT "position", "topic", "key", "value", "headers"
FROM "jetbridge_outbox"
WHERE "published_at" IS NULL
ORDER BY "position"
LIMIT $1;

-- name: mark_published
UPDATE "jetbridge_outbox" SET "published_at" = now()
WHERE "position" = ANY($1::bigint[]);

-- name: count_pending
SELECT count(*) FROM "jetbridge_outbox" WHERE "published_at" IS NULL;

-- name: prune_published
-- At most $2 rows published more than $1 seconds ago, oldest positions first: Kafka
-- keeps the events, the rows only mattered until the broker acknowledged them.
DELETE FROM "jetbridge_outbox"
WHERE "position" IN (
    SELECT "position" FROM "jetbridge_outbox"
    WHERE "published_at" < now() - make_interval(secs => $1::double precision)
    ORDER BY "position"
    LIMIT $2
);
