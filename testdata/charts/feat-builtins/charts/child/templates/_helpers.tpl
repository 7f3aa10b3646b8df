{{- define "child.where" -}}
{{ .Chart.Name }}: {{ .Values.note }}
{{- end -}}
