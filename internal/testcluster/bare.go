package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// startBare starts etcd and kube-apiserver through envtest, with state and logs in
// the environment's folders.
func (e *Env) startBare(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	etcdLog, err := os.Create(filepath.Join(e.logDir, "etcd.log"))
	if err != nil {
		return err
	}
	defer etcdLog.Close()
	apiLog, err := os.Create(filepath.Join(e.logDir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	defer apiLog.Close()

	te := &envtest.Environment{
		BinaryAssetsDirectory:    e.assets,
		ControlPlaneStartTimeout: e.opts.StartTimeout,
		ErrorIfCRDPathMissing:    true,
	}
	te.ControlPlane.Etcd = &envtest.Etcd{
		Path:    filepath.Join(e.assets, "etcd"),
		DataDir: filepath.Join(e.dir, "etcd"),
		Out:     etcdLog,
		Err:     etcdLog,
	}
	te.ControlPlane.APIServer = &envtest.APIServer{
		Path:    filepath.Join(e.assets, "kube-apiserver"),
		CertDir: filepath.Join(e.dir, "apiserver"),
		Out:     apiLog,
		Err:     apiLog,
	}
	te.ControlPlane.KubectlPath = filepath.Join(e.assets, "kubectl")
	for _, d := range []string{te.ControlPlane.Etcd.DataDir, te.ControlPlane.APIServer.CertDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if e.opts.ConfigureEnvtest != nil {
		e.opts.ConfigureEnvtest(te)
	}
	e.envtest = te

	cfg, err := te.Start()
	if err != nil {
		// envtest names the process but not why: quote the logs it wrote.
		msg := err.Error()
		names := []string{}
		for _, name := range []string{"etcd", "kube-apiserver"} {
			if strings.Contains(msg, name) {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			names = []string{"etcd", "kube-apiserver"}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "envtest: %v", err)
		for _, name := range names {
			p := filepath.Join(e.logDir, name+".log")
			fmt.Fprintf(&b, "; last lines of %s:\n%s", p, tail(p, logTailLines))
		}
		return fmt.Errorf("%s", b.String())
	}
	cfg.QPS, cfg.Burst = 200, 400
	e.cfg = cfg

	user, err := te.AddUser(envtest.User{Name: "kubectl-chart-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("envtest: add the admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("envtest: admin kubeconfig: %w", err)
	}
	e.kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return os.WriteFile(e.kubeconfig, kc, 0o600)
}
