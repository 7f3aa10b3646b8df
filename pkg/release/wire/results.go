package wire

import "time"

// HeadKeyChart holds the chart of the head's revision (ChartRef as JSON):
// what `kubectl chart list` and the webhook's release metrics
// (chart_release_info) show without reading a record. Absent in heads
// written before it was kept.
const HeadKeyChart = "chart"

// ChartRef is the chart of a revision, as the head names it.
type ChartRef struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
}

// Annotations of a revision record's chunk 0 that the plugin writes when an
// operation ends and the webhook reads for its metrics. Like every change to
// a record's metadata, only the lock holder of a running operation may write
// them.
const (
	// AnnotationFailedHook names the hook event (pre-install, …,
	// post-delete) whose hook made the revision fail; set with the failed
	// status, absent otherwise.
	AnnotationFailedHook = "kubectl-chart.io/failed-hook"
	// AnnotationTest holds the result of the revision's last test run
	// (`kubectl chart test`), TestResult as JSON.
	AnnotationTest = "kubectl-chart.io/test"
)

// Test phases (TestResult.Phase, TestHook.Phase): Helm's hook phases.
const (
	TestSucceeded = "Succeeded"
	TestFailed    = "Failed"
)

// TestResult is the outcome of a test run of a revision (AnnotationTest).
type TestResult struct {
	// Phase is TestSucceeded when every test hook succeeded, else
	// TestFailed.
	Phase     string     `json:"phase"`
	Started   time.Time  `json:"started"`
	Completed time.Time  `json:"completed"`
	Hooks     []TestHook `json:"hooks,omitempty"`
}

// TestHook is one test hook of a run.
type TestHook struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Phase     string    `json:"phase"`
	Started   time.Time `json:"started"`
	Completed time.Time `json:"completed"`
	// Message says why it failed.
	Message string `json:"message,omitempty"`
}
