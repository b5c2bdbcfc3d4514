-- Flightdeck 0004: finished flights are deleted once older than the Pilot's retention
-- (``prune_finished``). The index holds finished rows only: a flight's updates while it
-- is queued or running (finished_at NULL) insert nothing into it.

CREATE INDEX IF NOT EXISTS "dp_flights_finished_idx"
    ON "dp_flights" ("finished_at") WHERE "finished_at" IS NOT NULL;
