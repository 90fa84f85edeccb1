package provider

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep/connect"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Sweepers delete what acceptance runs leave behind on the clouds:
//
//	go test ./internal/provider -sweep=eu-north-1,europe-west4,westeurope [-sweep-run=gpufleet_pool]
//
// Each region names its cloud (by the catalog's regions). Everything
// gpufleet tagged in the region is deleted — run them against test
// accounts only, as terraform-provider-aws's sweepers — older than
// GPUFLEET_SWEEP_OLDER_THAN (a duration, default 0). Credentials are the
// provider's (each SDK's chain; GOOGLE_CLOUD_PROJECT, ARM_SUBSCRIPTION_ID);
// GPUFLEET_SWEEP_SIMULATE_DIR sweeps a simulated world instead. The
// gpufleet_cluster sweeper depends on gpufleet_pool's, gpufleet_network's
// on gpufleet_cluster's, so that -sweep-run of one runs what must go
// first (the Delete methods refuse otherwise).
var sweepers = []*resource.Sweeper{
	{Name: "gpufleet_pool", F: sweepKinds(cloud.ResourceNodePool)},
	{Name: "gpufleet_cluster", Dependencies: []string{"gpufleet_pool"}, F: sweepKinds(cloud.ResourceCluster)},
	{Name: "gpufleet_network", Dependencies: []string{"gpufleet_cluster"},
		F: sweepKinds(cloud.ResourceVPNConnection, cloud.ResourceVPNGateway, cloud.ResourcePeering, cloud.ResourceNetwork)},
}

func init() {
	for _, s := range sweepers {
		resource.AddTestSweepers(s.Name, s)
	}
}

// sweepKinds is a sweeper of the given kinds in one region.
func sweepKinds(kinds ...cloud.ResourceKind) resource.SweeperFunc {
	return func(region string) error {
		ctx := context.Background()
		cat := planner.Embedded()
		cl := ""
		for _, r := range cat.Regions() {
			if r.Name == region {
				cl = r.Cloud
			}
		}
		if cl == "" {
			return fmt.Errorf("-sweep region %q is no region of the catalog's clouds", region)
		}
		var older time.Duration
		if v := os.Getenv("GPUFLEET_SWEEP_OLDER_THAN"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("GPUFLEET_SWEEP_OLDER_THAN=%q: want a duration such as 2h: %v", v, err)
			}
			older = d
		}
		targets, release, _, err := connect.Targets(ctx, cli.SweepConfig{Clouds: []string{cl}, Explicit: true, Regions: []string{region},
			Simulate: os.Getenv("GPUFLEET_SWEEP_SIMULATE_DIR"), GCPProject: os.Getenv("GOOGLE_CLOUD_PROJECT"),
			AzureSubscription: os.Getenv("ARM_SUBSCRIPTION_ID"), Catalog: cat})
		if err != nil {
			return err
		}
		defer release()
		o := sweep.Options{Targets: targets, OlderThan: older, Catalog: cat}
		rep := sweep.Find(ctx, o)
		if len(rep.Errors) > 0 {
			return rep.Errors[0]
		}
		var mine sweep.Report
		for _, it := range rep.Items {
			if slices.Contains(kinds, it.Kind) {
				mine.Items = append(mine.Items, it)
			}
		}
		return sweep.Delete(ctx, os.Stderr, o, mine)
	}
}

// TestSweepers runs the sweepers, in their dependency order, on a
// simulated world where node pools, clusters and networks of two clouds
// were left behind, and finds nothing of gpufleet's left in the swept
// regions; what another region holds is not touched.
func TestSweepers(t *testing.T) {
	t.Setenv(connect.SimTimeScaleEnv, "0.01")
	dir := simDir(t)
	t.Setenv("GPUFLEET_SWEEP_SIMULATE_DIR", dir)
	ctx := context.Background()
	cfg := cli.SweepConfig{Clouds: []string{"aws", "gcp"}, Regions: []string{"eu-north-1", "europe-west4", "us-east-1"}, Simulate: dir, Catalog: planner.Embedded()}
	targets, release, _, err := connect.Targets(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	for _, c := range []struct{ cl, region, zone, instanceType string }{
		{"aws", "eu-north-1", "eun1-az1", "p5.48xlarge"}, {"aws", "us-east-1", "use1-az1", "p5.48xlarge"},
		{"gcp", "europe-west4", "europe-west4-b", "a3-highgpu-8g"},
	} {
		b := targets[c.cl].Backend
		if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "gf-acc", Region: c.region, KubernetesVersion: "1.33", Tags: managed}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CreateNodePool(ctx, cloud.NodePoolSpec{Cluster: "gf-acc", Region: c.region, Name: "gpufleet-0000000000aa", InstanceType: c.instanceType,
			Zone: c.zone, CapacityType: "on_demand", Nodes: 1, GPUModel: "H100", GPUsPerNode: 8}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := targets["aws"].Network.EnsureNetwork(ctx, cloud.NetworkSpec{Name: "gf-acc-net", Region: "eu-north-1", CIDR: "10.50.0.0/16",
		Subnets: []cloud.SubnetSpec{{Zone: "eun1-az1", CIDR: "10.50.0.0/20"}}}); err != nil {
		t.Fatal(err)
	}
	release()

	for _, region := range []string{"eu-north-1", "europe-west4"} {
		for _, s := range sweepers { // listed in dependency order
			if err := s.F(region); err != nil {
				t.Fatalf("sweeper %s in %s: %v", s.Name, region, err)
			}
		}
	}
	targets, release, _, err = connect.Targets(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	rep := sweep.Find(ctx, sweep.Options{Targets: targets})
	var left []string
	for _, it := range rep.Items {
		left = append(left, it.Cloud+" "+it.Region+" "+string(it.Kind)+" "+it.Name)
	}
	want := []string{"aws us-east-1 node_pool gpufleet-0000000000aa", "aws us-east-1 cluster gf-acc"}
	if len(rep.Errors) > 0 || !slices.Equal(left, want) {
		t.Fatalf("after sweeping: %q (errors %v), want only the unswept region's %q", left, rep.Errors, want)
	}
}
