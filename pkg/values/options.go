package values

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kubectl-chart/kubectl-chart/pkg/values/strvals"
)

// Options are the values flags of template/install/upgrade.
type Options struct {
	// ValueFiles are YAML files (-f/--values), merged in order; "-" reads
	// standard input.
	ValueFiles []string
	// StringValues are --set-string lines: values stay strings.
	StringValues []string
	// Values are --set lines: values are typed (bool, int64, null).
	Values []string
	// FileValues are --set-file lines: each value is a path whose content is
	// set.
	FileValues []string
	// JSONValues are --set-json lines: key=jsonvalue pairs, or one JSON object.
	JSONValues []string
	// LiteralValues are --set-literal lines: the value is the rest of the line.
	LiteralValues []string
}

// AddFlags adds the values flags with Helm's names and help texts; only
// "or a URL" is left out of -f's, as values files are local here.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.ValueFiles, "values", "f", []string{}, "specify values in a YAML file (can specify multiple)")
	fs.StringArrayVar(&o.Values, "set", []string{}, "set values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)")
	fs.StringArrayVar(&o.StringValues, "set-string", []string{}, "set STRING values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)")
	fs.StringArrayVar(&o.FileValues, "set-file", []string{}, "set values from respective files specified via the command line (can specify multiple or separate values with commas: key1=path1,key2=path2)")
	fs.StringArrayVar(&o.JSONValues, "set-json", []string{}, "set JSON values on the command line (can specify multiple or separate values with commas: key1=jsonval1,key2=jsonval2 or using json format: {\"key1\": jsonval1, \"key2\": \"jsonval2\"})")
	fs.StringArrayVar(&o.LiteralValues, "set-literal", []string{}, "set a literal STRING value on the command line")
}

// MergeValues builds the user-supplied values as Helm does, later sources
// winning: the values files merged in order, then --set-json, --set,
// --set-string, --set-file and --set-literal. stdin is read for a values file
// or --set-file path "-".
func (o *Options) MergeValues(stdin io.Reader) (map[string]any, error) {
	base := map[string]any{}

	for _, filePath := range o.ValueFiles {
		raw, err := readFile(filePath, stdin)
		if err != nil {
			return nil, err
		}
		current, err := Load(raw)
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", filePath, err)
		}
		base = MergeMaps(base, current)
	}

	// Helm drops the cause of --set-json errors; it is kept here, after
	// Helm's message.
	for _, value := range o.JSONValues {
		trimmed := strings.TrimSpace(value)
		if trimmed != "" && trimmed[0] == '{' {
			var jsonMap map[string]any
			if err := json.Unmarshal([]byte(trimmed), &jsonMap); err != nil {
				return nil, fmt.Errorf("failed parsing --set-json data JSON: %s: %w", value, err)
			}
			base = MergeMaps(base, jsonMap)
		} else if err := strvals.ParseJSON(value, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set-json data %s: %w", value, err)
		}
	}

	for _, value := range o.Values {
		if err := strvals.ParseInto(value, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set data: %w", err)
		}
	}

	for _, value := range o.StringValues {
		if err := strvals.ParseIntoString(value, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data: %w", err)
		}
	}

	reader := func(rs []rune) (any, error) {
		b, err := readFile(string(rs), stdin)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	for _, value := range o.FileValues {
		if err := strvals.ParseIntoFile(value, base, reader); err != nil {
			return nil, fmt.Errorf("failed parsing --set-file data: %w", err)
		}
	}

	for _, value := range o.LiteralValues {
		if err := strvals.ParseLiteralInto(value, base); err != nil {
			return nil, fmt.Errorf("failed parsing --set-literal data: %w", err)
		}
	}

	return base, nil
}

// readFile reads a local file, or stdin for "-" (blanks around it allowed,
// as in Helm). Helm would fetch http(s):// and oci:// paths with its getters;
// they are refused here rather than looked up as local names.
func readFile(filePath string, stdin io.Reader) ([]byte, error) {
	if strings.TrimSpace(filePath) == "-" {
		if stdin == nil {
			return nil, errors.New("cannot read values from standard input: no input stream")
		}
		return io.ReadAll(stdin)
	}
	lower := strings.ToLower(filePath)
	for _, scheme := range []string{"http://", "https://", "oci://"} {
		if strings.HasPrefix(lower, scheme) {
			return nil, fmt.Errorf("%s: values from URLs are not supported, download the file first", filePath)
		}
	}
	return os.ReadFile(filePath)
}
