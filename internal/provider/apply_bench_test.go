package provider

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// BenchmarkThreeSiteApply creates one GPU node pool on each of AWS, GCP and
// Azure through the real SDK clients against the simulated clouds, with
// simulated operation latency (a 2 s node pool creation scaled by
// GPUFLEET_SIM_TIME_SCALE=0.1, so 200 ms), and compares the wall time of
// the concurrent three-site apply with the slowest single site (polling
// every 25 ms). It reports
// x_slowest_site (target <= 1.2) and api_calls/pool.
func BenchmarkThreeSiteApply(b *testing.B) {
	os.Setenv(simTimeScaleEnv, "0.1")
	defer os.Unsetenv(simTimeScaleEnv)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	offers := []fleet.Offer{
		{Key: "aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p5.48xlarge", CapacityType: "on_demand", GPUModel: "H100", Nodes: 2, GPUsPerNode: 8},
		{Key: "gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-b", InstanceType: "a3-highgpu-8g", CapacityType: "on_demand", GPUModel: "H100", Nodes: 2, GPUsPerNode: 8},
		{Key: "azure/westeurope//Standard_ND96isr_H100_v5/on_demand", Cloud: "azure", Region: "westeurope", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: "on_demand", GPUModel: "H100", Nodes: 2, GPUsPerNode: 8},
	}
	var ratioSum, callsSum float64
	for i := 0; b.Loop(); i++ {
		be := &backends{simulate: true, simDir: b.TempDir(), start: simserve.InProcess, catalog: planner.Embedded()}
		f := &fleet.Fleet{Backends: map[string]cloud.Backend{}, Clusters: map[string]string{}}
		for _, o := range offers {
			back, err := be.get(ctx, o.Cloud)
			if err != nil {
				b.Fatal(err)
			}
			name := defaultClusterName(o.Site())
			if _, err := back.CreateCluster(ctx, cloud.ClusterSpec{Name: name, Region: o.Region, KubernetesVersion: "1.31"}); err != nil {
				b.Fatal(err)
			}
			f.Backends[o.Cloud], f.Clusters[o.Site()] = back, name
		}
		// Each site alone, then all three at once.
		slowest := time.Duration(0)
		for _, o := range offers {
			start := time.Now()
			pools, err := f.Create(ctx, []fleet.Allocation{{Offer: o}}, fleet.Spec{}, false)
			if err != nil {
				b.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
			if os.Getenv("BENCH_DEBUG") != "" {
				b.Logf("%s alone: %s", o.Cloud, time.Since(start))
			}
			if err := f.Delete(ctx, pools); err != nil {
				b.Fatal(err)
			}
		}
		before := totalCalls(be)
		start := time.Now()
		var allocs []fleet.Allocation
		for _, o := range offers {
			allocs = append(allocs, fleet.Allocation{Offer: o})
		}
		pools, err := f.Create(ctx, allocs, fleet.Spec{}, false)
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		if os.Getenv("BENCH_DEBUG") != "" {
			b.Logf("all three: %s", wall)
		}
		callsSum += float64(totalCalls(be)-before) / float64(len(pools))
		ratioSum += float64(wall) / float64(slowest)
	}
	b.ReportMetric(ratioSum/float64(b.N), "x_slowest_site")
	b.ReportMetric(callsSum/float64(b.N), "api_calls/pool")
}

func totalCalls(be *backends) int {
	n := 0
	for _, c := range simserve.InProcessWorld(be.simDir).Engine.Calls() {
		n += c
	}
	return n
}
