package manifests

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// No docker runs where these tests run: they check the Dockerfile as text
// against the Makefile (the same build) and the Deployment (the same
// user), not by building the image.

// instruction is one Dockerfile instruction, continuations joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

// parseDockerfile splits a Dockerfile into instructions.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue // a comment inside a continued instruction
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// shellWords splits a command line as a POSIX shell does for the simple
// quoting used here ('…', "…").
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// goBuild is one `go build` command line: its environment assignments,
// its flags and arguments without -o, and the -o output.
type goBuild struct {
	env    map[string]string
	args   []string
	output string
}

// parseGoBuild reads "VAR=x … go build … -o out pkg" from words.
func parseGoBuild(words []string) (*goBuild, error) {
	b := &goBuild{env: map[string]string{}}
	i := 0
	for ; i < len(words); i++ {
		k, v, ok := strings.Cut(words[i], "=")
		if !ok || strings.HasPrefix(k, "-") {
			break
		}
		b.env[k] = v
	}
	if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
		return nil, fmt.Errorf("not a go build command: %q", words)
	}
	for rest := words[i+2:]; len(rest) > 0; rest = rest[1:] {
		if rest[0] == "-o" && len(rest) > 1 {
			b.output, rest = rest[1], rest[1:]
			continue
		}
		b.args = append(b.args, rest[0])
	}
	return b, nil
}

var makeVar = regexp.MustCompile(`\$\(([A-Za-z_]+)\)`)

// makefileWebhookBuild is the recipe of $(BIN_DIR)/chart-webhook with the
// Makefile's variables expanded ($(VERSION) and $(COMMIT) stay placeholders).
func makefileWebhookBuild(makefile string) (*goBuild, error) {
	vars := map[string]string{"VERSION": "VERSION", "COMMIT": "COMMIT", "GO": "go"}
	assign := regexp.MustCompile(`^([A-Za-z_]+)\s*(?::=|\?=|=)\s*(.*)$`)
	var recipe string
	lines := strings.Split(makefile, "\n")
	for i, l := range lines {
		if m := assign.FindStringSubmatch(l); m != nil {
			if _, fixed := vars[m[1]]; !fixed {
				vars[m[1]] = strings.TrimSpace(m[2])
			}
		}
		if strings.HasPrefix(l, "$(BIN_DIR)/chart-webhook:") && i+1 < len(lines) {
			recipe = strings.TrimSpace(lines[i+1])
		}
	}
	if recipe == "" {
		return nil, errors.New("Makefile: no recipe for $(BIN_DIR)/chart-webhook")
	}
	for range 10 {
		recipe = makeVar.ReplaceAllStringFunc(recipe, func(ref string) string {
			if v, ok := vars[makeVar.FindStringSubmatch(ref)[1]]; ok {
				return v
			}
			return ref
		})
	}
	words, err := shellWords(recipe)
	if err != nil {
		return nil, err
	}
	return parseGoBuild(words)
}

// dockerfileCheck is what the test finds in a Dockerfile.
type dockerfileCheck struct {
	build      *goBuild
	finalFrom  string
	user       string
	entrypoint []string
	copied     map[string]string // final stage: destination → source of COPY --from
}

