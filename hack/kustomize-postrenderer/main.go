// Command kustomize-postrenderer is a Helm post-renderer built on
// kustomize's own build code (sigs.k8s.io/kustomize/api/krusty, what
// `kustomize build` runs): it reads manifests on stdin, writes them as
// all.yaml beside a kustomization.yaml in a temporary folder, builds that
// folder and prints the result on stdout.
//
// The kustomization is made from the arguments (Helm's
// --post-renderer-args):
//
//	-kustomization FILE  start from this kustomization file; its folder is
//	                     copied beside it, so that the paths it names
//	                     (patch files) resolve; its resources are replaced
//	                     by the manifests
//	-name-prefix PREFIX  namePrefix
//	-label KEY=VALUE     a label added to every object, not to selectors
//	                     (repeatable)
//	-patch PATCH         an inline patch (strategic merge, naming its
//	                     target) (repeatable)
//
// The tests of --post-renderer build it with `go build` and run it through
// `kubectl chart install` and `upgrade`.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kustomize-postrenderer:", err)
		os.Exit(1)
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(stdin io.Reader, stdout io.Writer, args []string) error {
	fs := flag.NewFlagSet("kustomize-postrenderer", flag.ContinueOnError)
	kfile := fs.String("kustomization", "", "a kustomization file to start from")
	prefix := fs.String("name-prefix", "", "namePrefix")
	var labels, patches listFlag
	fs.Var(&labels, "label", "KEY=VALUE label for every object (repeatable)")
	fs.Var(&patches, "patch", "inline patch (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	manifests, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}

	dir, err := os.MkdirTemp("", "kustomize-postrenderer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var k types.Kustomization
	if *kfile != "" {
		if err := os.CopyFS(dir, os.DirFS(filepath.Dir(*kfile))); err != nil {
			return fmt.Errorf("copying the folder of %s: %w", *kfile, err)
		}
		data, err := os.ReadFile(*kfile)
		if err != nil {
			return err
		}
		if err := yaml.UnmarshalStrict(data, &k); err != nil {
			return fmt.Errorf("%s: %w", *kfile, err)
		}
		// The copy of the file itself is replaced below.
		if err := os.Remove(filepath.Join(dir, filepath.Base(*kfile))); err != nil {
			return err
		}
	}
	k.FixKustomization()
	k.Resources = []string{"all.yaml"}
	if *prefix != "" {
		k.NamePrefix = *prefix
	}
	if len(labels) > 0 {
		pairs := map[string]string{}
		for _, l := range labels {
			key, value, ok := strings.Cut(l, "=")
			if !ok || key == "" {
				return fmt.Errorf("-label %q: want KEY=VALUE", l)
			}
			pairs[key] = value
		}
		k.Labels = append(k.Labels, types.Label{Pairs: pairs})
	}
	for _, p := range patches {
		k.Patches = append(k.Patches, types.Patch{Patch: p})
	}
	kdata, err := yaml.Marshal(&k)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), kdata, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), manifests, 0o600); err != nil {
		return err
	}

	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return err
	}
	out, err := resources.AsYaml()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
