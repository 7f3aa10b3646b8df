package apply

import (
	"fmt"
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// corpus are objects as charts write them, for checking the local
// comparison against the API server.
const corpus = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, annotations: {a: b}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
type: Opaque
data: {password: cGFzcw==}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {tier: x}}
data: {a: "1", b: "two"}
binaryData: {bin: AAEC}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: ClusterIP
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: grpc, port: 9090, targetPort: 9090, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {checksum/config: abc}
    spec:
      serviceAccountName: sa
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
      initContainers:
      - {name: init, image: busybox, command: [sh, -c, "true"]}
      containers:
      - name: web
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: [--port=8080]
        ports:
        - {name: http, containerPort: 8080}
        - {name: metrics, containerPort: 9090, protocol: TCP}
        env:
        - {name: A, value: "1"}
        - name: B
          valueFrom: {secretKeyRef: {name: s, key: password}}
        envFrom: [{configMapRef: {name: c}}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /etc/cfg, readOnly: true}]
      volumes:
      - {name: data, emptyDir: {}}
      - {name: cfg, configMap: {name: c}}
      tolerations: [{key: k, operator: Exists, effect: NoSchedule}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres, ports: [{containerPort: 5432, name: pg}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox, command: ["true"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
  tls: [{hosts: [example.com], secretName: tls}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
- {apiGroups: [""], resources: [configmaps, secrets], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: r}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects: [{kind: ServiceAccount, name: sa}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`

// TestUnchangedLocallyAgreesWithServer applies a corpus of objects, then
// checks that the local comparison finds each unchanged, and that for every
// single mutation of each (a value changed, a field removed, a list
// shortened) it never says "unchanged" where the server's dry run disagrees.
func TestUnchangedLocallyAgreesWithServer(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	objs := decode(t, m, corpus, ns)
	opts := releaseOptions(ns)
	if cs, err := m.Apply(ctx, objs, opts); err != nil {
		t.Fatalf("apply: %v\n%s", err, cs)
	}
	cs, err := m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Count(Unchanged); n != len(objs) {
		t.Fatalf("re-apply: %d unchanged of %d\n%s", n, len(objs), cs)
	}

	run := &applyRun{m: m, opts: opts}
	mutations, fast := 0, 0
	for _, o := range objs {
		desired := o.DeepCopy()
		stampLabels(desired, opts.Release, opts.ReleaseNamespace)
		ref := RefOf(o)
		live := liveObject(t, m, ref)
		// Atomic lists the server defaults inside can only be compared by a
		// dry run: StatefulSet's volumeClaimTemplates, NetworkPolicy's ports.
		wantFast := ref.Kind != "StatefulSet" && ref.Kind != "NetworkPolicy"
		if got := unchangedLocally(desired, live); got != wantFast {
			t.Errorf("%s: applied and unchanged: unchangedLocally = %v, want %v", ref, got, wantFast)
		}
		for _, mut := range mutate(desired.Object, nil) {
			mutations++
			changed := &unstructured.Unstructured{Object: mut.obj}
			if !unchangedLocally(changed, live) {
				continue
			}
			fast++
			mapping, err := m.mapping(changed.GroupVersionKind())
			if err != nil {
				t.Fatal(err)
			}
			dry, err := run.ssa(ctx, m.resource(mapping, changed.GetNamespace()), changed, run.opts.Force, true)
			if err != nil {
				t.Errorf("%s %s: unchanged locally, dry run fails: %v", ref, mut.what, err)
				continue
			}
			if !sameObject(dry, live) {
				t.Errorf("%s %s: unchanged locally, the server's dry run changes it", ref, mut.what)
			}
		}
	}
	t.Logf("%d objects, %d mutations, %d of them unchanged locally (checked by dry run)", len(objs), mutations, fast)
}

type mutation struct {
	what string
	obj  map[string]any
}

// mutate returns copies of root with one change each under path (nil: the
// whole object): every scalar changed, every map field removed, every list
// shortened by its last element.
func mutate(root map[string]any, path []any) []mutation {
	var out []mutation
	at := func() any {
		var v any = root
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}()
	with := func(what string, f func(parent any)) {
		c := runtimeCopy(root)
		var v any = c
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		f(v)
		out = append(out, mutation{what: fmt.Sprintf("%v %s", path, what), obj: c})
	}
	switch t := at.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(path) == 0 && (k == "apiVersion" || k == "kind") ||
				len(path) == 1 && path[0] == "metadata" && (k == "name" || k == "namespace") {
				continue
			}
			with("remove "+k, func(p any) { delete(p.(map[string]any), k) })
			switch v := t[k].(type) {
			case string:
				with("change "+k, func(p any) { p.(map[string]any)[k] = v + "x" })
			case int64:
				with("change "+k, func(p any) { p.(map[string]any)[k] = v + 1 })
			case bool:
				with("change "+k, func(p any) { p.(map[string]any)[k] = !v })
			case map[string]any, []any:
				out = append(out, mutate(root, append(append([]any(nil), path...), k))...)
			}
		}
	case []any:
		for i := range t {
			out = append(out, mutate(root, append(append([]any(nil), path...), i))...)
		}
		if len(path) > 0 {
			// Shorten the list: set it on its parent.
			parent, last := path[:len(path)-1], path[len(path)-1]
			if key, ok := last.(string); ok {
				c := runtimeCopy(root)
				var v any = c
				for _, p := range parent {
					switch k := p.(type) {
					case string:
						v = v.(map[string]any)[k]
					case int:
						v = v.([]any)[k]
					}
				}
				if pm, ok := v.(map[string]any); ok {
					pm[key] = t[: len(t)-1 : len(t)-1]
					out = append(out, mutation{what: fmt.Sprintf("%v shortened", path), obj: c})
				}
			}
		}
	}
	return out
}

func runtimeCopy(m map[string]any) map[string]any {
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}
