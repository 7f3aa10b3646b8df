package render

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Hook annotations (Helm's, which charts already carry).
const (
	HookAnnotation          = "helm.sh/hook"
	HookWeightAnnotation    = "helm.sh/hook-weight"
	HookDeleteAnnotation    = "helm.sh/hook-delete-policy"
	HookOutputLogAnnotation = "helm.sh/hook-output-log-policy"
)

// HookEvent is when a hook runs.
type HookEvent string

// Hook events.
const (
	HookPreInstall   HookEvent = "pre-install"
	HookPostInstall  HookEvent = "post-install"
	HookPreDelete    HookEvent = "pre-delete"
	HookPostDelete   HookEvent = "post-delete"
	HookPreUpgrade   HookEvent = "pre-upgrade"
	HookPostUpgrade  HookEvent = "post-upgrade"
	HookPreRollback  HookEvent = "pre-rollback"
	HookPostRollback HookEvent = "post-rollback"
	HookTest         HookEvent = "test"
)

var hookEvents = map[string]HookEvent{
	string(HookPreInstall):   HookPreInstall,
	string(HookPostInstall):  HookPostInstall,
	string(HookPreDelete):    HookPreDelete,
	string(HookPostDelete):   HookPostDelete,
	string(HookPreUpgrade):   HookPreUpgrade,
	string(HookPostUpgrade):  HookPostUpgrade,
	string(HookPreRollback):  HookPreRollback,
	string(HookPostRollback): HookPostRollback,
	string(HookTest):         HookTest,
	"test-success":           HookTest,
}

// Hook is a rendered object annotated as a hook.
type Hook struct {
	Name              string      `json:"name"`
	Kind              string      `json:"kind"`
	Path              string      `json:"path"`
	Manifest          string      `json:"manifest"`
	Events            []HookEvent `json:"events"`
	Weight            int         `json:"weight"`
	DeletePolicies    []string    `json:"delete_policies,omitempty"`
	OutputLogPolicies []string    `json:"output_log_policies,omitempty"`
}

// IsTest tells whether the hook is a test hook.
func (h *Hook) IsTest() bool {
	for _, e := range h.Events {
		if e == HookTest {
			return true
		}
	}
	return false
}

// SimpleHead is the part of an object that ordering and hooks need.
type SimpleHead struct {
	Version  string        `json:"apiVersion"`
	Kind     string        `json:"kind,omitempty"`
	Metadata *HeadMetadata `json:"metadata,omitempty"`
}

// HeadMetadata is the part of an object's metadata in its SimpleHead.
type HeadMetadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations"`
}

// Manifest is one rendered document with the template it came from.
type Manifest struct {
	// Name is the template path ("chart/templates/x.yaml").
	Name    string
	Content string
	Head    *SimpleHead
}

// KindSortOrder lists kinds in the order they are applied.
type KindSortOrder []string

