package cmd

import (
	"context"
	"fmt"
	"os"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/internal/version"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// EnvLockTTL, when set to a Go duration ("10s", "2m"), replaces the default
// TTL of the release locks this process takes (release.DefaultLockTTL). It
// exists for tests of crash recovery, which kill the client and wait for its
// lock to expire; people use --force-unlock instead.
const EnvLockTTL = "KUBECTL_CHART_LOCK_TTL"

// lockTTLFromEnv is the lock TTL $KUBECTL_CHART_LOCK_TTL asks for; 0 (the
// store's default) when it is unset.
func lockTTLFromEnv() (time.Duration, error) {
	v := os.Getenv(EnvLockTTL)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("$%s=%q: want a positive duration such as 30s", EnvLockTTL, v)
	}
	return d, nil
}

// clients are the connections a release command needs, built from the kube
// flags.
type clients struct {
	config    *rest.Config
	kube      kubernetes.Interface
	dynamic   dynamic.Interface
	store     *release.KubeStore
	applier   *apply.Manager
	namespace string
}

// newClients connects to the cluster the kube flags name.
func newClients(f *genericclioptions.ConfigFlags) (*clients, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	// Objects are applied in parallel, at most --concurrency requests at a
	// time: that bound, and the server's priority and fairness, pace the
	// requests. A client-side token bucket would only serialise them again
	// (a negative QPS turns it off).
	// --qps and --burst-limit (Helm's) set a bucket on purpose.
	if cfg.QPS == 0 && cfg.Burst == 0 {
		cfg.QPS, cfg.Burst = -1, 0
	}
	ns, _, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	applier, err := apply.New(cfg)
	if err != nil {
		return nil, err
	}
	ttl, err := lockTTLFromEnv()
	if err != nil {
		return nil, err
	}
	store := release.NewKubeStore(kube, release.KubeStoreOptions{Tooling: "kubectl-chart/" + version.Version, LockTTL: ttl})
	return &clients{config: cfg, kube: kube, dynamic: dyn, store: store, applier: applier, namespace: ns}, nil
}

// connect connects to the cluster the kube flags name and builds the action
// configuration.
func connect(ctx context.Context, f *genericclioptions.ConfigFlags) (*clients, *action.Config, error) {
	c, err := newClients(f)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := c.actionConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, cfg, nil
}

// actionConfig builds the action configuration: capabilities from
// discovery and a lookup function that reads the cluster.
func (c *clients) actionConfig(ctx context.Context) (*action.Config, error) {
	caps, err := capabilitiesFromDiscovery(c.applier.Discovery())
	if err != nil {
		return nil, err
	}
	return &action.Config{
		Store:        c.store,
		Applier:      c.applier,
		Kube:         c.kube,
		Capabilities: caps,
		Lookup:       c.lookup,
		KeepAlive:    c.store.KeepAliveNotify,
	}, nil
}

// capabilitiesFromDiscovery is .Capabilities for a live cluster, as Helm
// builds it: the server version and every group/version and
// group/version/Kind served.
func capabilitiesFromDiscovery(dc discovery.DiscoveryInterface) (*render.Capabilities, error) {
	sv, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("could not get server version from Kubernetes: %w", err)
	}
	caps := render.DefaultCapabilities()
	kv, err := render.ParseKubeVersion(sv.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("server version %q: %w", sv.GitVersion, err)
	}
	kv.Version = sv.GitVersion
	caps.KubeVersion = *kv
	groups, resources, err := dc.ServerGroupsAndResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("could not get apiVersions from Kubernetes: %w", err)
	}
	seen := map[string]bool{}
	var vs render.VersionSet
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			vs = append(vs, s)
		}
	}
	for _, g := range groups {
		for _, gv := range g.Versions {
			add(gv.GroupVersion)
		}
	}
	for _, r := range resources {
		for _, rl := range r.APIResources {
			add(path.Join(r.GroupVersion, rl.Kind))
		}
	}
	caps.APIVersions = vs
	return caps, nil
}

// lookup is the lookup template function on the cluster: one object when
// name is set, else a list; nothing found is an empty map, as in Helm.
func (c *clients) lookup(ctx context.Context, apiVersion, kind, namespace, name string) (map[string]any, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return map[string]any{}, err
	}
	mapping, err := c.applier.RESTMapper().RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil {
		return map[string]any{}, nil
	}
	ri := c.dynamic.Resource(mapping.Resource)
	var client dynamic.ResourceInterface = ri
	if mapping.Scope.Name() == "namespace" && namespace != "" {
		client = ri.Namespace(namespace)
	}
	if name != "" {
		obj, err := client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return map[string]any{}, nil
		}
		if err != nil {
			return map[string]any{}, err
		}
		return obj.UnstructuredContent(), nil
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return map[string]any{}, nil
	}
	if err != nil {
		return map[string]any{}, err
	}
	return list.UnstructuredContent(), nil
}

// ensureNamespace creates the namespace for --create-namespace.
func (c *clients) ensureNamespace(ctx context.Context, name string) error {
	_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{FieldManager: "kubectl-chart"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// age formats how long ago t was.
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
