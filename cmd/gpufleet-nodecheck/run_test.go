package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck/nvmltest"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
)

func testDeps(s *server.Server, client kubernetes.Interface) deps {
	return deps{
		nvml:  func() nvml.Interface { return s },
		kube:  func(string) (kubernetes.Interface, error) { return client, nil },
		inPod: func(string) bool { return false },
	}
}

func runCmd(t *testing.T, d deps, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, d)
	return code, out.String(), errOut.String()
}

func kernelLog(t *testing.T, lines ...string) string {
	p := filepath.Join(t.TempDir(), "kern.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOnceJSON(t *testing.T) {
	log := kernelLog(t, "kernel: something else")
	code, out, stderr := runCmd(t, testDeps(nvmltest.Healthy(dgxh100.New()), nil),
		"--instance-type", "p5.48xlarge", "--min-driver-version", "550.0", "--kernel-log", log, "--format", "json")
	if code != exitPass {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	var r struct {
		Status  string `json:"status"`
		Results []struct{ Check, Status string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "pass" || len(r.Results) != 3+8*13 {
		t.Fatalf("status %s, %d results", r.Status, len(r.Results))
	}
}

func TestExitStatuses(t *testing.T) {
	missing := func() *server.Server {
		s := nvmltest.Healthy(dgxh100.New())
		s.Devices = s.Devices[:7]
		return s
	}
	noDriver := func() *server.Server {
		s := dgxh100.New()
		s.InitFunc = func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }
		return s
	}
	tests := []struct {
		name   string
		server func() *server.Server
		args   []string
		code   int
		output string
	}{
		{"fail: missing GPU", missing, []string{"--instance-type", "p5.48xlarge", "--kernel-log", ""}, exitFail, "found 7 GPUs"},
		{"fail: XID 79 in the kernel log", func() *server.Server { return nvmltest.Healthy(dgxh100.New()) },
			[]string{"--instance-type", "p5.48xlarge", "--kernel-log", "LOG79"}, exitFail, "XID 79 (kernel)"},
		{"cannot run: no driver", noDriver, []string{"--instance-type", "p5.48xlarge"}, exitCannotRun, "ERROR_DRIVER_NOT_LOADED"},
		{"cannot run: unknown instance type", noDriver, []string{"--instance-type", "p5.48xlarg"}, exitCannotRun, "did you mean p5.48xlarge"},
		{"cannot run: no profile", noDriver, nil, exitCannotRun, "pass --instance-type or --gpus"},
		{"cannot run: bad flag", noDriver, []string{"--bogus"}, exitCannotRun, "flag provided but not defined"},
		{"cannot run: kubernetes without node", noDriver, []string{"--kubernetes", "--instance-type", "p5.48xlarge", "--node-name", ""}, exitCannotRun, "--kubernetes needs --node-name"},
		{"overrides: expect 7 H100", missing, []string{"--gpus", "7", "--gpu-model", "H100", "--gpu-memory-gib", "80", "--kernel-log", ""}, exitPass, "7 x H100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			for i, a := range args {
				if a == "LOG79" {
					args = append([]string(nil), args...)
					args[i] = kernelLog(t, "[ 5.1] NVRM: Xid (PCI:0000:02:00): 79, pid=1, GPU has fallen off the bus.")
				}
			}
			code, out, stderr := runCmd(t, testDeps(tt.server(), nil), args...)
			if code != tt.code || !strings.Contains(out+stderr, tt.output) {
				t.Fatalf("exit %d, want %d; output %q", code, tt.code, out+stderr)
			}
		})
	}
}

func TestKubernetesOnce(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "gke-train-pool-1"},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: nodesignal.TaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	client := fake.NewClientset(node)
	code, _, stderr := runCmd(t, testDeps(nvmltest.Healthy(dgxh100.New()), client),
		"--kubernetes", "--node-name", "gke-train-pool-1", "--instance-type", "a3-highgpu-8g", "--kernel-log", "", "--format", "json")
	if code != exitPass {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	n, err := client.CoreV1().Nodes().Get(context.Background(), "gke-train-pool-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Spec.Taints) != 0 || n.Labels[nodesignal.HealthLabel] != "pass" {
		t.Fatalf("node %+v labels %v", n.Spec, n.Labels)
	}
}
