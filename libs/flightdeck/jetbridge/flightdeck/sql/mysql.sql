-- Flightdeck queries for MySQL 8 / MariaDB 10.6+ (asyncmy, %s parameters).
-- MariaDB has no UPDATE ... RETURNING, so a claimer's write runs in a transaction:
-- lock the rows (lock_claimed), check the fencing token, state and lease in Python
-- under that lock, then write. {ids}/{values} are filled with placeholders only.

-- name: enqueue
INSERT INTO `dp_flights`
    (`flight_id`, `mission_id`, `request_id`, `deployment_id`, `side`, `mode`, `plan`,
     `fencing_epoch`, `cleared_through`, `traceparent`, `step_results`, `created_at`,
     `updated_at`)
VALUES {values}
ON DUPLICATE KEY UPDATE `flight_id` = `flight_id`;

-- name: enqueue_values
(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '{}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));

-- name: existing_ids
SELECT `flight_id` FROM `dp_flights` WHERE `flight_id` IN ({ids});

-- name: get_many
SELECT * FROM `dp_flights` WHERE `flight_id` IN ({ids});

-- name: claim_expired
-- `now` (server UTC) rides along so the lease expiry needs no extra round trip.
SELECT *, UTC_TIMESTAMP(6) AS `now` FROM `dp_flights`
WHERE `state` = 'RUNNING' AND `lease_expires_at` < UTC_TIMESTAMP(6)
ORDER BY `lease_expires_at`
LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: claim_queued
-- Queued with a cleared step pending (the generated `claimable` column and its index).
SELECT *, UTC_TIMESTAMP(6) AS `now` FROM `dp_flights`
WHERE `claimable` = 1
  AND (`not_before` IS NULL OR `not_before` <= UTC_TIMESTAMP(6))
ORDER BY `seq`
LIMIT %s
FOR UPDATE SKIP LOCKED;

-- name: mark_claimed
UPDATE `dp_flights`
SET `state` = 'RUNNING',
    `lease_owner` = %s,
    `lease_expires_at` = %s,
    `attempt` = `attempt` + 1,
    `fencing_token` = `fencing_token` + 1,
    `updated_at` = %s
WHERE `flight_id` IN ({ids});

-- name: lock_claimed
SELECT `flight_id`, `fencing_token`, `state`, `step_results`, `cancel_requested`,
       `current_step`, `cleared_through`, `not_before`, `step_attempts`, `lease_expires_at`,
       (`lease_expires_at` > UTC_TIMESTAMP(6)) AS `live`, UTC_TIMESTAMP(6) AS `now`
FROM `dp_flights`
WHERE `flight_id` IN ({ids})
FOR UPDATE;

-- name: renew
UPDATE `dp_flights`
SET `lease_expires_at` = %s, `updated_at` = %s
WHERE `flight_id` = %s;

-- name: store_step_result
UPDATE `dp_flights`
SET `step_results` = %s, `current_step` = %s, `updated_at` = UTC_TIMESTAMP(6)
WHERE `flight_id` = %s;

-- name: release
-- QUEUED, or CANCELLED (finished) when a cancellation came while it ran.
UPDATE `dp_flights`
SET `state` = %s, `lease_expires_at` = NULL,
    `finished_at` = CASE WHEN %s = 'CANCELLED' THEN UTC_TIMESTAMP(6) ELSE `finished_at` END,
    `step_results` = %s, `cleared_through` = %s, `updated_at` = UTC_TIMESTAMP(6)
WHERE `flight_id` = %s;

-- name: lock_flight
SELECT * FROM `dp_flights` WHERE `flight_id` = %s FOR UPDATE;

-- name: insert_clearance
INSERT IGNORE INTO `dp_flight_clearances`
    (`flight_id`, `clearance_id`, `first_step`, `last_step`, `not_before`, `created_at`)
VALUES (%s, %s, %s, %s, %s, UTC_TIMESTAMP(6));

-- name: apply_clearance
-- A flight that had finished all its steps is reopened (see the PostgreSQL query).
UPDATE `dp_flights`
SET `finished_at` = CASE WHEN `state` = 'SUCCEEDED' THEN NULL ELSE `finished_at` END,
    `state` = CASE WHEN `state` = 'SUCCEEDED' THEN 'QUEUED' ELSE `state` END,
    `current_step` = %s, `cleared_through` = %s, `not_before` = %s, `step_attempts` = %s,
    `updated_at` = UTC_TIMESTAMP(6)
WHERE `flight_id` = %s;

-- name: finish
UPDATE `dp_flights`
SET `state` = %s, `error` = %s, `lease_expires_at` = NULL,
    `finished_at` = UTC_TIMESTAMP(6), `updated_at` = UTC_TIMESTAMP(6)
WHERE `flight_id` IN ({ids});

-- name: insert_outbox
INSERT INTO `dp_flight_outbox`
    (`event_id`, `flight_id`, `topic`, `key`, `payload`, `headers`, `created_at`)
VALUES {values};

-- name: insert_outbox_values
(%s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6));

