package apply

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Kinds applied before all others.
const (
	kindCRD       = "CustomResourceDefinition"
	groupCRD      = "apiextensions.k8s.io"
	kindNamespace = "Namespace"
)

func isCRD(group, kind string) bool { return kind == kindCRD && group == groupCRD }

func isNamespace(group, kind string) bool { return kind == kindNamespace && group == "" }

// installStages groups objects into the stages Apply runs one after the
// other: CRDs, then Namespaces, then one stage per kind in Helm's install
// order (render.InstallOrder; kinds it does not list last, by kind name).
// Within a stage objects keep their input order.
func installStages(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	rank := func(o *unstructured.Unstructured) int {
		gvk := o.GroupVersionKind()
		switch {
		case isCRD(gvk.Group, gvk.Kind):
			return 0
		case isNamespace(gvk.Group, gvk.Kind):
			return 1
		}
		return 2
	}
	return groupStages(objs, func(a, b *unstructured.Unstructured) (less, same bool) {
		ra, rb := rank(a), rank(b)
		if ra != rb {
			return ra < rb, false
		}
		if ra < 2 {
			return false, true
		}
		ka, kb := a.GetKind(), b.GetKind()
		if ka == kb {
			return false, true
		}
		return render.InstallOrder.Less(ka, kb), false
	})
}

// groupStages sorts items stably by cmp and cuts them where cmp says two
// neighbours differ.
func groupStages[T any](items []T, cmp func(a, b T) (less, same bool)) [][]T {
	sorted := append([]T(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		less, _ := cmp(sorted[i], sorted[j])
		return less
	})
	var stages [][]T
	for i, it := range sorted {
		if i == 0 {
			stages = append(stages, []T{it})
			continue
		}
		if _, same := cmp(sorted[i-1], it); same {
			stages[len(stages)-1] = append(stages[len(stages)-1], it)
		} else {
			stages = append(stages, []T{it})
		}
	}
	return stages
}

// stampLabels sets the ownership labels of a release on the object's own
// metadata (never on pod templates or other nested templates: controllers
// copy those onto children, which the release does not own).
func stampLabels(obj *unstructured.Unstructured, releaseName, releaseNamespace string) {
	if releaseName == "" {
		return
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = make(map[string]string, 3)
	}
	labels[ownership.LabelRelease] = releaseName
	labels[ownership.LabelReleaseNamespace] = releaseNamespace
	labels[ownership.LabelApplySetPartOf] = ownership.ApplySetID(releaseName, releaseNamespace)
	obj.SetLabels(labels)
}
