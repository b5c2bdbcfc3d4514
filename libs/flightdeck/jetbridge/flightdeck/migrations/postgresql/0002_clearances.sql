-- Flightdeck 0002: step clearances (PostgreSQL).
-- Navigator clears a flight's steps progressively; the data plane may run only the
-- cleared ones, in order. ``cleared_through`` is the index of the last cleared step
-- (NULL: the whole plan, for flights no Navigator gates, e.g. provisioning);
-- ``step_attempts`` counts clearances per step index (the attempt an outcome names);
-- ``not_before`` holds back a retry's backoff. Each clearance is recorded once by id,
-- which makes ClearSteps idempotent under redelivery.

ALTER TABLE "dp_flights"
    ADD COLUMN IF NOT EXISTS "cleared_through" integer,
    ADD COLUMN IF NOT EXISTS "not_before" timestamptz,
    ADD COLUMN IF NOT EXISTS "step_attempts" jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE IF NOT EXISTS "dp_flight_clearances" (
    "flight_id"    text NOT NULL REFERENCES "dp_flights" ("flight_id") ON DELETE CASCADE,
    "clearance_id" text NOT NULL,
    "first_step"   integer NOT NULL,
    "last_step"    integer NOT NULL,
    "not_before"   timestamptz,
    "created_at"   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("flight_id", "clearance_id")
);

-- A queued flight is claimable only with a cleared step pending: the claim scan reads
-- this index alone, so flights parked between clearances cost the scan nothing.
DROP INDEX IF EXISTS "dp_flights_queued_idx";
CREATE INDEX IF NOT EXISTS "dp_flights_ready_idx"
    ON "dp_flights" ("seq")
    WHERE "state" = 'QUEUED'
      AND ("cleared_through" IS NULL OR "current_step" <= "cleared_through");
