{{/* Control-plane env, exactly the names the settings classes read. */}}

{{- define "cp.kafka" -}}
{{- required "kafka.bootstrapServers is required (host:port[,host:port])" .Values.kafka.bootstrapServers -}}
{{- end -}}

{{- define "cp.kafkaEnv" -}}
- name: JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "cp.kafka" . | quote }}
- name: PYTHONUNBUFFERED
  value: "1"
{{- end -}}

{{/* navigator, projections, console read JETBRIDGE_TOPIC_PREFIX; dplink and the
dispatcher take each topic name instead (set below when a prefix is used) */}}
{{- define "cp.commonEnv" -}}
{{ include "cp.kafkaEnv" . }}
- name: JETBRIDGE_TOPIC_PREFIX
  value: {{ .Values.topicPrefix | quote }}
{{- end -}}

{{- define "cp.registryEnv" -}}
- name: JETBRIDGE_REGISTRY
  value: {{ required "airflowRegistry is required (the installation's container registry)" .Values.airflowRegistry | quote }}
{{- end -}}

{{- define "cp.navigator.env" -}}
{{ include "cp.commonEnv" . }}
{{ include "cp.registryEnv" . }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_NAVIGATOR_DSN" "ref" .Values.navigatorDatabase) }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_LEDGER_KEY" "ref" .Values.ledgerKey) }}
- name: JETBRIDGE_NAVIGATOR_SNAPSHOT_EVERY
  value: {{ .Values.navigator.snapshotEvery | quote }}
{{- end -}}

{{- define "cp.projections.env" -}}
{{ include "cp.commonEnv" . }}
{{- if .Values.projectionsDatabase.existingSecret }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_PROJECTIONS_DSN" "ref" .Values.projectionsDatabase) }}
{{- else }}
{{ include "jetbridge.secretEnv" (dict "name" "JETBRIDGE_NAVIGATOR_DSN" "ref" .Values.navigatorDatabase) }}
{{- end }}
- name: JETBRIDGE_PROJECTIONS_SCHEMA
  value: {{ .Values.projections.schema | quote }}
{{- end -}}

{{- define "cp.dplink.env" -}}
{{- $p := .Values.topicPrefix -}}
{{ include "cp.kafkaEnv" . }}
- name: JETBRIDGE_DPLINK_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "cp.kafka" . | quote }}
- name: JETBRIDGE_DPLINK_GROUP_ID
  value: {{ .Values.dplink.groupId | quote }}
- name: JETBRIDGE_DPLINK_TLS_DIR
  value: /etc/jetbridge/tls
- name: JETBRIDGE_DPLINK_LOG_LEVEL
  value: {{ .Values.dplink.logLevel | quote }}
{{- if $p }}
- name: JETBRIDGE_DPLINK_REGISTRATION_TOPIC
  value: {{ printf "%sjetbridge.cluster.events" $p | quote }}
- name: JETBRIDGE_DPLINK_EVENTS_TOPIC
  value: {{ printf "%sjetbridge.cluster.events" $p | quote }}
{{- end }}
{{- end -}}

{{- define "cp.dispatcher.env" -}}
{{- $p := .Values.topicPrefix -}}
{{ include "cp.kafkaEnv" . }}
- name: JETBRIDGE_DISPATCHER_KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "cp.kafka" . | quote }}
- name: JETBRIDGE_DISPATCHER_GROUP_ID
  value: {{ .Values.dispatcher.groupId | quote }}
- name: JETBRIDGE_DISPATCHER_TLS_DIR
  value: /etc/jetbridge/tls
- name: JETBRIDGE_DISPATCHER_LOG_LEVEL
  value: {{ .Values.dispatcher.logLevel | quote }}
{{- if $p }}
- name: JETBRIDGE_DISPATCHER_WORK_TOPIC
  value: {{ printf "%sjetbridge.failover.events" $p | quote }}
- name: JETBRIDGE_DISPATCHER_STATE_TOPICS
  value: {{ list (printf "%sjetbridge.failover.events" $p) (printf "%sjetbridge.cluster.events" $p) | toJson | quote }}
- name: JETBRIDGE_DISPATCHER_OUTCOMES_TOPIC
  value: {{ printf "%sjetbridge.flight.events" $p | quote }}
- name: JETBRIDGE_DISPATCHER_DEAD_LETTER_TOPIC
  value: {{ printf "%sjetbridge.deadletter" $p | quote }}
{{- end }}
{{- end -}}

{{- define "cp.console.env" -}}
{{ include "cp.commonEnv" . }}
{{ include "cp.registryEnv" . }}
- name: JETBRIDGE_CONSOLE_HOST
  value: 0.0.0.0
- name: JETBRIDGE_CONSOLE_PORT
  value: {{ .Values.console.port | quote }}
- name: JETBRIDGE_CONSOLE_TOKENS_FILE
  value: /etc/jetbridge/console/tokens
- name: JETBRIDGE_CONSOLE_EVENTS_KEPT
  value: {{ .Values.console.eventsKept | quote }}
{{- end -}}

{{- define "cp.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ required "tls.existingSecret is required (the control plane's mTLS certificate)" .Values.tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.tls.keys.ca }}
        path: ca.pem
      - key: {{ .Values.tls.keys.cert }}
        path: control-plane.pem
      - key: {{ .Values.tls.keys.key }}
        path: control-plane.key
{{- end -}}

{{- define "cp.tlsMount" -}}
- name: tls
  mountPath: /etc/jetbridge/tls
  readOnly: true
{{- end -}}

{{- define "cp.processHandler" -}}
{{- include "jetbridge.noPortHandler" (dict "root" . "path" "/livez") -}}
{{- end -}}

{{/*
The Console's port opens before it has reached Kafka and read the ledger (it answers
503 meanwhile), so the port answering is only liveness. With metrics on, readiness is
/readyz on the metrics port, which waits for the ledger; with metrics off, the API's
health check, which only shows the port is open.
*/}}
{{- define "cp.consoleReadyHandler" -}}
{{- if .Values.metrics.enabled -}}
httpGet:
  path: /readyz
  port: metrics
{{- else -}}
httpGet:
  path: /api/v1/health
  port: http
{{- end -}}
{{- end -}}

{{- define "cp.readyHandler" -}}
{{- include "jetbridge.noPortHandler" (dict "root" . "path" "/readyz") -}}
{{- end -}}
