-- Upserts of the read model: one statement per table and batch, columns as arrays.
-- Times travel as epoch milliseconds (the domain's unit) and become timestamptz here.

-- name: upsert_failover_requests
INSERT INTO "failover_requests" ("request_id", "status", "source_cluster_id",
    "destination_cluster_id", "mode", "requested_by", "cancel_requested_by", "requested_at",
    "started_at", "ended_at", "duration_ms", "exclude_ineligible", "halted",
    "drain_timeout_seconds", "max_attempts", "max_concurrent_missions", "halt_failure_ratio",
    "deployment_ids", "ineligible", "warnings", "rejections", "missions_total",
    "missions_waiting", "missions_running", "missions_succeeded", "missions_failed",
    "missions_cancelled", "cleanups_pending", "failed_missions", "version", "last_topic",
    "last_partition", "last_offset")
SELECT r.request_id, r.status, r.source_cluster_id, r.destination_cluster_id, r.mode,
    r.requested_by, r.cancel_requested_by, to_timestamp(r.requested_at / 1000.0),
    to_timestamp(r.started_at / 1000.0), to_timestamp(r.ended_at / 1000.0), r.duration_ms,
    r.exclude_ineligible, r.halted, r.drain_timeout_seconds, r.max_attempts,
    r.max_concurrent_missions, r.halt_failure_ratio, r.deployment_ids, r.ineligible, r.warnings,
    r.rejections, r.missions_total, r.missions_waiting, r.missions_running,
    r.missions_succeeded, r.missions_failed, r.missions_cancelled, r.cleanups_pending,
    r.failed_missions, r.version, r.last_topic, r.last_partition, r.last_offset
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::boolean[], $13::boolean[],
    $14::integer[], $15::integer[], $16::integer[], $17::float8[], $18::jsonb[], $19::jsonb[],
    $20::jsonb[], $21::jsonb[], $22::integer[], $23::integer[], $24::integer[], $25::integer[],
    $26::integer[], $27::integer[], $28::integer[], $29::jsonb[], $30::integer[], $31::text[],
    $32::integer[], $33::bigint[])
    AS r(request_id, status, source_cluster_id, destination_cluster_id, mode, requested_by,
    cancel_requested_by, requested_at, started_at, ended_at, duration_ms, exclude_ineligible,
    halted, drain_timeout_seconds, max_attempts, max_concurrent_missions, halt_failure_ratio,
    deployment_ids, ineligible, warnings, rejections, missions_total, missions_waiting,
    missions_running, missions_succeeded, missions_failed, missions_cancelled, cleanups_pending,
    failed_missions, version, last_topic, last_partition, last_offset)
ON CONFLICT ("request_id") DO UPDATE SET
    "status" = EXCLUDED."status",
    "source_cluster_id" = EXCLUDED."source_cluster_id",
    "destination_cluster_id" = EXCLUDED."destination_cluster_id",
    "mode" = EXCLUDED."mode",
    "requested_by" = EXCLUDED."requested_by",
    "cancel_requested_by" = EXCLUDED."cancel_requested_by",
    "requested_at" = EXCLUDED."requested_at",
    "started_at" = EXCLUDED."started_at",
    "ended_at" = EXCLUDED."ended_at",
    "duration_ms" = EXCLUDED."duration_ms",
    "exclude_ineligible" = EXCLUDED."exclude_ineligible",
    "halted" = EXCLUDED."halted",
    "drain_timeout_seconds" = EXCLUDED."drain_timeout_seconds",
    "max_attempts" = EXCLUDED."max_attempts",
    "max_concurrent_missions" = EXCLUDED."max_concurrent_missions",
    "halt_failure_ratio" = EXCLUDED."halt_failure_ratio",
    "deployment_ids" = EXCLUDED."deployment_ids",
    "ineligible" = EXCLUDED."ineligible",
    "warnings" = EXCLUDED."warnings",
    "rejections" = EXCLUDED."rejections",
    "missions_total" = EXCLUDED."missions_total",
    "missions_waiting" = EXCLUDED."missions_waiting",
    "missions_running" = EXCLUDED."missions_running",
    "missions_succeeded" = EXCLUDED."missions_succeeded",
    "missions_failed" = EXCLUDED."missions_failed",
    "missions_cancelled" = EXCLUDED."missions_cancelled",
    "cleanups_pending" = EXCLUDED."cleanups_pending",
    "failed_missions" = EXCLUDED."failed_missions",
    "version" = EXCLUDED."version",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: upsert_missions