// readDockerfile finds the go build of the builder stage and the final
// stage's base, USER, ENTRYPOINT and copies.
func readDockerfile(text string) (*dockerfileCheck, error) {
	ins := parseDockerfile(text)
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 {
		return nil, errors.New("no FROM")
	}
	c := &dockerfileCheck{copied: map[string]string{}}
	for i, in := range ins {
		switch {
		case in.cmd == "RUN" && i < last && strings.Contains(in.args, "go build"):
			words, err := shellWords(strings.NewReplacer("${VERSION}", "VERSION", "$VERSION", "VERSION", "${COMMIT}", "COMMIT", "$COMMIT", "COMMIT").Replace(in.args))
			if err != nil {
				return nil, err
			}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN --mount=…
				words = words[1:]
			}
			b, err := parseGoBuild(words)
			if err != nil {
				return nil, err
			}
			c.build = b
		case i == last:
			f := strings.Fields(in.args)
			c.finalFrom = f[len(f)-1]
		case i > last && in.cmd == "USER":
			c.user = in.args
		case i > last && in.cmd == "ENTRYPOINT":
			if err := yaml.Unmarshal([]byte(in.args), &c.entrypoint); err != nil {
				return nil, fmt.Errorf("ENTRYPOINT %s: want the exec form: %w", in.args, err)
			}
		case i > last && in.cmd == "COPY":
			f := strings.Fields(in.args)
			if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				c.copied[f[2]] = f[1]
			}
		}
	}
	if c.build == nil {
		return nil, errors.New("no RUN … go build in a builder stage")
	}
	return c, nil
}

// checkDockerfile lists what is wrong with a Dockerfile, given the
// Makefile's build and the Deployment's user.
func checkDockerfile(dockerfile string, makeBuild *goBuild, runAsUser int64) []string {
	c, err := readDockerfile(dockerfile)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if c.build.env["CGO_ENABLED"] != "0" || makeBuild.env["CGO_ENABLED"] != "0" {
		problems = append(problems, fmt.Sprintf("CGO_ENABLED: Dockerfile %q, Makefile %q, want 0 (a static binary)", c.build.env["CGO_ENABLED"], makeBuild.env["CGO_ENABLED"]))
	}
	for k := range c.build.env {
		if !slices.Contains([]string{"CGO_ENABLED", "GOOS", "GOARCH"}, k) {
			problems = append(problems, fmt.Sprintf("the Dockerfile's go build sets %s, the Makefile's does not", k))
		}
	}
	if diff := cmp.Diff(makeBuild.args, c.build.args); diff != "" {
		problems = append(problems, fmt.Sprintf("go build flags and packages (-Makefile +Dockerfile):\n%s", diff))
	}
	if !slices.Contains(c.build.args, "-trimpath") {
		problems = append(problems, "go build without -trimpath")
	}
	switch c.finalFrom {
	case "gcr.io/distroless/static:nonroot", "gcr.io/distroless/static-debian12:nonroot", "scratch":
	default:
		problems = append(problems, fmt.Sprintf("final stage FROM %s, want gcr.io/distroless/static:nonroot or scratch", c.finalFrom))
	}
	uid, _, _ := strings.Cut(c.user, ":")
	switch n, err := strconv.ParseInt(uid, 10, 64); {
	case c.user == "":
		problems = append(problems, "no USER in the final stage: the image would run as root")
	case err != nil:
		problems = append(problems, fmt.Sprintf("USER %s is not numeric: runAsNonRoot cannot verify a user name", c.user))
	case n == 0:
		problems = append(problems, "USER is root")
	case n != runAsUser:
		problems = append(problems, fmt.Sprintf("USER %d, but manifests/deployment.yaml runs as %d", n, runAsUser))
	}
	if len(c.entrypoint) == 0 {
		problems = append(problems, "no ENTRYPOINT")
	} else if src := c.copied[c.entrypoint[0]]; src != c.build.output || filepath.Base(src) != "chart-webhook" {
		problems = append(problems, fmt.Sprintf("ENTRYPOINT %s is %q, not the chart-webhook that go build wrote (%s)", c.entrypoint[0], src, c.build.output))
	}
	return problems
}

func deploymentRunAsUser(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	sc := d.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil {
		t.Fatal("deployment.yaml sets no runAsUser")
	}
	return *sc.RunAsUser
}

