-- A step's failed attempts (Flight's Step.failures: what the retry budget counts). The
-- attempt number ("attempts") also counts the clearances a step got with an earlier
-- step's retries, so it says how often a step was cleared, not how often it ran or
-- failed. Read-model tables only (disposable). A finished flight's rows are never
-- written again, so the positions go too: the projector then folds the ledger from its
-- start once, rewriting every row (its upserts are idempotent), and the live read model
-- equals a rebuild again.

ALTER TABLE "flight_steps" ADD COLUMN IF NOT EXISTS "failures" integer NOT NULL DEFAULT 0;
DELETE FROM "projection_positions";
