package webhook

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// DefaultSealSecret is the Secret, in the webhook's namespace, that holds
// the HMAC key of record seals (ownership.RecordSeal), under data key
// SealSecretKey.
const (
	DefaultSealSecret = "chart-webhook-seal"
	SealSecretKey     = "key"
	sealKeyBytes      = 32
)

// sealKey reads the seal key from Secret name, creating it with a random
// key when it does not exist yet. Replicas starting together race to create
// it: the loser reads the winner's. Only the webhook's ServiceAccount may
// read it (manifests/roles.yaml: a Role in the webhook's namespace);
// whoever can read it can forge seals, which is no more than they could do
// with the webhook's own credentials.
func sealKey(ctx context.Context, secrets typedcorev1.SecretInterface, name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("webhook: no seal key and no seal Secret")
	}
	for range 3 {
		sec, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			key := sec.Data[SealSecretKey]
			if len(key) < 16 {
				return nil, fmt.Errorf("webhook: Secret %s: data key %q holds %d bytes, want at least 16", name, SealSecretKey, len(key))
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("webhook: read the seal key: %w", err)
		}
		key := make([]byte, sealKeyBytes)
		_, _ = rand.Read(key) // never fails (crypto/rand)
		immutable := true
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"app.kubernetes.io/name": Component, "app.kubernetes.io/part-of": "kubectl-chart",
			}},
			Immutable: &immutable,
			Data:      map[string][]byte{SealSecretKey: key},
		}, metav1.CreateOptions{})
		if err == nil {
			return key, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("webhook: create the seal key: %w", err)
		}
	}
	return nil, fmt.Errorf("webhook: the seal key Secret %s kept changing", name)
}
