package kubefront

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// world is an engine with one active cluster per cloud and a started
// server.
type world struct {
	t     *testing.T
	e     *cloudsim.Engine
	clock *cloudsim.FakeClock
	srv   *Server
	addr  string
	file  string
}

// clusterOf names the test cluster of each cloud.
var clusterOf = map[string]struct{ region, zone, instanceType string }{
	"aws":   {"eu-central-1", "eu-central-1a", "p5.48xlarge"},
	"gcp":   {"europe-west4", "europe-west4-b", "a3-highgpu-8g"},
	"azure": {"westeurope", "", "Standard_ND96isr_H100_v5"},
}

func newWorld(t *testing.T, opts Options) *world {
	t.Helper()
	file := filepath.Join(t.TempDir(), "state.json")
	clock := cloudsim.NewFakeClock(t0)
	e, err := cloudsim.New(cloudsim.Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	for cl, c := range clusterOf {
		if _, err := e.CreateCluster(cl, cloud.ClusterSpec{Name: "c1", Region: c.region, KubernetesVersion: "1.31"}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(cloudsim.DefaultDurations.ClusterCreate)
	w := &world{t: t, e: e, clock: clock, file: file}
	w.start(opts)
	return w
}

func (w *world) start(opts Options) {
	w.t.Helper()
	if opts.ReconcileInterval == 0 {
		opts.ReconcileInterval = 20 * time.Millisecond
	}
	if opts.WorkDir == "" {
		opts.WorkDir = w.t.TempDir()
	}
	w.srv = New(w.e, opts)
	addr, err := w.srv.Start(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	w.addr = addr
	w.t.Cleanup(w.srv.Close)
}

// pool creates a GPU pool in the cloud's test cluster and waits for it.
func (w *world) pool(cl, name string, nodes int, taints ...cloud.Taint) {
	w.t.Helper()
	c := clusterOf[cl]
	spec := cloud.NodePoolSpec{Cluster: "c1", Region: c.region, Name: name, InstanceType: c.instanceType, Zone: c.zone,
		CapacityType: "on_demand", Nodes: nodes, Labels: map[string]string{"team": "ml"}, Taints: taints, GPUModel: "H100", GPUsPerNode: 8}
	if _, err := w.e.CreateNodePool(cl, spec, cloudsim.PoolOptions{Family: "gpu", GPUsPerNode: 8}); err != nil {
		w.t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.PoolCreate)
}

func (w *world) config(cl string) *rest.Config {
	w.t.Helper()
	cfg, err := w.srv.RESTConfig(cl, clusterOf[cl].region, "c1")
	if err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

func (w *world) client(cl string) kubernetes.Interface {
	w.t.Helper()
	c, err := kubernetes.NewForConfig(w.config(cl))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds (5 s at most).
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not reached (last error %v)", what, last)
	}
}

func nodeNames(t *testing.T, c kubernetes.Interface, selector string) []string {
	t.Helper()
	l, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range l.Items {
		out = append(out, n.Name)
	}
	return out
}

var unvalidated = cloud.Taint{Key: nodesignal.TaintKey, Value: "true", Effect: "NoSchedule"}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// signalRunner is a PodRunner that does what gpufleet-nodecheck
// --kubernetes does, without NVML: it passes a node without GPU faults
// and fails one with faults, through the real nodesignal package and a
// client built from the pod's kubeconfig.
type signalRunner struct {
	mu   sync.Mutex
	runs []PodRun
	// exit overrides the exit status for the first runs (for restarts).
	failFirst int
}

func (r *signalRunner) Run(ctx context.Context, p PodRun) PodResult {
	r.mu.Lock()
	r.runs = append(r.runs, p)
	fail := r.failFirst > 0
	if fail {
		r.failFirst--
	}
	r.mu.Unlock()
	if fail {
		fmt.Fprintln(p.Log, "cannot run yet")
		return PodResult{ExitCode: 2}
	}
	node := p.Env["NODE_NAME"]
	if !contains(p.Args, node) {
		return PodResult{ExitCode: 2, Err: fmt.Errorf("args %v do not carry the node name %q", p.Args, node)}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
	if err != nil {
		return PodResult{ExitCode: 2, Err: err}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return PodResult{ExitCode: 2, Err: err}
	}
	rep := &nodecheck.Report{Status: nodecheck.Pass, DriverVersion: "550.54.15", Profile: nodecheck.Profile{GPUCount: p.GPUs, GPUModel: p.GPUModel}}
	for _, f := range p.Node.GPUFaults {
		rep.Status = nodecheck.Fail
		rep.Results = append(rep.Results, nodecheck.Result{Check: f.Kind, GPU: f.GPU, Status: nodecheck.Fail, Reason: "simulated " + f.Kind})
	}
	s := &nodesignal.Signaler{Client: client, Node: node, FailAction: nodesignal.FailTaint,
		Backoff: wait.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 5}}
	if err := s.Signal(ctx, rep); err != nil {
		fmt.Fprintln(p.Log, err)
		return PodResult{ExitCode: 2}
	}
	fmt.Fprintf(p.Log, "node %s: %s\n", node, rep.Status)
	if rep.Status == nodecheck.Fail {
		return PodResult{ExitCode: 1}
	}
	return PodResult{}
}

func (r *signalRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinSorted(s []string) string { return strings.Join(s, ",") }
