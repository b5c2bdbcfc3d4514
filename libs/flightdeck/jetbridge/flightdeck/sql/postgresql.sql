-- Flightdeck queries for PostgreSQL (asyncpg, $n parameters).
-- A claimer's write is valid only while its fencing token is the flight's current
-- one, the flight is RUNNING and the lease has not expired (server clock): every
-- claimer write below carries that same WHERE clause.

-- name: admit
-- Insert-if-absent by flight id, returning every named flight as stored: the rows this
-- statement inserted (created) and those that existed before it (its snapshot). A row
-- another transaction committed meanwhile is in neither; the adapter reads those
-- again. NOTIFY in the same statement (hence transaction), so listeners wake only once
-- the flights are visible.
WITH "new" AS (
    INSERT INTO "dp_flights"
        ("flight_id", "mission_id", "request_id", "deployment_id", "side", "mode",
         "plan", "fencing_epoch", "cleared_through", "traceparent")
    SELECT i."flight_id", i."mission_id", i."request_id", i."deployment_id", i."side",
           i."mode", i."plan"::jsonb, i."fencing_epoch", i."cleared_through",
           i."traceparent"
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::text[], $8::bigint[], $9::integer[], $10::text[])
         WITH ORDINALITY
         AS i("flight_id", "mission_id", "request_id", "deployment_id", "side",
              "mode", "plan", "fencing_epoch", "cleared_through", "traceparent", "n")
    -- One lock order, so overlapping batches cannot deadlock; an id given twice is
    -- inserted as first given. COLLATE "C" (byte order, which is Python's code-point
    -- order of the ids the adapter sorts): a database's own collation may order
    -- "r/Zeta" and "r/alpha" the other way, and two orders of one set of rows deadlock.
    ORDER BY i."flight_id" COLLATE "C", i."n"
    ON CONFLICT ("flight_id") DO NOTHING
    RETURNING *
)
-- One NOTIFY per transaction whatever the row count (PostgreSQL folds repeats).
SELECT "new".*, TRUE AS "created", pg_notify('flightdeck_dp_flights', '')::text AS "notified"
FROM "new"
UNION ALL
SELECT "f".*, FALSE, NULL FROM "dp_flights" AS "f" WHERE "f"."flight_id" = ANY($1::text[]);