-- name: cancel_tombstone
-- An unknown flight is stored cancelled with no plan (see the PostgreSQL query); one
-- that exists (or a concurrent insert, which this waits for on the key) is untouched.
INSERT INTO `dp_flights`
    (`flight_id`, `mission_id`, `request_id`, `deployment_id`, `side`, `mode`, `plan`,
     `fencing_epoch`, `cleared_through`, `state`, `cancel_requested`, `step_results`,
     `created_at`, `updated_at`, `finished_at`)
VALUES (%s, '', '', '', 'SOURCE', '', '[]', 0, -1, 'CANCELLED', TRUE, '{}', UTC_TIMESTAMP(6),
        UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
ON DUPLICATE KEY UPDATE `flight_id` = `flight_id`;

-- name: request_cancel
-- QUEUED: cancelled at once; RUNNING and SUCCEEDED: flagged (see the PostgreSQL query).
-- `finished_at` first, testing the state as it was: right whether SET applies left to
-- right (MySQL) or all at once (MariaDB's SIMULTANEOUS_ASSIGNMENT).
UPDATE `dp_flights`
SET `finished_at` = CASE WHEN `state` = 'QUEUED' THEN UTC_TIMESTAMP(6) ELSE `finished_at` END,
    `state` = CASE WHEN `state` = 'QUEUED' THEN 'CANCELLED' ELSE `state` END,
    `cancel_requested` = TRUE,
    `updated_at` = UTC_TIMESTAMP(6)
WHERE `flight_id` = %s AND `state` IN ('QUEUED', 'RUNNING', 'SUCCEEDED');

-- name: get
SELECT * FROM `dp_flights` WHERE `flight_id` = %s;

-- name: has_work
SELECT EXISTS (SELECT 1 FROM `dp_flights` WHERE `claimable` = 1
               AND (`not_before` IS NULL OR `not_before` <= UTC_TIMESTAMP(6)))
    OR EXISTS (SELECT 1 FROM `dp_flights`
               WHERE `state` = 'RUNNING' AND `lease_expires_at` < UTC_TIMESTAMP(6))
    AS `has_work`;

-- name: outbox_pending
SELECT * FROM `dp_flight_outbox`
WHERE `published_at` IS NULL
ORDER BY `seq`
LIMIT %s;

-- name: mark_published
UPDATE `dp_flight_outbox` SET `published_at` = UTC_TIMESTAMP(6)
WHERE `event_id` IN ({ids}) AND `published_at` IS NULL;

-- name: prune_finished
-- Flights that finished more than the given microseconds ago, at most the given number,
-- oldest first (dp_flights_finished_idx), with their clearances (ON DELETE CASCADE).
-- A DELETE reads the latest version of each row it locks: a flight a ClearSteps
-- reopened meanwhile is QUEUED again and stays.
DELETE FROM `dp_flights`
WHERE `finished_at` < UTC_TIMESTAMP(6) - INTERVAL %s MICROSECOND
  AND `state` IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
ORDER BY `finished_at`
LIMIT %s;

-- name: prune_published
-- Rows published more than the given microseconds ago, at most the given number,
-- oldest first (the (published_at, seq) index); never a row not yet published.
DELETE FROM `dp_flight_outbox`
WHERE `published_at` < UTC_TIMESTAMP(6) - INTERVAL %s MICROSECOND
ORDER BY `published_at`
LIMIT %s;
