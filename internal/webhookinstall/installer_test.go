package webhookinstall

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
)

// TestLocalSealKey: a local install writes a random seal key when the
// folder has none (or one chart-webhook would refuse), and keeps a usable
// one.
func TestLocalSealKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SealKeyFile)
	key, err := localSealKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := hex.DecodeString(string(key)); err != nil || len(raw) != 32 {
		t.Fatalf("new key %q: want 32 random bytes in hex (%v)", key, err)
	}
	again, _ := localSealKey(path)
	if string(again) == string(key) {
		t.Errorf("two new keys are the same")
	}
	files, err := writeFiles(dir, map[string][]byte{SealKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v, want 0600", files[0], err, fi.Mode().Perm())
	}
	if kept, err := localSealKey(path); err != nil || kept != nil {
		t.Errorf("existing key: %q, %v; want it kept (nil)", kept, err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if key, err := localSealKey(path); err != nil || len(key) != 64 {
		t.Errorf("a key of 5 bytes: %q, %v; want a new one", key, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := localSealKey(filepath.Join(dir, "dir")); err == nil || !strings.HasPrefix(err.Error(), "seal key: ") {
		t.Errorf("a folder in place of the key: %v, want an error", err)
	}
}

// TestCheckAggregation: after the apply, the deployer and unlocker
// ClusterRoles carry both aggregation labels, or (strict) none; a label
// that server-side apply could not remove, because another field manager
// owns it, is named with that manager and the command that removes it.
func TestCheckAggregation(t *testing.T) {
	role := func(name string, labels map[string]string, managers ...metav1.ManagedFieldsEntry) apply.Change {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("rbac.authorization.k8s.io/v1")
		u.SetKind("ClusterRole")
		u.SetName(name)
		u.SetLabels(labels)
		u.SetManagedFields(managers)
		return apply.Change{Ref: apply.RefOf(u), Action: apply.Configured, Object: u}
	}
	owns := func(manager string, labels ...string) metav1.ManagedFieldsEntry {
		var fields []string
		for _, l := range labels {
			fields = append(fields, `"f:`+l+`":{}`)
		}
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{` + strings.Join(fields, ",") + `}}}`)}}
	}
	admin, edit := aggregationLabels[0], aggregationLabels[1]
	both := map[string]string{admin: "true", edit: "true"}
	other := &unstructured.Unstructured{}
	other.SetAPIVersion("v1")
	other.SetKind("ServiceAccount")
	other.SetName(Name)
	other.SetNamespace(DefaultNamespace)
	for _, tc := range []struct {
		name    string
		changes []apply.Change
		strict  bool
		want    []string
	}{
		{"aggregated", []apply.Change{role(DeployerRoleName, both), role(UnlockerRoleName, both), {Ref: apply.RefOf(other), Object: other}}, false, nil},
		{"strict", []apply.Change{role(DeployerRoleName, nil), role(UnlockerRoleName, map[string]string{labelName: Name})}, true, nil},
		{"failed objects have no object", []apply.Change{{Ref: apply.RefOf(other), Action: apply.Failed}}, true, nil},
		{"strict over kubectl apply -k", []apply.Change{
			role(DeployerRoleName, both, owns("kubectl", admin, edit), owns("kubectl-chart")),
			role(UnlockerRoleName, map[string]string{edit: "true"}, owns("kubectl-label", edit)),
		}, true, []string{
			"ClusterRole.rbac.authorization.k8s.io/kubectl-chart-deployer: --strict could not remove the label rbac.authorization.k8s.io/aggregate-to-admin, which another field manager (kubectl) set: remove it with `kubectl label clusterrole kubectl-chart-deployer rbac.authorization.k8s.io/aggregate-to-admin-`",
			"ClusterRole.rbac.authorization.k8s.io/kubectl-chart-deployer: --strict could not remove the label rbac.authorization.k8s.io/aggregate-to-edit, which another field manager (kubectl) set",
			"ClusterRole.rbac.authorization.k8s.io/kubectl-chart-unlocker: --strict could not remove the label rbac.authorization.k8s.io/aggregate-to-edit, which another field manager (kubectl-label) set",
		}},
		{"strict, owner unknown", []apply.Change{role(DeployerRoleName, map[string]string{admin: "true"})}, true, []string{
			"which another field manager (unknown) set",
		}},
		{"not aggregated after a plain install", []apply.Change{role(DeployerRoleName, map[string]string{admin: "true", edit: "false"})}, false, []string{
			`ClusterRole.rbac.authorization.k8s.io/kubectl-chart-deployer: label rbac.authorization.k8s.io/aggregate-to-edit is "false", want "true"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAggregation(tc.changes, tc.strict)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("checkAggregation: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkAggregation: nil, want %q", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, want := range tc.want {
				if i < len(lines) && !strings.Contains(lines[i], want) {
					t.Errorf("error %d: %q lacks %q", i, lines[i], want)
				}
			}
		})
	}
}
