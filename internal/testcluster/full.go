package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Labels and annotations of the fake nodes; kwok manages the nodes that carry
// fakeNodeAnnotation (and no others, so a real node would be left alone).
const (
	fakeNodeAnnotation = "kwok.x-k8s.io/node"
	fakeNodeValue      = "fake"
)

// startFull starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok. Ports are free when chosen but another process may take one before ours binds
// it: then the whole start is retried with new ports.
func (e *Env) startFull(ctx context.Context) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		err := e.tryStartFull(ctx)
		if err == nil {
			return nil
		}
		if attempt == attempts || ctx.Err() != nil || !e.portClash() {
			return err
		}
		e.opts.Logf("testcluster: a port was taken (%v); retrying with new ports", err)
		for _, p := range e.procs {
			_ = p.stop(5 * time.Second)
		}
		e.procs = nil
		entries, _ := os.ReadDir(e.dir)
		for _, en := range entries {
			_ = os.RemoveAll(filepath.Join(e.dir, en.Name()))
		}
	}
}

// portClash says whether a process failed because its port was taken meanwhile.
func (e *Env) portClash() bool {
	for _, p := range e.procs {
		if data, err := os.ReadFile(p.logPath); err == nil && strings.Contains(string(data), "address already in use") {
			return true
		}
	}
	return false
}

func (e *Env) tryStartFull(ctx context.Context) error {
	timeout := e.opts.StartTimeout
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	pkiDir := filepath.Join(e.dir, "pki")
	for _, d := range []string{pkiDir, filepath.Join(e.dir, "etcd"), filepath.Join(e.dir, "kwok"),
		filepath.Join(e.dir, "volume-plugins"), filepath.Join(e.dir, "apiserver")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	certs, err := writePKI(pkiDir)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	bin := func(name string) string { return filepath.Join(e.assets, name) }
	start := func(name string, args []string, env ...string) (*proc, error) {
		e.opts.Logf("testcluster: starting %s", name)
		p, err := startProc(name, bin(name), args, env, e.logDir)
		if err != nil {
			return nil, err
		}
		e.procs = append(e.procs, p)
		return p, nil
	}

	// etcd.
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcd, err := start("etcd", []string{
		"--name=default",
		"--data-dir=" + filepath.Join(e.dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync", "--heartbeat-interval=10", "--election-timeout=100",
	})
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := etcd.waitReady(ctx, timeout, httpOK(plain, etcdURL+"/health")); err != nil {
		return err
	}

	// kube-apiserver.
	apiserver, err := start("kube-apiserver", []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(e.dir, "apiserver"),
		"--tls-cert-file=" + certs.ServingCert, "--tls-private-key-file=" + certs.ServingKey,
		"--client-ca-file=" + certs.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + certs.SAPub,
		"--service-account-signing-key-file=" + certs.SAKey,
		"--service-cluster-ip-range=10.96.0.0/12",
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
	})
	if err != nil {
		return err
	}
	host := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	e.cfg = &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: certs.caPEM, CertData: certs.adminCertPEM, KeyData: certs.adminKeyPEM,
		},
		QPS: 200, Burst: 400,
	}
	cs, err := kubernetes.NewForConfig(e.cfg)
	if err != nil {
		return err
	}
	if err := apiserver.waitReady(ctx, timeout, func(ctx context.Context) error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	if e.kubeconfig, err = writeKubeconfig(filepath.Join(e.dir, "kubeconfig"), host, certs); err != nil {
		return err
	}

	// Controllers, scheduler and the fake kubelet.
	kc := e.kubeconfig
	kcm, err := start("kube-controller-manager", []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--service-account-private-key-file=" + certs.SAKey,
		"--root-ca-file=" + certs.CACert,
		"--cluster-signing-cert-file=" + certs.CACert, "--cluster-signing-key-file=" + certs.CAKey,
		"--use-service-account-credentials=false",
		"--controllers=*",
		"--leader-elect=false",
		"--flex-volume-plugin-dir=" + filepath.Join(e.dir, "volume-plugins"),
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(kcmPort),
		"--kube-api-qps=100", "--kube-api-burst=200",
	})
	if err != nil {
		return err
	}
	sched, err := start("kube-scheduler", []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(schedPort),
	})
	if err != nil {
		return err
	}
	stages, err := os.ReadFile(bin(kwokStagesFile))
	if err != nil {
		return fmt.Errorf("kwok stages: %w", err)
	}
	stages, err = withFailStage(stages)
	if err != nil {
		return err
	}
	stagesPath := filepath.Join(e.dir, "kwok", "stages.yaml")
	if err := os.WriteFile(stagesPath, stages, 0o600); err != nil {
		return err
	}
	kwok, err := start("kwok", []string{
		"--kubeconfig=" + kc,
		"--config=" + stagesPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation + "=" + fakeNodeValue,
		"--node-lease-duration-seconds=40",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
	}, "KWOK_WORKDIR="+filepath.Join(e.dir, "kwok")) // else ~/.kwok/kwok.yaml is read too
	if err != nil {
		return err
	}

	for i := range e.opts.Nodes {
		if err := createFakeNode(ctx, cs, fmt.Sprintf("kwok-node-%d", i)); err != nil {
			return err
		}
	}

	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health check
	}}
	checks := []struct {
		p     *proc
		check func(context.Context) error
	}{
		{kcm, httpOK(insecure, "https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz")},
		// The service account controller runs: namespaces get their default ServiceAccount.
		{kcm, func(ctx context.Context) error {
			_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
			return err
		}},
		{sched, httpOK(insecure, "https://127.0.0.1:"+strconv.Itoa(schedPort)+"/healthz")},
		{kwok, func(ctx context.Context) error { return nodesReady(ctx, cs, e.opts.Nodes) }},
	}
	errc := make(chan error, len(checks))
	for _, c := range checks {
		go func() { errc <- c.p.waitReady(ctx, timeout, c.check) }()
	}
	var errs []error
	for range checks {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// httpOK checks that url answers 200.
func httpOK(c *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// createFakeNode registers a node for kwok to run; it has no taints, so any Pod fits.
func createFakeNode(ctx context.Context, cs kubernetes.Interface, name string) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"type":                   "kwok",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
			Annotations: map[string]string{
				fakeNodeAnnotation:             fakeNodeValue,
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("Node/%s: create: %w", name, err)
	}
	return nil
}

// nodesReady checks that the n fake nodes are Ready and no longer tainted not-ready.
func nodesReady(ctx context.Context, cs kubernetes.Interface, n int) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	var waiting []string
	for _, node := range nodes.Items {
		if node.Annotations[fakeNodeAnnotation] != fakeNodeValue {
			continue
		}
		ok := false
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		for _, t := range node.Spec.Taints {
			if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
				ok = false
			}
		}
		if ok {
			ready++
		} else {
			waiting = append(waiting, node.Name)
		}
	}
	if ready < n {
		return fmt.Errorf("%d of %d fake nodes ready (waiting for %s)", ready, n, strings.Join(waiting, ", "))
	}
	return nil
}

