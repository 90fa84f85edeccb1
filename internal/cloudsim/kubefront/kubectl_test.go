package kubefront

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
)

// TestKubectl runs the real kubectl against the simulated cluster with
// the admin kubeconfig (server 127.0.0.1, tls-server-name the endpoint).
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; install it (e.g. gcloud's) to run this test")
	}
	w := newWorld(t, Options{Runner: &signalRunner{}})
	w.pool("azure", "gpu", 2, unvalidated)
	dir := t.TempDir()
	kc, err := w.srv.Kubeconfig("azure", clusterOf["azure"].region, "c1")
	if err != nil {
		t.Fatal(err)
	}
	kcFile := filepath.Join(dir, "kubeconfig")
	manifest := filepath.Join(dir, "nodecheck.yaml")
	os.WriteFile(kcFile, kc, 0o600)
	os.WriteFile(manifest, []byte(nodecheckManifest(t, LabelAKSGPU)), 0o600)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kcFile, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	nodes, _ := w.e.PoolNodes("azure", clusterOf["azure"].region, "c1", "gpu")
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"get", "nodes", "-o", "wide"}, []string{"STATUS", "INTERNAL-IP", "OS-IMAGE", nodes[0].Name, nodes[1].Name, "Ready", "v1.31.0", "Ubuntu"}},
		{[]string{"apply", "--server-side", "-f", manifest}, []string{"namespace/gpufleet-system serverside-applied", "daemonset.apps/gpufleet-nodecheck serverside-applied",
			"clusterrolebinding.rbac.authorization.k8s.io/gpufleet-nodecheck serverside-applied"}},
		{[]string{"wait", "--for=jsonpath={.metadata.labels.gpufleet\\.dev/gpu-health}=pass", "node", "--all", "--timeout=30s"}, []string{"condition met"}},
		{[]string{"get", "pods", "-A"}, []string{"NAMESPACE", "gpufleet-system", "gpufleet-nodecheck-", "Completed"}},
		{[]string{"get", "ds", "-n", bootstrap.DefaultNamespace}, []string{"DESIRED", "gpufleet-nodecheck   2         2"}},
		{[]string{"describe", "node", nodes[0].Name}, []string{"ProviderID:", nodes[0].ProviderID, "nvidia.com/gpu:", "gpufleet.dev/gpu-health=pass", "GPUValidationPassed"}},
		{[]string{"get", "events", "-n", "default"}, []string{"GPUValidationPassed"}},
	}
	for _, s := range steps {
		out := run(s.args...)
		t.Logf("kubectl %s\n%s", strings.Join(s.args, " "), out)
		for _, want := range s.want {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl %s: no %q in\n%s", strings.Join(s.args, " "), want, out)
			}
		}
	}
}
