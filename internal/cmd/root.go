package cmd

import (
	"flag"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

const rootLong = `kubectl chart renders Helm charts exactly as Helm does and manages them as
releases on a cluster with server-side apply.

It is a kubectl plugin: with kubectl-chart on your PATH, run it as
"kubectl chart". Kubernetes flags (--kubeconfig, --context, -n/--namespace …)
behave exactly as in kubectl.`

// NewCmdRoot builds the kubectl-chart command tree.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "kubectl-chart",
		Short:         "Render and manage Helm charts as releases",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl chart",
		},
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.AddFlags(cmd.PersistentFlags())
	// Helm users type -s for --show-only; --server keeps its long form.
	cmd.PersistentFlags().Lookup("server").Shorthand = ""
	addLogFlags(cmd)
	addProfileFlags(cmd)
	addHelmGlobalFlags(cmd, flags)

	cmd.AddCommand(
		NewCmdTemplate(flags, streams),
		NewCmdInstall(flags, streams),
		NewCmdUpgrade(flags, streams),
		NewCmdRollback(flags, streams),
		NewCmdUninstall(flags, streams),
		NewCmdLint(flags, streams),
		NewCmdShow(streams),
		NewCmdPackage(streams),
		NewCmdCreate(streams),
		NewCmdVersion(streams),
		NewCmdCompletion(streams),
		NewCmdList(flags, streams),
		NewCmdHistory(flags, streams),
		NewCmdGet(flags, streams),
		NewCmdStatus(flags, streams),
		NewCmdDrift(flags, streams),
		NewCmdTest(flags, streams),
		NewCmdDiff(flags, streams),
		NewCmdWebhook(flags, streams),
		NewCmdPush(streams),
		NewCmdRegistry(streams),
		NewCmdVerify(streams),
		NewCmdRepo(streams),
		NewCmdSearch(streams),
		NewCmdPull(streams),
		NewCmdDependency(streams),
		NewCmdImportHelm(flags, streams),
		NewCmdExportHelm(flags, streams),
	)
	return cmd
}

// addLogFlags adds kubectl's -v/--v (log level: 6 logs every API request
// with its latency) and --vmodule.
func addLogFlags(cmd *cobra.Command) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		cmd.PersistentFlags().AddGoFlag(fs.Lookup(name))
	}
	cmd.PersistentFlags().Lookup("v").Shorthand = "v"
}
