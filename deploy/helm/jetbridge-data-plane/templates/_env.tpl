{{/* Data-plane env, exactly the names the settings classes read. */}}

{{- define "dp.clusterId" -}}
{{- $id := required "cluster.id is required (this data plane's cluster id, a DNS label)" .Values.cluster.id -}}
{{- if not (regexMatch "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" $id) -}}
{{- fail (printf "cluster.id %q must be a DNS label (a-z, 0-9, -)" $id) -}}
{{- end -}}
{{- $id -}}
{{- end -}}

{{- define "dp.agent.env" -}}
- name: JETBRIDGE_AGENT_CLUSTER_ID
  value: {{ include "dp.clusterId" . | quote }}
- name: JETBRIDGE_AGENT_LISTEN
  value: {{ printf "0.0.0.0:%d" (int .Values.agent.port) | quote }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_AGENT_FLIGHTDECK_DSN" "ref" .Values.flightdeck) }}
- name: JETBRIDGE_AGENT_TLS_DIR
  value: /etc/jetbridge/tls
- name: JETBRIDGE_AGENT_HEARTBEAT_INTERVAL_S
  value: {{ .Values.agent.heartbeatIntervalS | quote }}
- name: JETBRIDGE_AGENT_LOG_LEVEL
  value: {{ .Values.agent.logLevel | quote }}
{{- /* The Pilot's side, reported in the facts: the control plane refuses a failover
       between two clusters on one side (fencing would cut nobody off). */}}
- name: JETBRIDGE_AGENT_DATABASE_SIDE
  value: {{ .Values.pilot.database.side | upper | quote }}
- name: JETBRIDGE_AGENT_DATABASE_ENDPOINT
  value: {{ .Values.pilot.database.endpoint | default "" | lower | quote }}
{{- if .Values.agent.observeSecretStore }}
- name: JETBRIDGE_AGENT_SECRET_STORE
  value: {{ .Values.pilot.secretStore | quote }}
{{- end }}
- name: JETBRIDGE_AGENT_INVENTORY_FROM
  value: {{ ternary "cluster" "facts" .Values.agent.observeInventory | quote }}
{{- if .Values.agent.facts }}
- name: JETBRIDGE_AGENT_FACTS_FILE
  value: /etc/jetbridge/facts/facts.json
{{- end }}
- name: PYTHONUNBUFFERED
  value: "1"
{{- end -}}

{{- define "dp.pilot.env" -}}
{{- $p := .Values.pilot -}}
- name: JETBRIDGE_PILOT_CLUSTER_NAME
  value: {{ include "dp.clusterId" . | quote }}
- name: JETBRIDGE_PILOT_KUBECONFIG
  value: /etc/jetbridge/kube/kubeconfig
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_PILOT_FLIGHTDECK_DSN" "ref" .Values.flightdeck) }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_PILOT_DATABASE_ADMIN_DSN" "ref" $p.database.admin) }}
{{- if $p.database.taskInstances.existingSecret }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_PILOT_TASK_INSTANCES_DSN" "ref" $p.database.taskInstances) }}
{{- end }}
- name: JETBRIDGE_PILOT_DATABASE_SIDE
  value: {{ $p.database.side | quote }}
- name: JETBRIDGE_PILOT_DATABASE_ENDPOINT
  value: {{ $p.database.endpoint | default "" | quote }}
- name: JETBRIDGE_PILOT_DATABASE_USERS
  value: {{ $p.database.users | default "apc" | quote }}
- name: JETBRIDGE_PILOT_DATABASE_PREFIX
  value: {{ $p.database.prefix | quote }}
- name: JETBRIDGE_PILOT_FENCING_STATE_DATABASE
  value: {{ $p.database.stateDatabase | quote }}
- name: JETBRIDGE_PILOT_FENCING_POOL_SIZE
  value: {{ $p.database.fencingPoolSize | quote }}
- name: JETBRIDGE_PILOT_SECRET_STORE
  value: {{ $p.secretStore | quote }}
{{- if $p.imagePullSecret }}
- name: JETBRIDGE_PILOT_IMAGE_PULL_SECRET
  value: {{ printf "%s/%s" .Release.Namespace $p.imagePullSecret | quote }}
{{- end }}
{{- if and $p.rbac.create $p.rbac.secretsPerNamespace }}
- name: JETBRIDGE_PILOT_SECRETS_ROLE
  value: {{ include "dp.pilot.secretsRole" . | quote }}
- name: JETBRIDGE_PILOT_SERVICE_ACCOUNT
  value: {{ printf "%s/%s" .Release.Namespace (include "jetbridge.name" (dict "root" . "svc" "pilot")) | quote }}
{{- end }}
- name: JETBRIDGE_PILOT_KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required (the Pilot's outbox relay)" .Values.kafka.bootstrapServers | quote }}
- name: JETBRIDGE_PILOT_TOPIC_PREFIX
  value: {{ .Values.topicPrefix | quote }}
- name: JETBRIDGE_PILOT_MAX_FLIGHTS
  value: {{ $p.maxFlights | quote }}
- name: JETBRIDGE_PILOT_LEASE_SECONDS
  value: {{ $p.leaseSeconds | quote }}
- name: JETBRIDGE_PILOT_POLL_INTERVAL_S
  value: {{ $p.pollIntervalS | quote }}
- name: JETBRIDGE_PILOT_START_REPORT_AFTER_S
  value: {{ $p.startReportAfterS | quote }}
- name: JETBRIDGE_PILOT_DEFAULT_DEADLINE_S
  value: {{ $p.defaultDeadlineS | quote }}
- name: JETBRIDGE_PILOT_OUTBOX_KEEP_S
  value: {{ $p.outboxKeepS | quote }}
- name: JETBRIDGE_PILOT_FLIGHTS_KEEP_S
  value: {{ $p.flightsKeepS | quote }}
- name: JETBRIDGE_PILOT_LOG_LEVEL
  value: {{ $p.logLevel | quote }}
- name: PYTHONUNBUFFERED
  value: "1"
{{- end -}}

{{- define "dp.processHandler" -}}
{{- include "jetbridge.noPortHandler" (dict "root" . "path" "/livez") -}}
{{- end -}}

{{- define "dp.readyHandler" -}}
{{- include "jetbridge.noPortHandler" (dict "root" . "path" "/readyz") -}}
{{- end -}}

{{- /* The Pilot's ClusterRole and the one it binds per namespace for Secrets
       (templates/pilot-rbac.yaml; the Pilot's env names the second). */}}
{{- define "dp.pilot.rbacName" -}}
{{- printf "%s-%s" .Release.Namespace (include "jetbridge.name" (dict "root" . "svc" "pilot")) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dp.pilot.secretsRole" -}}
{{- printf "%s-secrets" (include "dp.pilot.rbacName" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}
