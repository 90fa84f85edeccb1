package gcp

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// newClusterWorld is newNetWorld with clusters and node pools that take
// milliseconds.
func newClusterWorld(t *testing.T) *netWorld {
	t.Helper()
	return newWorldWith(t, cloudsim.Config{Durations: cloudsim.Durations{ClusterCreate: 30 * time.Millisecond, ClusterDelete: 20 * time.Millisecond,
		PoolCreate: 30 * time.Millisecond, PoolUpdate: 20 * time.Millisecond, PoolDelete: 20 * time.Millisecond}}, 5*time.Millisecond)
}

func (w *netWorld) enginePool(t *testing.T, cluster, name string) cloudsim.Pool {
	t.Helper()
	p, ok := w.e.LookupPool("gcp", netRegion, cluster, name)
	if !ok {
		t.Fatalf("no engine pool %s/%s", cluster, name)
	}
	return p
}

func gpuPool(cluster, name, zone string) cloud.NodePoolSpec {
	return cloud.NodePoolSpec{Cluster: cluster, Region: netRegion, Name: name, InstanceType: "a3-highgpu-8g", Zone: zone,
		CapacityType: "on_demand", Nodes: 1, Labels: map[string]string{"gpufleet.io/pool": name}, GPUModel: "H100", GPUsPerNode: 8}
}

// TestClusterInNetwork builds a site network, puts a cluster in it and
// node pools in its zones: the cluster uses the subnetwork that carries the
// site's secondary ranges (the first zone's, or the older one when a zone
// was added before it), its service range is the site's, and a zone the
// network lacks is refused before anything is created.
func TestClusterInNetwork(t *testing.T) {
	const pods, services = "10.10.128.0/18", "10.10.192.0/20"
	for _, tt := range []struct {
		name      string
		first     map[string]string // the network's zones at creation
		later     map[string]string // zones added afterwards
		subnet    string            // the cluster's subnetwork
		poolZones []string
	}{
		{"first zone carries the ranges", twoZones, nil, "site-a", []string{"europe-west4-a", "europe-west4-b"}},
		{"zone added before the carrier", map[string]string{"europe-west4-b": "10.10.16.0/20"}, twoZones, "site-b", []string{"europe-west4-a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newClusterWorld(t)
			ctx := context.Background()
			spec := siteSpec("site", "10.10.0.0/16", tt.first, "10.20.0.0/16")
			spec.PodsCIDR, spec.ServicesCIDR = pods, services
			n := try(w.b.EnsureNetwork(ctx, spec)).must(t)
			if tt.later != nil {
				spec = siteSpec("site", "10.10.0.0/16", tt.later, "10.20.0.0/16")
				spec.PodsCIDR, spec.ServicesCIDR = pods, services
				n = try(w.b.EnsureNetwork(ctx, spec)).must(t)
			}
			cs := cloud.ClusterSpec{Name: "c1", Region: netRegion, KubernetesVersion: "1.33", PublicEndpoint: true, Network: contract.ClusterNetwork(n, pods, services)}
			c := try(w.b.CreateCluster(ctx, cs)).must(t)
			if c.Status != cloud.StatusActive || c.ServiceCIDR != services {
				t.Fatalf("cluster %+v, want active with service range %s", c, services)
			}
			raw := try(w.b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: w.b.clusterPath(netRegion, "c1")})).must(t)
			ip := raw.GetIpAllocationPolicy()
			if raw.GetNetwork() != "site" || raw.GetSubnetwork() != tt.subnet || !ip.GetUseIpAliases() ||
				ip.GetClusterSecondaryRangeName() != "pods" || ip.GetServicesSecondaryRangeName() != "services" || raw.GetClusterIpv4Cidr() != pods {
				t.Fatalf("cluster network %q/%q, policy %v, pods %s", raw.GetNetwork(), raw.GetSubnetwork(), ip, raw.GetClusterIpv4Cidr())
			}
			// A retried create finds the cluster.
			try(w.b.CreateCluster(ctx, cs)).must(t)

			for _, z := range tt.poolZones {
				name := "p-" + z[len(z)-1:]
				ps := gpuPool("c1", name, z)
				p := try(w.b.CreateNodePool(ctx, ps)).must(t)
				if p.Status != cloud.StatusActive || !p.Spec.Equal(ps) {
					t.Fatalf("pool %+v, want active %+v", p.Spec, ps)
				}
				if got := w.enginePool(t, "c1", name).Spec.Zone; got != z {
					t.Fatalf("engine pool in %s, want %s", got, z)
				}
			}
			_, err := w.b.CreateNodePool(ctx, gpuPool("c1", "p-c", "europe-west4-c"))
			wantKind(t, err, cloud.KindInvalid)
			if !strings.Contains(err.Error(), "europe-west4-c") || !strings.Contains(err.Error(), "gpufleet_network") {
				t.Fatalf("error %q does not name the zone and what to change", err)
			}
			if _, ok := w.e.LookupPool("gcp", netRegion, "c1", "p-c"); ok {
				t.Fatal("the refused pool exists")
			}

			for _, z := range tt.poolZones {
				if err := w.b.DeleteNodePool(ctx, netRegion, "c1", "p-"+z[len(z)-1:]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.b.DeleteCluster(ctx, netRegion, "c1"); err != nil {
				t.Fatal(err)
			}
			if err := w.b.DeleteNetwork(ctx, netRegion, "site"); err != nil {
				t.Fatal(err)
			}
			if inv := w.e.Inventory().Resources(); !inv.Empty() {
				t.Fatalf("leftovers: %v", w.names())
			}
		})
	}
}

