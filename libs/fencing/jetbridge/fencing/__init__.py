"""Per-Deployment database roles: provisioning and fencing (PostgreSQL, MySQL/MariaDB)."""
