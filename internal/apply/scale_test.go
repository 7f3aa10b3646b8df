package apply

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// scaleManifest renders n objects of each of ConfigMap, Secret, Service and
// Deployment; version changes every ConfigMap's data and every
// Deployment's pod template.
func scaleManifest(n int, version string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
# Source: bench/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-%[1]d, labels: {app: app-%[1]d}}
data: {index: "%[1]d", version: "%[2]s", payload: "%[3]s"}
---
# Source: bench/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata: {name: secret-%[1]d, labels: {app: app-%[1]d}}
type: Opaque
data: {password: cGFzc3dvcmQ=}
---
# Source: bench/templates/service.yaml
apiVersion: v1
kind: Service
metadata: {name: svc-%[1]d, labels: {app: app-%[1]d}}
spec:
  selector: {app: app-%[1]d}
  ports: [{name: http, port: 80, targetPort: http}]
---
# Source: bench/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%[1]d, labels: {app: app-%[1]d}}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}, annotations: {version: "%[2]s"}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports: [{name: http, containerPort: 8080}]
        env: [{name: INDEX, value: "%[1]d"}]
        resources: {requests: {cpu: 10m, memory: 16Mi}}
`, i, version, strings.Repeat("x", 256))
	}
	return b.String()
}

// TestScale500 measures Apply on 500 objects (125 each of ConfigMap, Secret,
// Service, Deployment): fresh, unchanged (with the local comparison, and
// with a dry run per object as without it), and with every ConfigMap and
// Deployment changed. It logs the figures; run it with -v.
func TestScale500(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const rounds = 3
	m, reqs := newManager(t)
	ctx := testContext(t)
	var fresh, unchanged, unchangedDryRun, changed, decodeTime []time.Duration
	var counts = map[string]map[string]int{}
	for round := range rounds {
		ns := env.Namespace(t)
		opts := releaseOptions(ns)

		began := time.Now()
		objs, err := m.Decode(scaleManifest(125, "v1"), ns)
		if err != nil {
			t.Fatal(err)
		}
		decodeTime = append(decodeTime, time.Since(began))
		if len(objs) != 500 {
			t.Fatalf("%d objects", len(objs))
		}
		reqs.take()

		began = time.Now()
		cs, err := m.Apply(ctx, objs, opts)
		fresh = append(fresh, time.Since(began))
		if err != nil || cs.Count(Created) != 500 {
			t.Fatalf("fresh apply: %v (%d created)", err, cs.Count(Created))
		}
		counts["fresh"] = reqs.take()

		began = time.Now()
		cs, err = m.Apply(ctx, objs, opts)
		unchanged = append(unchanged, time.Since(began))
		if err != nil || cs.Count(Unchanged) != 500 {
			t.Fatalf("unchanged apply: %v (%d unchanged)\n%s", err, cs.Count(Unchanged), cs)
		}
		counts["unchanged"] = reqs.take()

		m.noLocalCompare = true
		began = time.Now()
		cs, err = m.Apply(ctx, objs, opts)
		unchangedDryRun = append(unchangedDryRun, time.Since(began))
		m.noLocalCompare = false
		if err != nil || cs.Count(Unchanged) != 500 {
			t.Fatalf("unchanged apply by dry run: %v (%d unchanged)", err, cs.Count(Unchanged))
		}
		counts["unchanged, dry run per object"] = reqs.take()

		objs, err = m.Decode(scaleManifest(125, "v2"), ns)
		if err != nil {
			t.Fatal(err)
		}
		reqs.take()
		began = time.Now()
		cs, err = m.Apply(ctx, objs, opts)
		changed = append(changed, time.Since(began))
		if err != nil || cs.Count(Configured) != 250 || cs.Count(Unchanged) != 250 {
			t.Fatalf("changed apply: %v (%d configured, %d unchanged)", err, cs.Count(Configured), cs.Count(Unchanged))
		}
		counts["250 changed"] = reqs.take()
		if round == 0 {
			for _, k := range []string{"fresh", "unchanged", "unchanged, dry run per object", "250 changed"} {
				t.Logf("requests, %s: %v", k, counts[k])
			}
		}
	}
	t.Logf("decode 500 objects: median %s", median(decodeTime))
	t.Logf("apply 500 objects fresh: median %s of %v", median(fresh), fresh)
	t.Logf("apply 500 objects unchanged (local comparison): median %s of %v", median(unchanged), unchanged)
	t.Logf("apply 500 objects unchanged (dry run per object): median %s of %v", median(unchangedDryRun), unchangedDryRun)
	t.Logf("apply 500 objects, 250 changed: median %s of %v", median(changed), changed)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
