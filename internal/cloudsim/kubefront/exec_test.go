package kubefront

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
)

func TestExecRunnerArgs(t *testing.T) {
	p := PodRun{Args: []string{"--kubernetes", "--node-name", "n1"}, Kubeconfig: "/k", GPUModel: "H100", GPUs: 8,
		Node: cloudsim.Node{GPUFaults: []cloudsim.GPUFault{{Kind: cloudsim.GPUFaultXID79, GPU: 3}, {Kind: cloudsim.GPUFaultNVLinkDown, GPU: 0}}}}
	want := []string{"--kubernetes", "--node-name", "n1", "--kubeconfig", "/k", "--simulate-gpus", "H100:8",
		"--simulate-fault", "xid79:3", "--simulate-fault", "nvlink_down:0", "--kernel-log", ""}
	if got := (ExecRunner{Binary: "x"}).Args(p); !slices.Equal(got, want) {
		t.Fatalf("args %q", got)
	}
	res := ExecRunner{}.Run(context.Background(), p)
	if res.Err == nil || res.ExitCode != 128 {
		t.Fatalf("no binary: %+v", res)
	}
}

// TestExecRunnerNodecheck builds the real gpufleet-nodecheck and runs the
// bootstrap DaemonSet with it: the binary simulates the node's GPUs (and
// the injected fault), reads its profile from the Node's instance type,
// and signals through the API with its pod's kubeconfig.
func TestExecRunnerNodecheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gpufleet-nodecheck")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	bin := filepath.Join(t.TempDir(), "gpufleet-nodecheck")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "github.com/gpufleet/terraform-provider-gpufleet/cmd/gpufleet-nodecheck")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building gpufleet-nodecheck: %v\n%s", err, out)
	}
	w := newWorld(t, Options{Runner: ExecRunner{Binary: bin}})
	w.pool("aws", "gpu", 2, unvalidated)
	if err := w.e.InjectGPUFault(cloudsim.GPUFaultSelector{Pool: "gpu", Nodes: 1}, cloudsim.GPUFault{Kind: cloudsim.GPUFaultECCUncorrectable, GPU: 5}); err != nil {
		t.Fatal(err)
	}
	machines, _ := w.e.PoolNodes("aws", clusterOf["aws"].region, "c1", "gpu")
	c := w.client("aws")
	w.applyManifest("aws", nodecheckManifest(t, LabelEKSGPU))
	eventually(t, "both nodes validated", func() (bool, error) {
		done := 0
		for _, m := range machines {
			n, err := c.CoreV1().Nodes().Get(context.Background(), m.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if n.Labels[nodesignal.HealthLabel] != "" {
				done++
			}
		}
		return done == 2, nil
	})
	for i, m := range machines {
		n, _ := c.CoreV1().Nodes().Get(context.Background(), m.Name, metav1.GetOptions{})
		faulty := i == 0
		want := map[bool]string{true: "fail", false: "pass"}[faulty]
		if n.Labels[nodesignal.HealthLabel] != want || hasTaint(n, nodesignal.TaintKey) != faulty {
			var logs []string
			for _, p := range pods(t, c, "") {
				l, _ := c.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(context.Background())
				logs = append(logs, p.Spec.NodeName+": "+string(l))
			}
			t.Fatalf("node %s: labels %v taints %v annotations %v\n%s", m.Name, n.Labels, n.Spec.Taints, n.Annotations, strings.Join(logs, "\n"))
		}
		if faulty && !strings.Contains(strings.ToLower(n.Annotations[nodesignal.ReasonsAnnotation]), "ecc") {
			t.Errorf("reasons %q", n.Annotations[nodesignal.ReasonsAnnotation])
		}
	}
	ps := pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")
	if len(ps) != 2 || ps[0].Namespace != bootstrap.DefaultNamespace {
		t.Fatalf("pods %v", ps)
	}
}
