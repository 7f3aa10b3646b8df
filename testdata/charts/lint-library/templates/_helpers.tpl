{{- define "lint-library.name" -}}
{{ .Chart.Name }}
{{- end }}
