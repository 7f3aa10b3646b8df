package drift

import (
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Report is the drift of a set of releases, sorted by namespace and name.
// It is the JSON and YAML form of `kubectl chart drift`.
type Report struct {
	Releases []Release `json:"releases"`
}

// Release is the drift of one release.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Revision is the deployed revision whose manifest was compared.
	Revision int `json:"revision"`
	// Checked is how many objects were compared.
	Checked int `json:"checked"`
	// Objects are the objects that drifted, sorted by Kind/namespace/name.
	Objects []Object `json:"objects"`
}

// Object is one object that drifted: it is missing, or fields of it did.
type Object struct {
	release.ObjectRef
	// Missing tells that the object no longer exists.
	Missing bool `json:"missing,omitempty"`
	// Fields are the fields that drifted, in field path order.
	Fields []Field `json:"fields,omitempty"`
}

// Field is a field the release applied that kubectl-chart no longer owns.
type Field struct {
	// Path is the field as ownership.FormatPath writes it: spec.replicas,
	// spec.template.spec.containers[name=web].image,
	// metadata.labels["app.kubernetes.io/name"]. A list item or a map
	// that drifted as a whole is one field.
	Path string `json:"path"`
	// Applied is the value the release applied (JSON).
	Applied any `json:"applied"`
	// Live is the live value; absent when the field was removed.
	Live any `json:"live,omitempty"`
	// Owners are the field managers that own the field now (none when it
	// was removed, or its ownership was).
	Owners []Owner `json:"owners,omitempty"`
}

// Owner is a managedFields entry that owns a drifted field: who changed
// it, how, and when.
type Owner struct {
	// Manager is the field manager (kubectl-edit, kubectl, helm, …).
	Manager string `json:"manager"`
	// Operation is Update or Apply.
	Operation string `json:"operation"`
	// Subresource is the subresource written through (scale), if any.
	Subresource string `json:"subresource,omitempty"`
	// Time is when the manager last changed its fields; nil when the API
	// server did not record it.
	Time *time.Time `json:"time,omitempty"`
}

// HasDrift tells whether any object of r drifted.
func (r *Report) HasDrift() bool {
	if r == nil {
		return false
	}
	for _, rel := range r.Releases {
		if len(rel.Objects) > 0 {
			return true
		}
	}
	return false
}

// Count is the number of objects that drifted (missing or not) and of
// fields that did.
func (r *Report) Count() (objects, fields int) {
	if r == nil {
		return 0, 0
	}
	for _, rel := range r.Releases {
		objects += len(rel.Objects)
		for _, o := range rel.Objects {
			fields += len(o.Fields)
		}
	}
	return objects, fields
}
