-- Fencing on PostgreSQL. Static queries take bind parameters ($1, ...); DDL blocks
-- hold {placeholders} that jetbridge.fencing.quoting.render fills with QUOTED names and
-- literals. A fence's writes are such templates too, even the UPDATEs: each transaction
-- sends them with its COMMIT as one multi-statement query (one round trip), and a
-- multi-statement query takes no bind parameters.

-- name: whoami
SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb,
       current_setting('server_version_num')::int AS server_version
FROM pg_roles WHERE rolname = current_user;

-- name: read_only
-- A standby (a replica not yet promoted) or a server or role that defaults to
-- read-only transactions: no fence could write its epoch, no Airflow could run.
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('transaction_read_only') = 'on' AS read_only;

-- name: roles
SELECT rolname, oid, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = ANY($1::text[]);

-- name: my_membership
SELECT pg_has_role(current_user, $1::text, 'MEMBER') AS member,
       pg_has_role(current_user, $1::text, 'USAGE') AS inherits;

-- A fence's (and a provisioning's) lookups in ONE round trip (they were five): a row per
-- role of $1 that exists and per database of $2 that exists. For a role: its oid,
-- whether it is a superuser, whether it is granted to the current user DIRECTLY with
-- INHERIT (enough for pg_has_role(current_user, role, 'USAGE'), and cheap; roles not
-- so granted get the exact check, my_membership), and, for the login roles $4, whether
-- the terminator role $3 has their privileges (NULL when $3 does not exist).
-- Why "directly": pg_has_role computes every role the current user is a member of
-- (two per Deployment for Jetbridge's role); on PostgreSQL 15 that costs
-- O(memberships^2) after any role change on the server, 0.2 s with 1,000 Deployments.
-- The grant is looked up per role, in a scalar subquery that the planner cannot turn
-- into a join: as a join, the generic plan of this prepared statement (stale catalog
-- statistics: 13 roles where there were 5,000) read all of our memberships and probed
-- pg_authid for each, 2.2 ms with 1,000 Deployments against 0.05 ms this way.
-- PostgreSQL 16+: INHERIT is an option of each grant, and one role may be granted to
-- us more than once (by different grantors).
-- name: preflight
SELECT 'role' AS kind, r.rolname AS name, r.oid, r.rolsuper,
       COALESCE((SELECT bool_or(m.inherit_option) FROM pg_auth_members m
                 WHERE m.roleid = r.oid
                   AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)),
                false) AS direct,
       CASE WHEN r.rolname = ANY($4::text[])
                 AND EXISTS (SELECT FROM pg_roles WHERE rolname = $3::text)
            THEN pg_has_role($3::text, r.rolname, 'USAGE') END AS terminator_has
FROM pg_roles r WHERE r.rolname = ANY($1::text[])
UNION ALL
SELECT 'database', d.datname, d.oid, NULL, NULL, NULL
FROM pg_database d WHERE d.datname = ANY($2::text[]);

-- PostgreSQL 15: INHERIT is an attribute of the member role.
-- name: preflight_pg15
SELECT 'role' AS kind, r.rolname AS name, r.oid, r.rolsuper,
       (SELECT count(*) FROM pg_auth_members m
        WHERE m.roleid = r.oid
          AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user AND rolinherit))
       > 0 AS direct,
       CASE WHEN r.rolname = ANY($4::text[])
                 AND EXISTS (SELECT FROM pg_roles WHERE rolname = $3::text)
            THEN pg_has_role($3::text, r.rolname, 'USAGE') END AS terminator_has
FROM pg_roles r WHERE r.rolname = ANY($1::text[])
UNION ALL
SELECT 'database', d.datname, d.oid, NULL, NULL, NULL
FROM pg_database d WHERE d.datname = ANY($2::text[]);

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

-- The same backend status array as pg_stat_activity (pid and role are shown to anyone
-- there too), without its per-row check whether we may see each session's details: that
-- check computes our role memberships again after every role change on the server.
-- name: role_sessions
SELECT pg_stat_get_backend_pid(id) AS pid FROM pg_stat_get_backend_idset() AS id
WHERE pg_stat_get_backend_userid(id) = $1::oid AND pg_stat_get_backend_pid(id) <> pg_backend_pid();

