package gcp

import (
	"context"
	"slices"
	"testing"

	compute "google.golang.org/api/compute/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
)

// TestList lists gpufleet's clusters (labelled), their gpufleet-named node
// pools, site networks (by description, the region their subnetworks'),
// gateways and peerings, and leaves out a cluster without the label, a
// pool without a gpufleet name and a network gpufleet did not describe;
// pages of one are followed, regions filter.
func TestList(t *testing.T) {
	w := newClusterWorld(t)
	ctx := context.Background()
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: netRegion, KubernetesVersion: "1.33", Tags: managed})).must(t)
	try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "other", Region: netRegion, KubernetesVersion: "1.33"})).must(t)
	p := gpuPool("c1", "gpufleet-0123456789ab", "europe-west4-a")
	p.Nodes = 2
	try(w.b.CreateNodePool(ctx, p)).must(t)
	try(w.b.CreateNodePool(ctx, gpuPool("c1", "system", "europe-west4-a"))).must(t)
	try(w.b.CreateNodePool(ctx, gpuPool("other", "gpufleet-ba9876543210", "europe-west4-a"))).must(t)
	try(w.b.EnsureNetwork(ctx, siteSpec("site-a", "10.10.0.0/16", map[string]string{"europe-west4-a": "10.10.0.0/20"}))).must(t)
	try(w.b.EnsureNetwork(ctx, siteSpec("site-b", "10.20.0.0/16", map[string]string{"europe-west4-b": "10.20.0.0/20"}))).must(t)
	try(w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw-a", Region: netRegion, Network: "site-a", ASN: 64514})).must(t)
	conn := connSpec([2]string{"203.0.113.1", "203.0.113.2"}, "k")
	conn.Network, conn.Gateway = "site-a", "gw-a"
	try(w.b.EnsureVPNConnection(ctx, conn)).must(t)
	try(w.b.EnsurePeering(ctx, cloud.PeeringSpec{Name: "a-b", A: cloud.PeeringSide{Region: netRegion, Network: "site-a", CIDR: "10.10.0.0/16"},
		B: cloud.PeeringSide{Region: netRegion, Network: "site-b", CIDR: "10.20.0.0/16"}})).must(t)
	c := try(w.b.compute(ctx)).must(t)
	op := try(c.svc.Networks.Insert(netProject, &compute.Network{
		Name: "theirs", AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"}, Description: "not gpufleet's"}).Context(ctx).Do()).must(t)
	if err := w.b.waitOp(ctx, op, "InsertNetwork"); err != nil {
		t.Fatal(err)
	}

	wantPools := []string{"node_pool europe-west4 c1/gpufleet-0123456789ab 2xa3-highgpu-8g", "cluster europe-west4 c1"}
	wantNets := []string{"vpn_connection europe-west4 site-to-aws", "vpn_gateway europe-west4 gw-a", "peering europe-west4 a-b", "network europe-west4 site-a", "network europe-west4 site-b"}
	for _, tc := range []struct {
		name        string
		o           cloud.ListOptions
		pools, nets []string
	}{
		{name: "everywhere", pools: wantPools, nets: wantNets},
		{name: "the region, pages of one", o: cloud.ListOptions{Regions: []string{netRegion}, PageSize: 1}, pools: wantPools, nets: wantNets},
		{name: "another region", o: cloud.ListOptions{Regions: []string{"us-central1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := try(w.b.List(ctx, tc.o)).must(t)
			if got := contract.Listed(rs); !slices.Equal(got, tc.pools) {
				t.Fatalf("List:\n%q\nwant\n%q", got, tc.pools)
			}
			for _, r := range rs {
				if r.Created.IsZero() {
					t.Fatalf("%+v: no creation time", r)
				}
			}
			ns := try(w.b.ListNetworks(ctx, tc.o)).must(t)
			if got := contract.Listed(ns); !slices.Equal(got, tc.nets) {
				t.Fatalf("ListNetworks:\n%q\nwant\n%q", got, tc.nets)
			}
			for _, r := range ns {
				if r.Kind == cloud.ResourcePeering && (r.Peering == nil || r.Peering.A.Network != "site-a" || r.Peering.B.Network != "site-b") {
					t.Fatalf("peering %+v: want sides site-a and site-b", r.Peering)
				}
			}
		})
	}

	// What List found is what the Delete methods take.
	contract.ListedDelete(t, w.b, w.b, cloud.ListOptions{}, func(r cloud.Resource) error {
		return w.b.DeleteNodePool(ctx, r.Region, r.Name, "system")
	})
}
