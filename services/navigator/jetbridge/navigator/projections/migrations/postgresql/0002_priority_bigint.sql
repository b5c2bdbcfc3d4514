-- A Deployment's priority is an Avro long (DeploymentCreated, set by whoever creates the
-- Deployment, outside Jetbridge's services), but was stored as integer: a priority of
-- 2^31 or more failed the projector's whole batch, and the projector, restarting on
-- the same batch, froze the read model. Read-model tables only (disposable).

ALTER TABLE "deployments" ALTER COLUMN "priority" TYPE bigint;
ALTER TABLE "missions" ALTER COLUMN "priority" TYPE bigint;