INSERT INTO "missions" ("mission_id", "request_id", "deployment_id", "source_cluster_id",
    "destination_cluster_id", "mode", "priority", "fencing_epoch", "status", "cleanup",
    "created_at", "started_at", "ended_at", "duration_ms", "reason_code", "reason",
    "fenced_when_failed", "tasks_still_running_after_drain", "source_flight_id",
    "destination_flight_id", "steps_total", "steps_succeeded", "version", "last_topic",
    "last_partition", "last_offset")
SELECT r.mission_id, r.request_id, r.deployment_id, r.source_cluster_id,
    r.destination_cluster_id, r.mode, r.priority, r.fencing_epoch, r.status, r.cleanup,
    to_timestamp(r.created_at / 1000.0), to_timestamp(r.started_at / 1000.0),
    to_timestamp(r.ended_at / 1000.0), r.duration_ms, r.reason_code, r.reason,
    r.fenced_when_failed, r.tasks_still_running_after_drain, r.source_flight_id,
    r.destination_flight_id, r.steps_total, r.steps_succeeded, r.version, r.last_topic,
    r.last_partition, r.last_offset
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[],
    $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::boolean[], $18::integer[],
    $19::text[], $20::text[], $21::integer[], $22::integer[], $23::integer[], $24::text[],
    $25::integer[], $26::bigint[])
    AS r(mission_id, request_id, deployment_id, source_cluster_id, destination_cluster_id, mode,
    priority, fencing_epoch, status, cleanup, created_at, started_at, ended_at, duration_ms,
    reason_code, reason, fenced_when_failed, tasks_still_running_after_drain, source_flight_id,
    destination_flight_id, steps_total, steps_succeeded, version, last_topic, last_partition,
    last_offset)
ON CONFLICT ("mission_id") DO UPDATE SET
    "request_id" = EXCLUDED."request_id",
    "deployment_id" = EXCLUDED."deployment_id",
    "source_cluster_id" = EXCLUDED."source_cluster_id",
    "destination_cluster_id" = EXCLUDED."destination_cluster_id",
    "mode" = EXCLUDED."mode",
    "priority" = EXCLUDED."priority",
    "fencing_epoch" = EXCLUDED."fencing_epoch",
    "status" = EXCLUDED."status",
    "cleanup" = EXCLUDED."cleanup",
    "created_at" = EXCLUDED."created_at",
    "started_at" = EXCLUDED."started_at",
    "ended_at" = EXCLUDED."ended_at",
    "duration_ms" = EXCLUDED."duration_ms",
    "reason_code" = EXCLUDED."reason_code",
    "reason" = EXCLUDED."reason",
    "fenced_when_failed" = EXCLUDED."fenced_when_failed",
    "tasks_still_running_after_drain" = EXCLUDED."tasks_still_running_after_drain",
    "source_flight_id" = EXCLUDED."source_flight_id",
    "destination_flight_id" = EXCLUDED."destination_flight_id",
    "steps_total" = EXCLUDED."steps_total",
    "steps_succeeded" = EXCLUDED."steps_succeeded",
    "version" = EXCLUDED."version",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: upsert_flights