// TestDockerfile checks the repository's Dockerfile: its builder runs the
// Makefile's go build of cmd/webhook (CGO_ENABLED=0, the same flags and
// version stamp), its final stage is distroless static (or scratch), runs as
// the non-root user the Deployment runs as, and starts chart-webhook.
func TestDockerfile(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	makeBuild, err := makefileWebhookBuild(string(makefile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(makeBuild.args, "./cmd/webhook") {
		t.Fatalf("the Makefile's chart-webhook recipe builds %q", makeBuild.args)
	}
	t.Logf("Makefile: %v go build %q", makeBuild.env, makeBuild.args)
	for _, p := range checkDockerfile(string(dockerfile), makeBuild, deploymentRunAsUser(t)) {
		t.Error(p)
	}
}

// TestCheckDockerfile: the check finds what a Dockerfile gets wrong.
func TestCheckDockerfile(t *testing.T) {
	makeBuild, err := makefileWebhookBuild(`MODULE := example.com/m
LDFLAGS := -X $(MODULE)/v.Version=$(VERSION)
BUILD_FLAGS := -trimpath -ldflags '$(LDFLAGS)'
$(BIN_DIR)/chart-webhook: FORCE
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $@ ./cmd/webhook
`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&goBuild{env: map[string]string{"CGO_ENABLED": "0"}, args: []string{"-trimpath", "-ldflags", "-X example.com/m/v.Version=VERSION", "./cmd/webhook"}, output: "$@"},
		makeBuild, cmp.AllowUnexported(goBuild{})); diff != "" {
		t.Fatalf("Makefile build (-want +got):\n%s", diff)
	}
	good := `FROM golang:1.26 AS build
ARG VERSION
RUN --mount=type=cache,target=/go/pkg/mod \
    CGO_ENABLED=0 GOOS=${TARGETOS} \
    go build -trimpath -ldflags "-X example.com/m/v.Version=${VERSION}" -o /out/chart-webhook ./cmd/webhook
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/chart-webhook /chart-webhook
USER 65532:65532
ENTRYPOINT ["/chart-webhook"]
`
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{name: "good"},
		{name: "cgo", old: "CGO_ENABLED=0", new: "CGO_ENABLED=1", want: []string{`CGO_ENABLED: Dockerfile "1", Makefile "0", want 0 (a static binary)`}},
		{name: "no trimpath", old: "-trimpath ", new: "", want: []string{"go build flags and packages", "go build without -trimpath"}},
		{name: "no version stamp", old: `-ldflags "-X example.com/m/v.Version=${VERSION}" `, new: "", want: []string{"go build flags and packages"}},
		{name: "root", old: "USER 65532:65532", new: "USER 0", want: []string{"USER is root"}},
		{name: "no user", old: "USER 65532:65532\n", new: "", want: []string{"no USER in the final stage: the image would run as root"}},
		{name: "named user", old: "USER 65532:65532", new: "USER nonroot", want: []string{"USER nonroot is not numeric: runAsNonRoot cannot verify a user name"}},
		{name: "another user", old: "USER 65532:65532", new: "USER 1000", want: []string{"USER 1000, but manifests/deployment.yaml runs as 65532"}},
		{name: "full base", old: "gcr.io/distroless/static:nonroot", new: "debian:12", want: []string{"final stage FROM debian:12, want gcr.io/distroless/static:nonroot or scratch"}},
		{name: "shell entrypoint", old: `ENTRYPOINT ["/chart-webhook"]`, new: `ENTRYPOINT ["/bin/sh"]`, want: []string{`ENTRYPOINT /bin/sh is "", not the chart-webhook that go build wrote (/out/chart-webhook)`}},
		{name: "no go build", old: "go build", new: "go vet", want: []string{"no RUN … go build in a builder stage"}},
		{name: "extra env", old: "CGO_ENABLED=0 ", new: "CGO_ENABLED=0 GOEXPERIMENT=x ", want: []string{"the Dockerfile's go build sets GOEXPERIMENT, the Makefile's does not"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(good, tc.old, tc.new, 1)
			got := checkDockerfile(text, makeBuild, 65532)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d: %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}
