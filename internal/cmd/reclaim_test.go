package cmd

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kubectl runs the real kubectl on the test cluster, in the namespace of c,
// as a user would.
func (c *releaseCLI) kubectl(args ...string) {
	c.t.Helper()
	out, err := exec.CommandContext(c.t.Context(), filepath.Join(env.AssetsDir(), "kubectl"),
		append([]string{"--kubeconfig", env.KubeconfigPath(), "-n", c.ns}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestReleaseReclaim: after `kubectl scale`, `kubectl chart diff upgrade`
// shows the change and the field it would take back, `kubectl chart upgrade`
// restores the chart's replicas and says so, and so does the revision's
// description in history; an annotation the release never applied, set
// with `kubectl annotate` then added to the chart, fails the upgrade
// naming the object, the field and the manager, until --force-conflicts,
// which says what it took and when it was changed; rollback takes fields
// back as upgrade does.
func TestReleaseReclaim(t *testing.T) {
	c := newReleaseCLI(t)
	chart := writeChart(t, "web", map[string]string{
		"values.yaml": "replicaCount: 2\nannotations: {}\n",
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  {{- with .Values.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
	})
	deployment := "Deployment.apps/" + c.ns + "/web"
	replicas := func() string {
		c.t.Helper()
		out, err := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), "--kubeconfig", env.KubeconfigPath(),
			"-n", c.ns, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}

	c.ok("install", "web", chart)
	c.kubectl("scale", "deployment/web", "--replicas=5")
	scaleLine := "reclaimed .spec.replicas of " + deployment + " from kubectl (through /scale), change time not recorded\n"
	// diff upgrade shows the change and says which field it would take back.
	if d := c.run("diff", "upgrade", "web", chart); d.exit() != 1 || !strings.Contains(d.stdout, "-  replicas: 5\n+  replicas: 2\n") ||
		!strings.Contains(d.stdout, "dry run: "+scaleLine) {
		t.Errorf("diff upgrade after kubectl scale: want exit 1, the replicas' change and %q, got exit %d:\n%s%s", "dry run: "+scaleLine, d.exit(), d.stdout, d.stderr)
	}
	out := c.ok("upgrade", "web", chart)
	if !strings.Contains(out, scaleLine) {
		t.Errorf("upgrade after kubectl scale: output does not say %q:\n%s", scaleLine, out)
	}
	if got := replicas(); got != "2" {
		t.Errorf("replicas %s after the upgrade, want the chart's 2", got)
	}
	wantHistory := "2 deployed Upgrade complete; reclaimed .spec.replicas of " + deployment + " from kubectl (through /scale)"
	if h := c.history("web"); len(h) != 2 || h[1] != wantHistory {
		t.Errorf("history %q, want revision 2 as %q", h, wantHistory)
	}

	c.kubectl("annotate", "deployment/web", "team=blue")
	c.fails([]string{deployment, ".metadata.annotations.team", `"kubectl-annotate"`, "--force-conflicts"},
		"upgrade", "web", chart, "--set", "annotations.team=red")
	out = c.ok("upgrade", "web", chart, "--set", "annotations.team=red", "--force-conflicts")
	took := regexp.MustCompile(`(?m)^took \.metadata\.annotations\.team of ` + regexp.QuoteMeta(deployment) + ` from kubectl-annotate \(--force-conflicts\), changed \d+s ago$`)
	if !took.MatchString(out) {
		t.Errorf("upgrade --force-conflicts: output does not say what it took:\n%s", out)
	}

	c.ok("upgrade", "web", chart, "--set", "replicaCount=3")
	c.kubectl("scale", "deployment/web", "--replicas=7")
	out = c.ok("rollback", "web", "2")
	if !strings.Contains(out, scaleLine) {
		t.Errorf("rollback after kubectl scale: output does not say %q:\n%s", scaleLine, out)
	}
	if got := replicas(); got != "2" {
		t.Errorf("replicas %s after the rollback, want revision 2's 2", got)
	}
}
