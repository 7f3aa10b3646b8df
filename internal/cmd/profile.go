package cmd

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// profileFlags are kubectl's --profile and --profile-output: a Go profile
// of the command, for finding where its time goes.
type profileFlags struct {
	name, output string
	cpuFile      *os.File
}

func addProfileFlags(cmd *cobra.Command) {
	p := &profileFlags{}
	fs := cmd.PersistentFlags()
	fs.StringVar(&p.name, "profile", "none", "name of the profile to capture: none, cpu, heap, goroutine, threadcreate, block or mutex")
	fs.StringVar(&p.output, "profile-output", "profile.pprof", "file to write the profile to")
	for _, name := range []string{"profile", "profile-output"} {
		_ = fs.MarkHidden(name)
	}
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return p.start() }
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error { return p.stop() }
}

func (p *profileFlags) start() error {
	switch p.name {
	case "none":
		return nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return err
		}
		p.cpuFile = f
		return pprof.StartCPUProfile(f)
	case "block":
		runtime.SetBlockProfileRate(1)
	case "mutex":
		runtime.SetMutexProfileFraction(1)
	default:
		if pprof.Lookup(p.name) == nil {
			return fmt.Errorf("--profile: unknown profile %q", p.name)
		}
	}
	return nil
}

func (p *profileFlags) stop() error {
	switch p.name {
	case "none":
		return nil
	case "cpu":
		pprof.StopCPUProfile()
		return p.cpuFile.Close()
	}
	f, err := os.Create(p.output)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(p.name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
