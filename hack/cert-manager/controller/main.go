// Command cert-manager-controller runs cert-manager's own controllers
// (github.com/cert-manager/cert-manager v1.21.2, pkg/controller/...) out of
// cluster against the API server a kubeconfig names, for the tests of
// manifests/ (test/certmanager).
//
// cert-manager's controller binary lives in a separate Go module
// (cmd/controller, module path github.com/cert-manager/cert-manager/controller-binary)
// that the Go module proxy does not serve, so this is a small main of our own
// over the same controller packages: the ContextFactory, the informer
// factories and the controllers that Issuers of type selfSigned and ca need
// (issuers, clusterissuers, the certificates-* loops, the approver and the
// selfsigned and ca CertificateRequest signers). ACME, Vault and Venafi, the
// ingress and gateway shims and leader election are left out: manifests/
// uses none of them, and they pull in the cloud providers' SDKs.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// defaultControllers are the loops this binary runs unless --controllers
// says otherwise; each package registers itself in its init.
var defaultControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	issuing.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
	approver.ControllerName,
	crselfsigned.CRControllerName,
	crca.CRControllerName,
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager-controller: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig      = flag.String("kubeconfig", "", "kubeconfig of the API server (default: in-cluster)")
		namespace       = flag.String("namespace", "", "only watch this namespace (default: all)")
		clusterResource = flag.String("cluster-resource-namespace", "kube-system", "namespace of the Secrets ClusterIssuers refer to")
		controllers     = flag.String("controllers", strings.Join(defaultControllers, ","), "comma-separated controllers to run")
		workers         = flag.Int("workers", 2, "workers per controller")
	)
	klog.InitFlags(nil)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	enabled := strings.Split(*controllers, ",")
	for _, n := range enabled {
		if _, ok := controllerpkg.Known()[n]; !ok {
			return fmt.Errorf("unknown controller %q (known: %s)", n, strings.Join(slices.Sorted(maps.Keys(controllerpkg.Known())), ", "))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager-controller")

	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		Namespace:          *namespace,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterResource},
		CertificateOptions: controllerpkg.CertificateOptions{
			// cert-manager's defaults (internal/apis/config/controller/v1alpha1).
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(enabled))
	for _, n := range enabled {
		if *namespace != "" && n == clusterissuers.ControllerName {
			continue
		}
		c, err := controllerpkg.Known()[n](factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", n, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			klog.InfoS("starting controller", "controller", n)
			if err := c.Run(*workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", n, err)
			}
		}()
	}
	// The controllers have asked for their informers: start them.
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.SharedInformerFactory.Start(ctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	if base.GatewaySolverEnabled {
		base.GWShared.Start(ctx.Done())
	}
	klog.InfoS("started", "controllers", enabled)

	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	klog.InfoS("stopped")
	return nil
}
