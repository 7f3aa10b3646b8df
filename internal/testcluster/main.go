package testcluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
)

// Main is TestMain for a package that needs a control plane: it starts one with opts,
// stores it in *env, runs the tests, stops it and exits. The control plane is stopped
// and its folders removed however the run ends: tests passing or failing, SIGINT or
// SIGTERM (then the exit code is 1), or the binary dying without running defers (a
// panicking test, -timeout), which the harness's watcher process handles.
//
// If the control plane cannot start, Main prints why and exits 1 without running the
// tests, unless KUBECTL_CHART_SKIP_CLUSTER=1: then it does not start one at all and
// every test that calls env.Namespace or env.Require is skipped.
func Main(m *testing.M, env **Env, opts Options) {
	os.Exit(run(m, env, opts))
}

func run(m *testing.M, env **Env, opts Options) (code int) {
	flag.Parse() // for testing.Verbose
	if skip, _ := strconv.ParseBool(os.Getenv(EnvSkip)); skip {
		*env = &Env{opts: opts, skip: fmt.Sprintf("%s=%s: no control plane", EnvSkip, os.Getenv(EnvSkip))}
		return m.Run()
	}
	if opts.Logf == nil && testing.Verbose() {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}

	// A signal during the start aborts it; later, it stops the control plane and exits.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	*env = e
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "testcluster: %v: stopping the control plane\n", s)
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: stop: %v\n", err)
		}
		os.Exit(1)
	}()

	defer func() {
		signal.Stop(sigs)
		pids := e.PIDs()
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: stop: %v\n", err)
			code = 1
		}
		for _, pid := range pids {
			if processAlive(pid) {
				fmt.Fprintf(os.Stderr, "testcluster: process %d still running after Stop\n", pid)
				code = 1
			}
		}
	}()
	return m.Run()
}
