package action

import (
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// labelNull is the value that removes a label on upgrade, as in Helm
// (--labels key=null).
const labelNull = "null"

// checkLabels refuses release labels (install/upgrade --labels) that Helm
// refuses: one of Helm's system labels, with Helm's error, and a key or
// value that is not a valid Kubernetes label, which Helm's storage (labels
// of its Secret) cannot hold: the API server's message.
func checkLabels(lbs map[string]string) error {
	for k := range lbs {
		if helmrelease.IsSystemLabel(k) {
			return fmt.Errorf("user supplied labels contains system reserved label name. System labels: %+v", helmrelease.SystemLabels())
		}
	}
	if errs := validation.ValidateLabels(lbs, field.NewPath("metadata", "labels")); len(errs) > 0 {
		return fmt.Errorf("invalid release labels: %w", errs.ToAggregate())
	}
	return nil
}

// revisionLabels are the labels of the revision an install or upgrade
// records, as Helm computes them: an install (install, or upgrade
// --install of a release that does not exist or was uninstalled) takes
// o.Labels as given; an upgrade merges them into the labels of the
// release's last revision (the head's, whatever its status) and drops
// those whose value is "null". Nil when there are none.
func revisionLabels(o UpgradeOptions, head *release.Head) map[string]string {
	if o.InstallOnly || head == nil || head.Revision == 0 || head.Status == release.StatusUninstalled {
		return cloneLabels(o.Labels)
	}
	merged := maps.Clone(head.Labels)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, o.Labels)
	maps.DeleteFunc(merged, func(_, v string) bool { return v == labelNull })
	return cloneLabels(merged)
}

// cloneLabels is a copy of lbs, nil when it is empty.
func cloneLabels(lbs map[string]string) map[string]string {
	if len(lbs) == 0 {
		return nil
	}
	return maps.Clone(lbs)
}