INSERT INTO "flights" ("flight_id", "mission_id", "request_id", "deployment_id", "kind",
    "cluster_id", "mode", "status", "fencing_epoch", "fenced_epoch", "current_step",
    "current_step_status", "steps_total", "steps_succeeded", "planned_at", "dispatched_at",
    "last_progress_at", "ended_at", "tasks_still_running_after_drain", "failure_step",
    "failure_code", "failure_reason", "ignored_outcomes", "version", "last_topic",
    "last_partition", "last_offset")
SELECT r.flight_id, r.mission_id, r.request_id, r.deployment_id, r.kind, r.cluster_id, r.mode,
    r.status, r.fencing_epoch, r.fenced_epoch, r.current_step, r.current_step_status,
    r.steps_total, r.steps_succeeded, to_timestamp(r.planned_at / 1000.0),
    to_timestamp(r.dispatched_at / 1000.0), to_timestamp(r.last_progress_at / 1000.0),
    to_timestamp(r.ended_at / 1000.0), r.tasks_still_running_after_drain, r.failure_step,
    r.failure_code, r.failure_reason, r.ignored_outcomes, r.version, r.last_topic,
    r.last_partition, r.last_offset
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::integer[],
    $14::integer[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::integer[],
    $20::text[], $21::text[], $22::text[], $23::integer[], $24::integer[], $25::text[],
    $26::integer[], $27::bigint[])
    AS r(flight_id, mission_id, request_id, deployment_id, kind, cluster_id, mode, status,
    fencing_epoch, fenced_epoch, current_step, current_step_status, steps_total,
    steps_succeeded, planned_at, dispatched_at, last_progress_at, ended_at,
    tasks_still_running_after_drain, failure_step, failure_code, failure_reason,
    ignored_outcomes, version, last_topic, last_partition, last_offset)
ON CONFLICT ("flight_id") DO UPDATE SET
    "mission_id" = EXCLUDED."mission_id",
    "request_id" = EXCLUDED."request_id",
    "deployment_id" = EXCLUDED."deployment_id",
    "kind" = EXCLUDED."kind",
    "cluster_id" = EXCLUDED."cluster_id",
    "mode" = EXCLUDED."mode",
    "status" = EXCLUDED."status",
    "fencing_epoch" = EXCLUDED."fencing_epoch",
    "fenced_epoch" = EXCLUDED."fenced_epoch",
    "current_step" = EXCLUDED."current_step",
    "current_step_status" = EXCLUDED."current_step_status",
    "steps_total" = EXCLUDED."steps_total",
    "steps_succeeded" = EXCLUDED."steps_succeeded",
    "planned_at" = EXCLUDED."planned_at",
    "dispatched_at" = EXCLUDED."dispatched_at",
    "last_progress_at" = EXCLUDED."last_progress_at",
    "ended_at" = EXCLUDED."ended_at",
    "tasks_still_running_after_drain" = EXCLUDED."tasks_still_running_after_drain",
    "failure_step" = EXCLUDED."failure_step",
    "failure_code" = EXCLUDED."failure_code",
    "failure_reason" = EXCLUDED."failure_reason",
    "ignored_outcomes" = EXCLUDED."ignored_outcomes",
    "version" = EXCLUDED."version",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: upsert_flight_steps
INSERT INTO "flight_steps" ("flight_id", "position", "step", "status", "attempts",
    "failures", "deadline_seconds", "not_before", "started_at", "ended_at", "error_code",
    "error", "transient", "last_topic", "last_partition", "last_offset")
SELECT r.flight_id, r.position, r.step, r.status, r.attempts, r.failures, r.deadline_seconds,
    to_timestamp(r.not_before / 1000.0), to_timestamp(r.started_at / 1000.0),
    to_timestamp(r.ended_at / 1000.0), r.error_code, r.error, r.transient, r.last_topic,
    r.last_partition, r.last_offset
FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::integer[], $6::integer[],
    $7::integer[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[],
    $13::boolean[], $14::text[], $15::integer[], $16::bigint[])
    AS r(flight_id, position, step, status, attempts, failures, deadline_seconds, not_before,
    started_at, ended_at, error_code, error, transient, last_topic, last_partition, last_offset)
