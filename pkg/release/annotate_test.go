package release

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

func TestKubeAnnotations(t *testing.T) {
	env.Require(t)
	testAnnotations(t, newKubeEnv(t))
}

func TestMemoryAnnotations(t *testing.T) {
	m := NewMemoryStore()
	testAnnotations(t, storeEnv{
		namespace: func() string { return "ns" },
		client:    func(o clientOptions) Store { return m.Client(MemoryStoreOptions{Holder: o.holder, Now: o.now}) },
	})
}

// testAnnotations: a test result set on a record is read back as
// Revision.Test (by Revision and History) without moving its status or
// its Updated time; an empty value removes a key; the webhook's stamps
// are refused; a missing revision is ErrNotFound; writers of different
// keys at once all land (KubeStore retries on conflicts). StatusMoved
// tells a record whose status moved from one written as it is.
func testAnnotations(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{holder: "alice"})
	r := &Revision{Name: "web", Namespace: ns, Revision: 1, Status: StatusPendingInstall, Operation: "install", Started: time.Now().UTC()}
	must(t, s.CreateRevision(ctx, r))
	got, err := s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if got.StatusMoved || got.Test != nil {
		t.Errorf("a new record: StatusMoved %v, Test %+v; want false, nil", got.StatusMoved, got.Test)
	}
	must(t, s.SetOutcome(ctx, ns, "web", 1, Outcome{Status: StatusDeployed}))
	moved, err := s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if !moved.StatusMoved {
		t.Errorf("StatusMoved false after a status move")
	}
	if moved.Finished.IsZero() || !moved.Finished.Equal(moved.Updated) {
		t.Errorf("Finished %s after pending-install → deployed, want the move's time %s", moved.Finished, moved.Updated)
	}

	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	result := &wire.TestResult{Phase: wire.TestFailed, Started: at, Completed: at.Add(time.Second), Hooks: []wire.TestHook{
		{Name: "web-test", Kind: "Pod", Phase: wire.TestFailed, Started: at, Completed: at.Add(time.Second), Message: "pod failed"},
	}}
	v, err := TestAnnotation(result)
	must(t, err)
	must(t, s.SetAnnotations(ctx, ns, "web", 1, map[string]string{wire.AnnotationTest: v, "example.com/note": "kept"}))
	got, err = s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if diff := cmp.Diff(result, got.Test); diff != "" {
		t.Errorf("Revision.Test (-want +got):\n%s", diff)
	}
	if got.Status != StatusDeployed || !got.Updated.Equal(moved.Updated) {
		t.Errorf("after SetAnnotations: status %s, updated %s; want deployed, %s (unchanged)", got.Status, got.Updated, moved.Updated)
	}
	hist, err := s.History(ctx, ns, "web")
	must(t, err)
	if len(hist) != 1 || hist[0].Test == nil || hist[0].Test.Phase != wire.TestFailed {
		t.Errorf("History does not carry the test result: %+v", hist)
	}

	must(t, s.SetAnnotations(ctx, ns, "web", 1, map[string]string{wire.AnnotationTest: ""}))
	if got, _ := s.Revision(ctx, ns, "web", 1); got.Test != nil {
		t.Errorf("Test %+v after the annotation was removed", got.Test)
	}

	for _, k := range []string{ownership.AnnotationAppliedBy, ownership.AnnotationRecordSeal, ""} {
		if err := s.SetAnnotations(ctx, ns, "web", 1, map[string]string{k: "forged"}); err == nil {
			t.Errorf("SetAnnotations(%q) succeeded, want it refused", k)
		}
	}
	if err := s.SetAnnotations(ctx, ns, "web", 9, map[string]string{"a": "b"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAnnotations of a missing revision: %v, want ErrNotFound", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.SetAnnotations(ctx, ns, "web", 1, map[string]string{fmt.Sprintf("example.com/writer-%d", i): "x"})
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	if _, ok := s.(*KubeStore); ok {
		sec, err := s.(*KubeStore).getRecord(ctx, ns, "web", 1)
		must(t, err)
		var keys []string
		for k := range sec.Annotations {
			if strings.HasPrefix(k, "example.com/") {
				keys = append(keys, k)
			}
		}
		if len(keys) != 6 {
			t.Errorf("annotations after concurrent writers: %v, want note and writer-0…4", keys)
		}
	}

	// A later operation moves the status on: when this one finished stays.
	must(t, s.SetStatus(ctx, ns, "web", 1, StatusSuperseded))
	sup, err := s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if !sup.Finished.Equal(moved.Finished) || sup.Updated.Equal(moved.Updated) {
		t.Errorf("superseded: Finished %s, Updated %s; want Finished %s kept and Updated moved", sup.Finished, sup.Updated, moved.Finished)
	}
}
