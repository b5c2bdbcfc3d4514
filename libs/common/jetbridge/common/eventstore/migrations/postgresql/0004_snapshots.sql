-- A writer's state as of a store position, so a restart folds only what came after
-- (the store keeps every event: auditors replay it). ``kind`` names what the state is
-- and the code that wrote it: a writer reads only its own kind, and a kind written by
-- other code is ignored (its state is folded again from the events). ``mac`` is an
-- HMAC-SHA256 of kind, position and state with the ledger key: a state that does not
-- verify is never loaded.
CREATE TABLE IF NOT EXISTS "jetbridge_snapshots" (
    "writer" text NOT NULL,
    "kind" text NOT NULL,
    "position" bigint NOT NULL,
    "taken_at" timestamptz NOT NULL DEFAULT now(),
    "state" bytea NOT NULL,
    "mac" bytea NOT NULL,
    PRIMARY KEY ("writer", "kind", "position")
);
