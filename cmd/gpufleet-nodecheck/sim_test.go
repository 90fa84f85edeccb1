package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
)

// simDeps are the dependencies of a simulated node: real NVML must not be
// touched (--simulate-gpus replaces it).
func simDeps(t *testing.T, client kubernetes.Interface, inPod bool) deps {
	return deps{
		nvml: func() nvml.Interface {
			t.Error("real NVML used in simulation mode")
			return nil
		},
		kube:  func(string) (kubernetes.Interface, error) { return client, nil },
		inPod: func(string) bool { return inPod },
	}
}

// gpuNode is a node as gpufleet pools register it: tainted unvalidated,
// with the cloud's instance-type label.
func gpuNode(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: nodesignal.TaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
}

func instanceType(it string) map[string]string { return map[string]string{instanceTypeLabel: it} }

// hardware is the labels of a node of a gpufleet pool: the instance type
// and the hardware labels (empty values are left out).
func hardware(it, model, count, memory, interconnect string) map[string]string {
	l := map[string]string{instanceTypeLabel: it}
	for k, v := range map[string]string{gpuhealth.GPUModelLabel: model, gpuhealth.GPUCountLabel: count, gpuhealth.GPUMemoryLabel: memory, gpuhealth.GPUInterconnectLabel: interconnect} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

func getNode(t *testing.T, client kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func tainted(n *corev1.Node) bool {
	for _, tt := range n.Spec.Taints {
		if tt.Key == nodesignal.TaintKey {
			return true
		}
	}
	return false
}

// TestSimulatedNodes runs the command as the simulated clouds do, once
// (--interval 0), against client-go's fake clientset.
func TestSimulatedNodes(t *testing.T) {
	t4 := gpuNode("gke-n1", map[string]string{instanceTypeLabel: "n1-highmem-8", gkeAcceleratorLabel: "nvidia-tesla-t4"})
	t4.Status.Capacity = corev1.ResourceList{gpuResource: resource.MustParse("1")}
	tests := []struct {
		name    string
		node    *corev1.Node
		args    []string
		code    int
		health  string
		reasons []string // substrings of the reasons annotation
	}{
		{"H100 p5 healthy", gpuNode("n", instanceType("p5.48xlarge")), []string{"--simulate-gpus", "H100:8"}, exitPass, "pass", nil},
		{"H200 p5en healthy", gpuNode("n", instanceType("p5en.48xlarge")), []string{"--simulate-gpus", "H200:8"}, exitPass, "pass", nil},
		{"A100-80GB p4de healthy", gpuNode("n", instanceType("p4de.24xlarge")), []string{"--simulate-gpus", "A100-80GB:8"}, exitPass, "pass", nil},
		{"B200 a4 healthy", gpuNode("n", instanceType("a4-highgpu-8g")), []string{"--simulate-gpus", "B200:8"}, exitPass, "pass", nil},
		{"L4 g2 healthy", gpuNode("n", instanceType("g2-standard-8")), []string{"--simulate-gpus", "L4:1"}, exitPass, "pass", nil},
		{"A10G g5 healthy", gpuNode("n", instanceType("g5.xlarge")), []string{"--simulate-gpus", "A10G:1"}, exitPass, "pass", nil},
		{"L40S g6e healthy", gpuNode("n", instanceType("g6e.48xlarge")), []string{"--simulate-gpus", "L40S:8"}, exitPass, "pass", nil},
		{"H100 AKS healthy", gpuNode("n", instanceType("Standard_ND96isr_H100_v5")), []string{"--simulate-gpus", "H100:8"}, exitPass, "pass", nil},
		{"T4 on GKE N1 from the accelerator label", t4, []string{"--simulate-gpus", "T4:1"}, exitPass, "pass", nil},
		{"xid79", gpuNode("n", instanceType("p5.48xlarge")), []string{"--simulate-gpus", "H100:8", "--simulate-fault", "xid79:3"}, exitFail, "fail",
			[]string{"gpu 3 gpu_health: GPU is lost (fallen off the bus)", "node xid: XID 79 (kernel)"}},
		{"ecc_uncorrectable", gpuNode("n", instanceType("g6.xlarge")), []string{"--simulate-gpus", "L4:1", "--simulate-fault", "ecc_uncorrectable:0"}, exitFail, "fail",
			[]string{"gpu 0 ecc_uncorrected_volatile: 2 uncorrectable ECC errors"}},
		{"missing_gpu", gpuNode("n", instanceType("a2-ultragpu-8g")), []string{"--simulate-gpus", "A100-80GB:8", "--simulate-fault", "missing_gpu:7"}, exitFail, "fail",
			[]string{"node gpu_count: found 7 GPUs, a2-ultragpu-8g has 8"}},
		{"nvlink_down", gpuNode("n", instanceType("p6-b200.48xlarge")), []string{"--simulate-gpus", "B200:8", "--simulate-fault", "nvlink_down:4"}, exitFail, "fail",
			[]string{"gpu 4 nvlink: 1 of 18 NVLink links down"}},
		{"fabric_manager", gpuNode("n", instanceType("a3-ultragpu-8g")), []string{"--simulate-gpus", "H200:8", "--simulate-fault", "fabric_manager:0"}, exitFail, "fail",
			[]string{"gpu 0 fabric_manager: fabric manager has not started"}},
		{"two faults", gpuNode("n", instanceType("p5.48xlarge")), []string{"--simulate-gpus", "H100:8", "--simulate-fault", "nvlink_down:1", "--simulate-fault", "ecc_uncorrectable:2"}, exitFail, "fail",
			[]string{"gpu 1 nvlink:", "gpu 2 ecc_uncorrected_volatile:"}},
		{"wrong GPUs for the instance type", gpuNode("n", instanceType("p5.48xlarge")), []string{"--simulate-gpus", "A100:8"}, exitFail, "fail",
			[]string{"gpu 0 model: \"NVIDIA A100-SXM4-40GB\" is not a H100"}},
		{"unknown instance type", gpuNode("n", instanceType("p9.96xlarge")), []string{"--simulate-gpus", "H100:8"}, exitCannotRun, "fail",
			[]string{`node profile: node "n": instance type "p9.96xlarge" is not in the catalog`}},
		{"no instance-type label", gpuNode("n", nil), []string{"--simulate-gpus", "H100:8"}, exitCannotRun, "fail",
			[]string{"node profile: node \"n\" has no node.kubernetes.io/instance-type label"}},
		{"instance type from the flag", gpuNode("n", nil), []string{"--instance-type", "g6.xlarge", "--simulate-gpus", "L4:1"}, exitPass, "pass", nil},
		// A pool of a user's catalog labels its nodes with the hardware
		// the plan bought: an instance type the embedded catalog lacks
		// validates by those labels.
		{"user catalog instance type, by the pool's hardware labels", gpuNode("n", hardware("p9.96xlarge", "H100", "8", "80", "nvswitch")), []string{"--simulate-gpus", "H100:8"}, exitPass, "pass", nil},
		{"pool's hardware labels win over the instance type", gpuNode("n", hardware("p5.48xlarge", "H200", "8", "141", "nvswitch")), []string{"--simulate-gpus", "H100:8"}, exitFail, "fail",
			[]string{"is not a H200"}},
		{"pool's hardware labels: fewer GPUs than bought", gpuNode("n", hardware("custom-4x", "L4", "4", "", "")), []string{"--simulate-gpus", "L4:3"}, exitFail, "fail",
			[]string{"node gpu_count: found 3 GPUs"}},
		{"pool's hardware labels: NVSwitch fabric checked", gpuNode("n", hardware("custom-h100", "H100", "8", "80", "nvswitch")), []string{"--simulate-gpus", "H100:8", "--simulate-fault", "nvlink_down:2"}, exitFail, "fail",
			[]string{"gpu 2 nvlink: 1 of 18 NVLink links down"}},
		{"pool's hardware labels: bad count", gpuNode("n", hardware("p9.96xlarge", "H100", "eight", "", "")), []string{"--simulate-gpus", "H100:8"}, exitCannotRun, "fail",
			[]string{`label gpufleet.dev/gpu-count="eight": want the GPU count per node`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.node)
			args := append([]string{"--kubernetes", "--node-name", tt.node.Name, "--fail-action", "taint", "--interval", "0", "--format", "json",
				"--kubeconfig", "/nonexistent/kubeconfig"}, tt.args...)
			code, out, stderr := runCmd(t, simDeps(t, client, false), append(args, "--kernel-log", "")...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, stderr, out)
			}
			n := getNode(t, client, tt.node.Name)
			if n.Labels[nodesignal.HealthLabel] != tt.health || tainted(n) != (tt.health == "fail") {
				t.Fatalf("label %q, taints %v", n.Labels[nodesignal.HealthLabel], n.Spec.Taints)
			}
			got := n.Annotations[nodesignal.ReasonsAnnotation]
			for _, want := range tt.reasons {
				if !strings.Contains(got, want) {
					t.Errorf("reasons %q lack %q", got, want)
				}
			}
			if len(tt.reasons) == 0 && got != "" {
				t.Errorf("reasons %q on a passing node", got)
			}
		})
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"fault without GPUs", []string{"--instance-type", "p5.48xlarge", "--simulate-fault", "xid79:0"}, "--simulate-fault needs --simulate-gpus"},
		{"unknown model", []string{"--simulate-gpus", "H300:8"}, `unknown GPU model "H300"`},
		{"unknown fault", []string{"--simulate-gpus", "H100:8", "--simulate-fault", "melted:0"}, `unknown kind "melted"`},
		{"fault out of range", []string{"--simulate-gpus", "L4:1", "--simulate-fault", "xid79:1"}, "the node has GPUs 0 to 0"},
		{"unobservable fault", []string{"--instance-type", "g6.xlarge", "--simulate-gpus", "L4:1", "--simulate-fault", "nvlink_down:0"}, "expects no NVLink links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, simDeps(t, nil, false), tt.args...)
			if code != exitCannotRun || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, output %q %q", code, out, stderr)
			}
		})
	}
	// In Kubernetes mode an unobservable fault is the simulator's mistake:
	// reported, not recorded on the node.
	client := fake.NewClientset(gpuNode("n", instanceType("g6.xlarge")))
	code, _, stderr := runCmd(t, simDeps(t, client, false), "--kubernetes", "--node-name", "n", "--simulate-gpus", "L4:1", "--simulate-fault", "fabric_manager:0", "--kernel-log", "")
	if n := getNode(t, client, "n"); code != exitCannotRun || !strings.Contains(stderr, "no NVSwitch fabric manager") || n.Labels[nodesignal.HealthLabel] != "" {
		t.Fatalf("exit %d, %q, labels %v", code, stderr, n.Labels)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, simDeps(t, nil, false), "--version")
	if code != exitPass || out != "gpufleet-nodecheck dev\n" {
		t.Fatalf("exit %d, %q", code, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a running command and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCmd runs the command until the returned stop is called; stop
// returns the exit status.
func startCmd(t *testing.T, d deps, args ...string) (stop func() int, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, io.Discard, stderr, d) }()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the command did not stop within 10s of its context's end")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stop, stderr
}

