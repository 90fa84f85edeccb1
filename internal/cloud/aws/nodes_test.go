package aws

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestInstanceOf(t *testing.T) {
	tests := []struct {
		providerID, want string
	}{
		{"aws:///eu-central-1a/i-0123456789abcdef0", "i-0123456789abcdef0"},
		{"aws:///us-east-1b/i-01234567", "i-01234567"},
		{"aws:////i-0123456789abcdef0", "i-0123456789abcdef0"},
		{"aws:///eu-central-1a/", ""},
		{"gce://p/europe-west4-a/gke-c-p-1234abcd-x1y2", ""},
		{"aws:///eu-central-1a/i-0123456789abcdef0/extra", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := instanceOf(cloud.NodeRef{Name: "n", ProviderID: tt.providerID})
		if got != tt.want || (tt.want == "") != cloud.IsInvalid(err) {
			t.Errorf("%q: %q, %v; want %q", tt.providerID, got, err, tt.want)
		}
	}
}

// tick moves the engine's clock a second per millisecond until the test
// ends, so that the backend's waits finish.
func (ke *kubeEnv) tick(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				ke.clock.Advance(time.Second)
			}
		}
	}()
}

// TestReplaceNode replaces a node group's machine through EC2 Auto
// Scaling: the machine is gone from the engine, a new one takes its
// place and the node group keeps its size; wrong, foreign and unknown
// instances are refused.
func TestReplaceNode(t *testing.T) {
	ke := newKubeEnv(t)
	ke.tick(t)
	ctx := context.Background()
	b := ke.backend(t, "")
	if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train", "infer"} {
		ps := gpuPool("c1", name, "euc1-az1")
		ps.Nodes = 2
		if _, err := b.CreateNodePool(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	nodes := func(pool string) []cloudsim.Node {
		t.Helper()
		ns, err := ke.e.PoolNodes("aws", euc1, "c1", pool)
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
	if err := b.ReplaceNode(ctx, euc1, "c1", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}); err != nil {
		t.Fatal(err)
	}
	after := nodes("train")
	if len(after) != 2 || slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.InstanceID == bad.InstanceID }) ||
		!slices.ContainsFunc(after, func(n cloudsim.Node) bool { return n.InstanceID == before[1].InstanceID }) {
		t.Fatalf("after replacing %s: %+v", bad.InstanceID, after)
	}
	fresh := after[slices.IndexFunc(after, func(n cloudsim.Node) bool { return n.InstanceID != before[1].InstanceID })]
	if fresh.Index <= before[1].Index || !strings.HasPrefix(fresh.ProviderID, "aws:///") {
		t.Fatalf("replacement %+v", fresh)
	}
	if p, err := b.GetNodePool(ctx, euc1, "c1", "train"); err != nil || p.Spec.Nodes != 2 {
		t.Fatalf("node group after the replacement: %+v, %v", p.Spec, err)
	}

	other := nodes("infer")[0]
	tests := []struct {
		name, pool string
		node       cloud.NodeRef
		kind       cloud.Kind
	}{
		{"replaced already", "train", cloud.NodeRef{Name: bad.Name, ProviderID: bad.ProviderID}, cloud.KindNotFound},
		{"unknown instance", "train", cloud.NodeRef{Name: "n", ProviderID: "aws:///euc1-az1/i-00000000000000000"}, cloud.KindNotFound},
		{"another pool's node", "train", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindInvalid},
		{"not an EC2 node", "train", cloud.NodeRef{Name: "n", ProviderID: "gce://p/z/n"}, cloud.KindInvalid},
		{"missing pool", "gone", cloud.NodeRef{Name: other.Name, ProviderID: other.ProviderID}, cloud.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.ReplaceNode(ctx, euc1, "c1", tt.pool, tt.node)
			if cloud.KindOf(err) != tt.kind || err == nil {
				t.Fatalf("%v, want %s", err, tt.kind)
			}
		})
	}
	if n := nodes("infer"); n[0].InstanceID != other.InstanceID {
		t.Fatal("a refused replacement replaced a node")
	}
}