-- name: terminate
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int
FROM unnest($1::int[]) AS t(pid);

-- The local layout (provisioned before 2026-12-03): nothing creates it any more; the
-- tests recreate it with this and state_schema to fence such Deployments.
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
SET epoch = {epoch}, target_side = {side}, phase = 'FENCING', updated_at = clock_timestamp()
WHERE id;

-- name: mark_active
UPDATE jetbridge_fencing.state SET phase = 'ACTIVE', updated_at = clock_timestamp()
WHERE id AND epoch = {epoch} AND target_side = {side};

-- ------------------------------------------------- the fence's fast path (provisioned)
--
-- Every privilege Jetbridge's role uses through its membership in the owner role makes
-- PostgreSQL compute the set of roles Jetbridge's role is a member of. With N
-- Deployments that set has ~5N roles, every role or database ACL change on the server
-- throws it away in every backend, and on PostgreSQL 15 computing it is O(N^2): about
-- 0.2 s at N = 1,000 on an idle core, and a fence needed eight of them. So provisioning
-- gives Jetbridge's own role DIRECT grants on what a fence touches (CONNECT, the schema,
-- the state table), and CONNECT is granted and revoked by two SECURITY DEFINER
-- functions owned by the owner role (as the database owner, REVOKE/GRANT need no
-- membership lookup). They do only what a member of the owner role may do anyway, and
-- check that their caller still is one (a direct grant: cheap; else pg_has_role).
-- name: fence_helpers
SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'jetbridge_fencing' AND p.proname IN ('revoke_connect', 'grant_connect');

-- The helpers live in {schema}: ``jetbridge_fencing`` in the Deployment's own database
-- (local layout) or, in the state database, the schema named after the owner role.
-- Each is one line of SQL over ``jetbridge_fencing.set_connect``, which does the work:
-- one function per database (the state database's, shared by every Deployment there;
-- a local layout's, its Deployment's own), so its plpgsql body is compiled and its
-- membership query planned once per session. Per-Deployment plpgsql helpers were
-- compiled and planned cold on almost every fence (a pooled session seldom meets the
-- same Deployment twice): docs/database-fencing.md, "The helpers, compiled once".

-- Grants or revokes CONNECT on $1's databases to or from role $2, as the CALLER
-- (SECURITY INVOKER: it adds no right of its own), and only if the session's user is
-- a member of the current user: inside a helper, of the owner role whose rights the
-- helper runs with. A direct grant is looked up first (cheap); else pg_has_role, which
-- computes every role the session's user is a member of.
-- name: create_connect_function
CREATE OR REPLACE FUNCTION {schema}.set_connect(databases text[], role text, allow boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    db text;
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_auth_members
        WHERE roleid = quote_ident(current_user)::regrole
          AND member = quote_ident(session_user)::regrole
    ) AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied: % is not a member of %',
            session_user, current_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOREACH db IN ARRAY databases LOOP
        IF allow THEN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', db, role);
        ELSE
            EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC, %I', db, role);
        END IF;
    END LOOP;
END
$fn$;

-- The state database's copy belongs to Jetbridge's role and runs as its caller: every
-- owner role's helpers may call it. (No login role may connect to that database.)
-- name: share_connect_function
GRANT USAGE ON SCHEMA jetbridge_fencing TO PUBLIC;
GRANT EXECUTE ON FUNCTION jetbridge_fencing.set_connect(text[], text, boolean) TO PUBLIC;