// writeKubeconfig writes an admin kubeconfig with the credentials embedded.
func writeKubeconfig(path, host string, certs *pki) (string, error) {
	const name = "kubectl-chart-test"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: certs.caPEM}
	kc.AuthInfos["kubectl-chart-admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certs.adminCertPEM, ClientKeyData: certs.adminKeyPEM,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: "kubectl-chart-admin", Namespace: metav1.NamespaceDefault}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	return path, nil
}

// FailAnnotation on a Job's pod template makes the fake kubelet fail its
// pods (exit code 1) instead of completing them, so tests can make Jobs
// (hooks) fail for real.
const FailAnnotation = "testfail"

// failStage is a kwok stage that fails Job pods annotated FailAnnotation.
const failStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-fail
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.annotations.` + FailAnnotation + `'
      operator: 'In'
      values:
      - 'true'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 1
            finishedAt: {{ $now | Quote }}
            reason: Error
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Failed
`

// withFailStage adds failStage to kwok's default stages and keeps the
// default pod-complete stage off the pods it fails.
func withFailStage(stages []byte) ([]byte, error) {
	s := string(stages)
	const anchor = "  name: pod-complete\n"
	i := strings.Index(s, anchor)
	if i < 0 {
		return nil, fmt.Errorf("kwok stages: no pod-complete stage to adjust")
	}
	const exprs = "    matchExpressions:\n"
	j := strings.Index(s[i:], exprs)
	if j < 0 {
		return nil, fmt.Errorf("kwok stages: pod-complete has no matchExpressions")
	}
	at := i + j + len(exprs)
	exclude := "    - key: '.metadata.annotations." + FailAnnotation + "'\n      operator: 'DoesNotExist'\n"
	s = s[:at] + exclude + s[at:]
	return []byte(strings.TrimRight(s, "\n") + "\n" + failStage), nil
}
