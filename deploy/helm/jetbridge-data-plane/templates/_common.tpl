{{/*
Helpers shared by both Jetbridge charts (the same file in jetbridge-control-plane and
jetbridge-data-plane: keep them identical). Objects are named <release>-<service>.
*/}}

{{- define "jetbridge.name" -}}
{{- printf "%s-%s" .root.Release.Name .svc | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jetbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ .svc }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "jetbridge.labels" -}}
{{ include "jetbridge.selectorLabels" . }}
app.kubernetes.io/part-of: jetbridge
app.kubernetes.io/component: {{ .root.Values.plane }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "jetbridge.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* An env var read from a Secret key: (dict "name" ENV "ref" {existingSecret, key}) */}}
{{- define "jetbridge.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "%s: set the Secret name (existingSecret)" .name) .ref.existingSecret }}
      key: {{ .ref.key }}
{{- end -}}

{{/*
Exec probe for the services that open no port of their own (navigator, projections,
dplink, dispatcher, pilot) when metrics, and with them /livez and /readyz, are off.
tini is PID 1 in the image and the service is its only child: the probe passes while
that child exists and is running or sleeping (not a zombie, not stopped). It does not
notice a hung event loop, nor a service still catching up.
*/}}
{{- define "jetbridge.processProbeCommand" -}}
- python
- -c
- |
  import os, sys
  def alive():
      for pid in os.listdir("/proc"):
          if not pid.isdigit() or pid in ("1", str(os.getpid())):
              continue
          try:
              with open(f"/proc/{pid}/stat") as f:
                  state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
          except OSError:
              continue
          if ppid == "1" and state in ("R", "S", "D"):
              return True
      return False
  sys.exit(0 if alive() else 1)
{{- end -}}

{{/*
The probe handler of a service that opens no port of its own. Input dict: root, path.
With metrics on, an HTTP GET on the metrics port (jetbridge.common.health): /livez
fails when the event loop has not run for 30 s (hung or starved), /readyz also while
the service is catching up (the Dispatcher folding the log, the Navigator recovering
its store). With metrics off, the exec probe above, whatever the path.
*/}}
{{- define "jetbridge.noPortHandler" -}}
{{- if .root.Values.metrics.enabled -}}
httpGet:
  path: {{ .path }}
  port: metrics
{{- else -}}
exec:
  command:
    {{- include "jetbridge.processProbeCommand" .root | nindent 4 }}
{{- end -}}
{{- end -}}

{{/* (dict "handler" <yaml of the handler> "t" <timing values>) -> probe */}}
{{- define "jetbridge.probe" -}}
{{ .handler }}
{{- with .t }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
One Deployment. Input dict: root, svc, v (the service's values), args (module and
arguments after `python -m`), env, volumes, mounts, ports (lists), handler (the probe
handler as YAML; readyHandler, when given, for readiness), strategy, serviceAccount, automount, replicas (when the Deployment
is not autoscaled).
*/}}
{{- define "jetbridge.deployment" -}}
{{- $root := .root -}}
{{- $v := .v -}}
{{- $metrics := $root.Values.metrics -}}
{{- $ports := .ports | default list -}}
{{- if $metrics.enabled }}
{{- $ports = append $ports (dict "name" "metrics" "containerPort" (int $metrics.port) "protocol" "TCP") }}
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "jetbridge.name" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "jetbridge.labels" . | nindent 4 }}
spec:
  {{- if not (and $v.autoscaling $v.autoscaling.enabled) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- toYaml .strategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "jetbridge.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "jetbridge.labels" . | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $scrape := and $metrics.enabled $metrics.scrapeAnnotations }}
      {{- if or .checksum $v.podAnnotations $scrape }}
      annotations:
        {{- with .checksum }}
        checksum/config: {{ . }}
        {{- end }}
        {{- if $scrape }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $metrics.port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
    spec:
      serviceAccountName: {{ .serviceAccount }}
      automountServiceAccountToken: {{ .automount }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds | default 30 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .svc }}
          image: {{ include "jetbridge.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          {{- with $ports }}
          ports:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- toYaml .env | nindent 12 }}
            {{- if $metrics.enabled }}
            # /metrics (jetbridge.common.metrics), on every interface of the pod
            - name: JETBRIDGE_METRICS_PORT
              value: {{ $metrics.port | quote }}
            - name: JETBRIDGE_METRICS_HOST
              value: 0.0.0.0
            {{- end }}
            {{- if $root.Values.kafka.tls.enabled }}
            # Kafka over mutual TLS (jetbridge.common.kafka.security)
            - name: JETBRIDGE_KAFKA_SECURITY_PROTOCOL
              value: SSL
            - name: JETBRIDGE_KAFKA_SSL_CAFILE
              value: /etc/jetbridge/kafka-tls/ca.crt
            - name: JETBRIDGE_KAFKA_SSL_CERTFILE
              value: /etc/jetbridge/kafka-tls/tls.crt
            - name: JETBRIDGE_KAFKA_SSL_KEYFILE
              value: /etc/jetbridge/kafka-tls/tls.key
            {{- else if not $root.Values.kafka.tls.allowPlaintext }}
            {{- fail "kafka.tls.enabled=false sends every record over PLAINTEXT, unauthenticated: any pod that reaches the brokers could write commands and reports as anyone. Set kafka.tls.allowPlaintext=true to accept that (sandboxes only)" }}
            {{- end }}
            {{- with $root.Values.tracing.otlpEndpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          startupProbe:
            {{- include "jetbridge.probe" (dict "handler" .handler "t" $v.probes.startup) | nindent 12 }}
          livenessProbe:
            {{- include "jetbridge.probe" (dict "handler" .handler "t" $v.probes.liveness) | nindent 12 }}
          readinessProbe:
            {{- include "jetbridge.probe" (dict "handler" (.readyHandler | default .handler) "t" $v.probes.readiness) | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- if $root.Values.kafka.tls.enabled }}
            - name: kafka-tls
              mountPath: /etc/jetbridge/kafka-tls
              readOnly: true
            {{- end }}
      volumes:
        # Writable scratch (the Kubernetes client's discovery cache, Python temp files):
        # the root filesystem is read-only.
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $root.Values.kafka.tls.enabled }}
        - name: kafka-tls
          secret:
            secretName: {{ required "kafka.tls.existingSecret is required with kafka.tls.enabled (ca.crt, tls.crt, tls.key)" $root.Values.kafka.tls.existingSecret }}
            defaultMode: 0440
        {{- end }}
{{- end -}}

{{- define "jetbridge.pdb" -}}
{{- $pdb := .v.podDisruptionBudget -}}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "jetbridge.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "jetbridge.labels" . | nindent 4 }}
spec:
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "jetbridge.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* autoscaling/v2 on CPU (and memory if set); maxReplicas capped by .cap when given */}}
{{- define "jetbridge.hpa" -}}
{{- $a := .v.autoscaling -}}
{{- if and $a $a.enabled }}
{{- if and .cap (gt (int $a.maxReplicas) (int .cap)) }}
{{- fail (printf "%s.autoscaling.maxReplicas=%d exceeds %d (%s): more replicas would sit idle" .svc (int $a.maxReplicas) (int .cap) .capWhy) }}
{{- end }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "jetbridge.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "jetbridge.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "jetbridge.name" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* One egress rule: .e = {to: [NetworkPolicyPeer], ports: [int]}; no peers: any address */}}
{{- define "jetbridge.egressRule" -}}
- ports:
    {{- range .e.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .e.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The NetworkPolicy of one service: DNS plus the named egress endpoints, optional ingress */}}
{{- define "jetbridge.networkPolicy" -}}
{{- $np := .root.Values.networkPolicy -}}
{{- if $np.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "jetbridge.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "jetbridge.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "jetbridge.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- $ingress := .ingress | default list }}
  {{- if .root.Values.metrics.enabled }}
  {{- $scrape := dict "ports" (list (dict "port" (int .root.Values.metrics.port) "protocol" "TCP")) }}
  {{- with $np.metricsFrom }}
  {{- $_ := set $scrape "from" . }}
  {{- end }}
  {{- $ingress = append $ingress $scrape }}
  {{- end }}
  ingress:
    {{- if $ingress }}
    {{- toYaml $ingress | nindent 4 }}
    {{- else }} []
    {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
      {{- with $np.dns.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- range .egress }}
    {{- include "jetbridge.egressRule" (dict "e" (index $np.egress .)) | nindent 4 }}
    {{- end }}
    {{- if .root.Values.tracing.otlpEndpoint }}
    {{- include "jetbridge.egressRule" (dict "e" $np.egress.otlp) | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "jetbridge.defaultDeny" -}}
{{- if .Values.networkPolicy.enabled }}
# Default deny: no traffic in or out of this release's pods except what the
# per-service policies below allow (NetworkPolicies are additive).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .Release.Name }}-default-deny
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/part-of: jetbridge
    app.kubernetes.io/managed-by: {{ .Release.Service }}
spec:
  podSelector:
    {{- if .Values.networkPolicy.defaultDenyWholeNamespace }} {}
    {{- else }}
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
      app.kubernetes.io/part-of: jetbridge
    {{- end }}
  policyTypes: [Ingress, Egress]
{{- end }}
{{- end -}}

{{- define "jetbridge.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "jetbridge.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "jetbridge.labels" . | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .automount }}
{{- end -}}