-- name: create_revoke_helper
CREATE OR REPLACE FUNCTION {schema}.revoke_connect(databases text[], role text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT jetbridge_fencing.set_connect(databases, role, false) $fn$;

-- name: create_grant_helper
CREATE OR REPLACE FUNCTION {schema}.grant_connect(databases text[], role text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT jetbridge_fencing.set_connect(databases, role, true) $fn$;

-- What helpers provisioned before 2026-12-03 20:00 called (replaced by set_connect).
-- name: drop_member_check
DROP FUNCTION IF EXISTS {schema}.require_caller_member();

-- Run as the owner role (SET LOCAL ROLE), so SESSION_USER is Jetbridge's role.
-- name: grant_helpers
REVOKE ALL ON FUNCTION {schema}.revoke_connect(text[], text),
    {schema}.grant_connect(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {schema}.revoke_connect(text[], text),
    {schema}.grant_connect(text[], text) TO SESSION_USER;

-- Local layout only: the schema (the owner role's) and the epoch row in the
-- Deployment's database, as the owner role.
-- name: grant_state
GRANT USAGE ON SCHEMA jetbridge_fencing TO SESSION_USER;
GRANT SELECT, UPDATE ON jetbridge_fencing.state TO SESSION_USER;

-- name: call_revoke_helper
SELECT {schema}.revoke_connect({databases}, {role});

-- name: call_grant_helper
SELECT {schema}.grant_connect({databases}, {role});

-- ------------------------------------------------ the state database (central layout)
--
-- Deployments provisioned from 2026-12-03 on keep their epoch row in ONE database per
-- server that Jetbridge's role owns (default ``jetbridge_fencing``; login roles are
-- never granted CONNECT), next to their helpers (a schema per owner role). A fence then
-- runs on a pooled, warm connection instead of opening a new backend in the
-- Deployment's database: docs/database-fencing.md, "Where the epoch lives".

-- name: state_database_exists
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1);

-- name: create_state_database
CREATE DATABASE {database} ENCODING 'UTF8' TEMPLATE template0;

-- Serialises the first setup of the state database's own schema between fencers.
-- name: state_setup_lock
SELECT pg_advisory_xact_lock(hashtext('jetbridge_fencing.setup'));

-- name: epochs_schema
CREATE SCHEMA IF NOT EXISTS jetbridge_fencing;

-- name: epochs_table
CREATE TABLE IF NOT EXISTS jetbridge_fencing.epochs (
    deployment_id text PRIMARY KEY,
    epoch bigint NOT NULL CHECK (epoch >= 0),
    target_side text NOT NULL CHECK (target_side IN ('A', 'B')),
    phase text NOT NULL CHECK (phase IN ('FENCING', 'ACTIVE')),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- name: epochs_init
INSERT INTO jetbridge_fencing.epochs (deployment_id, epoch, target_side, phase)
VALUES ($1, 0, $2, 'ACTIVE') ON CONFLICT (deployment_id) DO NOTHING;

-- name: epochs_read
SELECT deployment_id, epoch, target_side, phase FROM jetbridge_fencing.epochs
WHERE deployment_id = $1;

-- name: epochs_lock
SELECT deployment_id, epoch, target_side, phase FROM jetbridge_fencing.epochs
WHERE deployment_id = $1 FOR UPDATE;

-- name: epochs_claim
UPDATE jetbridge_fencing.epochs
SET epoch = {epoch}, target_side = {side}, phase = 'FENCING', updated_at = clock_timestamp()
WHERE deployment_id = {deployment};

-- name: epochs_mark_active
UPDATE jetbridge_fencing.epochs SET phase = 'ACTIVE', updated_at = clock_timestamp()
WHERE deployment_id = {deployment} AND epoch = {epoch} AND target_side = {side};

-- name: epochs_forget
DELETE FROM jetbridge_fencing.epochs WHERE deployment_id = $1;

-- Jetbridge's own schema, where the owner role may create its helpers: no
-- AUTHORIZATION, whose membership check would cost as much as the SET ROLE after it.
-- name: helper_schema
CREATE SCHEMA IF NOT EXISTS {schema};
GRANT USAGE, CREATE ON SCHEMA {schema} TO {owner};

-- name: drop_helper_schema
DROP SCHEMA IF EXISTS {schema} CASCADE;

-- Does the Deployment's own database hold an epoch row (local layout)?
-- name: local_state_exists
SELECT to_regclass('jetbridge_fencing.state') IS NOT NULL;

-- ------------------------------------------------------------------ DDL templates

-- name: create_group_role
CREATE ROLE {role} NOLOGIN;

-- {password} is a SCRAM-SHA-256 verifier made by the client (jetbridge.fencing.scram),
-- never the password itself: the statement's text may end up in the server's logs.
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

-- name: grant_connect_fencer
GRANT CONNECT ON DATABASE {database} TO SESSION_USER;

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
