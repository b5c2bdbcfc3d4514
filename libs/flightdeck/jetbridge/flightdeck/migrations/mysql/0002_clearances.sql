-- Flightdeck 0002: step clearances (MySQL 8 / MariaDB 10.6+). Same model as PostgreSQL:
-- ``cleared_through`` (NULL: whole plan), per-step ``step_attempts`` (NULL: none yet),
-- ``not_before``, and one row per clearance id for idempotent ClearSteps.
-- No partial indexes here: the STORED generated column ``claimable`` stands in for the
-- PostgreSQL partial index, so the claim scan skips parked flights.
-- The ALTER is ONE statement (atomic DDL) and comes last: an interrupted migration
-- re-runs the CREATE (IF NOT EXISTS) and then the ALTER.

CREATE TABLE IF NOT EXISTS `dp_flight_clearances` (
    `flight_id`    VARCHAR(191) NOT NULL,
    `clearance_id` VARCHAR(191) NOT NULL,
    `first_step`   INT NOT NULL,
    `last_step`    INT NOT NULL,
    `not_before`   DATETIME(6) NULL,
    `created_at`   DATETIME(6) NOT NULL,
    PRIMARY KEY (`flight_id`, `clearance_id`),
    CONSTRAINT `dp_flight_clearances_flight_fk` FOREIGN KEY (`flight_id`)
        REFERENCES `dp_flights` (`flight_id`) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE `dp_flights`
    ADD COLUMN `cleared_through` INT NULL,
    ADD COLUMN `not_before` DATETIME(6) NULL,
    ADD COLUMN `step_attempts` JSON NULL,
    ADD COLUMN `claimable` TINYINT AS (
        `state` = 'QUEUED' AND (`cleared_through` IS NULL OR `current_step` <= `cleared_through`)
    ) STORED,
    ADD KEY `dp_flights_claimable_idx` (`claimable`, `seq`);
