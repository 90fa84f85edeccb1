package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// validationBenchOffers are the three sites of the benchmark, one H100
// offer each (threeCloudConfig's sites).
var validationBenchOffers = []fleet.Offer{
	{Key: "aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p5.48xlarge", CapacityType: "on_demand", GPUModel: "H100", GPUsPerNode: 8},
	{Key: "gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-b", InstanceType: "a3-highgpu-8g", CapacityType: "on_demand", GPUModel: "H100", GPUsPerNode: 8},
	{Key: "azure/westeurope//Standard_ND96isr_H100_v5/on_demand", Cloud: "azure", Region: "westeurope", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: "on_demand", GPUModel: "H100", GPUsPerNode: 8},
}

// BenchmarkValidatedPools measures the GPU validation loop end to end in
// simulate mode, without the Terraform CLI: per iteration it creates an
// EKS, a GKE and an AKS cluster through the real SDK clients, installs the
// validator DaemonSet in each as gpufleet_cluster does, then creates pools
// totalling nodes=N over the three clusters with Fleet.Apply and the
// validation wait gpufleet_pool uses; every node runs the real
// gpufleet-nodecheck once (TestMain builds it) on simulated GPUs. Then it
// deletes everything.
//
// Simulated operations are scaled by GPUFLEET_SIM_TIME_SCALE, 0.1 unless
// set (a 2 s pool creation takes 200 ms, the waiter reads every 100 ms,
// the kubelet reconciles every 50 ms). Metrics, per iteration:
//
//	s/validated         pool creation start to every node validated
//	s/pools-active      ... to the last pool Active (SDK waits)
//	s/first-verdict     ... to the first node's verdict (validator's stamp)
//	s/last-verdict      ... to the last node's verdict
//	kubeapi-calls/node  Kubernetes API calls during the pool creation
//	waiter-calls/node   of which node lists of the pool waiter
//	pod-calls/node      of which node get/patch and event create of the pods
//	cloudapi-calls/node cloud API calls (cloudsim operations, without the
//	                    front ends' own *Meta bookkeeping)
//	sim-cpu-s           CPU of this process (simulated clouds and API
//	                    servers, SDK clients, waiter) during the creation
//	validator-cpu-ms/node CPU of the gpufleet-nodecheck processes per node
//
// nodes=512 takes 5-8 minutes an iteration on 2 cores (the simulator
// persists its whole state on every Kubernetes object change): run it
// with -benchtime 1x. Figures: docs/benchmarks/validation-2026-12-03.txt.
func BenchmarkValidatedPools(b *testing.B) {
	if os.Getenv(simTimeScaleEnv) == "" {
		b.Setenv(simTimeScaleEnv, "0.1")
	}
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, n := range []int{8, 64, 512} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) { benchValidatedPools(b, n) })
	}
}

func benchValidatedPools(b *testing.B, nodes int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir := b.TempDir()
	be := &backends{simulate: true, simDir: dir, start: simserve.InProcess, catalog: planner.Embedded(), enabled: cloudNames}
	all := map[string]cloud.Backend{}
	for _, cl := range cloudNames {
		back, err := be.get(ctx, cl)
		if err != nil {
			b.Fatal(err)
		}
		all[cl] = back
	}
	b.Cleanup(func() { simserve.CloseInProcess(dir) })
	world := simserve.InProcessWorld(dir)
	clusters := &ClusterResource{data: &providerData{simulate: true, backends: be, catalog: be.catalog}}
	allocs := splitNodes(nodes)
	spec := fleet.Spec{Labels: map[string]string{}, Validate: true,
		Taints: []cloud.Taint{{Key: gpuhealth.TaintKey, Value: gpuhealth.TaintValue, Effect: gpuhealth.TaintEffect}}}
	timeout, _ := time.ParseDuration(DefaultValidationTimeout)

	var sum struct{ validated, active, firstVerdict, verdict, kube, waiter, pods, cloudCalls, selfCPU, childCPU float64 }
	iters := 0
	for b.Loop() {
		iters++
		f := &fleet.Fleet{Backends: all, Clusters: map[string]string{}}
		createClusters(ctx, b, clusters, f)

		reader := &timedReader{NodeReader: be.nodeReader(), first: map[string]time.Time{}}
		f.Validation = &fleet.Validation{Nodes: reader, Poll: be.validationPoll(), Timeout: timeout, MaxReplacements: 2}
		kubeBefore, cloudBefore := world.Kube.Calls(), world.Engine.Calls()
		selfBefore, childBefore := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
		start := time.Now()
		reader.start = start
		pools, err := f.Apply(ctx, fleet.Plan(allocs, nil), spec, false)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		sum.selfCPU += (cpuTime(syscall.RUSAGE_SELF) - selfBefore).Seconds()
		sum.childCPU += (cpuTime(syscall.RUSAGE_CHILDREN) - childBefore).Seconds()
		kube := diffCalls(kubeBefore, world.Kube.Calls())
		cloudCalls := diffCalls(cloudBefore, world.Engine.Calls())

		sum.validated += wall.Seconds()
		sum.active += reader.lastFirst().Sub(start).Seconds()
		first, last := verdicts(ctx, b, be, pools, nodes)
		sum.firstVerdict += first.Sub(start).Seconds()
		sum.verdict += last.Sub(start).Seconds()
		for k, c := range kube {
			// Keys are "cloud/region/cluster verb resource".
			fields := strings.Fields(k)
			op := strings.Join(fields[len(fields)-2:], " ")
			sum.kube += float64(c)
			switch op {
			case "list nodes":
				sum.waiter += float64(c)
			case "get nodes", "patch nodes", "create events":
				sum.pods += float64(c)
			}
		}
		for op, c := range cloudCalls {
			if !strings.HasSuffix(op, "Meta") { // the front ends' own bookkeeping, not requests
				sum.cloudCalls += float64(c)
			}
		}
		if os.Getenv("BENCH_DEBUG") != "" {
			b.Logf("nodes=%d: validated in %s; kube calls %v; cloud calls %v", nodes, wall, kube, cloudCalls)
		}

		if err := f.Delete(ctx, pools); err != nil {
			b.Fatal(err)
		}
		deleteClusters(ctx, b, all)
	}
	per := float64(iters)
	b.ReportMetric(sum.validated/per, "s/validated")
	b.ReportMetric(sum.active/per, "s/pools-active")
	b.ReportMetric(sum.firstVerdict/per, "s/first-verdict")
	b.ReportMetric(sum.verdict/per, "s/last-verdict")
	b.ReportMetric(sum.kube/per/float64(nodes), "kubeapi-calls/node")
	b.ReportMetric(sum.waiter/per/float64(nodes), "waiter-calls/node")
	b.ReportMetric(sum.pods/per/float64(nodes), "pod-calls/node")
	b.ReportMetric(sum.cloudCalls/per/float64(nodes), "cloudapi-calls/node")
	b.ReportMetric(sum.selfCPU/per, "sim-cpu-s")
	b.ReportMetric(sum.childCPU/per/float64(nodes)*1000, "validator-cpu-ms/node")
}

