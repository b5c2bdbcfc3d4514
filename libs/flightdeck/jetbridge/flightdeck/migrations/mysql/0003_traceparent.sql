-- Flightdeck 0003: the W3C traceparent of the StartFlight that queued the flight
-- (MySQL 8 / MariaDB 10.6+; 55 characters for version 00). The Pilot that claims the
-- flight continues that trace. NULL: queued untraced (provisioning, older agents).

ALTER TABLE `dp_flights` ADD COLUMN `traceparent` VARCHAR(128) NULL;
