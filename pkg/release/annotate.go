package release

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// stampedAnnotations are the annotations the webhook stamps on records:
// SetAnnotations refuses them (the webhook would put its value back).
var stampedAnnotations = []string{ownership.AnnotationAppliedBy, ownership.AnnotationRecordSeal}

// checkAnnotations refuses keys that SetAnnotations may not write.
func checkAnnotations(namespace, name string, revision int, annotations map[string]string) error {
	for k := range annotations {
		if slices.Contains(stampedAnnotations, k) {
			return fmt.Errorf("release %s/%s revision %d: annotation %s is stamped by the webhook, not set by clients", namespace, name, revision, k)
		}
		if k == "" {
			return fmt.Errorf("release %s/%s revision %d: an annotation without a key", namespace, name, revision)
		}
	}
	return nil
}

// SetAnnotations sets annotations on chunk 0 of a revision record (an
// empty value removes the key); the record's data and status are left as
// they are. It writes with the resourceVersion it read (optimistic
// concurrency) and, when the record changed meanwhile, reads it and tries
// again. With the webhook installed, only the holder of the release's lock
// may change a record's metadata: callers run it as an operation.
func (s *KubeStore) SetAnnotations(ctx context.Context, namespace, name string, revision int, annotations map[string]string) error {
	if err := checkAnnotations(namespace, name, revision, annotations); err != nil {
		return err
	}
	if len(annotations) == 0 {
		return nil
	}
	values := make(map[string]any, len(annotations))
	for k, v := range annotations {
		if v == "" {
			values[k] = nil // a merge patch's null removes the key
		} else {
			values[k] = v
		}
	}
	for range attempts {
		sec, err := s.getRecord(ctx, namespace, name, revision)
		if err != nil {
			return err
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": sec.ResourceVersion,
			"annotations":     values,
		}})
		if err != nil {
			return fmt.Errorf("%s: encode annotations: %w", secretRef(namespace, sec.Name), err)
		}
		_, err = s.client.CoreV1().Secrets(namespace).Patch(ctx, sec.Name, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: ownership.FieldManager})
		if apierrors.IsConflict(err) {
			continue // changed meanwhile: patch the new version
		}
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: set annotations: %w", secretRef(namespace, sec.Name), err)
		}
		return nil
	}
	return fmt.Errorf("release %s/%s revision %d: the record kept changing: %w", namespace, name, revision, ErrConflict)
}

// SetAnnotations sets annotations on a revision record, as KubeStore's.
func (m *MemoryStore) SetAnnotations(_ context.Context, namespace, name string, revision int, annotations map[string]string) error {
	if err := checkAnnotations(namespace, name, revision, annotations); err != nil {
		return err
	}
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	rec, ok := m.db.revs[memoryKey(namespace, name)][revision]
	if !ok {
		return fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
	}
	for k, v := range annotations {
		if v == "" {
			delete(rec.annotations, k)
			continue
		}
		if rec.annotations == nil {
			rec.annotations = map[string]string{}
		}
		rec.annotations[k] = v
	}
	return nil
}

// TestAnnotation is the value of wire.AnnotationTest for a test run's
// result.
func TestAnnotation(r *wire.TestResult) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode test result: %w", err)
	}
	return string(b), nil
}

// testResultOf reads the last test run of a record from its annotations
// (wire.AnnotationTest); nil when there is none or it cannot be read: the
// result is a report, never a reason to refuse the record.
func testResultOf(annotations map[string]string) *wire.TestResult {
	v, ok := annotations[wire.AnnotationTest]
	if !ok || v == "" {
		return nil
	}
	var r wire.TestResult
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return nil
	}
	return &r
}
