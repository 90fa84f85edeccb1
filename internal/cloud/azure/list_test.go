package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
)

// TestList lists the managed clusters tagged gpufleet.dev/managed-by (gpufleet.dev_managed-by on ARM, which takes no / in tag names) (not
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
	if _, err := s.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gf-a-gw", Region: testRegion, Network: "gf-a", ASN: 65010}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.EnsureVPNConnection(ctx, cloud.VPNConnectionSpec{Name: "gf-a-to-gcp", Region: testRegion, Network: "gf-a", Gateway: "gf-a-gw",
		Peer: "gcp/europe-west4", PeerASN: 64514, PeerCIDRs: []string{"10.30.0.0/16"}, Tunnels: []cloud.TunnelSpec{
			{InsideCIDR: "169.254.21.0/30", LocalInsideIP: "169.254.21.1", PeerInsideIP: "169.254.21.2", PeerIP: "203.0.113.10", PSK: "k0"},
			{InsideCIDR: "169.254.22.0/30", LocalInsideIP: "169.254.22.1", PeerInsideIP: "169.254.22.2", PeerIP: "203.0.113.11", PSK: "k1", Interface: 1},
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.EnsurePeering(ctx, cloud.PeeringSpec{Name: "gf-a-gf-b", A: cloud.PeeringSide{Region: testRegion, Network: "gf-a", CIDR: "10.20.0.0/16"},
		B: cloud.PeeringSide{Region: testRegion, Network: "gf-b", CIDR: "10.21.0.0/16"}}); err != nil {
		t.Fatal(err)
	}
	wantPools := []string{fmt.Sprintf("node_pool %s c1/%s 2xStandard_ND96isr_H100_v5", testRegion, agentPoolName("gpufleet-0123456789ab")), "cluster " + testRegion + " c1"}
	wantNets := []string{"vpn_connection " + testRegion + " gf-a-to-gcp", "vpn_gateway " + testRegion + " gf-a-gw", "peering " + testRegion + " gf-a-gf-b", "network " + testRegion + " gf-a", "network " + testRegion + " gf-b"}
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

	// A front end answering pages of one cluster: List follows nextLink.
	h := azurefront.New(s.e, azurefront.Options{SubscriptionID: testSub, ListPageSize: 1})
	var nextPages atomic.Int32
	paged := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("$skipToken") {
			nextPages.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer paged.Close()
	pb, err := New(Config{SubscriptionID: testSub, Credential: StaticToken("cloudsim"), Endpoint: paged.URL, HTTPClient: paged.Client(), Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := pb.List(ctx, cloud.ListOptions{}); err != nil || !slices.Equal(contract.Listed(rs), wantPools) {
		t.Fatalf("List over pages of one: %q, %v; want %q", contract.Listed(rs), err, wantPools)
	}
	if n := nextPages.Load(); n != 1 { // two clusters: c1, then other behind nextLink
		t.Fatalf("%d requests of a nextLink, want 1", n)
	}

	// What List found is what the Delete methods take.
	contract.ListedDelete(t, s.b, s.b, cloud.ListOptions{}, nil)
}