ON CONFLICT ("flight_id", "position") DO UPDATE SET
    "step" = EXCLUDED."step",
    "status" = EXCLUDED."status",
    "attempts" = EXCLUDED."attempts",
    "failures" = EXCLUDED."failures",
    "deadline_seconds" = EXCLUDED."deadline_seconds",
    "not_before" = EXCLUDED."not_before",
    "started_at" = EXCLUDED."started_at",
    "ended_at" = EXCLUDED."ended_at",
    "error_code" = EXCLUDED."error_code",
    "error" = EXCLUDED."error",
    "transient" = EXCLUDED."transient",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: upsert_clusters
INSERT INTO "clusters" ("cluster_id", "name", "registration", "health", "failover",
    "registered_at", "failover_enabled_at", "failover_enabled_by", "facts_observed_at",
    "jetbridge_version", "plane_mode", "external_secrets_enabled",
    "external_secret_manager_name", "cluster_secret_store_valid",
    "cluster_secret_store_authenticated", "log_sink_configured", "database_endpoint_status",
    "reported_deployment_ids", "deployments_before_failover", "version", "last_topic",
    "last_partition", "last_offset")
SELECT r.cluster_id, r.name, r.registration, r.health, r.failover, to_timestamp(r.registered_at
    / 1000.0), to_timestamp(r.failover_enabled_at / 1000.0), r.failover_enabled_by,
    to_timestamp(r.facts_observed_at / 1000.0), r.jetbridge_version, r.plane_mode,
    r.external_secrets_enabled, r.external_secret_manager_name, r.cluster_secret_store_valid,
    r.cluster_secret_store_authenticated, r.log_sink_configured, r.database_endpoint_status,
    r.reported_deployment_ids, r.deployments_before_failover, r.version, r.last_topic,
    r.last_partition, r.last_offset
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
    $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::boolean[],
    $13::text[], $14::boolean[], $15::boolean[], $16::boolean[], $17::text[], $18::jsonb[],
    $19::jsonb[], $20::integer[], $21::text[], $22::integer[], $23::bigint[])
    AS r(cluster_id, name, registration, health, failover, registered_at, failover_enabled_at,
    failover_enabled_by, facts_observed_at, jetbridge_version, plane_mode,
    external_secrets_enabled, external_secret_manager_name, cluster_secret_store_valid,
    cluster_secret_store_authenticated, log_sink_configured, database_endpoint_status,
    reported_deployment_ids, deployments_before_failover, version, last_topic, last_partition,
    last_offset)
ON CONFLICT ("cluster_id") DO UPDATE SET
    "name" = EXCLUDED."name",
    "registration" = EXCLUDED."registration",
    "health" = EXCLUDED."health",
    "failover" = EXCLUDED."failover",
    "registered_at" = EXCLUDED."registered_at",
    "failover_enabled_at" = EXCLUDED."failover_enabled_at",
    "failover_enabled_by" = EXCLUDED."failover_enabled_by",
    "facts_observed_at" = EXCLUDED."facts_observed_at",
    "jetbridge_version" = EXCLUDED."jetbridge_version",
    "plane_mode" = EXCLUDED."plane_mode",
    "external_secrets_enabled" = EXCLUDED."external_secrets_enabled",
    "external_secret_manager_name" = EXCLUDED."external_secret_manager_name",
    "cluster_secret_store_valid" = EXCLUDED."cluster_secret_store_valid",
    "cluster_secret_store_authenticated" = EXCLUDED."cluster_secret_store_authenticated",
    "log_sink_configured" = EXCLUDED."log_sink_configured",
    "database_endpoint_status" = EXCLUDED."database_endpoint_status",
    "reported_deployment_ids" = EXCLUDED."reported_deployment_ids",
    "deployments_before_failover" = EXCLUDED."deployments_before_failover",
    "version" = EXCLUDED."version",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: upsert_deployments
