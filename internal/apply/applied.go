package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Applied is the objects of a release's recorded manifest as Apply sends
// them: decoded (namespaced objects without a namespace in the release's),
// with the ownership labels stamped. What drift compares with the live
// objects: the labels the plugin stamps are part of what it applied.
func (m *Manager) Applied(manifest, releaseName, releaseNamespace string) ([]*unstructured.Unstructured, error) {
	objs, err := m.Decode(manifest, releaseNamespace)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		prepareDesired(o, releaseName, releaseNamespace)
	}
	return objs, nil
}

// prepareDesired makes obj what Apply sends: without the null
// creationTimestamp generators write (kubectl create -o yaml; the server
// drops it, and it would only defeat the local comparison), with the
// release's labels.
func prepareDesired(obj *unstructured.Unstructured, releaseName, releaseNamespace string) {
	if ts, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, "metadata", "creationTimestamp"); ok && ts == nil {
		unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
	}
	stampLabels(obj, releaseName, releaseNamespace)
}
