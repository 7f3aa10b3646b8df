package helmrelease

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// simple is a small release for storage tests.
func simple(namespace, name string, version int, status string) *Release {
	return &Release{
		Name: name, Namespace: namespace, Version: version,
		Info:     &Info{Status: status, Description: "Upgrade complete", LastDeployed: time.Date(2024, 1, 1, 0, 0, version, 0, time.UTC)},
		Chart:    &Chart{Metadata: &Metadata{Name: name, Version: "1.0.0"}},
		Manifest: "# Source: x\n",
	}
}

func secretOf(t *testing.T, r *Release) *corev1.Secret {
	t.Helper()
	s, err := Secret(r, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func configMapOf(t *testing.T, r *Release) *corev1.ConfigMap {
	t.Helper()
	c, err := ConfigMap(r, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withLabels is r with release labels, as Read gives it.
func withLabels(r *Release, lbs map[string]string) *Release {
	r.Labels = lbs
	return r
}

func TestRead(t *testing.T) {
	var helm4Secrets, helm3ConfigMaps []runtime.Object
	for _, s := range readSecrets(t, "helm4-secrets.yaml") {
		helm4Secrets = append(helm4Secrets, &s)
	}
	for _, c := range readConfigMaps(t, "helm3-configmaps.yaml") {
		helm3ConfigMaps = append(helm3ConfigMaps, &c)
	}
	team := map[string]string{"team": "frontend"}

	opaque := secretOf(t, simple("app", "web", 5, StatusDeployed))
	opaque.Type = corev1.SecretTypeOpaque
	undecodable := secretOf(t, simple("app", "web", 2, StatusDeployed))
	undecodable.Data[DataKey] = []byte("H4sI!!!")
	undecodableCM := configMapOf(t, simple("app", "web", 3, StatusDeployed))
	undecodableCM.Data[DataKey] = "H4sIAAAAAAAC/wE="
	renamed := secretOf(t, simple("app", "web", 1, StatusSuperseded))
	renamed.Name = "copy-of-v1"
	noNamespace := simple("", "web", 1, StatusDeployed)
	noNamespaceSecret := secretOf(t, noNamespace)
	noNamespaceSecret.Namespace = "app"

	tests := []struct {
		name    string
		objects []runtime.Object
		want    []*Record
		wantErr string
		is      error
	}{
		{
			name:    "helm 4, Secrets driver (objects Helm's driver wrote)",
			objects: helm4Secrets,
			want: []*Record{
				{
					Release: withLabels(helm4Want(1, StatusSuperseded, "Install complete", 0), team), Driver: DriverSecret,
					Namespace: "app", Name: "sh.helm.release.v1.web.v1",
					Labels: map[string]string{"modifiedAt": "1700000600", "name": "web", "owner": "helm", "status": "superseded", "team": "frontend", "version": "1"},
				},
				{
					Release: withLabels(helm4Want(2, StatusDeployed, "Upgrade complete", 0), team), Driver: DriverSecret,
					Namespace: "app", Name: "sh.helm.release.v1.web.v2",
					Labels: map[string]string{"createdAt": "1700000000", "name": "web", "owner": "helm", "status": "deployed", "team": "frontend", "version": "2"},
				},
			},
		},
		{
			name:    "helm 3, ConfigMaps driver (objects Helm's driver wrote)",
			objects: helm3ConfigMaps,
			want: []*Record{
				{
					Release: withLabels(helm3Want(1, StatusSuperseded, "Install complete"), team), Driver: DriverConfigMap,
					Namespace: "app", Name: "sh.helm.release.v1.web.v1",
					Labels: map[string]string{"modifiedAt": "1700000600", "name": "web", "owner": "helm", "status": "superseded", "team": "frontend", "version": "1"},
				},
				{
					Release: withLabels(helm3Want(2, StatusDeployed, "Upgrade complete"), team), Driver: DriverConfigMap,
					Namespace: "app", Name: "sh.helm.release.v1.web.v2",
					Labels: map[string]string{"createdAt": "1700000000", "name": "web", "owner": "helm", "status": "deployed", "team": "frontend", "version": "2"},
				},
			},
		},
		{
			name: "sorted by version as a number; other releases, namespaces and Secret types left out",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 10, StatusDeployed)),
				secretOf(t, simple("app", "web", 2, StatusSuperseded)),
				secretOf(t, simple("app", "web", 1, StatusSuperseded)),
				secretOf(t, simple("app", "web-2", 1, StatusDeployed)),
				secretOf(t, simple("other", "web", 1, StatusDeployed)),
				configMapOf(t, simple("other", "web", 1, StatusDeployed)),
				opaque,
			},
			want: []*Record{
				{Release: simple("app", "web", 1, StatusSuperseded), Driver: DriverSecret, Namespace: "app", Name: "sh.helm.release.v1.web.v1", Labels: systemLabelsOf("web", 1, StatusSuperseded)},
				{Release: simple("app", "web", 2, StatusSuperseded), Driver: DriverSecret, Namespace: "app", Name: "sh.helm.release.v1.web.v2", Labels: systemLabelsOf("web", 2, StatusSuperseded)},
				{Release: simple("app", "web", 10, StatusDeployed), Driver: DriverSecret, Namespace: "app", Name: "sh.helm.release.v1.web.v10", Labels: systemLabelsOf("web", 10, StatusDeployed)},
			},
		},
		{
			name: "both drivers with identical revisions: the Secrets'",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 1, StatusDeployed)),
				configMapOf(t, simple("app", "web", 1, StatusDeployed)),
			},
			want: []*Record{
				{Release: simple("app", "web", 1, StatusDeployed), Driver: DriverSecret, Namespace: "app", Name: "sh.helm.release.v1.web.v1", Labels: systemLabelsOf("web", 1, StatusDeployed)},
			},
		},
		{
			name:    "a release without a namespace is given its object's",
			objects: []runtime.Object{noNamespaceSecret},
			want: []*Record{
				{Release: simple("app", "web", 1, StatusDeployed), Driver: DriverSecret, Namespace: "app", Name: "sh.helm.release.v1.web.v1", Labels: systemLabelsOf("web", 1, StatusDeployed)},
			},
		},
		{
			name: "both drivers with different revisions",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 1, StatusSuperseded)),
				secretOf(t, simple("app", "web", 2, StatusDeployed)),
				configMapOf(t, simple("app", "web", 1, StatusDeployed)),
			},
			wantErr: "helm release web in namespace app is stored by both drivers, with different revisions: Secrets sh.helm.release.v1.web.v1, sh.helm.release.v1.web.v2 and ConfigMaps sh.helm.release.v1.web.v1; Helm reads only those of the driver HELM_DRIVER names (secret by default): remove the others",
		},
		{
			name: "both drivers, same versions, different content",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 1, StatusDeployed)),
				configMapOf(t, simple("app", "web", 1, StatusFailed)),
			},
			wantErr: "helm release web in namespace app is stored by both drivers, with different revisions: Secrets sh.helm.release.v1.web.v1 and ConfigMaps sh.helm.release.v1.web.v1;",
		},
		{
			name: "undecodable records are named, each",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 1, StatusSuperseded)),
				undecodable,
				undecodableCM,
			},
			wantErr: "Secret/app/sh.helm.release.v1.web.v2: cannot read the helm release record: decode base64: illegal base64 data at input byte 4\n" +
				"ConfigMap/app/sh.helm.release.v1.web.v3: cannot read the helm release record: decompress: ",
		},
		{
			name: "two records of one version",
			objects: []runtime.Object{
				secretOf(t, simple("app", "web", 1, StatusSuperseded)),
				renamed,
			},
			wantErr: "Secret/app/copy-of-v1 and Secret/app/sh.helm.release.v1.web.v1: both hold version 1 of helm release web",
		},
		{
			name:    "none",
			objects: []runtime.Object{secretOf(t, simple("app", "web-2", 1, StatusDeployed)), opaque},
			wantErr: "helm release not found: web in namespace app",
			is:      ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(tt.objects...)
			got, err := Read(t.Context(), cs, "app", "web")
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Read error = %v, want it to start %q", err, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("Read error %v is not %v", err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadDriverConflictError(t *testing.T) {
	cs := fake.NewClientset(secretOf(t, simple("app", "web", 2, StatusDeployed)), configMapOf(t, simple("app", "web", 1, StatusDeployed)))
	_, err := Read(t.Context(), cs, "app", "web")
	var conflict *DriverConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Read error = %v, want a *DriverConflictError", err)
	}
	want := &DriverConflictError{Namespace: "app", Name: "web", Secrets: []string{"sh.helm.release.v1.web.v2"}, ConfigMaps: []string{"sh.helm.release.v1.web.v1"}}
	if diff := cmp.Diff(want, conflict); diff != "" {
		t.Errorf("DriverConflictError (-want +got):\n%s", diff)
	}
}

