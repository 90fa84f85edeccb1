package azure

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
)

// TestReplaceNode redeploys an agent pool's scale set VM: the machine is
// replaced in the engine and the pool keeps its size; VMs of other pools,
// subscriptions or clouds and unknown VMs are refused.
func TestReplaceNode(t *testing.T) {
	d := 20 * time.Millisecond
	e, err := cloudsim.New(cloudsim.Config{AzureSubscription: testSub,
		Durations: cloudsim.Durations{ClusterCreate: d, ClusterDelete: d, PoolCreate: d, PoolUpdate: d, PoolDelete: d}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(azurefront.New(e, azurefront.Options{SubscriptionID: testSub}))
	t.Cleanup(srv.Close)
	b, err := New(Config{SubscriptionID: testSub, Credential: StaticToken("cloudsim"), Endpoint: srv.URL, HTTPClient: srv.Client(), Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, KubernetesVersion: "1.33", PublicEndpoint: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train", "infer"} {
		ps := gpuPool("c1", name, "1")
		ps.Nodes = 2
		if _, err := b.CreateNodePool(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	nodes := func(pool string) []cloudsim.Node {
		t.Helper()
		ns, err := e.PoolNodes("azure", testRegion, "c1", agentPoolName(pool))
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
	if err := b.ReplaceNode(ctx, testRegion, "c1", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}); err != nil {
		t.Fatal(err)
	}
	after := nodes("train")
	if len(after) != 2 || slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.ProviderID == bad.ProviderID }) || after[0].Name != before[1].Name {
		t.Fatalf("after redeploying %s: %+v", bad.Name, after)
	}
	if p, err := b.GetNodePool(ctx, testRegion, "c1", "train"); err != nil || p.Spec.Nodes != 2 {
		t.Fatalf("pool after the redeploy: %+v, %v", p.Spec, err)
	}

	other := nodes("infer")[0]
	otherSub := strings.Replace(after[0].ProviderID, testSub, "11111111-1111-1111-1111-111111111111", 1)
	tests := []struct {
		name, pool string
		node       cloud.NodeRef
		kind       cloud.Kind
	}{
		{"replaced already", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}, cloud.KindNotFound},
		{"another pool's VM", "train", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindInvalid},
		{"another subscription", "train", cloud.NodeRef{Name: after[0].Name, ProviderID: otherSub}, cloud.KindInvalid},
		{"not a scale set VM", "train", cloud.NodeRef{Name: "n", ProviderID: "gce://p/z/n"}, cloud.KindInvalid},
		{"missing pool", "gone", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.ReplaceNode(ctx, testRegion, "c1", tt.pool, tt.node)
			if err == nil || cloud.KindOf(err) != tt.kind {
				t.Fatalf("%v, want %s", err, tt.kind)
			}
		})
	}
	if n := nodes("infer"); n[0].ProviderID != other.ProviderID {
		t.Fatal("a refused redeploy replaced a node")
	}
}
