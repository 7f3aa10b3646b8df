package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// corpusChart is one chart of the corpus installed as a release.
type corpusChart struct {
	// dir is the chart's folder under the corpus.
	dir string
	// release is the release name (cluster-scoped objects are named after
	// it, so every chart gets its own).
	release string
	// args are more install flags (--set with the reason in a comment).
	args []string
}

// corpusCharts install on the test cluster as it is: no CRDs but those
// the charts ship, no storage provisioner, kwok pods.
var corpusCharts = []corpusChart{
	// Deployments that kwok makes Available: wait for them. Bitnami's
	// default resourcesPreset requests ephemeral-storage, which the fake
	// node does not advertise (its pods would stay Pending): none.
	{dir: "bitnami/nginx", release: "nginx", args: []string{"--set", "resourcesPreset=none", "--wait", "--timeout", "60s"}},
	{dir: "bitnami/memcached", release: "memcached", args: []string{"--set", "resourcesPreset=none", "--wait", "--timeout", "60s"}},
	{dir: "prometheus-community/prometheus-pushgateway", release: "pushgateway", args: []string{"--wait", "--timeout", "60s"}},
	// StatefulSets with PersistentVolumeClaims: no provisioner binds them,
	// so they never become ready; installed without --wait.
	{dir: "bitnami/redis", release: "redis"},
	{dir: "bitnami/postgresql", release: "postgresql"},
	{dir: "jenkins/jenkins", release: "jenkins"},
	// DaemonSet, cluster roles.
	{dir: "prometheus-community/prometheus-node-exporter", release: "node-exporter"},
	{dir: "prometheus-community/kube-state-metrics", release: "kube-state-metrics"},
	{dir: "prometheus-community/prometheus-blackbox-exporter", release: "blackbox"},
	// Four subcharts.
	{dir: "prometheus-community/prometheus", release: "prometheus"},
	// The APIService would register metrics.k8s.io with a backend that
	// kwok's pods never serve: discovery of the whole cluster (other
	// tests, namespace deletion) would report the group unavailable.
	{dir: "metrics-server/metrics-server", release: "metrics-server", args: []string{"--set", "apiService.create=false"}},
	// The admission webhook's certificate is made by pre-install hook Jobs
	// that kwok only pretends to run, and the ValidatingWebhookConfiguration
	// would then refuse every Ingress of the cluster: off.
	{dir: "ingress-nginx/ingress-nginx", release: "ingress-nginx", args: []string{"--set", "controller.admissionWebhooks.enabled=false"}},
	// Ships its CRDs in crds/ and custom resources of them in templates.
	{dir: "traefik/traefik", release: "traefik"},
	// CRDs in templates (crds.enabled), annotated keep; webhook
	// configurations that only match cert-manager's own groups; a
	// post-install hook Job (startupapicheck), run and waited for.
	{dir: "cert-manager/cert-manager", release: "cert-manager", args: []string{"--set", "crds.enabled=true"}},
}

// corpusRow is one line of the table the test logs.
type corpusRow struct {
	chart    string
	objects  int
	install  time.Duration
	wait     bool
	status   string
	uninstal time.Duration
}

// TestInstallCorpus installs real public charts with `kubectl chart
// install`, each in its own namespace, checks that `status` shows every
// object of `get manifest` (and that each exists), and that `uninstall`
// leaves no object with the release's label but those kept on purpose.
func TestInstallCorpus(t *testing.T) {
	env.Require(t)
	corpus := lintCorpusDir(t) // before atRepoRoot: it is relative to this folder
	atRepoRoot(t)
	began := time.Now()

	var mu sync.Mutex
	var rows []corpusRow
	t.Run("charts", func(t *testing.T) {
		for _, c := range corpusCharts {
			t.Run(strings.ReplaceAll(c.dir, "/", "_"), func(t *testing.T) {
				t.Parallel()
				row := installCorpusChart(t, filepath.Join(corpus, c.dir), c)
				row.chart = c.dir
				mu.Lock()
				rows = append(rows, row)
				mu.Unlock()
			})
		}
	})

	slices.SortFunc(rows, func(a, b corpusRow) int { return strings.Compare(a.chart, b.chart) })
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHART\tOBJECTS\tINSTALL\tWAIT\tSTATUS\tUNINSTALL")
	total := 0
	for _, r := range rows {
		total += r.objects
		fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%s\t%s\n", r.chart, r.objects, r.install.Round(time.Millisecond), r.wait, r.status, r.uninstal.Round(time.Millisecond))
	}
	tw.Flush()
	t.Logf("%d charts, %d objects, %s in all (installs run in parallel):\n%s", len(rows), total, time.Since(began).Round(time.Millisecond), b.String())
	if len(rows) < 10 {
		t.Errorf("%d charts installed, want at least 10", len(rows))
	}
}

