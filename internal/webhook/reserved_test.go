package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// TestRecordLabelWithoutRelease: a ConfigMap or Secret named like a release
// record that carries the record label but not the release label is no
// record of any release. It used to be let through as nobody's, and its
// next update, adding the release label, was judged by the old object's
// labels, as nobody's too: anyone could write the head of a release not
// installed yet, with a lock of any length, without verb deploy. Now the
// first is refused, and the second is judged as a write of the head it
// makes.
func TestRecordLabelWithoutRelease(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lock, _ := json.Marshal(map[string]any{"holder": "mallory@x", "id": "m", "expires": now.Add(time.Minute)})
	longLock, _ := json.Marshal(map[string]any{"holder": "mallory@x", "id": "m", "expires": now.Add(1000 * time.Hour)})
	recordOnly := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: ownership.HeadName("web"), Namespace: "apps",
			Labels: map[string]string{ownership.LabelRecord: ownership.RecordHead}},
	}
	head := func(lock []byte, data map[string]string) *corev1.ConfigMap {
		cm := recordOnly.DeepCopy()
		cm.Labels[ownership.LabelRelease] = "web"
		cm.Data = map[string]string{"revision": "0", "deployed": "0", "status": "", "inventory": "[]", "lock": string(lock)}
		for k, v := range data {
			cm.Data[k] = v
		}
		return cm
	}
	forged := head(lock, map[string]string{"revision": "1", "status": "uninstalling",
		"inventory": `[{"version":"v1","kind":"ConfigMap","namespace":"apps","name":"config"}]`})
	secretOnly := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: ownership.RevisionName("web", 1), Namespace: "apps",
			Labels: map[string]string{ownership.LabelRecord: ownership.RecordRevision, ownership.LabelRevision: "1"}},
		Type: ownership.SecretTypeRelease,
	}

	cases := []struct {
		name    string
		req     admission.Request
		authz   *fuzzAuthorizer
		allowed bool
		message string
	}{
		{"a head without the release label is refused",
			admissionRequest(t, admissionv1.Create, "", "ConfigMap", "mallory", nil, recordOnly, "kubectl-create"),
			&fuzzAuthorizer{deploy: true, unlock: true}, false, "are kept for the records of kubectl-chart releases"},
		{"a revision record without the release label is refused",
			admissionRequest(t, admissionv1.Create, "", "Secret", "mallory", nil, secretOnly, "kubectl-create"),
			&fuzzAuthorizer{deploy: true, unlock: true}, false, "are kept for the records of kubectl-chart releases"},
		{"naming the release is writing its head: the lock needs verb deploy",
			admissionRequest(t, admissionv1.Update, "", "ConfigMap", "mallory", recordOnly, forged, "kubectl-edit"),
			&fuzzAuthorizer{}, false, `needs verb "deploy"`},
		{"naming the release is writing its head: the lock moves alone",
			admissionRequest(t, admissionv1.Update, "", "ConfigMap", "mallory", recordOnly, forged, "kubectl-edit"),
			&fuzzAuthorizer{deploy: true, unlock: true}, false, "changes nothing else of its head"},
		{"naming the release is writing its head: the lock's length is capped",
			admissionRequest(t, admissionv1.Update, "", "ConfigMap", "mallory", recordOnly, head(longLock, nil), "kubectl-edit"),
			&fuzzAuthorizer{deploy: true, unlock: true}, false, "beyond the webhook's limit"},
		{"naming the release is writing its head: the release label is an identity label",
			admissionRequest(t, admissionv1.Update, "", "ConfigMap", "mallory", recordOnly, head(lock, nil), "kubectl-edit"),
			&fuzzAuthorizer{deploy: true, unlock: true}, false, `metadata.labels["kubectl-chart.io/release"]`},
		{"the head kubectl chart install creates is still allowed",
			admissionRequest(t, admissionv1.Create, "", "ConfigMap", "deployer", nil, head(lock, nil), ownership.FieldManager),
			&fuzzAuthorizer{deploy: true}, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := NewHandler(Options{Config: ownership.Config{Now: func() time.Time { return now }}, Heads: noHeads{}, Authorizer: c.authz})
			if err != nil {
				t.Fatal(err)
			}
			req := c.req
			stamp := h.Stamper().Handle(context.Background(), req)
			if !stamp.Allowed {
				t.Fatalf("the Stamper refused: %s", resultMessage(stamp))
			}
			if len(stamp.Patches) > 0 {
				if req.Object.Raw, err = applyPatch(req.Object.Raw, stamp.Patches); err != nil {
					t.Fatal(err)
				}
			}
			resp := h.Handle(context.Background(), req)
			if resp.Allowed != c.allowed {
				t.Fatalf("allowed = %v (%s), want %v", resp.Allowed, resultMessage(resp), c.allowed)
			}
			if !c.allowed && !strings.Contains(resultMessage(resp), c.message) {
				t.Errorf("message %q does not say %q", resultMessage(resp), c.message)
			}
		})
	}
}