// InstallOrder is Helm v4's install order; kinds not listed come last, by name.
var InstallOrder = KindSortOrder{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
	"RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

// UninstallOrder is Helm v4's uninstall order.
var UninstallOrder = KindSortOrder{
	"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService", "Ingress",
	"IngressClass", "Service", "CronJob", "Job", "StatefulSet", "HorizontalPodAutoscaler", "Deployment",
	"ReplicaSet", "ReplicationController", "Pod", "DaemonSet", "RoleBindingList", "RoleBinding", "RoleList",
	"Role", "ClusterRoleBindingList", "ClusterRoleBinding", "ClusterRoleList", "ClusterRole",
	"CustomResourceDefinition", "PersistentVolumeClaim", "PersistentVolume", "StorageClass", "ConfigMap",
	"SecretList", "Secret", "ServiceAccount", "PodDisruptionBudget", "PodSecurityPolicy", "LimitRange",
	"ResourceQuota", "NetworkPolicy", "Namespace", "PriorityClass",
}

// Less orders two kinds.
func (o KindSortOrder) Less(kindA, kindB string) bool {
	first, aok := o.index(kindA)
	second, bok := o.index(kindB)
	if !aok && !bok {
		if kindA != kindB {
			return kindA < kindB
		}
		return false
	}
	if !aok {
		return false
	}
	if !bok {
		return true
	}
	return first < second
}

func (o KindSortOrder) index(kind string) (int, bool) {
	for i, k := range o {
		if k == kind {
			return i, true
		}
	}
	return 0, false
}

// SplitManifests splits a rendered file into its non-empty documents, in
// order. A separator is "---" at the start of a line and the spaces and tabs
// after it (Helm's `(?m)^---[ \t]*`, without a regular expression: this runs
// over every byte of every chart).
func SplitManifests(bigFile string) []string {
	var res []string
	add := func(d string) {
		if strings.TrimSpace(d) != "" {
			res = append(res, strings.TrimLeftFunc(d, unicode.IsSpace))
		}
	}
	s := strings.TrimLeftFunc(bigFile, unicode.IsSpace)
	start := 0 // start of the current document
	for lineStart := 0; lineStart < len(s); {
		if strings.HasPrefix(s[lineStart:], "---") {
			add(s[start:lineStart])
			end := lineStart + 3
			for end < len(s) && (s[end] == ' ' || s[end] == '\t') {
				end++
			}
			start = end
		}
		nl := strings.IndexByte(s[lineStart:], '\n')
		if nl < 0 {
			break
		}
		lineStart += nl + 1
	}
	add(s[start:])
	return res
}

// SortManifests splits rendered files into hooks and plain manifests, each
// sorted by kind in the given order (stable: file path, then position).
func SortManifests(files map[string]string, ordering KindSortOrder) ([]*Hook, []Manifest, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	// Every document's head is parsed as YAML: the costliest step for big
	// charts (CRDs), done in parallel; results are used in document order.
	type doc struct {
		path, content string
		head          SimpleHead
		err           error
	}
	var docs []*doc
	for _, filePath := range paths {
		content := files[filePath]
		if strings.HasPrefix(baseName(filePath), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, m := range SplitManifests(content) {
			docs = append(docs, &doc{path: filePath, content: m})
		}
	}
	parallel(len(docs), func(i int) {
		d := docs[i]
		d.err = parseHead(d.content, &d.head)
	})

	var hooks []*Hook
	var generic []Manifest
	for _, d := range docs {
		filePath, m, entry := d.path, d.content, d.head
		if d.err != nil {
			return hooks, generic, &YAMLError{Template: filePath, Err: d.err}
		}
		if entry.Metadata == nil || len(entry.Metadata.Annotations) == 0 {
			generic = append(generic, Manifest{Name: filePath, Content: m, Head: &d.head})
			continue
		}
		hookTypes, ok := entry.Metadata.Annotations[HookAnnotation]
		if !ok {
			generic = append(generic, Manifest{Name: filePath, Content: m, Head: &d.head})
			continue
		}
		hw, err := strconv.Atoi(entry.Metadata.Annotations[HookWeightAnnotation])
		if err != nil {
			hw = 0
		}
		h := &Hook{
			Name:     entry.Metadata.Name,
			Kind:     entry.Kind,
			Path:     filePath,
			Manifest: m,
			Events:   []HookEvent{},
			Weight:   hw,
		}
		unknown := false
		for hookType := range strings.SplitSeq(hookTypes, ",") {
			e, ok := hookEvents[strings.ToLower(strings.TrimSpace(hookType))]
			if !ok {
				unknown = true
				break
			}
			h.Events = append(h.Events, e)
		}
		if unknown {
			continue
		}
		hooks = append(hooks, h)
		h.DeletePolicies = annotationValues(entry, HookDeleteAnnotation)
		h.OutputLogPolicies = annotationValues(entry, HookOutputLogAnnotation)
	}
	sort.SliceStable(hooks, func(i, j int) bool { return ordering.Less(hooks[i].Kind, hooks[j].Kind) })
	sort.SliceStable(generic, func(i, j int) bool { return ordering.Less(generic[i].Head.Kind, generic[j].Head.Kind) })
	return hooks, generic, nil
}

// parallel calls fn(0..n-1) on GOMAXPROCS workers and waits.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

func annotationValues(entry SimpleHead, annotation string) []string {
	var out []string
	if v, ok := entry.Metadata.Annotations[annotation]; ok {
		for p := range strings.SplitSeq(v, ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(p)))
		}
	}
	return out
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// YAMLError is a rendered document that is not valid YAML.
type YAMLError struct {
	Template string
	Err      error
	// Rendered is every rendered file (but the notes) as Helm shows them
	// to help debug the error (helm template --debug): "---\n# Source:
	// PATH\nCONTENT\n" each, empty ones left out, in path order (Helm's
	// order is its map's, random).
	Rendered string
}

// renderedFiles is YAMLError.Rendered for files.
func renderedFiles(files map[string]string) string {
	var b strings.Builder
	for _, name := range sortedKeys(files) {
		if content := files[name]; !strings.HasPrefix(baseName(name), "_") && strings.TrimSpace(content) != "" {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", name, content)
		}
	}
	return b.String()
}

func (e *YAMLError) Error() string {
	return fmt.Sprintf("YAML parse error on %s: %v", e.Template, e.Err)
}
func (e *YAMLError) Unwrap() error { return e.Err }
