{{- define "common.configmap" -}}
{{- $top := index . 0 -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $top.Release.Name }}-{{ $top.Chart.Name }}
  labels:
    {{- include "common.labels" $top | nindent 4 }}
data:
  {{- include (index . 1) $top | nindent 2 }}
{{- end -}}
