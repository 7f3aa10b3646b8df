package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/spf13/cobra"
)

// nameFlags are Helm's ways to name a release without a NAME argument
// (install and template): -g/--generate-name and --name-template.
type nameFlags struct {
	GenerateName bool
	NameTemplate string

	// now is the clock of generated names (tests set it).
	now func() time.Time
}

func (f *nameFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVarP(&f.GenerateName, "generate-name", "g", false, "generate the name (and omit the NAME parameter)")
	fs.StringVar(&f.NameTemplate, "name-template", "", "specify template used to name the release")
}

// nameAndChart splits the arguments into the release name and the chart as
// Helm's install does (action.Install.NameAndChart): NAME CHART, or CHART
// alone with --name-template (the name is the template's output),
// defaultName (template: "release-name"), or --generate-name (the chart's
// base name up to its first dot, then "-" and the Unix time). Errors are
// Helm's.
func (f *nameFlags) nameAndChart(args []string, defaultName string) (name, chart string, err error) {
	if len(args) > 2 {
		return args[0], args[1], fmt.Errorf("expected at most two arguments, unexpected arguments: %v", strings.Join(args[2:], ", "))
	}
	if len(args) == 2 {
		switch {
		case f.GenerateName:
			return args[0], args[1], errors.New("cannot set --generate-name and also specify a name")
		case f.NameTemplate != "":
			return args[0], args[1], errors.New("cannot set --name-template and also specify a name")
		}
		return args[0], args[1], nil
	}
	if f.NameTemplate != "" {
		name, err := templateName(f.NameTemplate)
		return name, args[0], err
	}
	if defaultName != "" {
		return defaultName, args[0], nil
	}
	if !f.GenerateName {
		return "", args[0], errors.New("must either provide a name or specify --generate-name")
	}
	base := filepath.Base(args[0])
	if base == "." || base == "" {
		base = "chart"
	}
	if i := strings.Index(base, "."); i != -1 {
		base = base[:i]
	}
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	return fmt.Sprintf("%s-%d", base, now().Unix()), args[0], nil
}

// templateName executes a --name-template: Go's text/template with sprig's
// functions and no data, as Helm does.
func templateName(text string) (string, error) {
	t, err := template.New("name-template").Funcs(sprig.TxtFuncMap()).Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}
