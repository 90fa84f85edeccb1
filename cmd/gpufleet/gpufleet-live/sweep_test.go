package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep/connect"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestSweepSimulated is gpufleet sweep end to end on a simulated world:
// node pools and clusters on all three clouds and an AWS network are
// created through the SDK backends and forgotten (no state holds them,
// as after a crashed apply), except one pool and its cluster, which a
// .tfstate holds. The dry run lists the rest with its price per hour
// from the catalog and deletes nothing; --delete deletes it, pools before
// clusters; a second run finds nothing left but what the state holds.
func TestSweepSimulated(t *testing.T) {
	t.Setenv(connect.SimTimeScaleEnv, "0.01")
	dir := t.TempDir()
	ctx := context.Background()
	regions := []string{"eu-north-1", "europe-west4", "westeurope"}
	targets, release, _, err := connect.Targets(ctx, cli.SweepConfig{Clouds: []string{"aws", "gcp", "azure"}, Regions: regions,
		Simulate: dir, Catalog: planner.Embedded()})
	if err != nil {
		t.Fatal(err)
	}
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	make := func(cl, region, cluster, pool, instanceType, zone string, nodes int) {
		t.Helper()
		b := targets[cl].Backend
		if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: cluster, Region: region, KubernetesVersion: "1.33", PublicEndpoint: true, Tags: managed}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.CreateNodePool(ctx, cloud.NodePoolSpec{Cluster: cluster, Region: region, Name: pool, InstanceType: instanceType, Zone: zone,
			CapacityType: "on_demand", Nodes: nodes, GPUModel: "H100", GPUsPerNode: 8}); err != nil {
			t.Fatal(err)
		}
	}
	make("aws", "eu-north-1", "gf-leak", "gpufleet-00000000000a", "p5.48xlarge", "eun1-az1", 2)
	make("aws", "eu-north-1", "gf-kept", "gpufleet-00000000000b", "p5.48xlarge", "eun1-az1", 1)
	make("gcp", "europe-west4", "gf-leak", "gpufleet-00000000000c", "a3-highgpu-8g", "europe-west4-b", 1)
	make("azure", "westeurope", "gf-leak", "gpufleet-00000000000d", "Standard_ND96isr_H100_v5", "", 1)
	if _, err := targets["aws"].Network.EnsureNetwork(ctx, cloud.NetworkSpec{Name: "gf-net", Region: "eu-north-1", CIDR: "10.40.0.0/16",
		Subnets: []cloud.SubnetSpec{{Zone: "eun1-az1", CIDR: "10.40.0.0/20"}}, AllowedCIDRs: []string{"10.40.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	release() // the apply "crashed": nothing holds these but the clouds

	state := filepath.Join(dir, "terraform.tfstate")
	if err := os.WriteFile(state, []byte(`{"version": 4, "terraform_version": "1.5.7", "resources": [
		{"mode": "managed", "type": "gpufleet_cluster", "name": "site", "instances": [{"attributes": {"id": "aws/eu-north-1/gf-kept", "name": "gf-kept"}}]},
		{"mode": "managed", "type": "gpufleet_pool", "name": "train", "instances": [{"attributes": {"pools": {"a": {"name": "gpufleet-00000000000b"}}}}]},
		{"mode": "managed", "type": "aws_instance", "name": "other", "instances": [{"attributes": {"id": "gf-leak"}}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"sweep", "--simulate", dir, "--regions", strings.Join(regions, ","), "--state", state}
	code, out, stderr := runCLI(args...)
	if code != exitOK {
		t.Fatalf("dry run: exit %d, stderr %q:\n%s", code, stderr, out)
	}
	t.Logf("dry run:\n%s", out)
	for _, want := range []string{
		"Excluding what 1 state holds.",
		"aws    eu-north-1    node_pool  gf-leak/gpufleet-00000000000a (2 × p5.48xlarge)",
		"117.79", // 2 × 58.8928
		"gcp    europe-west4  node_pool  gf-leak/gpufleet-00000000000c (1 × a3-highgpu-8g)",
		"111.82",
		"azure  westeurope    node_pool  gf-leak/g893cb3d5273 (1 × Standard_ND96isr_H100_v5)  <1m",
		"127.82",
		"aws    eu-north-1    network    gf-net",
		"total                           7 resources",
		"357.42",
		"gpufleet-00000000000b (1 × p5.48xlarge)  <1m  in state",
		"cluster    gf-kept                                          <1m  in state",
		"Dry run: nothing deleted. Run again with --delete to delete these 7 resources.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	code, out, stderr = runCLI(append(args, "--delete")...)
	if code != exitOK {
		t.Fatalf("--delete: exit %d, stderr %q:\n%s", code, stderr, out)
	}
	t.Logf("--delete:\n%s", out)
	deleted := strings.Count(out, "\ndeleted ")
	if deleted != 7 || strings.Index(out, "deleted aws eu-north-1 node_pool") > strings.Index(out, "deleted aws eu-north-1 cluster") {
		t.Fatalf("want 7 deletions, node pools before clusters:\n%s", out)
	}
	code, out, _ = runCLI(args...)
	if code != exitOK || !strings.Contains(out, " 0 resources") || !strings.Contains(out, "gf-kept") {
		t.Fatalf("after --delete: exit %d:\n%s", code, out)
	}
	// Without --state everything tagged is a candidate, and the output says so.
	code, out, _ = runCLI("sweep", "--simulate", dir, "--regions", "eu-north-1", "--cloud", "aws")
	if code != exitOK || !strings.Contains(out, "No --state given") || !strings.Contains(out, "2 resources") {
		t.Fatalf("without --state: exit %d:\n%s", code, out)
	}
}

// TestSweepFlags: contradictory or invalid flags are refused, naming the
// flag and what it accepts.
func TestSweepFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--delete", "--dry-run"}, "--delete and --dry-run contradict"},
		{[]string{"--dry-run=false"}, "give --delete to delete"},
		{[]string{"--cloud", "ibm"}, "--cloud ibm: want aws, gcp or azure"},
		{[]string{"--older-than", "-1h"}, "want a duration of zero or more"},
		{[]string{"--state", "/nonexistent.tfstate"}, "--state open /nonexistent.tfstate"},
	} {
		code, _, stderr := runCLI(append([]string{"sweep"}, tc.args...)...)
		if code != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestSweepDeleteFailure: a cluster the cloud refuses to delete (EKS:
// it still has a node group, one not gpufleet's and so not swept) is
// reported FAILED and the exit status is 1.
func TestSweepDeleteFailure(t *testing.T) {
	t.Setenv(connect.SimTimeScaleEnv, "0.01")
	dir := t.TempDir()
	ctx := context.Background()
	targets, release, _, err := connect.Targets(ctx, cli.SweepConfig{Clouds: []string{"aws"}, Regions: []string{"eu-north-1"}, Simulate: dir,
		Catalog: planner.Embedded()})
	if err != nil {
		t.Fatal(err)
	}
	b := targets["aws"].Backend
	if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "gf-busy", Region: "eu-north-1", KubernetesVersion: "1.33",
		Tags: map[string]string{cloud.ManagedTag: "terraform"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNodePool(ctx, cloud.NodePoolSpec{Cluster: "gf-busy", Region: "eu-north-1", Name: "theirs", InstanceType: "m5.large",
		Zone: "eun1-az1", CapacityType: "on_demand", Nodes: 1}); err != nil {
		t.Fatal(err)
	}
	release()
	code, out, stderr := runCLI("sweep", "--simulate", dir, "--cloud", "aws", "--regions", "eu-north-1", "--delete")
	if code != cli.ExitUsage || !strings.Contains(out, "FAILED  aws eu-north-1 cluster gf-busy") || !strings.Contains(stderr, "some deletions failed") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, stderr, out)
	}
}