// splitNodes spreads n nodes over the three sites, one pool each.
func splitNodes(n int) []fleet.Allocation {
	var out []fleet.Allocation
	for i, o := range validationBenchOffers {
		o.Nodes = n / len(validationBenchOffers)
		if i < n%len(validationBenchOffers) {
			o.Nodes++
		}
		out = append(out, fleet.Allocation{Offer: o})
	}
	return out
}

// createClusters creates the three sites' clusters concurrently and
// installs the validator in each as gpufleet_cluster's Create does.
func createClusters(ctx context.Context, b *testing.B, r *ClusterResource, f *fleet.Fleet) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(validationBenchOffers))
	for i, o := range validationBenchOffers {
		name := defaultClusterName(o.Site())
		f.Clusters[o.Site()] = name
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.Backends[o.Cloud].CreateCluster(ctx, cloud.ClusterSpec{Name: name, Region: o.Region, KubernetesVersion: DefaultKubernetesVersion})
			if err != nil {
				errs[i] = err
				return
			}
			m := &clusterModel{Site: types.StringValue(o.Site()), Cloud: types.StringValue(o.Cloud), Region: types.StringValue(o.Region),
				Name: types.StringValue(name), ID: types.StringValue(o.Site() + "/" + name), NodeValidation: defaultNodeValidation("test")}
			setClusterComputed(m, c)
			var diags diag.Diagnostics
			if st := r.installValidator(ctx, m, nil, &diags); st != validatorInstalled || diags.HasError() {
				errs[i] = fmt.Errorf("validator in %s: %s %v", name, st, diags)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

func deleteClusters(ctx context.Context, b *testing.B, all map[string]cloud.Backend) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(validationBenchOffers))
	for i, o := range validationBenchOffers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = all[o.Cloud].DeleteCluster(ctx, o.Region, defaultClusterName(o.Site()))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// timedReader records when the waiter first reads each pool's nodes: the
// moment its CreateNodePool returned (the pool is Active).
type timedReader struct {
	fleet.NodeReader
	start time.Time
	mu    sync.Mutex
	first map[string]time.Time
}

func (r *timedReader) PoolNodes(ctx context.Context, p fleet.Pool) ([]fleet.Node, error) {
	r.mu.Lock()
	if _, ok := r.first[p.Name]; !ok {
		r.first[p.Name] = time.Now()
	}
	r.mu.Unlock()
	return r.NodeReader.PoolNodes(ctx, p)
}

func (r *timedReader) lastFirst() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	for _, t := range r.first {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// verdicts reads the validator's verdict times off the pools' nodes and
// returns the earliest and the latest; every node must have passed.
func verdicts(ctx context.Context, b *testing.B, be *backends, pools []fleet.Pool, want int) (first, last time.Time) {
	b.Helper()
	r := be.nodeReader()
	got := 0
	for _, p := range pools {
		ns, err := r.PoolNodes(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range ns {
			if !n.Validated() {
				b.Fatalf("node %s of pool %s is not validated", n.Name, p.Name)
			}
			t, err := time.Parse(time.RFC3339Nano, n.CheckedAt)
			if err != nil {
				b.Fatalf("node %s: %s=%q: %v", n.Name, gpuhealth.CheckedAnnotation, n.CheckedAt, err)
			}
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
			got++
		}
	}
	if got != want {
		b.Fatalf("%d nodes, want %d", got, want)
	}
	return first, last
}

// cpuTime is the user and system CPU time of this process (RUSAGE_SELF)
// or of its finished children (RUSAGE_CHILDREN: the validator runs).
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// diffCalls is after - before, per key.
func diffCalls(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
