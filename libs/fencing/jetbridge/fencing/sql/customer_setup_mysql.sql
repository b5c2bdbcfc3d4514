-- Customer-managed users on MySQL/MariaDB: run once per Deployment, as an account that
-- may create users, with the mysql client, the four values set first:
--
--   mysql -h "$HOST" -u admin -p \
--     --init-command="SET @login_a='airflow_d1_a', @password_a='...', @login_b='airflow_d1_b', @password_b='...'" \
--     < customer_setup_mysql.sql
--
-- QUOTE() makes each value a string literal, so names and passwords may hold quotes
-- (not with NO_BACKSLASH_ESCAPES in sql_mode: QUOTE escapes with backslashes).
--
-- One login account per data plane cluster, both able to log in. Jetbridge creates the
-- Deployment's databases and grants them to one account at a time: the other reaches
-- none of them, and fencing moves the grant (REVOKE, end the old side's sessions,
-- GRANT). Jetbridge's own account needs, once for all Deployments:
--   GRANT PROCESS, CONNECTION ADMIN ON *.* TO jetbridge;
--   GRANT ALL PRIVILEGES ON `airflow\_%`.* TO jetbridge WITH GRANT OPTION;
--   GRANT ALL PRIVILEGES ON jetbridge_fencing.* TO jetbridge;
-- and no CREATE USER. CONNECTION ADMIN cannot be scoped to these two accounts in
-- MySQL: it lets Jetbridge end any session that is not a SUPER one.

SET @create_a = CONCAT('CREATE USER ', QUOTE(@login_a), '@''%'' IDENTIFIED BY ', QUOTE(@password_a));
PREPARE create_a FROM @create_a;
EXECUTE create_a;
DEALLOCATE PREPARE create_a;

SET @create_b = CONCAT('CREATE USER ', QUOTE(@login_b), '@''%'' IDENTIFIED BY ', QUOTE(@password_b));
PREPARE create_b FROM @create_b;
EXECUTE create_b;
DEALLOCATE PREPARE create_b;