// installCorpusChart installs one chart, checks status and uninstalls it.
func installCorpusChart(t *testing.T, chartPath string, c corpusChart) corpusRow {
	ns := env.Namespace(t)
	kube := []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}
	run := func(args ...string) chartRun {
		t.Helper()
		return runChart(t, append(slices.Clone(kube), args...), "")
	}
	must := func(args ...string) string {
		t.Helper()
		got := run(args...)
		if got.err != nil {
			t.Fatalf("kubectl chart %s: exit %d: %v\n%s%s", strings.Join(args, " "), got.exit(), got.err, got.stdout, got.stderr)
		}
		return got.stdout
	}
	row := corpusRow{wait: slices.Contains(c.args, "--wait")}

	start := time.Now()
	out := must(append([]string{"install", c.release, chartPath}, c.args...)...)
	row.install = time.Since(start)
	if !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("install output does not say deployed:\n%s", out)
	}

	// status lists every object of the manifest, and each exists.
	want := manifestObjects(t, must("get", "manifest", c.release), ns)
	var st releaseview.StatusView
	if err := json.Unmarshal([]byte(must("status", c.release, "-o", "json")), &st); err != nil {
		t.Fatalf("status -o json: %v", err)
	}
	var got []string
	counts := map[string]int{}
	for _, o := range st.Resources {
		got = append(got, o.Kind+"/"+o.Namespace+"/"+o.Name)
		counts[o.Status]++
		if o.Status == releaseview.StatusMissing || o.Status == "Unknown" {
			t.Errorf("status: %s is %s %s", o.ObjectRef, o.Status, o.Message)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status objects differ from get manifest (-manifest +status):\n%s", diff)
	}
	if st.Revision != 1 || st.Status != "deployed" {
		t.Errorf("status: revision %d %s, want 1 deployed", st.Revision, st.Status)
	}
	if text := run("status", c.release); text.err != nil || text.stderr != "" {
		t.Errorf("status: exit %d, stderr %q", text.exit(), text.stderr)
	}
	row.objects = len(st.Resources)
	row.status = statusSummary(counts)

	start = time.Now()
	out = must("uninstall", c.release, "--wait", "--timeout", "60s")
	row.uninstal = time.Since(start)
	var kept []string
	for line := range strings.Lines(out) {
		if ref, ok := strings.CutPrefix(line, "kept "); ok {
			kept = append(kept, strings.TrimSuffix(strings.TrimSpace(ref), " (resource policy keep)"))
		}
	}
	left := labelledObjects(t, t.Context(), c.release, ns)
	left = slices.DeleteFunc(left, func(s string) bool { return slices.Contains(kept, s) })
	if len(left) > 0 {
		t.Errorf("after uninstall, still labelled (kept: %v):\n%s", kept, strings.Join(left, "\n"))
	}
	if got := run("status", c.release); got.err == nil {
		t.Errorf("status after uninstall succeeded:\n%s", got.stdout)
	}
	return row
}

// statusSummary is "Current 5, InProgress 2".
func statusSummary(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// manifestObjects lists the objects of a manifest as Kind/namespace/name,
// sorted; objects without a namespace are given ns unless their kind is
// cluster-scoped (kinds the corpus uses).
func manifestObjects(t *testing.T, manifest, ns string) []string {
	t.Helper()
	var out []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("get manifest: %v", err)
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("get manifest: %v\n%s", err, doc)
		}
		if obj.Kind == "" {
			continue // comments only
		}
		switch {
		case clusterScopedKinds[obj.Kind]:
			obj.Metadata.Namespace = ""
		case obj.Metadata.Namespace == "":
			obj.Metadata.Namespace = ns
		}
		out = append(out, obj.Kind+"/"+obj.Metadata.Namespace+"/"+obj.Metadata.Name)
	}
	slices.Sort(out)
	return out
}

// clusterScopedKinds are the cluster-scoped kinds the corpus charts render.
var clusterScopedKinds = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"IngressClass": true, "APIService": true, "ValidatingWebhookConfiguration": true,
	"MutatingWebhookConfiguration": true, "PriorityClass": true, "StorageClass": true, "PersistentVolume": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
}

// labelledObjects lists every object of every listable kind, in every
// namespace, that carries the release's ownership labels, named as
// release.ObjectRef names them.
func labelledObjects(t *testing.T, ctx context.Context, name, ns string) []string {
	t.Helper()
	cfg := rest.CopyConfig(env.Config())
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds, listed on purpose
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: ownership.LabelRelease + "=" + name + "," + ownership.LabelReleaseNamespace + "=" + ns}
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			objs, err := dyn.Resource(gv.WithResource(r.Name)).List(ctx, sel)
			if err != nil {
				t.Errorf("list %s: %v", gv.WithResource(r.Name), err)
				continue
			}
			for _, o := range objs.Items {
				out = append(out, release.ObjectRef{Group: gv.Group, Kind: r.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}.String())
			}
		}
	}
	slices.Sort(out)
	return out
}
