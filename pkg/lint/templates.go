package lint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
	kscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

const (
	templatesDir = "templates/"
	// lintReleaseName is .Release.Name while linting, as in Helm.
	lintReleaseName = "test-release"
)

// templates renders the chart in lint mode and checks each of its own
// templates and the documents they render, as Helm's rules.Templates. Only
// a cancelled context is returned as an error.
func (l *linter) templates(ctx context.Context) error {
	isDir, err := l.src.stat("templates")
	if errors.Is(err, fs.ErrNotExist) {
		l.check(SeverityWarning, templatesDir, errors.New("directory does not exist"))
		return nil
	}
	if !l.check(SeverityError, templatesDir, err) {
		return nil
	}
	if !isDir {
		l.check(SeverityError, templatesDir, errors.New("not a directory"))
		return nil
	}

	ch, err := l.src.load()
	if !l.check(SeverityError, templatesDir, err) {
		return nil
	}
	chartName, ownTemplates := ch.Name(), ch.Templates
	l.prepareForLint(ch)

	caps := render.DefaultCapabilities()
	caps.KubeVersion = *l.kubeVersion()
	res, err := render.Render(ctx, ch, values.DeepCopy(l.opts.Values), render.Options{
		ReleaseName:          lintReleaseName,
		Namespace:            l.opts.Namespace,
		Capabilities:         caps,
		SkipSchemaValidation: l.opts.SkipSchemaValidation,
		LintMode:             true,
	})
	if res != nil {
		l.res.Warnings = append(l.res.Warnings, res.Warnings...)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if err != nil {
		var yerr *render.YAMLError
		if errors.As(err, &yerr) {
			l.check(SeverityError, strings.TrimPrefix(yerr.Template, chartName+"/"), validateYamlContent(yerr.Err))
		} else {
			l.check(SeverityError, templatesDir, err)
		}
		return nil
	}

	// The documents of each template, manifests then hooks.
	docs := map[string][]string{}
	for _, m := range res.Manifests {
		docs[m.Name] = append(docs[m.Name], m.Content)
	}
	for _, h := range res.Hooks {
		docs[h.Path] = append(docs[h.Path], h.Manifest)
	}

	for _, t := range ownTemplates {
		fileName := t.Name
		l.check(SeverityError, fileName, validateAllowedExtension(fileName))
		if !isYamlFileExtension(fileName) {
			continue
		}
		rendered := strings.Join(docs[path.Join(chartName, fileName)], "\n---\n")
		if strings.TrimSpace(rendered) == "" {
			continue
		}
		decoder := yaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
		for {
			var obj *k8sYamlStruct
			err := decoder.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			// A YAML error here would repeat below: stop, as Helm does.
			if !l.check(SeverityError, fileName, validateYamlContent(err)) {
				return nil
			}
			if obj == nil {
				continue
			}
			l.check(SeverityError, fileName, validateTypeMeta(obj))
			// Warnings only, so that charts may support older Kubernetes.
			l.check(SeverityWarning, fileName, validateMetadataName(obj))
			l.check(SeverityWarning, fileName, validateNoDeprecations(obj, l.kubeVersion()))
			l.check(SeverityError, fileName, validateMatchSelector(obj, rendered))
			l.check(SeverityError, fileName, validateListAnnotations(obj, rendered))
		}
	}
	return nil
}

// prepareForLint changes the loaded chart so that the render lints what
// Helm's lint renders: Helm's lint checks no kubeVersion constraint (the
// chartfile rule reports it), renders the subcharts that are present even
// when others are missing (the dependencies rule reports them), and renders
// a library chart's partials only.
func (l *linter) prepareForLint(ch *chart.Chart) {
	md := ch.Metadata
	if md.KubeVersion != "" {
		c, err := semver.NewConstraint(md.KubeVersion)
		v, verr := semver.NewVersion(l.kubeVersion().String())
		if err != nil || verr != nil || !c.Check(v) {
			md.KubeVersion = ""
		}
	}
	if len(md.Dependencies) > 0 {
		present := map[string]bool{}
		for _, d := range ch.Dependencies() {
			present[d.Name()] = true
		}
		md.Dependencies = slices.DeleteFunc(slices.Clone(md.Dependencies), func(d *chart.Dependency) bool {
			return d != nil && !present[d.Name]
		})
	}
	if ch.IsLibrary() {
		md.Type = chart.TypeApplication
		ch.Templates = slices.DeleteFunc(slices.Clone(ch.Templates), func(f *chart.File) bool {
			return !strings.HasPrefix(path.Base(f.Name), "_")
		})
	}
}

// k8sYamlStruct is the head of a Kubernetes object, as Helm's lint reads it.
type k8sYamlStruct struct {
	APIVersion string `json:"apiVersion"`
	Kind       string
	Metadata   k8sYamlMetadata
}

type k8sYamlMetadata struct {
	Namespace string
	Name      string
}

func validateAllowedExtension(fileName string) error {
	ext := filepath.Ext(fileName)
	switch ext {
	case ".yaml", ".yml", ".tpl", ".txt":
		return nil
	}
	return fmt.Errorf("file extension '%s' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt", ext)
}

func isYamlFileExtension(fileName string) bool {
	ext := strings.ToLower(filepath.Ext(fileName))
	return ext == ".yaml" || ext == ".yml"
}

func validateYamlContent(err error) error {
	return formatError("unable to parse YAML: %w", err)
}

// validateTypeMeta is not in Helm's lint: an object without apiVersion or
// kind is refused by the API server, so the chart cannot install.
func validateTypeMeta(obj *k8sYamlStruct) error {
	var missing []string
	if obj.APIVersion == "" {
		missing = append(missing, "apiVersion not set")
	}
	if obj.Kind == "" {
		missing = append(missing, "kind not set")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("object %q is not a Kubernetes object: %s", obj.Metadata.Name, strings.Join(missing, ", "))
}

// validateMetadataName applies the naming rule of the object's kind, or
// DNS subdomain (RFC 1123), the rule of most kinds.
func validateMetadataName(obj *k8sYamlStruct) error {
	var errs field.ErrorList
	for _, msg := range metadataNameFunc(obj)(obj.Metadata.Name, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata").Child("name"), obj.Metadata.Name, msg))
	}
	if len(errs) > 0 {
		return fmt.Errorf("object name does not conform to Kubernetes naming requirements: %q: %w", obj.Metadata.Name, errs.ToAggregate())
	}
	return nil
}

// metadataNameFunc is Helm's table of the API server's name rules.
func metadataNameFunc(obj *k8sYamlStruct) validation.ValidateNameFunc {
	switch strings.ToLower(obj.Kind) {
	case "pod", "node", "secret", "endpoints", "resourcequota",
		"controllerrevision", "daemonset", "deployment", "replicaset", "statefulset",
		"autoscaler",
		"cronjob", "job",
		"lease",
		"endpointslice",
		"networkpolicy", "ingress",
		"podsecuritypolicy",
		"priorityclass",
		"podpreset",
		"storageclass", "volumeattachment", "csinode":
		return validation.NameIsDNSSubdomain
	case "service":
		return validation.NameIsDNS1035Label
	case "namespace":
		return validation.ValidateNamespaceName
	case "serviceaccount":
		return validation.ValidateServiceAccountName
	case "certificatesigningrequest":
		return func(string, bool) []string { return nil }
	case "role", "clusterrole", "rolebinding", "clusterrolebinding":
		return func(name string, _ bool) []string { return content.IsPathSegmentName(name) }
	default:
		return validation.NameIsDNSSubdomain
	}
}

// Lifecycle methods that k8s.io/api generates for its types.
type (
	apiLifecycleDeprecated  interface{ APILifecycleDeprecated() (major, minor int) }
	apiLifecycleRemoved     interface{ APILifecycleRemoved() (major, minor int) }
	apiLifecycleReplacement interface {
		APILifecycleReplacement() schema.GroupVersionKind
	}
)

// validateNoDeprecations warns about a built-in API deprecated in the
// target Kubernetes version, with the API server's warning text.
func validateNoDeprecations(obj *k8sYamlStruct, kv *render.KubeVersion) error {
	if obj.APIVersion == "" || obj.Kind == "" {
		return nil
	}
	gvk := schema.FromAPIVersionAndKind(obj.APIVersion, obj.Kind)
	out, err := kscheme.Scheme.New(gvk)
	if err != nil {
		if runtime.IsNotRegisteredError(err) {
			return nil // Not a built-in kind.
		}
		return err
	}
	major, err := strconv.Atoi(kv.Major)
	if err != nil {
		return err
	}
	minor, err := strconv.Atoi(kv.Minor)
	if err != nil {
		return err
	}
	dep, ok := out.(apiLifecycleDeprecated)
	if !ok {
		return nil
	}
	depMajor, depMinor := dep.APILifecycleDeprecated()
	if depMajor == 0 && depMinor == 0 {
		return nil
	}
	if (major != 0 || minor != 0) && (depMajor > major || depMajor == major && depMinor > minor) {
		return nil
	}
	msg := fmt.Sprintf("%s %s is deprecated in v%d.%d+", gvk.GroupVersion(), gvk.Kind, depMajor, depMinor)
	if rm, ok := out.(apiLifecycleRemoved); ok {
		if rmMajor, rmMinor := rm.APILifecycleRemoved(); rmMajor != 0 || rmMinor != 0 {
			msg += fmt.Sprintf(", unavailable in v%d.%d+", rmMajor, rmMinor)
		}
	}
	if rp, ok := out.(apiLifecycleReplacement); ok {
		if r := rp.APILifecycleReplacement(); !r.Empty() {
			msg += fmt.Sprintf("; use %s %s", r.GroupVersion(), r.Kind)
		}
	}
	return errors.New(msg)
}

// validateMatchSelector: workloads need a selector (Helm looks for the
// words anywhere in the template's output).
func validateMatchSelector(obj *k8sYamlStruct, manifest string) error {
	switch obj.Kind {
	case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet":
		if !strings.Contains(manifest, "matchLabels") && !strings.Contains(manifest, "matchExpressions") {
			return fmt.Errorf("a %s must contain matchLabels or matchExpressions, and %q does not", obj.Kind, obj.Metadata.Name)
		}
	}
	return nil
}

// validateListAnnotations: Helm ignores resource policies inside a List.
func validateListAnnotations(obj *k8sYamlStruct, manifest string) error {
	if obj.Kind != "List" {
		return nil
	}
	m := struct {
		Items []struct {
			Metadata struct {
				Annotations map[string]string
			}
		}
	}{}
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		return validateYamlContent(err)
	}
	for _, i := range m.Items {
		if _, ok := i.Metadata.Annotations["helm.sh/resource-policy"]; ok {
			return errors.New("annotation 'helm.sh/resource-policy' within List objects are ignored")
		}
	}
	return nil
}
