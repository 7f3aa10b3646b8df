{{- define "parent.name" -}}parent{{- end -}}
