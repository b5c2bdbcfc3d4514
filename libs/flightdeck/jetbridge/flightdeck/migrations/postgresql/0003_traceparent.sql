-- Flightdeck 0003: the W3C traceparent of the StartFlight that queued the flight.
-- The Pilot that claims the flight (and any that reclaims it) continues that trace, so
-- a Mission's spans from the control plane and the data plane share one trace id.
-- NULL: queued untraced (provisioning, older agents).

ALTER TABLE "dp_flights" ADD COLUMN IF NOT EXISTS "traceparent" text;
