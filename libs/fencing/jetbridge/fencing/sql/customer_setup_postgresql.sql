-- Customer-managed users: run once per Deployment, as a role that may create roles
-- (for example your admin role), with psql:
--
--   psql "$ADMIN_DSN" -v ON_ERROR_STOP=1 \
--     -v owner_role=airflow_d1_owner -v data_role=airflow_d1_data \
--     -v terminator_role=airflow_d1_terminator \
--     -v login_a=airflow_d1_a -v password_a="$PASSWORD_A" \
--     -v login_b=airflow_d1_b -v password_b="$PASSWORD_B" \
--     -v jetbridge_role=jetbridge \
--     -f customer_setup_postgresql.sql
--
-- psql quotes every :"name" as an identifier and every :'value' as a literal.

-- Owns the Deployment's databases; Jetbridge creates them OWNER this role and
-- grants or revokes CONNECT through it.
CREATE ROLE :"owner_role" NOLOGIN;

-- Owns the Airflow tables. Both login roles act as it, so whatever one cluster's
-- Airflow created the other can use after a failover. It never gets CONNECT.
CREATE ROLE :"data_role" NOLOGIN;

-- Holds the privileges of both login roles, so that its members may end their
-- sessions (pg_terminate_backend) during fencing, and nothing else.
CREATE ROLE :"terminator_role" NOLOGIN;

-- One login role per data plane cluster. Both may log in: Jetbridge blocks the
-- inactive one with REVOKE CONNECT as soon as it provisions the databases.
CREATE ROLE :"login_a" LOGIN PASSWORD :'password_a' IN ROLE :"data_role";
CREATE ROLE :"login_b" LOGIN PASSWORD :'password_b' IN ROLE :"data_role";
ALTER ROLE :"login_a" SET role = :'data_role';
ALTER ROLE :"login_b" SET role = :'data_role';

GRANT :"login_a", :"login_b" TO :"terminator_role";
GRANT :"owner_role", :"terminator_role" TO :"jetbridge_role";
