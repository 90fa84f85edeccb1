package azure

import (
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func (s *netSim) enginePool(t *testing.T, cluster, name string) cloudsim.Pool {
	t.Helper()
	p, ok := s.e.LookupPool("azure", testRegion, cluster, agentPoolName(name))
	if !ok {
		t.Fatalf("no engine pool for %s/%s", cluster, name)
	}
	return p
}

func gpuPool(cluster, name, zone string) cloud.NodePoolSpec {
	return cloud.NodePoolSpec{Cluster: cluster, Region: testRegion, Name: name, InstanceType: "Standard_ND96isr_H100_v5", Zone: zone,
		CapacityType: "on_demand", Nodes: 1, Labels: map[string]string{"gpufleet.io/pool": name}}
}

// TestClusterInNetwork builds site networks (with zones, and a regional
// one), puts a cluster in each and agent pools in their zones: the system
// pool is in the first subnet, each agent pool in the subnet of its zone,
// the service range is the site's, and a zone the network lacks is
// refused before anything is created.
func TestClusterInNetwork(t *testing.T) {
	for _, tt := range []struct {
		name, cidr, services string
		zones                []string
		system               string   // the system pool's subnet
		ok                   []string // pool zones that work
		missing              string   // a pool zone without a subnet
	}{
		{"zonal", "10.20.0.0/16", "10.20.64.0/20", []string{"1", "2"}, "nodes-1", []string{"2", "1"}, "3"},
		{"regional", "10.21.0.0/16", "10.21.64.0/20", []string{"regional"}, "nodes-regional", []string{""}, "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newNetSim(t)
			spec := siteSpec("gf-"+tt.name, tt.cidr, tt.zones...)
			spec.PodsCIDR, spec.ServicesCIDR = strings.Replace(tt.services, ".64.0/20", ".128.0/17", 1), tt.services
			n, err := s.b.EnsureNetwork(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			cs := cloud.ClusterSpec{Name: "c-" + tt.name, Region: testRegion, KubernetesVersion: "1.33", PublicEndpoint: true,
				Network: contract.ClusterNetwork(n, spec.PodsCIDR, spec.ServicesCIDR)}
			c, err := s.b.CreateCluster(ctx, cs)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != cloud.StatusActive || c.ServiceCIDR != tt.services {
				t.Fatalf("cluster %+v, want active with service range %s", c, tt.services)
			}
			mc, err := s.b.clusters.Get(ctx, resourceGroup(cs.Name), cs.Name, nil)
			if err != nil {
				t.Fatal(err)
			}
			np := mc.Properties.NetworkProfile
			if str((*string)(np.NetworkPlugin)) != "azure" || str(np.DNSServiceIP) != strings.TrimSuffix(tt.services, "0/20")+"10" ||
				!strings.HasSuffix(systemSubnet(mc.Properties.AgentPoolProfiles), n.ID+"/subnets/"+tt.system) {
				t.Fatalf("network profile %s %s %s, system subnet %s", str((*string)(np.NetworkPlugin)), str(np.ServiceCidr), str(np.DNSServiceIP),
					systemSubnet(mc.Properties.AgentPoolProfiles))
			}
			// A retried create is the same cluster.
			if _, err := s.b.CreateCluster(ctx, cs); err != nil {
				t.Fatal(err)
			}

			for i, z := range tt.ok {
				name := "p" + string(rune('a'+i))
				ps := gpuPool(cs.Name, name, z)
				p, err := s.b.CreateNodePool(ctx, ps)
				if err != nil {
					t.Fatal(err)
				}
				if p.Status != cloud.StatusActive || !p.Spec.Equal(ps) {
					t.Fatalf("pool %+v, want active %+v", p.Spec, ps)
				}
				if got := s.enginePool(t, cs.Name, name).Spec.Zone; got != z {
					t.Fatalf("engine pool in zone %q, want %q", got, z)
				}
				wantSubnet := "nodes-" + z
				if z == "" {
					wantSubnet = "nodes-regional"
				}
				_, subnet, _, err := s.b.getPool(ctx, testRegion, cs.Name, name)
				if err != nil || subnet != n.ID+"/subnets/"+wantSubnet {
					t.Fatalf("pool subnet %q (%v), want %s", subnet, err, n.ID+"/subnets/"+wantSubnet)
				}
				// An update keeps the subnet. 40 nodes at 110 pods fit a /20
				// only with Azure CNI Overlay (node-subnet CNI takes 111
				// addresses a node: InsufficientSubnetSize past 36).
				nodes := 40
				if p, err = s.b.UpdateNodePool(ctx, testRegion, cs.Name, name, cloud.NodePoolUpdate{Nodes: &nodes}); err != nil || p.Spec.Nodes != 40 {
					t.Fatalf("scale: %v %+v", err, p.Spec)
				}
			}
			_, err = s.b.CreateNodePool(ctx, gpuPool(cs.Name, "px", tt.missing))
			kindOf(t, err, cloud.KindInvalid)
			if !strings.Contains(err.Error(), `zone "`+tt.missing+`"`) || !strings.Contains(err.Error(), "gpufleet_network") {
				t.Fatalf("error %q does not name zone %s and what to change", err, tt.missing)
			}
			if _, ok := s.e.LookupPool("azure", testRegion, cs.Name, agentPoolName("px")); ok {
				t.Fatal("the refused pool exists")
			}

			for i := range tt.ok {
				if err := s.b.DeleteNodePool(ctx, testRegion, cs.Name, "p"+string(rune('a'+i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.b.DeleteCluster(ctx, testRegion, cs.Name); err != nil {
				t.Fatal(err)
			}
			if err := s.b.DeleteNetwork(ctx, testRegion, spec.Name); err != nil {
				t.Fatal(err)
			}
			if inv := s.e.Inventory().Resources(); !inv.Empty() {
				t.Fatalf("leftovers: %v", s.resourceKinds())
			}
		})
	}
}

// TestClusterNetworkConflict: the same cluster name in another network or
// service range is a conflict, found before the PUT.
func TestClusterNetworkConflict(t *testing.T) {
	s := newNetSim(t)
	specA, specB := siteSpec("gf-a", "10.20.0.0/16", "1"), siteSpec("gf-b", "10.21.0.0/16", "1")
	a, err := s.b.EnsureNetwork(ctx, specA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.b.EnsureNetwork(ctx, specB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, Network: contract.ClusterNetwork(a, "", "10.20.64.0/20")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, Network: contract.ClusterNetwork(b, "", "10.21.64.0/20")})
	kindOf(t, err, cloud.KindConflict)
	_, err = s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, Network: contract.ClusterNetwork(a, "", "10.20.80.0/20")})
	kindOf(t, err, cloud.KindConflict)
}

// TestContract runs the backend contract suite against AKS through the
// simulator. Without a site network AKS keeps its own networking (no
// subnets, the default service range, pools in any zone); ARM's 409 on a
// delete comes back at once.
func TestContract(t *testing.T) {
	contract.Run(t, contract.Harness{
		World:   func(t *testing.T) (cloud.Backend, *cloudsim.Engine) { s := newNetSim(t); return s.b, s.e },
		Cluster: func(name string) cloud.ClusterSpec { return cloud.ClusterSpec{Name: name, Region: testRegion} },
		Pool:    func(cluster, name string) cloud.NodePoolSpec { return gpuPool(cluster, name, "3") },
		CheckPool: func(t *testing.T, b cloud.Backend, p cloud.NodePool) {
			if _, subnet, _, _ := b.(*Backend).getPool(ctx, testRegion, p.Spec.Cluster, p.Spec.Name); subnet != "" {
				t.Fatalf("pool subnet %q", subnet)
			}
		},
		// A redeploy of the scale set VM.
		Replace: &contract.ReplaceHarness{
			EngineName: agentPoolName,
			Foreign:    "gce://p/z/n",
			Refused: func(after []cloudsim.Node) []contract.Refusal {
				otherSub := strings.Replace(after[0].ProviderID, testSub, "11111111-1111-1111-1111-111111111111", 1)
				return []contract.Refusal{{Name: "another subscription", Pool: "train",
					Node: cloud.NodeRef{Name: after[0].Name, ProviderID: otherSub}, Kind: cloud.KindInvalid}}
			},
			CheckReplaced: func(t *testing.T, before, after []cloudsim.Node) {
				if after[0].Name != before[1].Name {
					t.Fatalf("after redeploying %s: %+v", before[0].Name, after)
				}
			},
		},
	})
}
