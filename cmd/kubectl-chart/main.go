// Command kubectl-chart is the `kubectl chart` plugin: it renders Helm charts
// as Helm does and manages them as releases on a cluster.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/cmd"
	// Huge pages for the heap, set up before the heaviest packages
	// initialize (see its doc: page faults were a third of a render's CPU).
	_ "github.com/kubectl-chart/kubectl-chart/internal/hugeheap"
)

func main() {
	// A short-lived CLI that parses large documents: trade memory for less
	// garbage collection, unless the user set GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := cmd.NewCmdRoot(streams)
	if err := root.Execute(); err != nil {
		if !cmd.Silent(err) {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		}
		os.Exit(cmd.ExitCode(err))
	}
}