// TestClusterNetworkConflicts: the same cluster name in another network
// is a conflict; a network without its secondary ranges is refused.
func TestClusterNetworkConflicts(t *testing.T) {
	w := newClusterWorld(t)
	ctx := context.Background()
	specA := siteSpec("site-a", "10.10.0.0/16", twoZones)
	specA.PodsCIDR, specA.ServicesCIDR = "10.10.128.0/18", "10.10.192.0/20"
	a := try(w.b.EnsureNetwork(ctx, specA)).must(t)
	specB := siteSpec("site-b", "10.10.0.0/16", twoZones)
	specB.PodsCIDR, specB.ServicesCIDR = "10.10.128.0/18", "10.10.192.0/20"
	b := try(w.b.EnsureNetwork(ctx, specB)).must(t)
	try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: netRegion, Network: contract.ClusterNetwork(a, specA.PodsCIDR, specA.ServicesCIDR)})).must(t)
	_, err := w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: netRegion, Network: contract.ClusterNetwork(b, specB.PodsCIDR, specB.ServicesCIDR)})
	wantKind(t, err, cloud.KindConflict)

	// Ranges the network does not have.
	plain := try(w.b.EnsureNetwork(ctx, siteSpec("site-c", "10.30.0.0/16", map[string]string{"europe-west4-a": "10.30.0.0/20"}))).must(t)
	_, err = w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c2", Region: netRegion, Network: contract.ClusterNetwork(plain, "10.30.128.0/18", "10.30.192.0/20")})
	wantKind(t, err, cloud.KindInvalid)
	// Without site ranges GKE picks them.
	c := try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c3", Region: netRegion, Network: contract.ClusterNetwork(plain, "", "")})).must(t)
	if c.ServiceCIDR == "" {
		t.Fatalf("cluster without site ranges: %+v", c)
	}
}

// TestContract runs the backend contract suite against GKE through the
// simulator. Without a site network pools go in any zone of the region;
// GKE's FAILED_PRECONDITION on a delete (the cluster has node pools, the
// pool runs another operation) is a refusal returned at once, not a
// deletion in progress waited on until the timeout.
func TestContract(t *testing.T) {
	contract.Run(t, contract.Harness{
		World:   func(t *testing.T) (cloud.Backend, *cloudsim.Engine) { w := newClusterWorld(t); return w.b, w.e },
		Cluster: func(name string) cloud.ClusterSpec { return cloud.ClusterSpec{Name: name, Region: netRegion} },
		Pool:    func(cluster, name string) cloud.NodePoolSpec { return gpuPool(cluster, name, "europe-west4-c") },
		// Through the pool's managed instance group.
		Replace: &contract.ReplaceHarness{
			Foreign: "aws:///euc1-az1/i-0123456789abcdef0",
			Refused: func(after []cloudsim.Node) []contract.Refusal {
				return []contract.Refusal{{Name: "another zone", Pool: "train",
					Node: cloud.NodeRef{Name: after[0].Name, ProviderID: "gce://" + netProject + "/europe-west4-b/" + after[0].Name}, Kind: cloud.KindInvalid}}
			},
			CheckReplaced: func(t *testing.T, before, after []cloudsim.Node) {
				if after[0].Name != before[1].Name {
					t.Fatalf("after replacing %s: %+v", before[0].Name, after)
				}
			},
		},
	})
}

