-- A step's failed attempts (Flight's Step.failures: what the retry budget counts). The
-- attempt number ("attempts") also counts the clearances a step got with an earlier
-- step's retries, so it says how often a step was cleared, not how often it ran or
-- failed. Read-model tables only (disposable): existing rows read 0 until the
-- projector rewrites them or the read model is rebuilt.

ALTER TABLE "flight_steps" ADD COLUMN IF NOT EXISTS "failures" integer NOT NULL DEFAULT 0;
