-- Flightdeck 0005: an index of the flights still queued or running, and nothing else.
-- The agent's queue-depth gauge counts those states every two seconds. Without it each
-- count read the whole table, finished flights and dead row versions included (12 ms a
-- count with 2,000 flights in the 2026-12-06 benchmark, growing with the retention).
-- The rows' hot-path updates are already not HOT (``state``, ``current_step`` and
-- ``lease_expires_at`` are in other indexes), so this adds one small entry per update
-- of an active row, and none once the flight has finished.

CREATE INDEX IF NOT EXISTS "dp_flights_active_idx"
    ON "dp_flights" ("state") WHERE "state" IN ('QUEUED', 'RUNNING');
