{{- define "wapang.fullname" -}}
{{- printf "%s-wapang" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wapang.labels" -}}
app.kubernetes.io/name: wapang
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "wapang.selector" -}}
app.kubernetes.io/name: wapang
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "wapang.image" -}}
{{- $tag := required "image.tag is required: the git SHA CD tagged the image with" .Values.image.tag -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag -}}
{{- end -}}

{{- define "wapang.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-settings" (include "wapang.fullname" .)) -}}
{{- end -}}

{{- define "wapang.gatewayNamespace" -}}
{{- .Values.gateway.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "wapang.issuerName" -}}
{{- printf "%s-letsencrypt-%s" (include "wapang.fullname" .) .Values.certManager.issuer -}}
{{- end -}}

{{- define "wapang.tlsSecretName" -}}
{{- printf "%s-tls" (include "wapang.fullname" .) -}}
{{- end -}}

{{/* The pod security every wapang container runs with: the image's uid 10001, nothing else. */}}
{{- define "wapang.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "wapang.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The Gateway's addresses, trusted for X-Forwarded-*: never "*" (the client would choose its
own address: uvicorn then takes the leftmost X-Forwarded-For entry). */}}
{{- define "wapang.forwardedAllowIps" -}}
{{- $ips := required "forwardedAllowIps is required: the Gateway's addresses or CIDRs" .Values.forwardedAllowIps -}}
{{- if has "*" (splitList "," (nospace $ips)) -}}
{{- fail "forwardedAllowIps must not be \"*\": name the Gateway's network, e.g. 10.0.0.0/8" -}}
{{- end -}}
{{- nospace $ips -}}
{{- end -}}