// TestWaitsRideOutThrottling: polls throttled inside the waits (GKE's
// operation and node pool reads at 20/s against polls every 5 ms) back off
// and poll again instead of failing the create or the delete (which would
// make the caller's retries repeat the whole call).
func TestWaitsRideOutThrottling(t *testing.T) {
	w := newClusterWorld(t)
	ctx := context.Background()
	try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c0", Region: netRegion})).must(t)
	for _, op := range []string{"GetNodePool", "GetCluster"} {
		if err := w.e.SetRateLimit("gcp", op, 20, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.b.CreateNodePool(ctx, gpuPool("c0", "p", "europe-west4-c")); err != nil {
		t.Fatalf("create under throttling: %v", err)
	}
	if err := w.b.DeleteNodePool(ctx, netRegion, "c0", "p"); err != nil {
		t.Fatalf("delete under throttling: %v", err)
	}
}

// TestNodeConfig: what a node pool asks GKE for. An N1 offer's catalog
// name ("n1-standard-4+1xT4") becomes the machine type n1-standard-4 with
// one nvidia-tesla-t4 (GKE refuses the catalog name), reads back as the
// catalog name, and every pool has the cloud-platform scope and the
// configured node service account (default: none, GKE's default).
func TestNodeConfig(t *testing.T) {
	tests := []struct {
		name, instanceType, model string
		gpus                      int
		serviceAccount            string
		machine                   string
		accelerator               string
	}{
		{"N1 with an attached T4", "n1-standard-4+1xT4", "T4", 1, "", "n1-standard-4", "nvidia-tesla-t4"},
		{"N1 with two T4 and a node service account", "n1-highmem-16+2xT4", "T4", 2, "gke-nodes@acme-ml.iam.gserviceaccount.com", "n1-highmem-16", "nvidia-tesla-t4"},
		{"built-in GPUs", "a3-highgpu-8g", "H100", 8, "", "a3-highgpu-8g", "nvidia-h100-80gb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newClusterWorld(t)
			w.b.cfg.NodeServiceAccount = tt.serviceAccount
			ctx := context.Background()
			try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c0", Region: netRegion})).must(t)
			ps := gpuPool("c0", "p", "europe-west4-c")
			ps.InstanceType, ps.GPUModel, ps.GPUsPerNode = tt.instanceType, tt.model, tt.gpus
			p := try(w.b.CreateNodePool(ctx, ps)).must(t)
			if p.Spec.InstanceType != tt.instanceType {
				t.Errorf("reads back as %q, want %q", p.Spec.InstanceType, tt.instanceType)
			}
			np, err := w.b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: w.b.poolPath(netRegion, "c0", "p")})
			if err != nil {
				t.Fatal(err)
			}
			cfg := np.GetConfig()
			if cfg.GetMachineType() != tt.machine {
				t.Errorf("machine type %q, want %q", cfg.GetMachineType(), tt.machine)
			}
			if a := cfg.GetAccelerators(); len(a) != 1 || a[0].GetAcceleratorType() != tt.accelerator || a[0].GetAcceleratorCount() != int64(tt.gpus) {
				t.Errorf("accelerators %v, want %d x %s", a, tt.gpus, tt.accelerator)
			}
			if s := cfg.GetOauthScopes(); len(s) != 1 || s[0] != "https://www.googleapis.com/auth/cloud-platform" {
				t.Errorf("scopes %v, want cloud-platform only", s)
			}
			if cfg.GetServiceAccount() != tt.serviceAccount {
				t.Errorf("service account %q, want %q", cfg.GetServiceAccount(), tt.serviceAccount)
			}
			if got := w.enginePool(t, "c0", "p").GPUsPerNode; got != tt.gpus {
				t.Errorf("the simulated pool has %d GPUs per node, want %d", got, tt.gpus)
			}
		})
	}
}
