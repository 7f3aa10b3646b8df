package ownership

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// FieldManager is the field manager of every write the plugin makes.
const FieldManager = "kubectl-chart"

// Labels and annotations on owned objects and release records.
const (
	// LabelRelease is the release name, on every owned object and record.
	LabelRelease = "kubectl-chart.io/release"
	// LabelReleaseNamespace is the release namespace, on every owned object.
	LabelReleaseNamespace = "kubectl-chart.io/release-namespace"
	// LabelApplySetPartOf is the ApplySet membership label (KEP-3659).
	LabelApplySetPartOf = "applyset.kubernetes.io/part-of"
	// LabelApplySetID is the ApplySet id label on the parent (the head).
	LabelApplySetID = "applyset.kubernetes.io/id"
	// AnnotationApplySetTooling names the tool managing the ApplySet.
	AnnotationApplySetTooling = "applyset.kubernetes.io/tooling"
	// AnnotationApplySetGroupKinds lists the group kinds of the members.
	AnnotationApplySetGroupKinds = "applyset.kubernetes.io/contains-group-kinds"
	// AnnotationApplySetAdditionalNamespaces lists member namespaces other
	// than the parent's.
	AnnotationApplySetAdditionalNamespaces = "applyset.kubernetes.io/additional-namespaces"

	// LabelRecord marks release records: RecordHead or RecordRevision.
	LabelRecord = "kubectl-chart.io/record"
	// LabelRevision is the revision number on a revision record.
	LabelRevision = "kubectl-chart.io/revision"
	// LabelStatus is the status of a revision record; it only moves forward.
	LabelStatus = "kubectl-chart.io/status"
	// LabelChunk is the index of a revision record's chunk (0 for the first).
	LabelChunk = "kubectl-chart.io/chunk"

	// AnnotationAppliedBy is stamped by the webhook on revision records:
	// the user that created them, as the API server authenticated it.
	AnnotationAppliedBy = "kubectl-chart.io/applied-by"
	// AnnotationLockUser is stamped by the webhook on the head when a lock is
	// taken: the user that took it, as the API server authenticated it.
	AnnotationLockUser = "kubectl-chart.io/lock-user"
	// AnnotationRecordSeal is stamped by the webhook on chunk 0 of a revision
	// record when it is created: a RecordSeal (JSON), the webhook's proof
	// that the record passed it, created by the user it names. The plugin
	// copies it into the head (data key record) before it writes objects.
	AnnotationRecordSeal = "kubectl-chart.io/record-seal"

	// AnnotationResourcePolicy with value "keep" leaves an object in place
	// on uninstall and prune. Helm's HelmResourcePolicy is honoured too.
	AnnotationResourcePolicy     = "kubectl-chart.io/resource-policy"
	HelmAnnotationResourcePolicy = "helm.sh/resource-policy"
	// ResourcePolicyKeep is the value that keeps an object.
	ResourcePolicyKeep = "keep"
)

// Record kinds (values of LabelRecord).
const (
	RecordHead     = "head"
	RecordRevision = "revision"
)

// The virtual resource whose verbs authorise release operations: the
// webhook asks a SubjectAccessReview for verb VerbDeploy (take, renew or
// clear one's lock) or VerbUnlock (take over or clear another user's lock)
// on resource ResourceReleases of group APIGroup, named after the release,
// in its namespace. No such API exists: RBAC rules may name any resource.
const (
	APIGroup         = "kubectl-chart.io"
	ResourceReleases = "releases"
	VerbDeploy       = "deploy"
	VerbUnlock       = "unlock"
)

// SecretTypeRelease is the Secret type of revision records.
const SecretTypeRelease = "kubectl-chart.io/release.v1"

// HeadName is the name of a release's head ConfigMap.
func HeadName(release string) string { return "kubectl-chart." + release }

// RevisionName is the name of a revision record Secret (chunk 0).
func RevisionName(release string, revision int) string {
	return "kubectl-chart." + release + ".v" + strconv.Itoa(revision)
}

// RevisionChunkName is the name of chunk i (≥ 1) of a revision record.
func RevisionChunkName(release string, revision, chunk int) string {
	if chunk == 0 {
		return RevisionName(release, revision)
	}
	return fmt.Sprintf("%s.c%d", RevisionName(release, revision), chunk)
}

// ApplySetID is the ApplySet id of a release whose parent is its head
// ConfigMap, as KEP-3659 defines it:
// applyset-<base64url(sha256("<name>.<namespace>.ConfigMap."))>-v1.
func ApplySetID(release, namespace string) string {
	sum := sha256.Sum256([]byte(HeadName(release) + "." + namespace + ".ConfigMap."))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// Keep tells whether an object's annotations ask to keep it on uninstall
// and prune.
func Keep(annotations map[string]string) bool {
	return strings.EqualFold(strings.TrimSpace(annotations[AnnotationResourcePolicy]), ResourcePolicyKeep) ||
		strings.EqualFold(strings.TrimSpace(annotations[HelmAnnotationResourcePolicy]), ResourcePolicyKeep)
}

// WebhookConfigurationName is the name of the chart-webhook's
// MutatingWebhookConfiguration (and of the webhook's Deployment, Service and
// ServiceAccount in manifests/).
const WebhookConfigurationName = "chart-webhook"

// Reasons of the Events the webhook records on a release head; `kubectl
// chart status` shows them as the release's blocked writes.
const (
	// EventBlockedWrite: a create or update was denied.
	EventBlockedWrite = "BlockedWrite"
	// EventBlockedDelete: a delete was denied.
	EventBlockedDelete = "BlockedDelete"
	// EventBreakGlassWrite: a write that would have been denied was allowed
	// for a break-glass user or group.
	EventBreakGlassWrite = "BreakGlassWrite"
	// EventLockTakenOver: a live lock of another user was taken over or
	// cleared (--force-unlock) by a user authorised to unlock.
	EventLockTakenOver = "LockTakenOver"
)

// Users of the controllers that may delete owned objects and remove their
// labels: the garbage collector and the namespace controller (as the
// controller manager runs them with --use-service-account-credentials),
// and the controller manager itself (without it).
const (
	UserGarbageCollector    = "system:serviceaccount:kube-system:generic-garbage-collector"
	UserNamespaceController = "system:serviceaccount:kube-system:namespace-controller"
	UserControllerManager   = "system:kube-controller-manager"
)

// DefaultHistoryMax is the number of revisions a release keeps when its
// head does not say (the plugin's --history-max default).
const DefaultHistoryMax = 10