// waitFor polls the node until cond holds.
func waitFor(t *testing.T, client kubernetes.Interface, name string, cond func(*corev1.Node) bool) *corev1.Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := getNode(t, client, name)
		if cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never got there: labels %v annotations %v taints %v", n.Labels, n.Annotations, n.Spec.Taints)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// daemonSetArgs renders the bootstrap DaemonSet and returns its
// container's arguments for a node, as the kubelet expands them.
func daemonSetArgs(t *testing.T, s bootstrap.Settings, node string) []string {
	t.Helper()
	m, err := bootstrap.DaemonSetManifest(s, bootstrap.DaemonSetOptions{GPUNodeLabel: "cloud.google.com/gke-accelerator"})
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(m), 4096)
	for {
		var ds appsv1.DaemonSet
		if err := dec.Decode(&ds); errors.Is(err, io.EOF) {
			t.Fatal("no DaemonSet in the manifest")
		} else if err != nil {
			t.Fatal(err)
		}
		if ds.Kind != "DaemonSet" {
			continue
		}
		var args []string
		for _, a := range ds.Spec.Template.Spec.Containers[0].Args {
			args = append(args, strings.ReplaceAll(a, "$(NODE_NAME)", node))
		}
		return args
	}
}

// TestDaemonSetLifetime runs the rendered DaemonSet arguments: the
// validator keeps running after a passing check (a DaemonSet restarts
// containers that exit), and re-checks at once when an XID event arrives.
func TestDaemonSetLifetime(t *testing.T) {
	args := daemonSetArgs(t, bootstrap.Settings{NVMLValidation: true, Image: "example.com/nodecheck:1", MinDriverVersion: "550.54.15", RecheckInterval: "30s"}, "n")
	if !strings.Contains(strings.Join(args, " "), "--interval 30s") {
		t.Fatalf("DaemonSet args %v", args)
	}
	extra := []string{"--kubeconfig", "/nonexistent/kubeconfig", "--kernel-log", ""}

	t.Run("healthy node stays running", func(t *testing.T) {
		client := fake.NewClientset(gpuNode("n", instanceType("p5.48xlarge")))
		stop, stderr := startCmd(t, simDeps(t, client, true), append(append(args, extra...), "--simulate-gpus", "H100:8")...)
		waitFor(t, client, "n", func(n *corev1.Node) bool { return n.Labels[nodesignal.HealthLabel] == "pass" && !tainted(n) })
		time.Sleep(300 * time.Millisecond)
		if code := stop(); code != exitPass {
			t.Fatalf("exit %d after stop: %s", code, stderr.String())
		}
	})
	t.Run("XID event re-checks at once", func(t *testing.T) {
		client := fake.NewClientset(gpuNode("n", instanceType("p5en.48xlarge")))
		stop, stderr := startCmd(t, simDeps(t, client, true), append(append(args, extra...), "--simulate-gpus", "H200:8", "--simulate-fault", "xid79:5")...)
		n := waitFor(t, client, "n", func(n *corev1.Node) bool {
			return strings.Contains(n.Annotations[nodesignal.ReasonsAnnotation], "XID 79 (nvml)")
		})
		if !tainted(n) || n.Labels[nodesignal.HealthLabel] != "fail" {
			t.Fatalf("node %v %v", n.Labels, n.Spec.Taints)
		}
		if code := stop(); code != exitFail {
			t.Fatalf("exit %d after stop: %s", code, stderr.String())
		}
	})
	t.Run("interval 0 in a pod waits to be stopped", func(t *testing.T) {
		client := fake.NewClientset(gpuNode("n", instanceType("g6.xlarge")))
		stop, stderr := startCmd(t, simDeps(t, client, true), "--kubernetes", "--node-name", "n", "--interval", "0", "--kernel-log", "", "--simulate-gpus", "L4:1")
		waitFor(t, client, "n", func(n *corev1.Node) bool { return n.Labels[nodesignal.HealthLabel] == "pass" })
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(stderr.String(), "waiting to be stopped") {
			if time.Now().After(deadline) {
				t.Fatalf("stderr %q", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code := stop(); code != exitPass {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("unknown instance type is signalled and retried", func(t *testing.T) {
		client := fake.NewClientset(gpuNode("n", instanceType("p9.96xlarge")))
		stop, stderr := startCmd(t, simDeps(t, client, true), append(append(args, extra...), "--simulate-gpus", "H100:8")...)
		waitFor(t, client, "n", func(n *corev1.Node) bool {
			return n.Labels[nodesignal.HealthLabel] == "fail" && strings.Contains(n.Annotations[nodesignal.ReasonsAnnotation], "not in the catalog")
		})
		time.Sleep(200 * time.Millisecond)
		if code := stop(); code != exitCannotRun {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	})
}
