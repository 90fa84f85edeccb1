// Package contract is the one suite of the cloud.Backend contract, run
// against every backend (the three SDK backends through their wire
// protocols to the simulator, and cloudsim's DirectBackend) so that the
// backends cannot drift apart on what the orchestration relies on. Each
// backend's tests give Run a Harness: how to start a simulated world and
// what its specs look like.
package contract

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Harness is what the suite needs of one backend.
type Harness struct {
	// World starts a fresh simulated world for one test: the backend under
	// test (its waits quick) and the engine behind it.
	World func(t *testing.T) (cloud.Backend, *cloudsim.Engine)
	// Cluster is the spec of a cluster without a site network.
	Cluster func(name string) cloud.ClusterSpec
	// Pool is the spec of a GPU node pool in cluster, in a zone of the
	// cluster's region that takes pools without a site network.
	Pool func(cluster, name string) cloud.NodePoolSpec
	// CheckPool checks what only this cloud shows of a pool created in a
	// cluster without a site network (where its nodes go); may be nil.
	CheckPool func(t *testing.T, b cloud.Backend, p cloud.NodePool)
	// NotLister says the backend is no cloud.NodePoolLister (cloudsim's
	// DirectBackend, which orchestration tests use as a backend without
	// optional interfaces): ListedPools is skipped.
	NotLister bool
	// Replace is what ReplacedNode needs of a cloud.NodeReplacer; nil
	// skips it.
	Replace *ReplaceHarness
}

// ReplaceHarness describes a backend's node replacement.
type ReplaceHarness struct {
	// EngineName is the engine's name of a node pool (the derived agent
	// pool name on AKS); the pool's own when nil.
	EngineName func(pool string) string
	// Foreign is a provider ID of another cloud's machine.
	Foreign string
	// Refused are this cloud's own refusals (its provider IDs' parts),
	// given the pool's nodes after the replacement.
	Refused func(after []cloudsim.Node) []Refusal
	// CheckReplaced checks what only this cloud shows of a replacement;
	// may be nil.
	CheckReplaced func(t *testing.T, before, after []cloudsim.Node)
}

// Refusal is a ReplaceNode call the backend must refuse with Kind.
type Refusal struct {
	Name, Pool string
	Node       cloud.NodeRef
	Kind       cloud.Kind
}

// Run runs the suite, a subtest each.
func Run(t *testing.T, h Harness) {
	t.Run("ClusterWithoutNetwork", func(t *testing.T) { ClusterWithoutNetwork(t, h) })
	t.Run("RefusedDeletes", func(t *testing.T) {
		b, e := h.World(t)
		RefusedDeletes(t, b, e, h.Cluster("c0"), h.Pool("c0", "p"))
	})
	t.Run("ReplacedNode", func(t *testing.T) {
		if h.Replace == nil {
			t.Skip("the backend does not replace nodes")
		}
		ReplacedNode(t, h)
	})
	t.Run("ListedPools", func(t *testing.T) {
		if h.NotLister {
			t.Skip("the backend does not list node pools")
		}
		b, e := h.World(t)
		ListedPools(t, b, e, h.Cluster("c0"), h.Pool("c0", "gpufleet-0123456789ab"))
	})
}

