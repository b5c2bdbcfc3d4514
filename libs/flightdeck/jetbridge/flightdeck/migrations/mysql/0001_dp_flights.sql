-- Flightdeck 0001: the flights table and its transactional outbox (MySQL 8 / MariaDB 10.6+).
-- Same shape as the PostgreSQL migration; DDL is not transactional here, so every
-- statement is re-runnable (IF NOT EXISTS) in case a migration is interrupted.
-- Times are UTC DATETIME(6) written with UTC_TIMESTAMP(6), never the session time zone.

CREATE TABLE IF NOT EXISTS `dp_flights` (
    `flight_id`        VARCHAR(191) NOT NULL,
    `seq`              BIGINT NOT NULL AUTO_INCREMENT,
    `mission_id`       VARCHAR(191) NOT NULL,
    `request_id`       VARCHAR(191) NOT NULL,
    `deployment_id`    VARCHAR(191) NOT NULL,
    `side`             VARCHAR(16) NOT NULL,
    `mode`             VARCHAR(32) NOT NULL,
    `plan`             JSON NOT NULL,
    `fencing_epoch`    BIGINT NOT NULL,
    `state`            VARCHAR(16) NOT NULL DEFAULT 'QUEUED',
    `current_step`     INT NOT NULL DEFAULT 0,
    `step_results`     JSON NOT NULL,
    `error`            TEXT NULL,
    `lease_owner`      VARCHAR(191) NULL,
    `lease_expires_at` DATETIME(6) NULL,
    `attempt`          INT NOT NULL DEFAULT 0,
    `fencing_token`    BIGINT NOT NULL DEFAULT 0,
    `cancel_requested` BOOLEAN NOT NULL DEFAULT FALSE,
    `created_at`       DATETIME(6) NOT NULL,
    `updated_at`       DATETIME(6) NOT NULL,
    `finished_at`      DATETIME(6) NULL,
    PRIMARY KEY (`flight_id`),
    UNIQUE KEY `dp_flights_seq_uq` (`seq`),
    KEY `dp_flights_state_seq_idx` (`state`, `seq`),
    KEY `dp_flights_state_lease_idx` (`state`, `lease_expires_at`),
    CONSTRAINT `dp_flights_side_ck` CHECK (`side` IN ('SOURCE', 'DESTINATION')),
    CONSTRAINT `dp_flights_state_ck`
        CHECK (`state` IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `dp_flight_outbox` (
    `seq`          BIGINT NOT NULL AUTO_INCREMENT,
    `event_id`     CHAR(36) NOT NULL,
    `flight_id`    VARCHAR(191) NULL,
    `topic`        VARCHAR(255) NOT NULL,
    `key`          VARBINARY(1024) NULL,
    `payload`      LONGBLOB NOT NULL,
    `headers`      JSON NOT NULL,
    `created_at`   DATETIME(6) NOT NULL,
    `published_at` DATETIME(6) NULL,
    PRIMARY KEY (`seq`),
    UNIQUE KEY `dp_flight_outbox_event_uq` (`event_id`),
    KEY `dp_flight_outbox_pending_idx` (`published_at`, `seq`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
