package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Masterminds/semver/v3"
)

const module = "github.com/kubectl-chart/kubectl-chart"

// The completion helpers kubectl runs for `kubectl chart <TAB>`.
var (
	//go:embed kubectl_complete-chart
	completeHelper []byte
	//go:embed kubectl_complete-chart.cmd
	completeHelperWindows []byte
)

// allPlatforms are the platforms of a release, in the manifest's order.
var allPlatforms = []platform{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"},
}

// platform is a GOOS/GOARCH pair.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// archiveName is the release asset of p: a zip for Windows, else a tar.gz.
func (p platform) archiveName(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("kubectl-chart_%s_%s_%s%s", version, p.OS, p.Arch, ext)
}

// entries are the files of p's archive: LICENSE, the binary and the
// completion helper (a .cmd script on Windows).
func (p platform) entries(root, binary string) []entry {
	bin, helper, helperData := "kubectl-chart", "kubectl_complete-chart", completeHelper
	if p.OS == "windows" {
		bin, helper, helperData = bin+".exe", helper+".cmd", completeHelperWindows
	}
	return []entry{
		{Name: "LICENSE", Mode: 0o644, Path: filepath.Join(root, "LICENSE")},
		{Name: bin, Mode: 0o755, Path: binary},
		{Name: helper, Mode: 0o755, Data: helperData},
	}
}

// options are the flags of dist.
type options struct {
	// Version is the release tag, vX.Y.Z[-pre].
	Version string
	// Commit is stamped into the binaries.
	Commit string
	// Epoch is the modification time of every archive entry.
	Epoch time.Time
	// Root is the source tree built (the repository root).
	Root string
	// Out is the folder the archives, the sums and chart.yaml go to.
	Out string
	// Platforms are the platforms built.
	Platforms []platform
	// Template is the krew-release-bot template (.krew.yaml).
	Template string
	// Manifest, when set, gets a copy of the generated manifest.
	Manifest string
	// Go is the go command.
	Go string
}

// result is what one run built.
type result struct {
	Archives []archive
	Sums     string
	// Manifests are the manifest files written (none unless every
	// platform was built).
	Manifests []string
}

// archive is one built archive.
type archive struct {
	Platform  platform
	Path      string
	Sha256    string
	Size      int64
	BuildTime time.Duration
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
	fmt.Printf("kubectl-chart %s (commit %s, entries dated %s) in %s:\n", o.Version, o.Commit, o.Epoch.UTC().Format(time.RFC3339), o.Out)
	for _, a := range res.Archives {
		fmt.Printf("  %-48s %6.1f MiB  sha256 %s  (go build %s)\n", filepath.Base(a.Path), float64(a.Size)/(1<<20), a.Sha256, a.BuildTime.Round(100*time.Millisecond))
	}
	fmt.Printf("  %s\n", filepath.Base(res.Sums))
	for _, m := range res.Manifests {
		fmt.Printf("krew manifest: %s\n", m)
	}
}

// parseFlags reads the flags; getenv supplies SOURCE_DATE_EPOCH and GO.
func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	var o options
	var platforms, epoch string
	fs.StringVar(&o.Version, "version", "", "release tag, vX.Y.Z (required)")
	fs.StringVar(&o.Commit, "commit", "", "git commit stamped into the binaries (default: HEAD of -root, with -dirty when tracked files changed)")
	fs.StringVar(&epoch, "source-date-epoch", getenv("SOURCE_DATE_EPOCH"), "Unix time of every archive entry (default: $SOURCE_DATE_EPOCH, else the commit time of HEAD)")
	fs.StringVar(&o.Root, "root", ".", "source tree to build")
	fs.StringVar(&o.Out, "out", "dist", "output folder")
	fs.StringVar(&platforms, "platforms", joinPlatforms(allPlatforms), "comma-separated GOOS/GOARCH list; with fewer than every platform, -manifest gets a partial manifest (those platforms only, for tests) and dist/chart.yaml is not written")
	fs.StringVar(&o.Template, "template", "", "krew-release-bot template (default: .krew.yaml of -root)")
	fs.StringVar(&o.Manifest, "manifest", "", "also write the krew manifest here, e.g. krew/chart.yaml")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkTag(o.Version); err != nil {
		return o, err
	}
	ps, err := parsePlatforms(platforms)
	if err != nil {
		return o, err
	}
	o.Platforms = ps
	if o.Template == "" {
		o.Template = filepath.Join(o.Root, ".krew.yaml")
	}
	o.Go = getenv("GO")
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Commit == "" {
		if o.Commit, err = gitCommit(o.Root); err != nil {
			return o, fmt.Errorf("-commit not given and %w", err)
		}
	}
	if epoch == "" {
		if epoch, err = git(o.Root, "log", "-1", "--format=%ct", "HEAD"); err != nil {
			return o, fmt.Errorf("-source-date-epoch and $SOURCE_DATE_EPOCH not set and %w", err)
		}
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		return o, fmt.Errorf("source date epoch %q: want seconds since 1970", epoch)
	}
	o.Epoch = time.Unix(secs, 0).UTC()
	return o, nil
}

