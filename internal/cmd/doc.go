// Package cmd holds the cobra commands of kubectl-chart. Each command follows
// kubectl's options pattern (NewCmdX → options → Complete/Validate/Run); only
// this package prints, through the IOStreams it is given.
package cmd
