{{- define "funcs.name" -}}
{{ .Values.name | trunc 63 | trimSuffix "-" }}
{{- end -}}
{{- define "funcs.labels" -}}
app: {{ include "funcs.name" . }}
chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