-- name: claim
-- Expired leases first (reclaim), then queued flights with a cleared step pending whose
-- ``not_before`` has passed, in enqueue order (the predicate is dp_flights_ready_idx's);
-- rows another transaction holds are skipped, never waited for.
WITH "expired" AS (
    SELECT "flight_id" FROM "dp_flights"
    WHERE "state" = 'RUNNING' AND "lease_expires_at" < now()
    ORDER BY "lease_expires_at"
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), "queued" AS (
    SELECT "flight_id" FROM "dp_flights"
    WHERE "state" = 'QUEUED'
      AND ("cleared_through" IS NULL OR "current_step" <= "cleared_through")
      AND ("not_before" IS NULL OR "not_before" <= now())
    ORDER BY "seq"
    LIMIT (SELECT $2 - count(*) FROM "expired")
    FOR UPDATE SKIP LOCKED
), "picked" AS (
    SELECT "flight_id" FROM "expired"
    UNION ALL
    SELECT "flight_id" FROM "queued"
)
UPDATE "dp_flights" AS f
SET "state" = 'RUNNING',
    "lease_owner" = $1,
    "lease_expires_at" = now() + make_interval(secs => $3::double precision),
    "attempt" = f."attempt" + 1,
    "fencing_token" = f."fencing_token" + 1,
    "updated_at" = now()
FROM "picked"
WHERE f."flight_id" = "picked"."flight_id"
RETURNING f.*;

-- name: renew
UPDATE "dp_flights"
SET "lease_expires_at" = now() + make_interval(secs => $3::double precision),
    "updated_at" = now()
WHERE "flight_id" = $1 AND "fencing_token" = $2
  AND "state" = 'RUNNING' AND "lease_expires_at" > now()
RETURNING "lease_expires_at", "cancel_requested", "current_step", "cleared_through",
          "not_before", "step_attempts";

-- name: record_many
-- Step results of many flights in one statement, each only under a claim that still
-- holds; the outbox inserts join the UPDATE's result: no valid claim, no event. With
-- an attempt, the step only counts as done if no newer clearance of it arrived
-- meanwhile (Navigator gave up on this attempt and wants another one); a clearance
-- that rewound the flight to another step is never overtaken either. A flight appears
-- once per statement (the adapter splits repeats into rounds); rows are locked in the
-- order of $1, which the adapter sorts by flight id, through a LATERAL lookup by
-- primary key, as complete_many does.
WITH "input" AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], $5::integer[])
        AS i("flight_id", "token", "step", "result", "attempt")
), "held" AS (
    SELECT i.*
    FROM "input" AS i
    CROSS JOIN LATERAL (
        SELECT 1 FROM "dp_flights" AS f
        WHERE f."flight_id" = i."flight_id" AND f."fencing_token" = i."token"
          AND f."state" = 'RUNNING' AND f."lease_expires_at" > now()
        FOR UPDATE
    ) AS "ok"
), "upd" AS (
    UPDATE "dp_flights" AS f
    SET "step_results" = jsonb_set(f."step_results", ARRAY[h."step"::text], h."result"::jsonb),
        "current_step" = CASE
            WHEN f."current_step" = h."step" AND (h."attempt" IS NULL
              OR COALESCE((f."step_attempts" ->> (h."step"::text))::integer, 0) <= h."attempt")
            THEN h."step" + 1 ELSE f."current_step" END,
        "updated_at" = now()
    FROM "held" AS h
    WHERE f."flight_id" = h."flight_id"
    RETURNING f."flight_id", f."lease_expires_at", f."cancel_requested", f."current_step",
              f."cleared_through", f."not_before", f."step_attempts"
), "ev" AS (
    INSERT INTO "dp_flight_outbox"
        ("event_id", "flight_id", "topic", "key", "payload", "headers")
    SELECT e."event_id", e."flight_id", e."topic", e."key", e."payload", e."headers"::jsonb
    FROM unnest($6::uuid[], $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::text[])
         AS e("event_id", "flight_id", "topic", "key", "payload", "headers")
    WHERE e."flight_id" IN (SELECT "flight_id" FROM "upd")
)
SELECT * FROM "upd";

-- name: complete_many
-- Finish many flights in one statement; events are inserted only for the flights
-- whose claim held. Returns the ids that were finished. The claim check sits in a
-- LATERAL lookup per flight (a generic plan made from the statistics of a new table
-- may still take it through the lease index, 2026-12-06: bounded by the unexpired leases);
-- rows are locked in the order of $1, which the adapter sorts by flight id.
-- SUCCEEDED only while no cleared step is left to run: a clearance that rewound the
-- flight after its last step's result (a retry the Navigator cleared meanwhile) must
-- run, so such a flight is not finished (the claimer hears it as a lost claim and
-- stops; the flight is claimed again once its lease runs out). Ungated flights
-- (``cleared_through`` NULL) have no clearances to rewind them.
WITH "input" AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
        AS i("flight_id", "token", "outcome", "error")
), "held" AS (
    SELECT i.*
    FROM "input" AS i
    CROSS JOIN LATERAL (
        SELECT 1 FROM "dp_flights" AS f
        WHERE f."flight_id" = i."flight_id" AND f."fencing_token" = i."token"
          AND f."state" = 'RUNNING' AND f."lease_expires_at" > now()
          AND (i."outcome" <> 'SUCCEEDED' OR f."cleared_through" IS NULL
               OR f."current_step" > f."cleared_through")
        FOR UPDATE
    ) AS "ok"
), "upd" AS (
    UPDATE "dp_flights" AS f
    SET "state" = h."outcome",
        "error" = h."error",
        "lease_expires_at" = NULL,
        "finished_at" = now(),
        "updated_at" = now()
    FROM "held" AS h
    WHERE f."flight_id" = h."flight_id"
    RETURNING f."flight_id"
), "ev" AS (
    INSERT INTO "dp_flight_outbox"
        ("event_id", "flight_id", "topic", "key", "payload", "headers")
    SELECT e."event_id", e."flight_id", e."topic", e."key", e."payload", e."headers"::jsonb
    FROM unnest($5::uuid[], $6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::text[])
         AS e("event_id", "flight_id", "topic", "key", "payload", "headers")
    WHERE e."flight_id" IN (SELECT "flight_id" FROM "upd")
)
SELECT "flight_id" FROM "upd";

