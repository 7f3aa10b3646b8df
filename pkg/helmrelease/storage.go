package helmrelease

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Driver is a Helm storage driver, named as Helm names it.
type Driver string

// Drivers kubectl-chart reads and writes (HELM_DRIVER=secret, the default,
// and HELM_DRIVER=configmap). Helm's SQL and memory drivers keep nothing on
// the cluster.
const (
	DriverSecret    Driver = "Secret"
	DriverConfigMap Driver = "ConfigMap"
)

// Storage layout, as Helm's Secrets and ConfigMaps drivers write it.
const (
	// StoragePrefix starts every storage object's name (Helm's
	// HelmStorageType).
	StoragePrefix = "sh.helm.release.v1"
	// SecretType is the type of the Secrets Helm stores releases in.
	SecretType corev1.SecretType = "helm.sh/release.v1"
	// DataKey holds the encoded release in the Secret's or ConfigMap's data.
	DataKey = "release"
	// Owner is the owner label's value.
	Owner = "helm"
)

// Helm's system labels: those its drivers set on a storage object, which
// are not the release's own (Release.Labels).
const (
	LabelName       = "name"
	LabelOwner      = "owner"
	LabelStatus     = "status"
	LabelVersion    = "version"
	LabelCreatedAt  = "createdAt"
	LabelModifiedAt = "modifiedAt"
)

var systemLabels = []string{LabelName, LabelOwner, LabelStatus, LabelVersion, LabelCreatedAt, LabelModifiedAt}

// IsSystemLabel tells whether key is one of Helm's system labels, which Helm
// refuses as a release label (--labels).
func IsSystemLabel(key string) bool { return slices.Contains(systemLabels, key) }

// SystemLabels are Helm's system labels in Helm's order (its error for a
// reserved --labels key lists them so).
func SystemLabels() []string { return slices.Clone(systemLabels) }

// releaseLabels are lbs without Helm's system labels (nil when none are
// left), as Helm's drivers give them to Release.Labels.
func releaseLabels(lbs map[string]string) map[string]string {
	var out map[string]string
	for k, v := range lbs {
		if IsSystemLabel(k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// Record is one stored revision: the release and where it is stored.
type Record struct {
	Release *Release
	Driver  Driver
	// Namespace and Name are the storage object's; Name is
	// sh.helm.release.v1.NAME.vN when Helm wrote it.
	Namespace, Name string
	// Labels are the storage object's labels, all of them.
	Labels map[string]string
}

// ref is the record's storage object as errors name it (Kind/namespace/name).
func (rec *Record) ref() string {
	return fmt.Sprintf("%s/%s/%s", rec.Driver, rec.Namespace, rec.Name)
}

// ErrNotFound says there is no Helm release of that name in that namespace
// (in either driver).
var ErrNotFound = errors.New("helm release not found")

// DriverConflictError says a release is stored by both drivers, with
// revisions that differ: which history is Helm's depends on HELM_DRIVER.
type DriverConflictError struct {
	Namespace, Name string
	// Secrets and ConfigMaps are the storage objects' names, by version.
	Secrets, ConfigMaps []string
}

func (e *DriverConflictError) Error() string {
	return fmt.Sprintf("helm release %s in namespace %s is stored by both drivers, with different revisions: Secrets %s and ConfigMaps %s; Helm reads only those of the driver HELM_DRIVER names (secret by default): remove the others",
		e.Name, e.Namespace, strings.Join(e.Secrets, ", "), strings.Join(e.ConfigMaps, ", "))
}

// Read reads every revision of release name in namespace from both drivers
// (Secrets of type helm.sh/release.v1 and ConfigMaps, both selected by the
// labels owner=helm,name=NAME, as Helm's History queries them; Helm does not
// look at a Secret's type, but every Secret it writes has that one), oldest
// first (by Version). Unlike Helm, which skips a record it cannot decode, Read
// fails naming the object (Kind/namespace/name), and so it does for two
// records of one version. A release stored by both drivers is a
// *DriverConflictError unless both hold identical revisions (then the
// Secrets' records are returned). ErrNotFound when there is none.
//
// Each Release's Labels are its object's labels without the system labels,
// and a Release without a namespace (never written so by Helm 3 or 4) is
// given its object's.
func Read(ctx context.Context, cs kubernetes.Interface, namespace, name string) ([]*Record, error) {
	if namespace == "" {
		return nil, fmt.Errorf("helm release %s: a namespace is required", name)
	}
	sel, err := labels.ValidatedSelectorFromSet(labels.Set{LabelOwner: Owner, LabelName: name})
	if err != nil {
		return nil, fmt.Errorf("helm release %s: %w", name, err)
	}
	opts := metav1.ListOptions{LabelSelector: sel.String()}

	secrets, err := cs.CoreV1().Secrets(namespace).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list Secrets of helm release %s in namespace %s: %w", name, namespace, err)
	}
	cms, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list ConfigMaps of helm release %s in namespace %s: %w", name, namespace, err)
	}

	var errs []error
	var fromSecrets, fromCMs []*Record
	for i := range secrets.Items {
		s := &secrets.Items[i]
		if s.Type != SecretType {
			continue
		}
		rec, err := record(DriverSecret, &s.ObjectMeta, string(s.Data[DataKey]))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fromSecrets = append(fromSecrets, rec)
	}
	for i := range cms.Items {
		c := &cms.Items[i]
		rec, err := record(DriverConfigMap, &c.ObjectMeta, c.Data[DataKey])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fromCMs = append(fromCMs, rec)
	}
	errs = append(errs, sortRecords(fromSecrets), sortRecords(fromCMs))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	switch {
	case len(fromSecrets) == 0 && len(fromCMs) == 0:
		return nil, fmt.Errorf("%w: %s in namespace %s", ErrNotFound, name, namespace)
	case len(fromCMs) == 0:
		return fromSecrets, nil
	case len(fromSecrets) == 0:
		return fromCMs, nil
	case identical(fromSecrets, fromCMs):
		return fromSecrets, nil
	}
	return nil, &DriverConflictError{Namespace: namespace, Name: name, Secrets: recordNames(fromSecrets), ConfigMaps: recordNames(fromCMs)}
}

// record decodes one storage object's release.
func record(driver Driver, meta *metav1.ObjectMeta, data string) (*Record, error) {
	r, err := Decode([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("%s/%s/%s: cannot read the helm release record: %w", driver, meta.Namespace, meta.Name, err)
	}
	if r.Namespace == "" {
		r.Namespace = meta.Namespace
	}
	r.Labels = releaseLabels(meta.Labels)
	return &Record{Release: r, Driver: driver, Namespace: meta.Namespace, Name: meta.Name, Labels: maps.Clone(meta.Labels)}, nil
}

// sortRecords sorts one driver's records by version; two records of one
// version are an error naming both.
func sortRecords(recs []*Record) error {
	slices.SortStableFunc(recs, func(a, b *Record) int {
		return cmp.Or(cmp.Compare(a.Release.Version, b.Release.Version), strings.Compare(a.Name, b.Name))
	})
	var errs []error
	for i := 1; i < len(recs); i++ {
		if a, b := recs[i-1], recs[i]; a.Release.Version == b.Release.Version {
			errs = append(errs, fmt.Errorf("%s and %s: both hold version %d of helm release %s", a.ref(), b.ref(), a.Release.Version, a.Release.Name))
		}
	}
	return errors.Join(errs...)
}

// identical tells whether two drivers' records (sorted) are the same
// revisions: same versions, same release JSON, same release labels.
func identical(a, b []*Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ja, errA := json.Marshal(a[i].Release)
		jb, errB := json.Marshal(b[i].Release)
		if errA != nil || errB != nil || string(ja) != string(jb) || !maps.Equal(a[i].Release.Labels, b[i].Release.Labels) {
			return false
		}
	}
	return true
}

func recordNames(recs []*Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Name
	}
	return out
}