// ClusterWithoutNetwork checks a cluster that keeps the cloud's default
// networking: the service range is the simulated clouds' default
// (10.100.0.0/16), a pool in any zone of the region runs in that zone and
// reads back as created, and deleting both leaves nothing.
func ClusterWithoutNetwork(t *testing.T, h Harness) {
	b, e := h.World(t)
	ctx := context.Background()
	cs := h.Cluster("c0")
	c, err := b.CreateCluster(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceCIDR != "10.100.0.0/16" {
		t.Fatalf("service range %s", c.ServiceCIDR)
	}
	ps := h.Pool("c0", "p")
	p, err := b.CreateNodePool(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Spec.Equal(ps) {
		t.Fatalf("pool %+v, want %+v", p.Spec, ps)
	}
	var zones []string
	for _, ep := range e.Inventory().Pools {
		if ep.Cloud == b.Cloud() && ep.Spec.Cluster == cs.Name {
			zones = append(zones, ep.Spec.Zone)
		}
	}
	if len(zones) != 1 || zones[0] != ps.Zone {
		t.Fatalf("engine pools in zones %v, want one in %s", zones, ps.Zone)
	}
	if h.CheckPool != nil {
		h.CheckPool(t, b, p)
	}
	if err := b.DeleteNodePool(ctx, ps.Region, ps.Cluster, ps.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteCluster(ctx, cs.Region, cs.Name); err != nil {
		t.Fatal(err)
	}
	if inv := e.Inventory().Resources(); !inv.Empty() {
		t.Fatalf("left behind: %+v", inv)
	}
}

// ClusterNetwork is what gpufleet_cluster passes for a site network: n's
// subnets by zone and the site's pod and service ranges.
func ClusterNetwork(n cloud.Network, pods, services string) *cloud.ClusterNetwork {
	out := &cloud.ClusterNetwork{Name: n.Name, ID: n.ID, SubnetIDs: map[string]string{}, PodsCIDR: pods, ServicesCIDR: services}
	for _, s := range n.Subnets {
		out.SubnetIDs[s.Zone] = s.ID
	}
	return out
}

// ReplacedNode checks cloud.NodeReplacer: replacing one machine of a
// two-node pool removes it from the engine, a new one takes its place,
// the other stays and the pool keeps its size; a node replaced already,
// another pool's node, another cloud's machine and a missing pool are
// refused (with the cloud's own refusals), and a refusal replaces
// nothing.
func ReplacedNode(t *testing.T, h Harness) {
	b, e := h.World(t)
	r, ok := b.(cloud.NodeReplacer)
	if !ok {
		t.Fatalf("%T does not implement cloud.NodeReplacer", b)
	}
	engineName := h.Replace.EngineName
	if engineName == nil {
		engineName = func(pool string) string { return pool }
	}
	ctx := context.Background()
	cs := h.Cluster("c1")
	cs.KubernetesVersion, cs.PublicEndpoint = "1.33", true
	if _, err := b.CreateCluster(ctx, cs); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train", "infer"} {
		ps := h.Pool("c1", name)
		ps.Nodes = 2
		if _, err := b.CreateNodePool(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	nodes := func(pool string) []cloudsim.Node {
		t.Helper()
		ns, err := e.PoolNodes(b.Cloud(), cs.Region, "c1", engineName(pool))
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	before := nodes("train")
	if len(before) != 2 {
		t.Fatalf("nodes %+v", before)
	}
	bad := before[0]
	if err := r.ReplaceNode(ctx, cs.Region, "c1", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}); err != nil {
		t.Fatal(err)
	}
	after := nodes("train")
	if len(after) != 2 || slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.ProviderID == bad.ProviderID }) ||
		!slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.ProviderID == before[1].ProviderID }) {
		t.Fatalf("after replacing %s: %+v", bad.Name, after)
	}
	if h.Replace.CheckReplaced != nil {
		h.Replace.CheckReplaced(t, before, after)
	}
	if p, err := b.GetNodePool(ctx, cs.Region, "c1", "train"); err != nil || p.Spec.Nodes != 2 {
		t.Fatalf("pool after the replacement: %+v, %v", p.Spec, err)
	}

	other := nodes("infer")[0]
	tests := []Refusal{
		{"replaced already", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}, cloud.KindNotFound},
		{"another pool's node", "train", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindInvalid},
		{"another cloud's machine", "train", cloud.NodeRef{Name: "n", ProviderID: h.Replace.Foreign}, cloud.KindInvalid},
		{"missing pool", "gone", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindNotFound},
	}
	if h.Replace.Refused != nil {
		tests = append(tests, h.Replace.Refused(after)...)
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			err := r.ReplaceNode(ctx, cs.Region, "c1", tt.Pool, tt.Node)
			if err == nil || cloud.KindOf(err) != tt.Kind {
				t.Fatalf("%v, want %s", err, tt.Kind)
			}
		})
	}
	if n := nodes("infer"); n[0].ProviderID != other.ProviderID {
		t.Fatal("a refused replacement replaced a node")
	}
}

// Prompt is how long a refused call may take: a few round trips, never a
// wait for an operation that is not running.
const Prompt = 3 * time.Second

