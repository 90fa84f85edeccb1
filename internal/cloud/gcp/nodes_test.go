package gcp

import (
	"context"
	"slices"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestReplaceNode recreates a node pool's VM through its managed instance
// group: the machine is gone from the engine, a new one boots and the
// pool keeps its size; foreign, unknown and malformed nodes are refused.
func TestReplaceNode(t *testing.T) {
	w := newClusterWorld(t)
	ctx := context.Background()
	try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: netRegion, KubernetesVersion: "1.33", PublicEndpoint: true})).must(t)
	for _, name := range []string{"train", "infer"} {
		ps := gpuPool("c1", name, "europe-west4-a")
		ps.Nodes = 2
		try(w.b.CreateNodePool(ctx, ps)).must(t)
	}
	nodes := func(pool string) []cloudsim.Node {
		t.Helper()
		return try(w.e.PoolNodes("gcp", netRegion, "c1", pool)).must(t)
	}
	before := nodes("train")
	if len(before) != 2 {
		t.Fatalf("nodes %+v", before)
	}
	bad := before[0]
	if err := w.b.ReplaceNode(ctx, netRegion, "c1", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}); err != nil {
		t.Fatal(err)
	}
	after := nodes("train")
	if len(after) != 2 || slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.Name == bad.Name }) || after[0].Name != before[1].Name {
		t.Fatalf("after replacing %s: %+v", bad.Name, after)
	}
	if p := try(w.b.GetNodePool(ctx, netRegion, "c1", "train")).must(t); p.Spec.Nodes != 2 {
		t.Fatalf("pool size %d after the replacement", p.Spec.Nodes)
	}

	other := nodes("infer")[0]
	tests := []struct {
		name, pool string
		node       cloud.NodeRef
		kind       cloud.Kind
	}{
		{"replaced already", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}, cloud.KindNotFound},
		{"another pool's node", "train", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindInvalid},
		{"another zone", "train", cloud.NodeRef{Name: after[0].Name, ProviderID: "gce://" + netProject + "/europe-west4-b/" + after[0].Name}, cloud.KindInvalid},
		{"not a GCE node", "train", cloud.NodeRef{Name: "n", ProviderID: "aws:///euc1-az1/i-0123456789abcdef0"}, cloud.KindInvalid},
		{"missing pool", "gone", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, w.b.ReplaceNode(ctx, netRegion, "c1", tt.pool, tt.node), tt.kind)
		})
	}
	if n := nodes("infer"); n[0].Name != other.Name {
		t.Fatal("a refused replacement replaced a node")
	}
}