// Names lists the Helm releases in namespace ("" for all namespaces) from
// both drivers: namespace and name (the storage objects' name label, which
// Helm sets to the release's name), sorted, each once. It decodes nothing.
func Names(ctx context.Context, cs kubernetes.Interface, namespace string) ([]types.NamespacedName, error) {
	opts := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{LabelOwner: Owner}).String()}
	secrets, err := cs.CoreV1().Secrets(namespace).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list helm release Secrets: %w", err)
	}
	cms, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list helm release ConfigMaps: %w", err)
	}
	seen := map[types.NamespacedName]bool{}
	add := func(meta *metav1.ObjectMeta) {
		if n := meta.Labels[LabelName]; n != "" {
			seen[types.NamespacedName{Namespace: meta.Namespace, Name: n}] = true
		}
	}
	for i := range secrets.Items {
		if secrets.Items[i].Type == SecretType {
			add(&secrets.Items[i].ObjectMeta)
		}
	}
	for i := range cms.Items {
		add(&cms.Items[i].ObjectMeta)
	}
	out := slices.Collect(maps.Keys(seen))
	slices.SortFunc(out, func(a, b types.NamespacedName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// StorageName is the name of the object storing version of release name:
// sh.helm.release.v1.NAME.vVERSION (Helm's storage key).
func StorageName(name string, version int) string {
	return fmt.Sprintf("%s.%s.v%d", StoragePrefix, name, version)
}

// Secret is r as Helm's Secrets driver creates it: named StorageName, in
// r.Namespace, of type helm.sh/release.v1, data {"release": Encode(r)} (the
// base64 text itself is the data's bytes, so the API shows it base64'd
// twice), labelled with r.Labels (system labels among them are ignored)
// and name, owner=helm, status, version and createdAt (created in unix
// seconds, as Helm 4 and Helm 3 write on create).
func Secret(r *Release, created time.Time) (*corev1.Secret, error) {
	meta, data, err := storageObject(r, created)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       SecretType,
		Data:       map[string][]byte{DataKey: data},
	}, nil
}

// ConfigMap is r as Helm's ConfigMaps driver (HELM_DRIVER=configmap)
// creates it: as Secret, with no type and the base64 text as the data's
// string.
func ConfigMap(r *Release, created time.Time) (*corev1.ConfigMap, error) {
	meta, data, err := storageObject(r, created)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta,
		Data:       map[string]string{DataKey: string(data)},
	}, nil
}

// storageObject is the metadata and encoded release of r's storage object.
func storageObject(r *Release, created time.Time) (metav1.ObjectMeta, []byte, error) {
	if r == nil || r.Name == "" || r.Version <= 0 || r.Info == nil || r.Info.Status == "" {
		return metav1.ObjectMeta{}, nil, errors.New("helm release record: a name, a version and a status are required to store it")
	}
	name := StorageName(r.Name, r.Version)
	data, err := Encode(r)
	if err != nil {
		return metav1.ObjectMeta{}, nil, fmt.Errorf("helm release record %s: %w", name, err)
	}
	lbs := releaseLabels(r.Labels)
	if lbs == nil {
		lbs = map[string]string{}
	}
	lbs[LabelCreatedAt] = strconv.FormatInt(created.Unix(), 10)
	lbs[LabelName] = r.Name
	lbs[LabelOwner] = Owner
	lbs[LabelStatus] = r.Info.Status
	lbs[LabelVersion] = strconv.Itoa(r.Version)
	return metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: lbs}, data, nil
}
