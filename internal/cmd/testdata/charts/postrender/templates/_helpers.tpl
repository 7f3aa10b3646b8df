{{- define "postrender.name" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end }}

{{- define "postrender.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
