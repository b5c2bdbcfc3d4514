-- The transactional outbox: a service writes its events here in the SAME transaction
-- as the state change they report; the relay publishes them to Kafka and marks them.
CREATE TABLE IF NOT EXISTS "jetbridge_outbox" (
    "position"     bigserial PRIMARY KEY,
    "event_id"     uuid NOT NULL UNIQUE,
    "topic"        text NOT NULL,
    "key"          bytea,
    "value"        bytea NOT NULL,
    "headers"      jsonb NOT NULL DEFAULT '[]'::jsonb,
    "created_at"   timestamptz NOT NULL DEFAULT now(),
    "published_at" timestamptz
);

CREATE INDEX IF NOT EXISTS "jetbridge_outbox_pending"
    ON "jetbridge_outbox" ("position") WHERE "published_at" IS NULL;

-- One wake-up per writing statement (not per row): the relay LISTENs and otherwise
-- sleeps, so an idle outbox costs nothing and a new event leaves within milliseconds.
CREATE OR REPLACE FUNCTION "jetbridge_outbox_notify"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jetbridge_outbox', '');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS "jetbridge_outbox_notify" ON "jetbridge_outbox";
CREATE TRIGGER "jetbridge_outbox_notify"
    AFTER INSERT ON "jetbridge_outbox"
    FOR EACH STATEMENT EXECUTE FUNCTION "jetbridge_outbox_notify"();