// RefusedDeletes checks that the deletes a cloud refuses come back at once
// as KindConflict errors instead of being waited on as if the deletion
// were in progress: a cluster that still has a node pool (e.g. one a
// killed apply left behind), and a node pool whose delete the cloud
// refuses (another operation in progress). The backend's own timeout must
// be well above Prompt. cs and ps (ps.Cluster = cs.Name) are created and
// deleted again: nothing is left.
func RefusedDeletes(t *testing.T, b cloud.Backend, e *cloudsim.Engine, cs cloud.ClusterSpec, ps cloud.NodePoolSpec) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.CreateCluster(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNodePool(ctx, ps); err != nil {
		t.Fatal(err)
	}
	timed := func(what string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		if took := time.Since(start); took > Prompt {
			t.Errorf("%s took %v: a refusal must come back at once", what, took)
		}
		if !cloud.IsConflict(err) {
			t.Errorf("%s: got %v (kind %s), want a KindConflict error", what, err, cloud.KindOf(err))
		}
	}
	timed("deleting a cluster with a node pool", func() error { return b.DeleteCluster(ctx, cs.Region, cs.Name) })
	if _, ok := e.LookupCluster(b.Cloud(), cs.Region, cs.Name); !ok {
		t.Fatal("the refused cluster delete deleted the cluster")
	}
	if err := e.Inject(cloudsim.Fault{Cloud: b.Cloud(), Op: "DeleteNodePool", Err: cloud.Conflict(b.Cloud(), "DeleteNodePool", "ResourceInUseException", "%s", "node pool "+ps.Name+" has an operation in progress")}); err != nil {
		t.Fatal(err)
	}
	timed("deleting a node pool the cloud refuses", func() error { return b.DeleteNodePool(ctx, ps.Region, ps.Cluster, ps.Name) })
	if p, err := b.GetNodePool(ctx, ps.Region, ps.Cluster, ps.Name); err != nil || p.Status == cloud.StatusDeleting {
		t.Fatalf("the refused node pool delete deleted the pool: %v %s", err, p.Status)
	}
	if err := b.DeleteNodePool(ctx, ps.Region, ps.Cluster, ps.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteCluster(ctx, cs.Region, cs.Name); err != nil {
		t.Fatal(err)
	}
	inv := e.Inventory()
	if len(inv.Clusters)+len(inv.Pools) != 0 {
		t.Fatalf("left behind: %+v %+v", inv.Clusters, inv.Pools)
	}
}

// ListedPools checks cloud.NodePoolLister: the node pools gpufleet
// created in a cluster are listed by names DeleteNodePool takes (so a
// destroy can find pools no state records), pools of other names (made
// here in the engine, as another tool would) are not, and a cluster that
// is gone is KindNotFound. cs and ps (ps.Cluster = cs.Name, ps.Name a
// fleet.PoolName) are created and deleted again: nothing is left.
func ListedPools(t *testing.T, b cloud.Backend, e *cloudsim.Engine, cs cloud.ClusterSpec, ps cloud.NodePoolSpec) {
	t.Helper()
	ctx := context.Background()
	l, ok := b.(cloud.NodePoolLister)
	if !ok {
		t.Fatalf("%T does not implement cloud.NodePoolLister", b)
	}
	if _, err := b.CreateCluster(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNodePool(ctx, ps); err != nil {
		t.Fatal(err)
	}
	other := ps
	other.Name = "other"
	if _, err := e.CreateNodePool(b.Cloud(), other, cloudsim.PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	names, err := l.ListNodePools(ctx, cs.Region, cs.Name)
	if err != nil || len(names) != 1 {
		t.Fatalf("ListNodePools: %v %v, want the one gpufleet pool", names, err)
	}
	// The engine holds a pool by the name the cloud gives it (on AKS the
	// derived agent pool name), which is the listed one.
	if _, ok := e.LookupPool(b.Cloud(), ps.Region, ps.Cluster, names[0]); !ok {
		t.Fatalf("listed %s, which is not the pool %s created", names[0], ps.Name)
	}
	if err := b.DeleteNodePool(ctx, cs.Region, cs.Name, names[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.LookupPool(b.Cloud(), ps.Region, ps.Cluster, names[0]); ok {
		t.Fatalf("deleting listed pool %s left it", names[0])
	}
	if names, err := l.ListNodePools(ctx, cs.Region, cs.Name); err != nil || len(names) != 0 {
		t.Fatalf("ListNodePools after the delete: %v %v", names, err)
	}
	if _, err := e.DeleteNodePool(b.Cloud(), other.Region, other.Cluster, other.Name); err != nil {
		t.Fatal(err)
	}
	waitGone(t, e, b.Cloud(), other)
	if err := b.DeleteCluster(ctx, cs.Region, cs.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ListNodePools(ctx, cs.Region, cs.Name); !cloud.IsNotFound(err) {
		t.Errorf("ListNodePools of a deleted cluster: %v (kind %s), want KindNotFound", err, cloud.KindOf(err))
	}
	inv := e.Inventory()
	if len(inv.Clusters)+len(inv.Pools) != 0 {
		t.Fatalf("left behind: %+v %+v", inv.Clusters, inv.Pools)
	}
}

// waitGone waits until the engine has finished deleting a pool.
func waitGone(t *testing.T, e *cloudsim.Engine, cl string, ps cloud.NodePoolSpec) {
	t.Helper()
	for deadline := time.Now().Add(Prompt * 10); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, ok := e.LookupPool(cl, ps.Region, ps.Cluster, ps.Name); !ok {
			return
		}
	}
	t.Fatalf("pool %s is not gone", ps.Name)
}
