-- Fencing on PostgreSQL. Static queries take bind parameters ($1, ...); DDL blocks
-- hold {placeholders} that jetbridge.fencing.quoting.render fills with QUOTED names.

-- name: whoami
SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb,
       current_setting('server_version_num')::int AS server_version
FROM pg_roles WHERE rolname = current_user;

-- name: roles
SELECT rolname, oid, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = ANY($1::text[]);

-- name: my_membership
SELECT pg_has_role(current_user, $1::text, 'MEMBER') AS member,
       pg_has_role(current_user, $1::text, 'USAGE') AS inherits;

-- name: privileges_of
SELECT pg_has_role($1::text, $2::text, 'USAGE');

-- name: databases
SELECT datname, oid FROM pg_database WHERE datname = ANY($1::text[]);

-- name: connectable
SELECT datname FROM pg_database
WHERE datname = ANY($2::text[]) AND has_database_privilege($1::text, datname, 'CONNECT');

-- Backends still starting up in these databases: they hold RowExclusiveLock on the
-- database object from before their CONNECT check until after they are listed in
-- pg_stat_activity. Read this BEFORE role_sessions: nothing can slip between the two.
-- name: starting_backends
SELECT DISTINCT pid FROM pg_locks
WHERE locktype = 'object' AND database = 0
  AND classid = 'pg_database'::regclass AND objid = ANY($1::oid[]) AND objsubid = 0
  AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid();

-- name: role_sessions
SELECT pid FROM pg_stat_activity WHERE usesysid = $1::oid AND pid <> pg_backend_pid();

-- name: terminate
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int
FROM unnest($1::int[]) AS t(pid);

-- name: state_table
CREATE TABLE IF NOT EXISTS jetbridge_fencing.state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    deployment_id text NOT NULL,
    epoch bigint NOT NULL CHECK (epoch >= 0),
    target_side text NOT NULL CHECK (target_side IN ('A', 'B')),
    phase text NOT NULL CHECK (phase IN ('FENCING', 'ACTIVE')),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- name: init_state
INSERT INTO jetbridge_fencing.state (id, deployment_id, epoch, target_side, phase)
VALUES (true, $1, 0, $2, 'ACTIVE') ON CONFLICT (id) DO NOTHING;

-- name: read_state
SELECT deployment_id, epoch, target_side, phase FROM jetbridge_fencing.state WHERE id;

-- name: lock_state
SELECT deployment_id, epoch, target_side, phase FROM jetbridge_fencing.state WHERE id
FOR UPDATE;

-- name: claim_epoch
UPDATE jetbridge_fencing.state
SET epoch = $1, target_side = $2, phase = 'FENCING', updated_at = clock_timestamp()
WHERE id;

-- name: mark_active
UPDATE jetbridge_fencing.state SET phase = 'ACTIVE', updated_at = clock_timestamp()
WHERE id AND epoch = $1 AND target_side = $2;

-- ------------------------------------------------------------------ DDL templates

-- name: create_group_role
CREATE ROLE {role} NOLOGIN;

-- name: create_login_role
CREATE ROLE {role} NOLOGIN PASSWORD {password} IN ROLE {data_role};

-- name: act_as_data_role
ALTER ROLE {role} SET role = {data_role_literal};

-- name: grant_role
GRANT {granted} TO {grantee};

-- name: nologin
ALTER ROLE {role} NOLOGIN;

-- name: login
ALTER ROLE {role} LOGIN;

-- name: create_database
CREATE DATABASE {database} OWNER {owner} ENCODING 'UTF8' TEMPLATE template0;

-- name: lock_down_database
REVOKE ALL ON DATABASE {database} FROM PUBLIC;

-- name: revoke_connect
REVOKE CONNECT ON DATABASE {database} FROM PUBLIC, {role};

-- name: grant_connect
GRANT CONNECT ON DATABASE {database} TO {role};

-- name: set_local_role
SET LOCAL ROLE {role};

-- name: grant_schema
GRANT USAGE, CREATE ON SCHEMA public TO {data_role};

-- name: state_schema
CREATE SCHEMA IF NOT EXISTS jetbridge_fencing AUTHORIZATION {owner};

-- name: drop_database
DROP DATABASE IF EXISTS {database} WITH (FORCE);

-- name: drop_role
DROP ROLE IF EXISTS {role};
