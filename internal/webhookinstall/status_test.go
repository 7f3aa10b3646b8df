package webhookinstall

import (
	"crypto/x509"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// deployment is the webhook's Deployment with ready of 2 replicas ready.
func deployment(ns string, ready int32) *appsv1.Deployment {
	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: ContainerName, Image: "ghcr.io/kubectl-chart/chart-webhook:v1.0.0"}}}},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: ready, AvailableReplicas: ready,
		},
	}
	avail := corev1.ConditionTrue
	if ready == 0 {
		avail = corev1.ConditionFalse
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: avail}}
	return d
}

func tlsSecret(ns string, kp *KeyPair) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ServingSecretName, Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM},
	}
}

func TestComputeStatus(t *testing.T) {
	m := loadManifests(t)
	ns := DefaultNamespace
	ca := mustCA(t, "test-ca", testNow, CADuration)
	serving := mustServing(t, ca, ServiceDNSNames(ns), testNow, ServingDuration)
	otherCA := mustCA(t, "other-ca", testNow, CADuration)
	stranger := mustServing(t, otherCA, ServiceDNSNames(ns), testNow, ServingDuration)
	local := mustServing(t, ca, []string{"127.0.0.1"}, testNow, LocalServingDuration)

	plan := func(o PlanOptions) Configurations {
		p, err := m.Plan(o)
		if err != nil {
			t.Fatal(err)
		}
		return Configurations{Mutating: p.Mutating, Validating: p.Validating}
	}
	secrets := []*corev1.Secret{tlsSecret(ns, serving)}
	selfSigned := plan(PlanOptions{Mode: ModeSelfSigned, CABundle: ca.CertPEM, Secrets: secrets})
	certManager := plan(PlanOptions{Mode: ModeCertManager})
	localCfg := plan(PlanOptions{Mode: ModeLocal, CABundle: ca.CertPEM, LocalHost: "127.0.0.1", LocalPort: 9443})
	policy := admissionregistrationv1.Ignore
	ignore := Configurations{Mutating: selfSigned.Mutating.DeepCopy(), Validating: selfSigned.Validating.DeepCopy()}
	ignore.Mutating.Webhooks[0].FailurePolicy = &policy // harmless: the validating one refuses unstamped records
	ignore.Validating.Webhooks[1].FailurePolicy = &policy
	noWebhooks := Configurations{Mutating: selfSigned.Mutating.DeepCopy(), Validating: selfSigned.Validating.DeepCopy()}
	noWebhooks.Mutating.Webhooks, noWebhooks.Validating.Webhooks = nil, nil
	noValidating := Configurations{Mutating: selfSigned.Mutating}
	noMutating := Configurations{Validating: selfSigned.Validating}
	// The validating configuration with another CA (one install's CA, the
	// other's not updated since).
	otherBundle := Configurations{Mutating: selfSigned.Mutating, Validating: selfSigned.Validating.DeepCopy()}
	for i := range otherBundle.Validating.Webhooks {
		otherBundle.Validating.Webhooks[i].ClientConfig.CABundle = otherCA.CertPEM
	}
	// roles are the deployer and unlocker ClusterRoles, with the
	// aggregation labels or (strict) without.
	role := func(name string, labels ...string) *rbacv1.ClusterRole {
		r := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{labelName: Name}}}
		for _, l := range labels {
			r.Labels[l] = "true"
		}
		return r
	}
	roles := func(strict bool) map[string]*rbacv1.ClusterRole {
		out := map[string]*rbacv1.ClusterRole{}
		for _, name := range roleNames {
			if strict {
				out[name] = role(name)
			} else {
				out[name] = role(name, aggregationLabels...)
			}
		}
		return out
	}
	aggregated := roles(false)
	mixed := roles(false)
	mixed[UnlockerRoleName] = role(UnlockerRoleName, aggregationLabels[0])
	certs := func(ready cmmeta.ConditionStatus, msg string) []*cmv1.Certificate {
		var out []*cmv1.Certificate
		for _, name := range []string{caName, servingCertificateName} {
			c := &cmv1.Certificate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
			c.Status.Conditions = []cmv1.CertificateCondition{{Type: cmv1.CertificateConditionReady, Status: ready, Message: msg}}
			if ready == cmmeta.ConditionTrue {
				c.Status.NotAfter = &metav1.Time{Time: testNow.Add(ServingDuration)}
			}
			out = append(out, c)
		}
		return out
	}
	withBundle := Configurations{Mutating: certManager.Mutating.DeepCopy(), Validating: certManager.Validating.DeepCopy()}
	for i := range withBundle.Mutating.Webhooks {
		withBundle.Mutating.Webhooks[i].ClientConfig.CABundle = ca.CertPEM
	}
	for i := range withBundle.Validating.Webhooks {
		withBundle.Validating.Webhooks[i].ClientConfig.CABundle = ca.CertPEM
	}
	// cainjector has injected the validating configuration's caBundle,
	// not yet the mutating one's.
	halfInjected := Configurations{Mutating: certManager.Mutating, Validating: withBundle.Validating}

	for _, tc := range []struct {
		name     string
		obs      Observed
		now      time.Time
		healthy  bool
		problems []string
	}{
		{name: "not-installed", obs: Observed{Namespace: ns}},
		{name: "not-installed-leftovers", obs: Observed{Namespace: ns, Deployment: deployment(ns, 2)}, problems: []string{
			"Deployment kubectl-chart-system/chart-webhook exists but neither webhook configuration chart-webhook does: nothing calls the webhook; run `kubectl chart webhook install` again, or `kubectl chart webhook uninstall`",
		}},
		{name: "self-signed", healthy: true, obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}},
		{name: "self-signed-strict", healthy: true, obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: roles(true), Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}},
		{name: "self-signed-expiring", now: testNow.Add(ServingDuration - 10*24*time.Hour),
			obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)},
			problems: []string{
				"the serving certificate expires at 2026-06-02T05:06:07Z: run `kubectl chart webhook install --self-signed` to renew it",
			}},
		{name: "self-signed-untrusted", obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: aggregated, Deployment: deployment(ns, 1), ServingSecret: tlsSecret(ns, stranger)},
			problems: []string{
				"only 1 of 2 replicas of Deployment kubectl-chart-system/chart-webhook are ready",
				"the serving certificate (Secret kubectl-chart-system/chart-webhook-tls) is not trusted for chart-webhook.kubectl-chart-system.svc by the caBundle: x509: certificate signed by unknown authority; run `kubectl chart webhook install` again",
			}},
		{name: "self-signed-other-bundle", obs: Observed{Namespace: ns, Configurations: otherBundle, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)},
			problems: []string{
				"the serving certificate (Secret kubectl-chart-system/chart-webhook-tls) is not trusted for chart-webhook.kubectl-chart-system.svc by the caBundle of ValidatingWebhookConfiguration chart-webhook: x509: certificate signed by unknown authority; run `kubectl chart webhook install` again",
			}},
		{name: "self-signed-down", obs: Observed{Namespace: ns, Configurations: ignore, RolesErr: errors.New(`clusterroles.rbac.authorization.k8s.io "kubectl-chart-deployer" is forbidden`), DeploymentErr: errors.New("deployments.apps is forbidden")},
			problems: []string{
				"the failurePolicy of webhook records.kubectl-chart.io is Ignore: writes to owned objects pass unchecked whenever the webhook does not answer",
				"no replica of Deployment kubectl-chart-system/chart-webhook is ready (deployments.apps is forbidden): writes to owned objects are let through unchecked until one is",
				"Secret kubectl-chart-system/chart-webhook-tls is missing: the webhook's pods cannot start",
				`cannot read the ClusterRoles kubectl-chart-deployer and kubectl-chart-unlocker: clusterroles.rbac.authorization.k8s.io "kubectl-chart-deployer" is forbidden`,
			}},
		{name: "no-webhooks", obs: Observed{Namespace: ns, Configurations: noWebhooks, Roles: aggregated}, problems: []string{
			"MutatingWebhookConfiguration chart-webhook has no webhooks: release records are not stamped, so the validating webhook refuses every release operation; run `kubectl chart webhook install` again",
			"ValidatingWebhookConfiguration chart-webhook has no webhooks: nothing blocks writes from other tools; run `kubectl chart webhook install` again",
		}},
		{name: "no-validating", obs: Observed{Namespace: ns, Configurations: noValidating, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}, problems: []string{
			"ValidatingWebhookConfiguration chart-webhook is missing: nothing blocks writes from other tools; run `kubectl chart webhook install` again",
		}},
		{name: "no-mutating", obs: Observed{Namespace: ns, Configurations: noMutating, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}, problems: []string{
			"MutatingWebhookConfiguration chart-webhook is missing: release records are not stamped, so the validating webhook refuses every release operation; run `kubectl chart webhook install` again",
		}},
		{name: "roles-missing", obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: map[string]*rbacv1.ClusterRole{DeployerRoleName: aggregated[DeployerRoleName]}, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}, problems: []string{
			"ClusterRole kubectl-chart-unlocker is missing: only users granted its verb on releases.kubectl-chart.io otherwise (cluster admins) may take over or clear another user's release lock (--force-unlock); run `kubectl chart webhook install` again",
		}},
		{name: "roles-mixed", obs: Observed{Namespace: ns, Configurations: selfSigned, Roles: mixed, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving)}, problems: []string{
			"the ClusterRoles kubectl-chart-deployer and kubectl-chart-unlocker are aggregated into admin and edit only in part: run `kubectl chart webhook install` again, with --strict to leave them out, without to put them in",
		}},
		{name: "cert-manager", healthy: true, obs: Observed{Namespace: ns, Configurations: withBundle, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving), Certificates: certs(cmmeta.ConditionTrue, "Certificate is up to date and has not expired")}},
		{name: "cert-manager-pending", obs: Observed{Namespace: ns, Configurations: certManager, Roles: aggregated, Deployment: deployment(ns, 0), Certificates: certs(cmmeta.ConditionFalse, "Issuing certificate as Secret does not exist")},
			problems: []string{
				"the caBundle is empty: cert-manager's cainjector has not injected the CA yet (is cainjector running?); until it does, the API server cannot call the webhook",
				"no replica of Deployment kubectl-chart-system/chart-webhook is ready (Available: 0/2): writes to owned objects are refused until one is",
				"Secret kubectl-chart-system/chart-webhook-tls is missing: the webhook's pods cannot start",
				"cert-manager's Certificate kubectl-chart-system/chart-webhook-ca is not ready: Issuing certificate as Secret does not exist",
				"cert-manager's Certificate kubectl-chart-system/chart-webhook is not ready: Issuing certificate as Secret does not exist",
			}},
		{name: "cert-manager-half-injected", obs: Observed{Namespace: ns, Configurations: halfInjected, Roles: aggregated, Deployment: deployment(ns, 2), ServingSecret: tlsSecret(ns, serving), Certificates: certs(cmmeta.ConditionTrue, "Certificate is up to date and has not expired")},
			problems: []string{
				"the caBundle of MutatingWebhookConfiguration chart-webhook is empty: cert-manager's cainjector has not injected the CA yet (is cainjector running?); until it does, the API server cannot call the webhook",
				"the serving certificate (Secret kubectl-chart-system/chart-webhook-tls) is not trusted for chart-webhook.kubectl-chart-system.svc by the caBundle of MutatingWebhookConfiguration chart-webhook: x509: certificate signed by unknown authority; run `kubectl chart webhook install` again",
			}},
		{name: "local", healthy: true, obs: Observed{Namespace: ns, Configurations: localCfg, Roles: aggregated, Served: []*x509.Certificate{local.Cert}}},
		{name: "local-down", obs: Observed{Namespace: ns, Configurations: localCfg, Roles: aggregated, ServedErr: errors.New("dial tcp 127.0.0.1:9443: connect: connection refused")},
			problems: []string{
				"nothing answers at 127.0.0.1:9443: start the local webhook (chart-webhook --kubeconfig <kubeconfig> --cert-dir <dir> --seal-key-file <dir>/seal.key --port 9443); until then writes to owned objects are refused",
			}},
		{name: "local-expired", now: testNow.Add(2 * LocalServingDuration), obs: Observed{Namespace: ns, Configurations: localCfg, Roles: aggregated, Served: []*x509.Certificate{local.Cert}},
			problems: []string{
				"the serving certificate (served by 127.0.0.1:9443) is not trusted for 127.0.0.1 by the caBundle: x509: certificate has expired or is not yet valid: current time 2028-03-03T05:06:07Z is after 2027-03-04T05:06:07Z; run `kubectl chart webhook install` again",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			s := ComputeStatus(&tc.obs, now)
			if s.Healthy != tc.healthy {
				t.Errorf("Healthy = %v, want %v", s.Healthy, tc.healthy)
			}
			if diff := cmp.Diff(tc.problems, s.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			checkGolden(t, "status-"+tc.name, s.Text())
		})
	}
}