INSERT INTO "deployments" ("deployment_id", "name", "status", "cluster_id", "origin_cluster_id",
    "deploy_mechanism", "image", "priority", "created_at", "fencing_epoch", "writer_cluster_id",
    "version", "last_topic", "last_partition", "last_offset")
SELECT r.deployment_id, r.name, r.status, r.cluster_id, r.origin_cluster_id, r.deploy_mechanism,
    r.image, r.priority, to_timestamp(r.created_at / 1000.0), r.fencing_epoch,
    r.writer_cluster_id, r.version, r.last_topic, r.last_partition, r.last_offset
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::integer[], $13::text[],
    $14::integer[], $15::bigint[])
    AS r(deployment_id, name, status, cluster_id, origin_cluster_id, deploy_mechanism, image,
    priority, created_at, fencing_epoch, writer_cluster_id, version, last_topic, last_partition,
    last_offset)
ON CONFLICT ("deployment_id") DO UPDATE SET
    "name" = EXCLUDED."name",
    "status" = EXCLUDED."status",
    "cluster_id" = EXCLUDED."cluster_id",
    "origin_cluster_id" = EXCLUDED."origin_cluster_id",
    "deploy_mechanism" = EXCLUDED."deploy_mechanism",
    "image" = EXCLUDED."image",
    "priority" = EXCLUDED."priority",
    "created_at" = EXCLUDED."created_at",
    "fencing_epoch" = EXCLUDED."fencing_epoch",
    "writer_cluster_id" = EXCLUDED."writer_cluster_id",
    "version" = EXCLUDED."version",
    "last_topic" = EXCLUDED."last_topic",
    "last_partition" = EXCLUDED."last_partition",
    "last_offset" = EXCLUDED."last_offset";

-- name: save_positions
INSERT INTO "projection_positions" ("topic", "partition", "next_offset")
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
ON CONFLICT ("topic", "partition") DO UPDATE SET "next_offset" = EXCLUDED."next_offset";

-- name: positions
SELECT "topic", "partition", "next_offset" FROM "projection_positions";

-- name: has_rows
SELECT EXISTS (SELECT 1 FROM "projection_positions")
    OR EXISTS (SELECT 1 FROM "failover_requests")
    OR EXISTS (SELECT 1 FROM "clusters")
    OR EXISTS (SELECT 1 FROM "deployments");

-- Ordered rows hashed, table by table: two read models are equal when these are.
-- name: checksums
SELECT 'failover_requests' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."request_id" COLLATE "C")), '') AS "md5"
FROM "failover_requests" t
UNION ALL
SELECT 'missions' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."mission_id" COLLATE "C")), '') AS "md5"
FROM "missions" t
UNION ALL
SELECT 'flights' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."flight_id" COLLATE "C")), '') AS "md5"
FROM "flights" t
UNION ALL
SELECT 'flight_steps' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."flight_id" COLLATE "C",
    t."position")), '') AS "md5"
FROM "flight_steps" t
UNION ALL
SELECT 'clusters' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."cluster_id" COLLATE "C")), '') AS "md5"
FROM "clusters" t
UNION ALL
SELECT 'deployments' AS "table", count(*) AS "rows",
       coalesce(md5(string_agg(md5(t::text), '' ORDER BY t."deployment_id" COLLATE "C")), '') AS
    "md5"
FROM "deployments" t;

-- What a console shows for one request: its state, progress counts and timings.
-- name: request_progress
SELECT "request_id", "status", "mode", "requested_by", "requested_at", "started_at",
       "ended_at", "duration_ms", "missions_total", "missions_waiting", "missions_running",
       "missions_succeeded", "missions_failed", "missions_cancelled", "cleanups_pending",
       "failed_missions", "last_topic", "last_partition", "last_offset"
FROM "failover_requests" WHERE "request_id" = $1;
