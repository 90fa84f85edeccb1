package aws

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// enginePool is the simulated node pool behind a node group.
func (ev *netEnv) enginePool(t *testing.T, cluster, name string) cloudsim.Pool {
	t.Helper()
	for _, p := range ev.e.Inventory().Pools {
		if p.Cloud == "aws" && p.Spec.Cluster == cluster && p.Spec.Name == name {
			return p
		}
	}
	t.Fatalf("no engine pool %s/%s", cluster, name)
	return cloudsim.Pool{}
}

func gpuPool(cluster, name, zone string) cloud.NodePoolSpec {
	return cloud.NodePoolSpec{Cluster: cluster, Region: euc1, Name: name, InstanceType: "p5.48xlarge", Zone: zone,
		CapacityType: "on_demand", Nodes: 1, Labels: map[string]string{"gpufleet.io/pool": name}}
}

// TestClusterInNetwork builds a site network, puts a cluster in it and
// node groups in its zones: each node group goes in the subnet of its zone,
// the cluster's service range is the site's, and a zone the network lacks
// is refused before anything is created.
func TestClusterInNetwork(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	spec := siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1", "euc1-az2")
	spec.PodsCIDR, spec.ServicesCIDR = "10.20.128.0/17", "10.20.64.0/20"
	n := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, spec))
	netw := contract.ClusterNetwork(n, spec.PodsCIDR, spec.ServicesCIDR)
	subnetOf := map[string]string{}
	for _, s := range n.Subnets {
		subnetOf[s.Zone] = s.ID
	}

	cs := cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true, Network: netw}
	c := mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, cs))
	// EKS refuses a service range inside the VPC: the network's is not
	// passed, and EKS's default lies outside the site block.
	if svc, err := netip.ParsePrefix(c.ServiceCIDR); c.Status != cloud.StatusActive || err != nil || svc.Overlaps(netip.MustParsePrefix("10.20.0.0/16")) {
		t.Fatalf("cluster: %+v, want active with a service range outside the VPC 10.20.0.0/16", c)
	}
	raw := mustOK[*eks.DescribeClusterOutput](t)(ev.b.in(euc1).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("c1")})).Cluster
	if want := []string{subnetOf["euc1-az1"], subnetOf["euc1-az2"]}; !slices.Equal(raw.ResourcesVpcConfig.SubnetIds, want) ||
		awssdk.ToString(raw.ResourcesVpcConfig.VpcId) != n.ID {
		t.Fatalf("control plane subnets %v in %s, want %v in %s", raw.ResourcesVpcConfig.SubnetIds, awssdk.ToString(raw.ResourcesVpcConfig.VpcId), want, n.ID)
	}

	// A retried create finds the cluster (the network's service range is
	// not EKS's business, see CreateCluster); the same name in another
	// network is a conflict.
	mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, cs))
	other := *netw
	other.ServicesCIDR = "10.20.80.0/20"
	mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true, Network: &other}))
	var err error
	specB := siteSpec("site-b", euc1, "10.21.0.0/16", "euc1-az1")
	nb := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, specB))
	_, err = ev.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true,
		Network: contract.ClusterNetwork(nb, "", spec.ServicesCIDR)})
	wantKind(t, "create in another network", err, cloud.KindConflict)
	// Without a network, the create-or-find check is today's: the name
	// and version.
	mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true}))

	tests := []struct {
		name, zone string
		err        cloud.Kind // 0: created
	}{
		{"train-a", "euc1-az2", 0},
		{"train-b", "euc1-az1", 0},
		{"train-c", "euc1-az3", cloud.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			ps := gpuPool("c1", tt.name, tt.zone)
			p, err := ev.b.CreateNodePool(ctx, ps)
			if tt.err != 0 {
				wantKind(t, "pool in "+tt.zone, err, tt.err)
				if !strings.Contains(err.Error(), tt.zone) || !strings.Contains(err.Error(), "gpufleet_network") {
					t.Fatalf("error %q does not name zone %s and what to change", err, tt.zone)
				}
				if _, gerr := ev.b.GetNodePool(ctx, euc1, "c1", tt.name); !cloud.IsNotFound(gerr) {
					t.Fatalf("refused pool exists: %v", gerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != cloud.StatusActive || !p.Spec.Equal(ps) {
				t.Fatalf("pool %+v, want active %+v", p.Spec, ps)
			}
			if z := ev.enginePool(t, "c1", tt.name).Spec.Zone; z != tt.zone {
				t.Fatalf("engine pool in zone %s, want %s", z, tt.zone)
			}
			ng := mustOK[*eks.DescribeNodegroupOutput](t)(ev.b.in(euc1).eks.DescribeNodegroup(ctx,
				&eks.DescribeNodegroupInput{ClusterName: awssdk.String("c1"), NodegroupName: awssdk.String(tt.name)})).Nodegroup
			if !slices.Equal(ng.Subnets, []string{subnetOf[tt.zone]}) {
				t.Fatalf("node group subnets %v, want [%s]", ng.Subnets, subnetOf[tt.zone])
			}
			// Without the cached subnet zones, the zone is read back.
			ev.b.subnetZones.Clear()
			got := mustOK[cloud.NodePool](t)(ev.b.GetNodePool(ctx, euc1, "c1", tt.name))
			if got.Spec.Zone != tt.zone {
				t.Fatalf("read back zone %s, want %s", got.Spec.Zone, tt.zone)
			}
			// A retried create is the same pool.
			mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, ps))
		})
	}

	// A zone added to the network later takes node groups too.
	spec.Subnets = append(spec.Subnets, cloud.SubnetSpec{Zone: "euc1-az3", CIDR: "10.20.32.0/20"})
	n = mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, spec))
	mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, gpuPool("c1", "train-c", "euc1-az3")))
	if z := ev.enginePool(t, "c1", "train-c").Spec.Zone; z != "euc1-az3" {
		t.Fatalf("pool in the new zone runs in %s", z)
	}

	for _, name := range []string{"train-a", "train-b", "train-c"} {
		if err := ev.b.DeleteNodePool(ctx, euc1, "c1", name); err != nil {
			t.Fatal(err)
		}
	}
	if err := ev.b.DeleteCluster(ctx, euc1, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"site-a", "site-b"} {
		if err := ev.b.DeleteNetwork(ctx, euc1, name); err != nil {
			t.Fatal(err)
		}
	}
	ev.empty(t)
}

