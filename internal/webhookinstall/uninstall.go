package webhookinstall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// UninstallOptions say how Uninstall removes the webhook.
type UninstallOptions struct {
	// Namespace is where to look for the webhook's objects when its
	// configurations do not say (default DefaultNamespace).
	Namespace string
	// DryRun: client reports what exists and would be deleted; server
	// asks the API server to check the deletions. Neither deletes.
	DryRun DryRun
}

// UninstallResult is what Uninstall deleted (or would delete).
type UninstallResult struct {
	// Mode is the mode the configurations were installed in ("" when there
	// were none).
	Mode      Mode
	Namespace string
	// Changes are the objects deleted (Deleted), or to delete in a client
	// dry run (Planned), in the order they were; objects that did not
	// exist are not listed.
	Changes []apply.Change
	// KeptNamespace is set when the webhook's namespace was kept, with the
	// objects that are not the webhook's (KeptFor).
	KeptNamespace string
	KeptFor       []string
}

// Uninstall removes the webhook in whichever mode it was installed: the
// ValidatingWebhookConfiguration first (it refuses release records the
// mutating one did not stamp), then the MutatingWebhookConfiguration, so
// that nothing calls a webhook being removed; then the ClusterRoles
// kubectl-chart-deployer and kubectl-chart-unlocker (local mode) or, for
// the in-cluster modes (or when no configuration says the mode), every
// object install creates: the monitoring objects of install --monitoring
// first (if they carry the manifests' labels), so that no alert fires on
// the webhook going away, then the Deployment and the rest of manifests/,
// cert-manager's Issuers and Certificates, the Secrets (the certificates
// install or cert-manager wrote, the seal key the webhook wrote), and last
// the namespace, if install created it and nothing else lives in it.
// Objects already gone are skipped, so it can run again after a partial
// failure. Every failure is reported; the others still run.
func (in *Installer) Uninstall(ctx context.Context, o UninstallOptions) (*UninstallResult, error) {
	switch o.DryRun {
	case "", DryRunNone, DryRunClient, DryRunServer:
	default:
		return nil, fmt.Errorf(`invalid dry-run value %q: want "none", "client" or "server"`, o.DryRun)
	}
	res := &UninstallResult{Namespace: o.Namespace}
	if res.Namespace == "" {
		res.Namespace = DefaultNamespace
	}
	cfgs, err := in.configurations(ctx)
	if err != nil {
		return res, err
	}
	var errs []error
	res.Mode = cfgs.Mode()
	if ns := cfgs.ServiceNamespace(); ns != "" {
		res.Namespace = ns
	}
	for _, c := range []struct {
		kind   string
		exists bool
	}{{kindValidating, cfgs.Validating != nil}, {kindMutating, cfgs.Mutating != nil}} {
		if !c.exists {
			continue
		}
		ref := release.ObjectRef{Group: admissionregistrationv1.GroupName, Version: "v1", Kind: c.kind, Name: Name}
		if err := in.deleteOne(ctx, ref, nil, o.DryRun, res); err != nil {
			errs = append(errs, err)
		}
	}
	if res.Mode == ModeLocal {
		for _, name := range roleNames {
			ref := release.ObjectRef{Group: rbacv1.GroupName, Version: "v1", Kind: "ClusterRole", Name: name}
			if err := in.deleteOne(ctx, ref, nil, o.DryRun, res); err != nil {
				errs = append(errs, err)
			}
		}
		return res, errors.Join(errs...)
	}

	ns := res.Namespace
	// Every object any in-cluster mode creates: manifests/ (not the
	// Namespace, not the configurations), cert-manager's objects, and the
	// Secrets.
	plan, err := in.manifests.Plan(PlanOptions{Mode: ModeCertManager, Namespace: ns})
	if err != nil {
		return res, err
	}
	var refs []release.ObjectRef
	var nsRef *release.ObjectRef
	for _, obj := range plan.Objects {
		ref := apply.RefOf(obj)
		if ref.Kind == "Namespace" && ref.Group == "" {
			nsRef = &ref
			continue
		}
		refs = append(refs, ref)
	}
	// The reverse of the install order: the Deployment before what it
	// uses, RBAC and the ServiceAccount last; the monitoring objects first.
	slices.Reverse(refs)
	monitoring := in.manifests.monitoringRefs(ns)
	refs = append(monitoring, refs...)
	for _, name := range secretNames {
		refs = append(refs, release.ObjectRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: name})
	}
	// The webhook's own Secrets under other names: a seal key the webhook
	// created under its --seal-secret, which carries the manifests' labels.
	labelled, err := in.labelledSecrets(ctx, ns)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range labelled {
		if ref := (release.ObjectRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: name}); !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	certManager, err := in.CertManagerInstalled(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, ref := range refs {
		if ref.Group == certManagerGroup && !certManager {
			continue
		}
		var check func(*metav1.PartialObjectMetadata) bool
		if ref.Kind == "Secret" {
			check = ourSecret
		}
		if slices.Contains(monitoring, ref) {
			check = ourObject
		}
		if err := in.deleteOne(ctx, ref, check, o.DryRun, res); err != nil {
			errs = append(errs, err)
		}
	}
	if nsRef != nil {
		if err := in.deleteNamespace(ctx, *nsRef, plan, o.DryRun, res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// secretNames are the Secrets uninstall deletes besides the objects of the
// plan: the certificates (written by cert-manager, or by a self-signed
// install under the same names) and the seal key the webhook creates at
// its first start.
var secretNames = []string{ServingSecretName, CASecretName, SealSecretName}

// labelledSecrets are the names of the Secrets in ns that carry the
// manifests' labels of the webhook (app.kubernetes.io/name=chart-webhook,
// part-of=kubectl-chart), sorted.
func (in *Installer) labelledSecrets(ctx context.Context, ns string) ([]string, error) {
	list, err := in.metadata.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(ns).List(ctx,
		metav1.ListOptions{LabelSelector: labelName + "=" + Name + "," + labelPartOf + "=" + partOf})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the webhook's Secrets in namespace %s: %w", ns, err)
	}
	var names []string
	for _, m := range list.Items {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return names, nil
}

// ourSecret says whether a Secret was written by install (self-signed), by
// the webhook (its seal key) or by cert-manager for one of install's
// Certificates.
func ourSecret(m *metav1.PartialObjectMetadata) bool {
	if m.Labels[labelPartOf] == partOf && m.Labels[labelName] == Name {
		return true
	}
	switch m.Annotations[annotationCertName] {
	case caName, servingCertificateName:
		return true
	}
	return false
}

// deleteOne deletes one object if it exists (and check, if set, accepts
// it), and records it in res.
func (in *Installer) deleteOne(ctx context.Context, ref release.ObjectRef, check func(*metav1.PartialObjectMetadata) bool, dryRun DryRun, res *UninstallResult) error {
	mapping, err := in.applier.RESTMapper().RESTMapping(schema.GroupKind{Group: ref.Group, Kind: ref.Kind}, ref.Version)
	if meta.IsNoMatchError(err) {
		return nil // the kind does not exist, so neither does the object
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	ri := in.metadata.Resource(mapping.Resource)
	get := ri.Get
	del := ri.Delete
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		get, del = ri.Namespace(ref.Namespace).Get, ri.Namespace(ref.Namespace).Delete
	}
	live, err := get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if check != nil && !check(live) {
		return nil
	}
	if dryRun == DryRunClient {
		res.Changes = append(res.Changes, apply.Change{Ref: ref, Action: Planned})
		return nil
	}
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &live.UID}}
	if dryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err = del(ctx, ref.Name, opts)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		res.Changes = append(res.Changes, apply.Change{Ref: ref, Action: apply.Failed, Err: err})
		return fmt.Errorf("%s: delete: %w", ref, err)
	}
	res.Changes = append(res.Changes, apply.Change{Ref: ref, Action: apply.Deleted})
	return nil
}

