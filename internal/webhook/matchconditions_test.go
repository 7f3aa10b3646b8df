package webhook

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// seenRequests records the admission requests a test webhook received, by
// path and object name.
type seenRequests struct {
	mu   sync.Mutex
	reqs map[string][]admissionv1.AdmissionRequest
}

func (s *seenRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	key := r.URL.Path + " " + review.Request.Name
	s.reqs[key] = append(s.reqs[key], *review.Request)
	s.mu.Unlock()
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	_ = json.NewEncoder(w).Encode(&review)
}

func (s *seenRequests) get(path, name string) []admissionv1.AdmissionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]admissionv1.AdmissionRequest(nil), s.reqs[path+" "+name]...)
}

// TestMatchConditionOnTheAPIServer: the webhook configuration's match
// condition (CEL, evaluated by the API server) and ownership.MayChangeOwned
// (Go) agree on real writes, and skip exactly the writes meant to be
// skipped. Two test webhooks see the same writes to labelled objects:
// /all without the condition (it receives every request, with the objects
// MayChangeOwned is computed on) and /cond with the manifests' condition.
func TestMatchConditionOnTheAPIServer(t *testing.T) {
	startWebhook(t)
	ctx := t.Context()
	ns := env.Namespace(t)
	admin, alice := as(t, "admin"), as(t, userAlice)
	wo := env.Envtest().WebhookInstallOptions

	// The recording server, on envtest's serving certificate.
	cert, err := tls.LoadX509KeyPair(filepath.Join(wo.LocalServingCertDir, "tls.crt"), filepath.Join(wo.LocalServingCertDir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	seen := &seenRequests{reqs: map[string][]admissionv1.AdmissionRequest{}}
	srv := &http.Server{Handler: seen, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "https://" + ln.Addr().(*net.TCPAddr).String()

	_, shipped, err := manifestWebhooks()
	if err != nil {
		t.Fatal(err)
	}
	var cond *admissionregistrationv1.ValidatingWebhook
	for i := range shipped.Webhooks {
		if shipped.Webhooks[i].Name == "ownership.kubectl-chart.io" {
			cond = shipped.Webhooks[i].DeepCopy()
		}
	}
	if cond == nil || len(cond.MatchConditions) != 1 || cond.MatchConditions[0].Name != ownership.MatchConditionName {
		t.Fatalf("manifests/: webhook ownership.kubectl-chart.io has no match condition %s", ownership.MatchConditionName)
	}
	none := admissionregistrationv1.SideEffectClassNone
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "match-condition-" + ns}}
	for _, path := range []string{"/all", "/cond"} {
		w := cond.DeepCopy()
		w.Name = path[1:] + ".match-condition.test"
		url := base + path
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: wo.LocalServingCAData}
		w.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
		w.SideEffects = &none
		if path == "/all" {
			w.MatchConditions = nil
		}
		config.Webhooks = append(config.Webhooks, *w)
	}
	if _, err := admin.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, config, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the test webhook configuration (does the API server accept the condition?): %v", err)
	}
	t.Cleanup(func() {
		_ = admin.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, config.Name, metav1.DeleteOptions{})
	})

	labels := map[string]string{ownership.LabelRelease: "web", ownership.LabelReleaseNamespace: ns, "app": "web"}
	newConfigMap := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: map[string]string{"note": "a"}},
			Data:       map[string]string{"mode": "production"},
		}
	}
	// The API server starts calling a new configuration a moment after it
	// is created.
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		name := "probe-" + time.Now().Format("150405.000000")
		if _, err := admin.cs.CoreV1().ConfigMaps(ns).Create(ctx, newConfigMap(name), metav1.CreateOptions{}); err != nil {
			return false, err
		}
		return len(seen.get("/all", name)) > 0, nil
	})
	if err != nil {
		t.Fatalf("the test webhooks were never called: %v", err)
	}

	applyCM := func(manager string, force bool, annotations, data map[string]string) func(ctx context.Context, name string) error {
		return func(ctx context.Context, name string) error {
			body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": name, "annotations": annotations}, "data": data})
			_, err := alice.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: manager, Force: &force})
			return err
		}
	}
	mergeCM := func(manager, patch string) func(ctx context.Context, name string) error {
		return func(ctx context.Context, name string) error {
			_, err := alice.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: manager})
			return err
		}
	}
	jsonCM := func(patch string) func(ctx context.Context, name string) error {
		return func(ctx context.Context, name string) error {
			_, err := alice.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.JSONPatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-patch"})
			return err
		}
	}
	tests := []struct {
		name string
		// deployment: the object is a Deployment (else a ConfigMap).
		deployment bool
		write      func(ctx context.Context, name string) error
		want       bool // MayChangeOwned
	}{
		{name: "annotation added (merge patch)", write: mergeCM("kubectl-annotate", `{"metadata":{"annotations":{"seen":"yes"}}}`)},
		{name: "label added (merge patch)", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"team":"a"}}}`)},
		{name: "annotation added (apply by another manager)", write: applyCM("tool", false, map[string]string{"tool": "on"}, nil)},
		{name: "label set to its value", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"app":"web"}}}`)},
		{name: "empty merge patch", write: mergeCM("kubectl-patch", `{}`)},
		{name: "annotation added (update)", write: func(ctx context.Context, name string) error {
			cm, err := alice.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm.Annotations["replaced"] = "yes"
			_, err = alice.cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-replace"})
			return err
		}},
		{name: "annotation added to a Deployment", deployment: true, write: func(ctx context.Context, name string) error {
			_, err := alice.cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"seen":"yes"}}}`), metav1.PatchOptions{FieldManager: "kubectl-annotate"})
			return err
		}},

		{name: "annotation changed", write: mergeCM("kubectl-annotate", `{"metadata":{"annotations":{"note":"b"}}}`), want: true},
		{name: "annotation removed", write: mergeCM("kubectl-annotate", `{"metadata":{"annotations":{"note":null}}}`), want: true},
		{name: "label removed", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"app":null}}}`), want: true},
		{name: "release label removed", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"kubectl-chart.io/release":null}}}`), want: true},
		{name: "data changed", write: mergeCM("kubectl-edit", `{"data":{"mode":"debug"}}`), want: true},
		{name: "data key added", write: mergeCM("kubectl-edit", `{"data":{"extra":"1"}}`), want: true},
		{name: "record label added", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"kubectl-chart.io/record":"revision"}}}`), want: true},
		{name: "kubectl-chart.io label added", write: mergeCM("kubectl-label", `{"metadata":{"labels":{"kubectl-chart.io/other":"x"}}}`), want: true},
		{name: "ApplySet annotation added", write: mergeCM("kubectl-annotate", `{"metadata":{"annotations":{"applyset.kubernetes.io/tooling":"x"}}}`), want: true},
		{name: "annotation added with field manager kubectl-chart", write: mergeCM(ownership.FieldManager, `{"metadata":{"annotations":{"seen":"yes"}}}`), want: true},
		{name: "finalizer added", write: mergeCM("kubectl-patch", `{"metadata":{"finalizers":["example.com/hold"]}}`), want: true},
		{name: "managedFields reset", write: mergeCM("kubectl-patch", `{"metadata":{"managedFields":[{}]}}`), want: true},
		{name: "kubectl-chart's entry removed (JSON patch)", write: jsonCM(`[{"op":"remove","path":"/metadata/managedFields/0"}]`), want: true},
		{name: "an owned field forced to its value by another manager (ownership shared)", write: applyCM("tool", true, nil, map[string]string{"mode": "production"})},
		{name: "an owned field forced to another value by another manager", write: applyCM("tool", true, nil, map[string]string{"mode": "debug"}), want: true},
		{name: "replicas of a Deployment", deployment: true, write: func(ctx context.Context, name string) error {
			_, err := alice.cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
			return err
		}, want: true},
		{name: "delete", write: func(ctx context.Context, name string) error {
			return alice.cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{})
		}, want: true},
	}
	skipped := 0
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("obj-%d", i)
			// The release's object as the plugin writes it: applied by
			// kubectl-chart (its managedFields entry is the first).
			if tt.deployment {
				d := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": name, "labels": labels, "annotations": map[string]string{"note": "a"}},
					"spec": map[string]any{"replicas": 2, "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
						"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
							"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27"}}}}}}
				body, _ := json.Marshal(d)
				force := true
				if _, err := admin.cs.AppsV1().Deployments(ns).Patch(ctx, name, types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: ownership.FieldManager, Force: &force}); err != nil {
					t.Fatal(err)
				}
			} else {
				cm := newConfigMap(name)
				cm.APIVersion, cm.Kind = "v1", "ConfigMap"
				body, _ := json.Marshal(cm)
				force := true
				if _, err := admin.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.ApplyPatchType, body,
					metav1.PatchOptions{FieldManager: ownership.FieldManager, Force: &force}); err != nil {
					t.Fatal(err)
				}
			}
			before := len(seen.get("/all", name))
			if err := tt.write(ctx, name); err != nil {
				t.Fatalf("write: %v", err)
			}
			all := seen.get("/all", name)
			if len(all) != before+1 {
				t.Fatalf("/all received %d requests for the write, want 1", len(all)-before)
			}
			got := all[len(all)-1]
			r, _, err := request(admission.Request{AdmissionRequest: got})
			if err != nil {
				t.Fatal(err)
			}
			goSays := ownership.MayChangeOwned(r)
			if goSays != tt.want {
				t.Errorf("MayChangeOwned = %v, want %v (old %s, new %s)", goSays, tt.want, got.OldObject.Raw, got.Object.Raw)
			}
			// /cond saw the apply that created the object (a CREATE) and
			// the write only if the API server's condition let it through.
			cond := seen.get("/cond", name)
			celSays := len(cond) == before+1
			if len(cond) != before && len(cond) != before+1 {
				t.Fatalf("/cond received %d requests for the write", len(cond)-before)
			}
			if celSays != goSays {
				t.Errorf("the API server's match condition says %v, MayChangeOwned %v (old %s, new %s, options %s)",
					celSays, goSays, got.OldObject.Raw, got.Object.Raw, got.Options.Raw)
			}
			if !celSays {
				skipped++
			}
		})
	}
	if skipped == 0 {
		t.Error("the API server skipped no write")
	}
}