// TestContract runs the backend contract suite against EKS through the
// simulator. Without a site network, zone IDs are the subnets, as
// cloudsim accepts them, and the service range is EKS's; EKS's
// ResourceInUseException on a delete is waited on only when the object is
// being deleted, any other refusal comes back at once.
func TestContract(t *testing.T) {
	contract.Run(t, contract.Harness{
		World: func(t *testing.T) (cloud.Backend, *cloudsim.Engine) { ev := newNetEnv(t); return ev.b, ev.e },
		Cluster: func(name string) cloud.ClusterSpec {
			return cloud.ClusterSpec{Name: name, Region: euc1, PublicEndpoint: true}
		},
		Pool: func(cluster, name string) cloud.NodePoolSpec { return gpuPool(cluster, name, "euc1-az3") },
		CheckPool: func(t *testing.T, b cloud.Backend, p cloud.NodePool) {
			ng := mustOK[*eks.DescribeNodegroupOutput](t)(b.(*Backend).in(euc1).eks.DescribeNodegroup(context.Background(),
				&eks.DescribeNodegroupInput{ClusterName: awssdk.String(p.Spec.Cluster), NodegroupName: awssdk.String(p.Spec.Name)})).Nodegroup
			if !slices.Equal(ng.Subnets, []string{p.Spec.Zone}) {
				t.Fatalf("subnets %v", ng.Subnets)
			}
		},
		// Through EC2 Auto Scaling.
		Replace: &contract.ReplaceHarness{
			Foreign: "gce://p/z/n",
			Refused: func([]cloudsim.Node) []contract.Refusal {
				return []contract.Refusal{{Name: "unknown instance", Pool: "train",
					Node: cloud.NodeRef{Name: "n", ProviderID: "aws:///euc1-az3/i-00000000000000000"}, Kind: cloud.KindNotFound}}
			},
			CheckReplaced: func(t *testing.T, before, after []cloudsim.Node) {
				fresh := after[slices.IndexFunc(after, func(n cloudsim.Node) bool { return n.InstanceID != before[1].InstanceID })]
				if fresh.Index <= before[1].Index || !strings.HasPrefix(fresh.ProviderID, "aws:///") {
					t.Fatalf("replacement %+v", fresh)
				}
			},
		},
	})
}

// TestWaitsRideOutThrottling: polls throttled inside the EKS waiters
// (DescribeCluster, DescribeNodegroup), five in a row each, back off and
// poll again
// instead of failing the create or the delete, which would make the
// caller's retries repeat the whole call (the backend alone has none).
func TestWaitsRideOutThrottling(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	throttle := func(op string) {
		if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: op, Times: 5,
			Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "aws", Op: op, Code: "ThrottlingException", Message: "rate exceeded"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name, op string
		do       func() error
	}{
		{"cluster create", "GetCluster", func() error {
			_, err := ev.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true})
			return err
		}},
		{"node group create", "GetNodePool", func() error { _, err := ev.b.CreateNodePool(ctx, gpuPool("c1", "p", "euc1-az1")); return err }},
		{"node group delete", "GetNodePool", func() error { return ev.b.DeleteNodePool(ctx, euc1, "c1", "p") }},
		{"cluster delete", "GetCluster", func() error { return ev.b.DeleteCluster(ctx, euc1, "c1") }},
	} {
		throttle(step.op)
		if err := step.do(); err != nil {
			t.Fatalf("%s with its polls throttled: %v", step.name, err)
		}
		if err := ev.e.ClearFaults(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNodeRolePolicies: the node role CreateCluster makes is one EKS
// takes for a managed node group; without AmazonEKSWorkerNodePolicy or
// the ECR read policy (as the simulator, like EKS, checks) the node group
// is refused as invalid, naming the policies.
func TestNodeRolePolicies(t *testing.T) {
	full := nodePolicies
	t.Cleanup(func() { nodePolicies = full })
	tests := []struct {
		name    string
		without string
		wantErr bool
	}{
		{"the backend's node policies", "", false},
		{"without AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", true},
		{"without AmazonEC2ContainerRegistryReadOnly", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodePolicies = slices.DeleteFunc(slices.Clone(full), func(p string) bool { return p == tt.without })
			ev := newNetEnv(t)
			ctx := context.Background()
			name := fmt.Sprintf("c%d", i)
			mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, cloud.ClusterSpec{Name: name, Region: euc1, PublicEndpoint: true}))
			_, err := ev.b.CreateNodePool(ctx, gpuPool(name, "p", "euc1-az3"))
			switch {
			case !tt.wantErr && err != nil:
				t.Fatal(err)
			case tt.wantErr && (cloud.KindOf(err) != cloud.KindInvalid || !strings.Contains(err.Error(), "Managed Policies")):
				t.Fatalf("%v, want an invalid-request error naming the managed policies", err)
			}
		})
	}
}