-- name: report
-- Events (a step started, a flight claimed), under the same claim check; with a step
-- ($8), its note ($9) becomes that step's result while it runs.
WITH "upd" AS (
    UPDATE "dp_flights"
    SET "updated_at" = now(),
        "step_results" = CASE WHEN $8::integer IS NULL THEN "step_results"
            ELSE jsonb_set("step_results", ARRAY[$8::integer::text], $9::text::jsonb) END
    WHERE "flight_id" = $1 AND "fencing_token" = $2
      AND "state" = 'RUNNING' AND "lease_expires_at" > now()
    RETURNING "flight_id", "lease_expires_at", "cancel_requested", "current_step",
              "cleared_through", "not_before", "step_attempts"
), "ev" AS (
    INSERT INTO "dp_flight_outbox"
        ("event_id", "flight_id", "topic", "key", "payload", "headers")
    SELECT e."event_id", "upd"."flight_id", e."topic", e."key", e."payload", e."headers"::jsonb
    FROM unnest($3::uuid[], $4::text[], $5::bytea[], $6::bytea[], $7::text[])
         AS e("event_id", "topic", "key", "payload", "headers")
    CROSS JOIN "upd"
)
SELECT * FROM "upd";

-- name: release
-- Hand a flight back to the queue at a step boundary (no cleared step left, or a step
-- failed). With a failed step ($3), store its result and revoke the clearance from it
-- on (never widening it: a clearance that rewound the flight while the step ran keeps
-- its end): Navigator decides whether that step runs again. The flight is claimable
-- again as soon as more steps are cleared (the ready index predicate). Unless a newer
-- attempt of that step than the failed one ($10) was cleared meanwhile: that clearance
-- stands. A flight whose cancellation came while it ran is CANCELLED here, not parked:
-- parked, nothing would ever claim, finish or prune it.
WITH "upd" AS (
    UPDATE "dp_flights"
    SET "state" = CASE WHEN "cancel_requested" THEN 'CANCELLED' ELSE 'QUEUED' END,
        "finished_at" = CASE WHEN "cancel_requested" THEN now() ELSE "finished_at" END,
        "lease_expires_at" = NULL,
        "step_results" = CASE WHEN $3::integer IS NULL THEN "step_results"
            ELSE jsonb_set("step_results", ARRAY[$3::integer::text], $4::text::jsonb) END,
        "cleared_through" = CASE WHEN $3::integer IS NULL THEN "cleared_through"
            WHEN $10::integer IS NOT NULL
              AND COALESCE(("step_attempts" ->> ($3::integer::text))::integer, 0) > $10::integer
            THEN "cleared_through"
            ELSE LEAST("cleared_through", $3::integer - 1) END,
        "updated_at" = now()
    WHERE "flight_id" = $1 AND "fencing_token" = $2
      AND "state" = 'RUNNING' AND "lease_expires_at" > now()
    RETURNING "flight_id",
        (NOT "cancel_requested"
         AND ("cleared_through" IS NULL OR "current_step" <= "cleared_through")) AS "ready"
), "ev" AS (
    INSERT INTO "dp_flight_outbox"
        ("event_id", "flight_id", "topic", "key", "payload", "headers")
    SELECT e."event_id", "upd"."flight_id", e."topic", e."key", e."payload", e."headers"::jsonb
    FROM unnest($5::uuid[], $6::text[], $7::bytea[], $8::bytea[], $9::text[])
         AS e("event_id", "topic", "key", "payload", "headers")
    CROSS JOIN "upd"
)
SELECT "flight_id",
       CASE WHEN "ready" THEN pg_notify('flightdeck_dp_flights', '') END AS "notified"