// deleteNamespace deletes the webhook's namespace if install created it
// (it carries manifests/namespace.yaml's labels) and holds nothing but the
// webhook's objects and what Kubernetes puts in every namespace.
func (in *Installer) deleteNamespace(ctx context.Context, ref release.ObjectRef, plan *Plan, dryRun DryRun, res *UninstallResult) error {
	ns, err := in.kube.CoreV1().Namespaces().Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if ns.Labels[labelName] != Name || ns.Labels[labelPartOf] != partOf {
		res.KeptNamespace, res.KeptFor = ref.Name, []string{"kubectl chart did not create it"}
		return nil
	}
	if ns.DeletionTimestamp != nil {
		return nil
	}
	ours := map[string]bool{}
	for _, obj := range plan.Objects {
		ours[obj.GetKind()+"/"+obj.GetName()] = true
	}
	for _, name := range secretNames {
		ours["Secret/"+name] = true
	}
	for _, obj := range in.manifests.MonitoringObjects(ref.Name) {
		ours[obj.GetKind()+"/"+obj.GetName()] = true
	}
	others, err := in.foreignObjects(ctx, ref.Name, ours)
	if err != nil {
		res.KeptNamespace, res.KeptFor = ref.Name, []string{err.Error()}
		return nil
	}
	if len(others) > 0 {
		res.KeptNamespace, res.KeptFor = ref.Name, others
		return nil
	}
	return in.deleteOne(ctx, ref, nil, dryRun, res)
}

// Objects Kubernetes keeps in every namespace, or records about others.
var (
	automaticKinds = map[schema.GroupResource]bool{
		{Resource: "events"}:                                    true,
		{Group: "events.k8s.io", Resource: "events"}:            true,
		{Resource: "endpoints"}:                                 true,
		{Group: "discovery.k8s.io", Resource: "endpointslices"}: true,
	}
	automaticObjects = map[string]bool{
		"ServiceAccount/default":     true,
		"ConfigMap/kube-root-ca.crt": true,
	}
)

// foreignObjects lists the objects of namespace ns that are not the
// webhook's (ours, by Kind/name) and that nothing owns, as Kind/name.
func (in *Installer) foreignObjects(ctx context.Context, ns string, ours map[string]bool) ([]string, error) {
	lists, err := in.kube.Discovery().ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || automaticKinds[gv.WithResource(r.Name).GroupResource()] {
				continue
			}
			items, err := in.metadata.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return nil, fmt.Errorf("cannot list %s in namespace %s: %w", r.Name, ns, err)
			}
			for _, it := range items.Items {
				key := r.Kind + "/" + it.Name
				if ours[key] || automaticObjects[key] || len(it.OwnerReferences) > 0 || it.DeletionTimestamp != nil {
					continue
				}
				out = append(out, key)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
