-- Fencing on MySQL/MariaDB. Static queries take %s parameters; DDL blocks hold
-- {placeholders} that jetbridge.fencing.quoting.render fills with QUOTED names.
-- {state} is the database holding the epochs (login users are never granted it).

-- name: whoami
SELECT CURRENT_USER(), @@SESSION.sql_mode;

-- name: read_only
-- A replica left read-only (read_only also covers MySQL's super_read_only, which
-- sets it): no fence could write its epoch, no Airflow could run.
SELECT @@GLOBAL.read_only;

-- name: global_privileges
SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s;

-- name: get_lock
SELECT GET_LOCK(%s, %s);

-- name: release_lock
SELECT RELEASE_LOCK(%s);

-- Thread ids only grow: a thread created after the account was locked authenticates
-- after it and is refused, so only threads up to this watermark can be sessions.
-- name: thread_watermark
SELECT MAX(ID) FROM information_schema.PROCESSLIST;

-- Refused login attempts are listed too (USER is set from the handshake, before the
-- lock check); threads above the watermark are such attempts and are left alone.
-- name: sessions_of
SELECT ID FROM information_schema.PROCESSLIST
WHERE USER = %s AND ID <= %s AND ID <> CONNECTION_ID();

-- name: kill
KILL CONNECTION %s;

-- name: existing_databases
SELECT SCHEMA_NAME FROM information_schema.SCHEMATA;

-- name: state_database
CREATE DATABASE IF NOT EXISTS {state} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

-- name: state_table
CREATE TABLE IF NOT EXISTS {state}.epochs (
    deployment_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
    epoch BIGINT NOT NULL,
    target_side CHAR(1) NOT NULL,
    phase VARCHAR(16) NOT NULL,
    updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

-- name: init_state
INSERT IGNORE INTO {state}.epochs (deployment_id, epoch, target_side, phase)
VALUES (%s, 0, %s, 'ACTIVE');

-- name: read_state
SELECT deployment_id, epoch, target_side, phase FROM {state}.epochs WHERE deployment_id = %s;

-- name: lock_state
SELECT deployment_id, epoch, target_side, phase FROM {state}.epochs WHERE deployment_id = %s
FOR UPDATE;

-- name: claim_epoch
UPDATE {state}.epochs SET epoch = %s, target_side = %s, phase = 'FENCING'
WHERE deployment_id = %s;

-- name: mark_active
UPDATE {state}.epochs SET phase = 'ACTIVE'
WHERE deployment_id = %s AND epoch = %s AND target_side = %s;

-- name: delete_state
DELETE FROM {state}.epochs WHERE deployment_id = %s;

-- ------------------------------------------------------------------ DDL templates

-- name: create_database
CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- name: create_user
CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {password} ACCOUNT LOCK;

-- name: warnings
-- After create_user: an account that already existed leaves a note (MariaDB 1973,
-- MySQL 3163), so a re-run provisioning reports no account created.
SHOW WARNINGS;

-- name: revoke_database
REVOKE ALL PRIVILEGES ON {database}.* FROM {account};

-- name: grant_database
GRANT ALL PRIVILEGES ON {database}.* TO {account};

-- name: lock_account
ALTER USER {account} ACCOUNT LOCK;

-- name: unlock_account
ALTER USER {account} ACCOUNT UNLOCK;

-- name: drop_database
DROP DATABASE IF EXISTS {database};

-- name: drop_user
DROP USER IF EXISTS {account};

-- Customer-managed accounts: Jetbridge may not create accounts, so GRANT USAGE (no
-- privilege at all) on a database it holds GRANT OPTION on tells whether one exists:
-- a no-op for an existing account; refused for a missing one (MariaDB 1133, or 1410
-- when the GRANT would have to create it).
-- name: account_exists
GRANT USAGE ON {database}.* TO {account};
