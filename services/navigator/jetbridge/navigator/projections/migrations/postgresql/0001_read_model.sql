-- The Navigator's read model: what a console shows about every failover, folded from
-- the ledger (jetbridge.failover.events) by the domain's own aggregates. Disposable:
-- `python -m jetbridge.navigator.projections rebuild` recreates it from the ledger.
-- Every row carries the ledger position (topic, partition, offset) of the last event
-- of ITS aggregate that was applied; derived columns (progress counts) follow the
-- aggregates they count.

CREATE TABLE IF NOT EXISTS "failover_requests" (
    "request_id"              text PRIMARY KEY,
    "status"                  text NOT NULL,
    "source_cluster_id"       text NOT NULL,
    "destination_cluster_id"  text NOT NULL,
    "mode"                    text NOT NULL,
    "requested_by"            text NOT NULL,
    "cancel_requested_by"     text,
    "requested_at"            timestamptz NOT NULL,
    "started_at"              timestamptz,
    "ended_at"                timestamptz,
    "duration_ms"             bigint,
    "exclude_ineligible"      boolean NOT NULL,
    "halted"                  boolean NOT NULL,
    "drain_timeout_seconds"   integer NOT NULL,
    "max_attempts"            integer NOT NULL,
    "max_concurrent_missions" integer NOT NULL,
    "halt_failure_ratio"      double precision NOT NULL,
    "deployment_ids"          jsonb NOT NULL,
    "ineligible"              jsonb NOT NULL,  -- [{deployment_id, code, message}]
    "warnings"                jsonb NOT NULL,  -- [{code, subject, message}]
    "rejections"              jsonb NOT NULL,  -- [{code, subject, message}]
    "missions_total"          integer NOT NULL,
    "missions_waiting"        integer NOT NULL,
    "missions_running"        integer NOT NULL,
    "missions_succeeded"      integer NOT NULL,
    "missions_failed"         integer NOT NULL,
    "missions_cancelled"      integer NOT NULL,
    "cleanups_pending"        integer NOT NULL,
    "failed_missions"         jsonb NOT NULL,  -- [{mission_id, reason}]
    "version"                 integer NOT NULL,
    "last_topic"              text NOT NULL,
    "last_partition"          integer NOT NULL,
    "last_offset"             bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS "failover_requests_by_status" ON "failover_requests" ("status");
CREATE INDEX IF NOT EXISTS "failover_requests_by_time" ON "failover_requests" ("requested_at");

CREATE TABLE IF NOT EXISTS "missions" (
    "mission_id"                       text PRIMARY KEY,
    "request_id"                       text NOT NULL,
    "deployment_id"                    text NOT NULL,
    "source_cluster_id"                text NOT NULL,
    "destination_cluster_id"           text NOT NULL,
    "mode"                             text NOT NULL,
    "priority"                         integer NOT NULL,
    "fencing_epoch"                    bigint NOT NULL,
    "status"                           text NOT NULL,
    "cleanup"                          text NOT NULL,
    "created_at"                       timestamptz NOT NULL,
    "started_at"                       timestamptz,
    "ended_at"                         timestamptz,
    "duration_ms"                      bigint,
    "reason_code"                      text NOT NULL,
    "reason"                           text NOT NULL,
    "fenced_when_failed"               boolean,
    "tasks_still_running_after_drain"  integer,
    "source_flight_id"                 text NOT NULL,
    "destination_flight_id"            text NOT NULL,
    "steps_total"                      integer NOT NULL,
    "steps_succeeded"                  integer NOT NULL,
    "version"                          integer NOT NULL,
    "last_topic"                       text NOT NULL,
    "last_partition"                   integer NOT NULL,
    "last_offset"                      bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS "missions_by_request" ON "missions" ("request_id");
CREATE INDEX IF NOT EXISTS "missions_by_deployment" ON "missions" ("deployment_id");

CREATE TABLE IF NOT EXISTS "flights" (
    "flight_id"                        text PRIMARY KEY,
    "mission_id"                       text NOT NULL,
    "request_id"                       text NOT NULL,
    "deployment_id"                    text NOT NULL,
    "kind"                             text NOT NULL,
    "cluster_id"                       text NOT NULL,
    "mode"                             text NOT NULL,
    "status"                           text NOT NULL,
    "fencing_epoch"                    bigint NOT NULL,
    "fenced_epoch"                     bigint,
    "current_step"                     text,
    "current_step_status"              text,
    "steps_total"                      integer NOT NULL,
    "steps_succeeded"                  integer NOT NULL,
    "planned_at"                       timestamptz NOT NULL,
    "dispatched_at"                    timestamptz,
    "last_progress_at"                 timestamptz NOT NULL,
    "ended_at"                         timestamptz,
    "tasks_still_running_after_drain"  integer,
    "failure_step"                     text,
    "failure_code"                     text,
    "failure_reason"                   text,
    "ignored_outcomes"                 integer NOT NULL,
    "version"                          integer NOT NULL,
    "last_topic"                       text NOT NULL,
    "last_partition"                   integer NOT NULL,
    "last_offset"                      bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS "flights_by_mission" ON "flights" ("mission_id");

CREATE TABLE IF NOT EXISTS "flight_steps" (
    "flight_id"         text NOT NULL,
    "position"          integer NOT NULL,
    "step"              text NOT NULL,
    "status"            text NOT NULL,
    "attempts"          integer NOT NULL,
    "deadline_seconds"  integer NOT NULL,
    "not_before"        timestamptz,
    "started_at"        timestamptz,
    "ended_at"          timestamptz,
    "error_code"        text NOT NULL,
    "error"             text NOT NULL,
    "transient"         boolean NOT NULL,
    "last_topic"        text NOT NULL,
    "last_partition"    integer NOT NULL,
    "last_offset"       bigint NOT NULL,
    PRIMARY KEY ("flight_id", "position")
);

CREATE TABLE IF NOT EXISTS "clusters" (
    "cluster_id"                          text PRIMARY KEY,
    "name"                                text NOT NULL,
    "registration"                        text NOT NULL,
    "health"                              text NOT NULL,
    "failover"                            text NOT NULL,
    "registered_at"                       timestamptz,
    "failover_enabled_at"                 timestamptz,
    "failover_enabled_by"                 text,
    "facts_observed_at"                   timestamptz,
    "jetbridge_version"                   text NOT NULL,
    "plane_mode"                          text NOT NULL,
    "external_secrets_enabled"            boolean NOT NULL,
    "external_secret_manager_name"        text,
    "cluster_secret_store_valid"          boolean NOT NULL,
    "cluster_secret_store_authenticated"  boolean NOT NULL,
    "log_sink_configured"                 boolean NOT NULL,
    "database_endpoint_status"            text NOT NULL,
    "reported_deployment_ids"             jsonb NOT NULL,
    "deployments_before_failover"         jsonb NOT NULL,
    "version"                             integer NOT NULL,
    "last_topic"                          text NOT NULL,
    "last_partition"                      integer NOT NULL,
    "last_offset"                         bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS "deployments" (
    "deployment_id"      text PRIMARY KEY,
    "name"               text NOT NULL,
    "status"             text NOT NULL,
    "cluster_id"         text NOT NULL,
    "origin_cluster_id"  text NOT NULL,
    "deploy_mechanism"   text NOT NULL,
    "image"              text NOT NULL,
    "priority"           integer NOT NULL,
    "created_at"         timestamptz NOT NULL,
    "fencing_epoch"      bigint NOT NULL,
    "writer_cluster_id"  text NOT NULL,
    "version"            integer NOT NULL,
    "last_topic"         text NOT NULL,
    "last_partition"     integer NOT NULL,
    "last_offset"        bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS "deployments_by_cluster" ON "deployments" ("cluster_id");

-- Where each ledger partition continues; written in the same transaction as the rows
-- its events changed, so every event is applied effectively once.
CREATE TABLE IF NOT EXISTS "projection_positions" (
    "topic"        text NOT NULL,
    "partition"    integer NOT NULL,
    "next_offset"  bigint NOT NULL,
    PRIMARY KEY ("topic", "partition")
);
