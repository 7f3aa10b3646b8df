package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Positional argument checks in Helm's words (Helm's pkg/cmd/require), so
// that scripts that match Helm's messages keep working:
//
//	Error: "kubectl chart template" requires at least 1 argument
//
//	Usage:  kubectl chart template [NAME] [CHART] [flags]
//
// The command path is the display name, "kubectl chart …".

// noArgs refuses any argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%q accepts no arguments\n\nUsage:  %s", cmd.CommandPath(), cmd.UseLine())
	}
	return nil
}

// exactArgs wants exactly n arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires %d %s\n\nUsage:  %s", cmd.CommandPath(), n, pluralize("argument", n), cmd.UseLine())
		}
		return nil
	}
}

// maximumNArgs wants at most n arguments.
func maximumNArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return fmt.Errorf("%q accepts at most %d %s\n\nUsage:  %s", cmd.CommandPath(), n, pluralize("argument", n), cmd.UseLine())
		}
		return nil
	}
}

// minimumNArgs wants at least n arguments.
func minimumNArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%q requires at least %d %s\n\nUsage:  %s", cmd.CommandPath(), n, pluralize("argument", n), cmd.UseLine())
		}
		return nil
	}
}

// rangeArgs wants min to max arguments: Helm's words for the bound that is
// crossed.
func rangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := minimumNArgs(min)(cmd, args); err != nil {
			return err
		}
		return maximumNArgs(max)(cmd, args)
	}
}

func pluralize(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