// checkTag accepts the tags krew accepts as plugin versions: v and a
// semantic version.
func checkTag(tag string) error {
	if tag == "" {
		return errors.New("-version is required (make dist VERSION=v0.1.0)")
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v")); err != nil || !strings.HasPrefix(tag, "v") {
		return fmt.Errorf("-version %q is not v followed by a semantic version (vX.Y.Z[-pre]), which krew requires", tag)
	}
	return nil
}

func parsePlatforms(s string) ([]platform, error) {
	var out []platform
	for _, f := range strings.Split(s, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("platform %q: want GOOS/GOARCH", f)
		}
		p := platform{goos, goarch}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("platform %s given twice", p)
		}
		out = append(out, p)
	}
	return out, nil
}

func joinPlatforms(ps []platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitCommit is HEAD of dir, with "-dirty" when tracked files differ from it.
func gitCommit(dir string) (string, error) {
	sha, err := git(dir, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	if _, err := git(dir, "diff", "--quiet", "HEAD", "--"); err != nil {
		sha += "-dirty"
	}
	return sha, nil
}

// run builds the binary of every platform, one after the other (go build
// uses every core), and archives each while the next one builds; then it
// writes the sums and, when every platform was built, the krew manifest.
func run(ctx context.Context, o options, log io.Writer) (*result, error) {
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "kubectl-chart-dist-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	archives := make([]archive, len(o.Platforms))
	errs := make([]error, len(o.Platforms))
	var wg sync.WaitGroup
	for i, p := range o.Platforms {
		start := time.Now()
		bin, err := build(ctx, o, p, filepath.Join(tmp, p.OS+"_"+p.Arch), log)
		if err != nil {
			wg.Wait()
			return nil, err
		}
		archives[i] = archive{Platform: p, Path: filepath.Join(o.Out, p.archiveName(o.Version)), BuildTime: time.Since(start)}
		wg.Go(func() {
			a := &archives[i]
			a.Sha256, errs[i] = writeArchive(a.Path, p.entries(o.Root, bin), o.Epoch)
			if errs[i] == nil {
				st, err := os.Stat(a.Path)
				errs[i] = err
				if err == nil {
					a.Size = st.Size()
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	res := &result{Archives: archives, Sums: filepath.Join(o.Out, fmt.Sprintf("kubectl-chart_%s_sha256sums.txt", o.Version))}
	sums := map[string]string{}
	var lines []string
	for _, a := range archives {
		name := filepath.Base(a.Path)
		sums[name] = a.Sha256
		lines = append(lines, a.Sha256+"  "+name+"\n")
	}
	slices.Sort(lines)
	if err := os.WriteFile(res.Sums, []byte(strings.Join(lines, "")), 0o644); err != nil {
		return nil, err
	}

	if !sameSet(o.Platforms, allPlatforms) {
		fmt.Fprintf(log, "dist: not writing the krew manifest of a release: it needs the archives of %s\n", joinPlatforms(allPlatforms))
		if o.Manifest == "" {
			return res, nil
		}
		partial, err := generatePartialManifest(o, sums)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(o.Manifest), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(o.Manifest, partial, 0o644); err != nil {
			return nil, err
		}
		res.Manifests = append(res.Manifests, o.Manifest)
		return res, nil
	}
	manifest, err := generateManifest(o, sums)
	if err != nil {
		return nil, err
	}
	for _, path := range []string{filepath.Join(o.Out, "chart.yaml"), o.Manifest} {
		if path == "" {
			continue
		}
		if err := checkManifest(path, manifest, o.Version); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, manifest, 0o644); err != nil {
			return nil, err
		}
		res.Manifests = append(res.Manifests, path)
	}
	return res, nil
}

// generateManifest renders the template with the sums and marks the result
// as generated.
func generateManifest(o options, sums map[string]string) ([]byte, error) {
	text, err := os.ReadFile(o.Template)
	if err != nil {
		return nil, err
	}
	body, err := renderManifest(filepath.Base(o.Template), text, o.Version, sums)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Template, err)
	}
	header := fmt.Sprintf("# Code generated by hack/dist (make dist VERSION=%s) from .krew.yaml; DO NOT EDIT.\n", o.Version)
	return append([]byte(header), body...), nil
}

func sameSet(a, b []platform) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.Contains(b, p) {
			return false
		}
	}
	return true
}

// build runs go build for p into dir and returns the binary's path. The
// build depends only on the source, the Go toolchain and the flags here:
// -trimpath, no VCS stamping (the commit is stamped explicitly), no cgo,
// and the default instruction set levels whatever the environment says.
func build(ctx context.Context, o options, p platform, dir string, log io.Writer) (string, error) {
	name := "kubectl-chart"
	if p.OS == "windows" {
		name += ".exe"
	}
	out, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	ldflags := fmt.Sprintf("-s -w -X %[1]s/internal/version.Version=%[2]s -X %[1]s/internal/version.Commit=%[3]s", module, o.Version, o.Commit)
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, "./cmd/kubectl-chart")
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOAMD64=v1", "GOARM64=v8.0")
	cmd.Stdout, cmd.Stderr = log, log
	fmt.Fprintf(log, "dist: go build %s\n", p)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build for %s: %w", p, err)
	}
	return out, nil
}