FROM "upd";

-- name: clear_many
-- Record each clearance once (idempotent by id); only a new one moves its flight: the
-- cleared range becomes [first, last] (rewinding ``current_step`` to first when
-- Navigator asks for a step again), each step in it takes Navigator's attempt number
-- from ``attempts`` (one more than before when it is empty), and a flight that had
-- finished all its steps is reopened (steps are idempotent; Navigator is the judge).
-- Failed and cancelled flights stay as they are. Each flight at most once in $1 (a row
-- changes once per statement: the adapter sends a repeat in a later statement); rows
-- are locked in flight-id order, so two such statements never deadlock.
WITH "req" AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[],
                         $5::timestamptz[], $6::text[])
        AS r("flight_id", "clearance_id", "first_step", "last_step", "not_before",
             "attempts")
), "target" AS (
    SELECT f."flight_id", f."state", f."cancel_requested" FROM "dp_flights" AS f
    WHERE f."flight_id" = ANY($1::text[])
    ORDER BY f."flight_id" COLLATE "C"  -- the order record_many and complete_many lock in
    FOR UPDATE
), "new" AS (
    INSERT INTO "dp_flight_clearances"
        ("flight_id", "clearance_id", "first_step", "last_step", "not_before")
    SELECT r."flight_id", r."clearance_id", r."first_step", r."last_step", r."not_before"
    FROM "target" AS t JOIN "req" AS r USING ("flight_id")
    WHERE t."state" IN ('QUEUED', 'RUNNING', 'SUCCEEDED')
      -- a finished flight whose mission was cancelled since is not reopened by a late
      -- clearance (a stalled Dispatcher's retry of a step it had meanwhile finished)
      AND NOT (t."state" = 'SUCCEEDED' AND t."cancel_requested")
    ORDER BY r."flight_id" COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING "flight_id"
), "upd" AS (
    UPDATE "dp_flights" AS f
    SET "current_step" = r."first_step",
        "cleared_through" = r."last_step",
        "not_before" = r."not_before",
        "step_attempts" = f."step_attempts" || COALESCE((
            SELECT jsonb_object_agg(i::text, COALESCE(
                (r."attempts"::jsonb ->> (i - r."first_step"))::integer,
                COALESCE((f."step_attempts" ->> i::text)::integer, 0) + 1))
            FROM generate_series(r."first_step", r."last_step") AS i), '{}'::jsonb),
        "state" = CASE WHEN f."state" = 'SUCCEEDED' THEN 'QUEUED' ELSE f."state" END,
        "finished_at" = CASE WHEN f."state" = 'SUCCEEDED' THEN NULL ELSE f."finished_at" END,
        "updated_at" = now()
    FROM "new" JOIN "req" AS r USING ("flight_id")
    WHERE f."flight_id" = "new"."flight_id"
    RETURNING f.*
)
SELECT *, true AS "applied", pg_notify('flightdeck_dp_flights', '') AS "notified" FROM "upd"
UNION ALL
SELECT f.*, false AS "applied", NULL AS "notified" FROM "dp_flights" AS f
WHERE f."flight_id" = ANY($1::text[])
  AND f."flight_id" NOT IN (SELECT "flight_id" FROM "upd");

-- name: request_cancel
-- QUEUED: cancelled at once. RUNNING: flagged; the claimer sees it on its next write.
-- SUCCEEDED: flagged too, so a late clearance does not reopen it (clear_many).
-- Unknown: stored cancelled with no plan (a tombstone), so a StartFlight that arrives
-- after the cancellation finds the flight ended instead of creating it. A flight a
-- concurrent transaction inserted after this statement's snapshot is in no part of
-- the result (the tombstone's insert meets it and does nothing): the adapter asks again.
WITH "upd" AS (
    UPDATE "dp_flights"
    SET "state" = CASE WHEN "state" = 'QUEUED' THEN 'CANCELLED' ELSE "state" END,
        "finished_at" = CASE WHEN "state" = 'QUEUED' THEN now() ELSE "finished_at" END,
        "cancel_requested" = true,
        "updated_at" = now()
    WHERE "flight_id" = $1 AND "state" IN ('QUEUED', 'RUNNING', 'SUCCEEDED')
    RETURNING *
), "tombstone" AS (
    INSERT INTO "dp_flights"
        ("flight_id", "mission_id", "request_id", "deployment_id", "side", "mode", "plan",
         "fencing_epoch", "cleared_through", "state", "cancel_requested", "finished_at")
    SELECT $1, '', '', '', 'SOURCE', '', '[]'::jsonb, 0, -1, 'CANCELLED', true, now()
    WHERE NOT EXISTS (SELECT 1 FROM "dp_flights" WHERE "flight_id" = $1)
    ON CONFLICT ("flight_id") DO NOTHING
    RETURNING *
)
SELECT * FROM "upd"
UNION ALL
SELECT * FROM "tombstone"
UNION ALL
SELECT * FROM "dp_flights"
WHERE "flight_id" = $1
  AND NOT EXISTS (SELECT 1 FROM "upd") AND NOT EXISTS (SELECT 1 FROM "tombstone");

-- name: get
SELECT * FROM "dp_flights" WHERE "flight_id" = $1;

-- name: get_many
SELECT * FROM "dp_flights" WHERE "flight_id" = ANY($1::text[]);

-- name: has_work
SELECT EXISTS (
    SELECT 1 FROM "dp_flights"
    WHERE "state" = 'QUEUED'
      AND ("cleared_through" IS NULL OR "current_step" <= "cleared_through")
      AND ("not_before" IS NULL OR "not_before" <= now())
    UNION ALL
    SELECT 1 FROM "dp_flights" WHERE "state" = 'RUNNING' AND "lease_expires_at" < now()
) AS "has_work";

-- name: outbox_pending
SELECT * FROM "dp_flight_outbox"
WHERE "published_at" IS NULL
ORDER BY "seq"
LIMIT $1;

-- name: mark_published
UPDATE "dp_flight_outbox" SET "published_at" = now()
WHERE "event_id" = ANY($1::uuid[]) AND "published_at" IS NULL;

-- name: prune_finished
-- At most $2 flights that finished (SUCCEEDED, FAILED, CANCELLED) more than $1 seconds
-- ago, oldest first, with their clearances (ON DELETE CASCADE). A row another
-- transaction holds (a ClearSteps reopening it) is skipped, never waited for. Their
-- outbox rows have their own retention (prune_published). ARRAY(...) runs the
-- sub-select once: as "IN (SELECT ... LIMIT ... SKIP LOCKED)" the planner may run it
-- again per row, each run skipping the rows the last one locked, and delete more than
-- $2 (seen once in ~55 runs of the contract test: 3 deleted with a limit of 2).
DELETE FROM "dp_flights"
WHERE "flight_id" = ANY(ARRAY(
    SELECT "flight_id" FROM "dp_flights"
    WHERE "finished_at" < now() - make_interval(secs => $1::double precision)
      AND "state" IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
    ORDER BY "finished_at"
    LIMIT $2
    FOR UPDATE SKIP LOCKED
));

-- name: prune_published
-- At most $2 rows published more than $1 seconds ago, oldest first; never a row not
-- yet published. Kafka keeps the events: a row only mattered until it was acknowledged.
DELETE FROM "dp_flight_outbox"
WHERE "seq" IN (
    SELECT "seq" FROM "dp_flight_outbox"
    WHERE "published_at" < now() - make_interval(secs => $1::double precision)
    ORDER BY "seq"
    LIMIT $2
);
