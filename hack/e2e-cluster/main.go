// Command e2e-cluster runs the test control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok with fake nodes) for a person:
// it prints the KUBECONFIG line to use it with kubectl and `kubectl chart`, then runs
// until Ctrl-C or SIGTERM, when it stops every process and removes its files.
//
//	make e2e-cluster                 # builds the binaries first if needed
//	go run ./hack/e2e-cluster -nodes=3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

func main() {
	nodes := flag.Int("nodes", 1, "number of fake nodes")
	bare := flag.Bool("bare", false, "only etcd and kube-apiserver (no controllers, scheduler or nodes)")
	verbose := flag.Bool("v", false, "print each process as it starts")
	flag.Parse()
	if err := run(*nodes, !*bare, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(nodes int, full, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	opts := testcluster.Options{Full: full, Nodes: nodes}
	if verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	env, err := testcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Stop()

	bin := "bin"
	if wd, err := os.Getwd(); err == nil {
		bin = filepath.Join(wd, "bin")
	}
	shape := fmt.Sprintf("full control plane with %d fake node(s)", nodes)
	if !full {
		shape = "bare API server"
	}
	fmt.Printf("# %s up in %s at %s (logs in %s)\n", shape, env.StartDuration().Round(1e6), env.Config().Host, env.LogDir())
	fmt.Printf("export KUBECONFIG=%s\n", env.KubeconfigPath())
	fmt.Printf("# kubectl and the plugin (after make build):\nexport PATH=%s:%s:$PATH\n", bin, env.AssetsDir())
	fmt.Println("# Ctrl-C stops it and removes its files.")

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping the control plane")
	return env.Stop()
}
