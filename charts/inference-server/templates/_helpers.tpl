{{/* The chart name, or nameOverride; 63 characters at most (a DNS label). */}}
{{- define "inference-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's objects are named <release>-<chart>, or just <release> when it already contains the chart
name. Truncated to 63 characters, the limit for a DNS label.
*/}}
{{- define "inference-server.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Every other name derives from the fullname, so fullnameOverride renames the whole release. */}}
{{- define "inference-server.serviceAccountName" -}}
{{- default (include "inference-server.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
The API key's Secret: apiKey.secretName when set, else <fullname>-api-key (the fullname cut to 53 characters,
as beacon-fleet names the Secret it declares).
*/}}
{{- define "inference-server.apiKeySecretName" -}}
{{- if .Values.apiKey.secretName }}
{{- .Values.apiKey.secretName }}
{{- else }}
{{- printf "%s-api-key" (include "inference-server.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{- define "inference-server.weightsClaim" -}}
{{- printf "%s-weights" (include "inference-server.fullname" .) }}
{{- end }}

{{- define "inference-server.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inference-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inference-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "inference-server.labels" -}}
helm.sh/chart: {{ include "inference-server.chart" . }}
{{ include "inference-server.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: inference
beacon-fleet/model: {{ .Values.model.servedName | quote }}
{{- end }}

{{/* PersistentVolumes are cluster-wide, so the weights volume carries the namespace in its name. */}}
{{- define "inference-server.weightsVolume" -}}
{{- printf "%s-%s-weights" .Release.Namespace (include "inference-server.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/* HTTPS on 443 when the load balancer holds a certificate, plain HTTP on 80 otherwise (VPC only). */}}
{{- define "inference-server.servicePort" -}}
{{- if .Values.service.tlsCertId }}443{{ else }}80{{ end }}
{{- end }}

{{- define "inference-server.scheme" -}}
{{- if .Values.service.tlsCertId }}https{{ else }}http{{ end }}
{{- end }}

{{/*
The serving image's metrics port (serve.py's METRICS_PORT): its gate answers GET /metrics there without the key, and
404 to everything else. Not 8000 (the gate), 8100 (vLLM on loopback), 8080 or 9090 (EAS reserves them), nor 9000
(FC's default). No Service names it, so no load balancer forwards to it; the NetworkPolicy admits it from inside.
*/}}
{{- define "inference-server.metricsPort" -}}
8001
{{- end }}
