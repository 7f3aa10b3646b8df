package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// object is an object of a release, as the plugin applies it.
type object struct {
	gvr  schema.GroupVersionResource
	kind string
	name string
	// body holds the fields besides apiVersion, kind and metadata.
	body map[string]any
}

var (
	gvrConfigMap  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecret     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrDeployment = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func configMap(name string, data map[string]any) object {
	return object{gvr: gvrConfigMap, kind: "ConfigMap", name: name, body: map[string]any{"data": data}}
}

func secret(name string, data map[string]any) object {
	return object{gvr: gvrSecret, kind: "Secret", name: name, body: map[string]any{"type": "Opaque", "stringData": data}}
}

func deployment(name, image string, replicas int) object {
	return object{gvr: gvrDeployment, kind: "Deployment", name: name, body: map[string]any{"spec": map[string]any{
		"replicas": replicas,
		"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": name}},
			"spec": map[string]any{"containers": []any{
				map[string]any{"name": name, "image": image, "ports": []any{map[string]any{"containerPort": 80}}},
			}},
		},
	}}}
}

func (o object) ref(namespace string) release.ObjectRef {
	return release.ObjectRef{Group: o.gvr.Group, Version: o.gvr.Version, Kind: o.kind, Namespace: namespace, Name: o.name}
}

func (o object) String() string { return o.kind + "/" + o.name }

// manifest is the object as the plugin applies it for release (namespace, name): with the ownership labels.
func (o object) manifest(namespace, name string) ([]byte, error) {
	apiVersion := o.gvr.Version
	if o.gvr.Group != "" {
		apiVersion = o.gvr.Group + "/" + o.gvr.Version
	}
	m := map[string]any{
		"apiVersion": apiVersion,
		"kind":       o.kind,
		"metadata": map[string]any{
			"name": o.name, "namespace": namespace,
			"labels": map[string]any{
				ownership.LabelRelease:          name,
				ownership.LabelReleaseNamespace: namespace,
				ownership.LabelApplySetPartOf:   ownership.ApplySetID(name, namespace),
			},
		},
	}
	for k, v := range o.body {
		m[k] = v
	}
	return json.Marshal(m)
}

// apply server-side applies o for release (namespace, name) as u, with the plugin's field manager.
func (u *user) apply(ctx context.Context, namespace, name string, o object) error {
	data, err := o.manifest(namespace, name)
	if err != nil {
		return err
	}
	force := true
	_, err = u.dyn.Resource(o.gvr).Namespace(namespace).Patch(ctx, o.name, types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: ownership.FieldManager, Force: &force})
	if err != nil {
		return fmt.Errorf("%s/%s/%s: apply: %w", o.kind, namespace, o.name, err)
	}
	return nil
}

// install installs release (namespace, name) with objs as the plugin does, as u: take the lock, record revision 1
// (pending, sealed by the webhook), write the head naming that record with the inventory, apply the objects,
// mark the revision deployed, drop the lock. The webhook judges every one of these writes (and stamps the lock
// and the record).
func (u *user) install(ctx context.Context, namespace, name string, objs []object) error {
	h, err := u.store.Acquire(ctx, namespace, name, "install", false)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = u.store.Release(context.WithoutCancel(ctx), h)
		}
	}()
	inv := make([]release.ObjectRef, len(objs))
	var manifest strings.Builder
	for i, o := range objs {
		inv[i] = o.ref(namespace)
		fmt.Fprintf(&manifest, "---\n# Source: bench/templates/%s.yaml\n", o.name)
	}
	h.Inventory = inv
	if err := u.record(ctx, h, &release.Revision{
		Name: name, Namespace: namespace, Revision: 1, Status: release.StatusPendingInstall,
		Chart:    release.ChartInfo{Name: "bench", Version: "1.0.0"},
		Manifest: manifest.String(), Inventory: inv, Operation: "install", Started: time.Now().UTC(),
	}); err != nil {
		return err
	}
	for _, o := range objs {
		if err := u.apply(ctx, namespace, name, o); err != nil {
			return err
		}
	}
	if err := u.store.SetStatus(ctx, namespace, name, 1, release.StatusDeployed); err != nil {
		return err
	}
	h.Deployed, h.Status = 1, release.StatusDeployed
	if err := u.store.UpdateHead(ctx, h); err != nil {
		return err
	}
	done = true
	return u.store.Release(ctx, h)
}

// record records rev as the lock holder h does before it writes objects (internal/action): the pending revision
// record first, which the webhook stamps with applied-by and its seal, then the head naming it (revision,
// status, seal; h's inventory as it is). Without a sealed record the webhook denies the operation's writes
// (NoRecord).
func (u *user) record(ctx context.Context, h *release.Head, rev *release.Revision) error {
	if err := u.store.CreateRevision(ctx, rev); err != nil {
		return err
	}
	if rev.AppliedBy != u.name || rev.Seal == "" {
		return fmt.Errorf("release %s/%s: revision %d: applied-by stamped %q (want %q), seal %q: is the mutating webhook called?: %w",
			rev.Namespace, rev.Name, rev.Revision, rev.AppliedBy, u.name, rev.Seal, errUnexpected)
	}
	h.Revision, h.Status, h.Record = rev.Revision, rev.Status, rev.Seal
	return u.store.UpdateHead(ctx, h)
}

// readDocs reads the YAML documents of a file.
func readDocs(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}
