package azure

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
)

// TestList lists the managed clusters tagged gpufleet.dev/managed-by (not
// an untagged one), their agent pools under the AKS names DeleteNodePool
// takes, gpufleet's VNets (each in its own resource group) and their
// peerings; regions filter; deleting what was listed leaves none of it.
func TestList(t *testing.T) {
	s := newNetSim(t)
	ctx := context.Background()
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	for _, c := range []cloud.ClusterSpec{{Name: "c1", Region: testRegion, KubernetesVersion: "1.33", Tags: managed},
		{Name: "other", Region: testRegion, KubernetesVersion: "1.33"}} {
		if _, err := s.b.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	p := gpuPool("c1", "gpufleet-0123456789ab", "1")
	p.Nodes = 2
	for _, sp := range []cloud.NodePoolSpec{p, gpuPool("other", "gpufleet-ba9876543210", "1")} {
		if _, err := s.b.CreateNodePool(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range []cloud.NetworkSpec{siteSpec("gf-a", "10.20.0.0/16", "1"), siteSpec("gf-b", "10.21.0.0/16", "1")} {
		if _, err := s.b.EnsureNetwork(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.b.EnsurePeering(ctx, cloud.PeeringSpec{Name: "gf-a-gf-b", A: cloud.PeeringSide{Region: testRegion, Network: "gf-a", CIDR: "10.20.0.0/16"},
		B: cloud.PeeringSide{Region: testRegion, Network: "gf-b", CIDR: "10.21.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	wantPools := []string{fmt.Sprintf("node_pool %s c1/%s 2xStandard_ND96isr_H100_v5", testRegion, agentPoolName("gpufleet-0123456789ab")), "cluster " + testRegion + " c1"}
	wantNets := []string{"peering " + testRegion + " gf-a-gf-b", "network " + testRegion + " gf-a", "network " + testRegion + " gf-b"}
	for _, tc := range []struct {
		name        string
		o           cloud.ListOptions
		pools, nets []string
	}{
		{name: "everywhere", pools: wantPools, nets: wantNets},
		{name: "the region", o: cloud.ListOptions{Regions: []string{testRegion}}, pools: wantPools, nets: wantNets},
		{name: "another region", o: cloud.ListOptions{Regions: []string{"eastus"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.b.List(ctx, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := contract.Listed(rs); !slices.Equal(got, tc.pools) {
				t.Fatalf("List:\n%q\nwant\n%q", got, tc.pools)
			}
			for _, r := range rs {
				if r.Created.IsZero() {
					t.Fatalf("%+v: no creation time (systemData.createdAt, the pool's gpufleet-created tag)", r)
				}
			}
			ns, err := s.b.ListNetworks(ctx, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := contract.Listed(ns); !slices.Equal(got, tc.nets) {
				t.Fatalf("ListNetworks:\n%q\nwant\n%q", got, tc.nets)
			}
		})
	}

	// What List found is what the Delete methods take.
	contract.ListedDelete(t, s.b, s.b, cloud.ListOptions{}, nil)
}