func TestReadArguments(t *testing.T) {
	cs := fake.NewClientset()
	for _, tt := range []struct{ namespace, name, want string }{
		{namespace: "", name: "web", want: "helm release web: a namespace is required"},
		{namespace: "app", name: "web,owner=x", want: `helm release web,owner=x: values[0][name]: Invalid value: "web,owner=x"`},
	} {
		if _, err := Read(context.Background(), cs, tt.namespace, tt.name); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Read(%q, %q) error = %v, want it to start %q", tt.namespace, tt.name, err, tt.want)
		}
	}
}

func systemLabelsOf(name string, version int, status string) map[string]string {
	return map[string]string{"createdAt": "1700000000", "name": name, "owner": "helm", "status": status, "version": strconv.Itoa(version)}
}

func TestNames(t *testing.T) {
	opaque := secretOf(t, simple("app", "not-helm", 1, StatusDeployed))
	opaque.Type = corev1.SecretTypeOpaque
	unlabelled := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "cm", Labels: map[string]string{"owner": "helm"}}}
	objects := []runtime.Object{
		secretOf(t, simple("app", "web", 1, StatusSuperseded)),
		secretOf(t, simple("app", "web", 2, StatusDeployed)),
		configMapOf(t, simple("app", "api", 1, StatusDeployed)),
		configMapOf(t, simple("app", "web", 1, StatusDeployed)),
		secretOf(t, simple("other", "db", 1, StatusFailed)),
		opaque, unlabelled,
	}
	tests := []struct {
		namespace string
		want      []types.NamespacedName
	}{
		{namespace: "app", want: []types.NamespacedName{{Namespace: "app", Name: "api"}, {Namespace: "app", Name: "web"}}},
		{namespace: "", want: []types.NamespacedName{{Namespace: "app", Name: "api"}, {Namespace: "app", Name: "web"}, {Namespace: "other", Name: "db"}}},
		{namespace: "empty"},
	}
	cs := fake.NewClientset(objects...)
	for _, tt := range tests {
		t.Run("namespace "+tt.namespace, func(t *testing.T) {
			got, err := Names(t.Context(), cs, tt.namespace)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStorageName(t *testing.T) {
	for _, tt := range []struct {
		name    string
		version int
		want    string
	}{
		{"web", 1, "sh.helm.release.v1.web.v1"},
		{"my-app", 12, "sh.helm.release.v1.my-app.v12"},
	} {
		if got := StorageName(tt.name, tt.version); got != tt.want {
			t.Errorf("StorageName(%q, %d) = %q, want %q", tt.name, tt.version, got, tt.want)
		}
	}
}

func TestSecretAndConfigMap(t *testing.T) {
	r := simple("app", "web", 3, StatusPendingUpgrade)
	r.Labels = map[string]string{"team": "frontend", "status": "ignored", "owner": "ignored", "createdAt": "1"}
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 3600))
	wantMeta := metav1.ObjectMeta{
		Name: "sh.helm.release.v1.web.v3", Namespace: "app",
		Labels: map[string]string{"name": "web", "owner": "helm", "status": "pending-upgrade", "version": "3", "createdAt": "1714975689", "team": "frontend"},
	}
	data, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}

	s, err := Secret(r, created)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: wantMeta,
		Type:       "helm.sh/release.v1",
		// The base64 text itself: the API shows it base64'd again.
		Data: map[string][]byte{"release": data},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Secret (-want +got):\n%s", diff)
	}

	c, err := ConfigMap(r, created)
	if err != nil {
		t.Fatal(err)
	}
	wantCM := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: wantMeta,
		Data:       map[string]string{"release": string(data)},
	}
	if diff := cmp.Diff(wantCM, c); diff != "" {
		t.Errorf("ConfigMap (-want +got):\n%s", diff)
	}

	// What they hold reads back, labels included.
	got, err := Read(t.Context(), fake.NewClientset(s), "app", "web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(withLabels(simple("app", "web", 3, StatusPendingUpgrade), map[string]string{"team": "frontend"}), got[0].Release); diff != "" {
		t.Errorf("Read(Secret(r)) (-want +got):\n%s", diff)
	}
}

func TestSecretErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    *Release
		want string
	}{
		{name: "nil", r: nil, want: "helm release record: a name, a version and a status are required to store it"},
		{name: "no name", r: simple("app", "", 1, StatusDeployed), want: "helm release record: a name, a version and a status are required"},
		{name: "no version", r: simple("app", "web", 0, StatusDeployed), want: "helm release record: a name, a version and a status are required"},
		{name: "no status", r: &Release{Name: "web", Version: 1}, want: "helm release record: a name, a version and a status are required"},
		{name: "unencodable", r: &Release{Name: "web", Version: 1, Info: &Info{Status: "deployed", Deleted: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}, want: "helm release record sh.helm.release.v1.web.v1: encode release JSON: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Secret(tt.r, time.Now()); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Secret error = %v, want it to start %q", err, tt.want)
			}
			if _, err := ConfigMap(tt.r, time.Now()); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("ConfigMap error = %v, want it to start %q", err, tt.want)
			}
		})
	}
}

func TestIsSystemLabel(t *testing.T) {
	for _, k := range []string{"name", "owner", "status", "version", "createdAt", "modifiedAt"} {
		if !IsSystemLabel(k) {
			t.Errorf("IsSystemLabel(%q) = false", k)
		}
	}
	for _, k := range []string{"team", "Name", "app.kubernetes.io/name", ""} {
		if IsSystemLabel(k) {
			t.Errorf("IsSystemLabel(%q) = true", k)
		}
	}
}
