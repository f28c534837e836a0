{{/* Names and labels shared by every template. */}}
{{- define "opsbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opsbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "opsbot.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "opsbot.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "opsbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opsbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opsbot.labels" -}}
{{ include "opsbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "opsbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "opsbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* opsbot's config file: the user's config with the paths and port the pod provides. */}}
{{- define "opsbot.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "store" (dict "dataDir" "/data") -}}
{{- $http := default (dict) $config.http -}}
{{- $_ := set $http "port" 3000 -}}
{{- $_ := set $config "http" $http -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Seconds of grace after SIGTERM: the configured value, else the drain timeout plus 15 s. */}}
{{- define "opsbot.gracePeriod" -}}
{{- $drainMs := 10000 -}}
{{- if and .Values.config.http .Values.config.http.drainTimeoutMs -}}
{{- $drainMs = int .Values.config.http.drainTimeoutMs -}}
{{- end -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) $drainMs -}}
{{- fail "terminationGracePeriodSeconds must be longer than config.http.drainTimeoutMs, or Kubernetes kills opsbot while it drains" -}}
{{- end -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (div (add $drainMs 999) 1000) 15 -}}
{{- end -}}
{{- end -}}
