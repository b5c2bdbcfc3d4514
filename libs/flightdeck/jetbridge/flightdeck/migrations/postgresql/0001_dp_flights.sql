-- Flightdeck 0001: the flights table and its transactional outbox (PostgreSQL).
-- Step results live in the flight row (jsonb keyed by step index), not in a child
-- table: a plan has a handful of steps, they are always read with the flight, and one
-- conditional UPDATE can then check the fencing token and store the result at once.

CREATE TABLE IF NOT EXISTS "dp_flights" (
    "flight_id"        text PRIMARY KEY,
    "seq"              bigint GENERATED ALWAYS AS IDENTITY,
    "mission_id"       text NOT NULL,
    "request_id"       text NOT NULL,
    "deployment_id"    text NOT NULL,
    "side"             text NOT NULL CHECK ("side" IN ('SOURCE', 'DESTINATION')),
    "mode"             text NOT NULL,
    "plan"             jsonb NOT NULL,
    "fencing_epoch"    bigint NOT NULL,
    "state"            text NOT NULL DEFAULT 'QUEUED'
                       CHECK ("state" IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    "current_step"     integer NOT NULL DEFAULT 0,
    "step_results"     jsonb NOT NULL DEFAULT '{}'::jsonb,
    "error"            text,
    "lease_owner"      text,
    "lease_expires_at" timestamptz,
    "attempt"          integer NOT NULL DEFAULT 0,
    "fencing_token"    bigint NOT NULL DEFAULT 0,
    "cancel_requested" boolean NOT NULL DEFAULT false,
    "created_at"       timestamptz NOT NULL DEFAULT now(),
    "updated_at"       timestamptz NOT NULL DEFAULT now(),
    "finished_at"      timestamptz
);

-- Claim scans: queued flights in enqueue order, running flights by lease expiry.
-- Kept to these two partial indexes (plus the primary key): every claim and
-- completion is a non-HOT update that pays for each index on the table.
CREATE INDEX IF NOT EXISTS "dp_flights_queued_idx"
    ON "dp_flights" ("seq") WHERE "state" = 'QUEUED';
CREATE INDEX IF NOT EXISTS "dp_flights_lease_idx"
    ON "dp_flights" ("lease_expires_at") WHERE "state" = 'RUNNING';

CREATE TABLE IF NOT EXISTS "dp_flight_outbox" (
    "seq"          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "event_id"     uuid NOT NULL UNIQUE,
    "flight_id"    text,
    "topic"        text NOT NULL,
    "key"          bytea,
    "payload"      bytea NOT NULL,
    "headers"      jsonb NOT NULL DEFAULT '[]'::jsonb,
    "created_at"   timestamptz NOT NULL DEFAULT now(),
    "published_at" timestamptz
);

CREATE INDEX IF NOT EXISTS "dp_flight_outbox_pending_idx"
    ON "dp_flight_outbox" ("seq") WHERE "published_at" IS NULL;
