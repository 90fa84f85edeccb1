package kubefront

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestNodeRegistration: a pool's machines register as Nodes once the pool
// is ready, with the cloud's labels, the pool's taints and GPU capacity.
func TestNodeRegistration(t *testing.T) {
	cases := []struct {
		cloud                string
		poolLabel, gpuLabel  string
		gpuValue, providerID string
	}{
		{"aws", LabelEKSPool, LabelEKSGPU, "nvidia-h100", "aws:///eu-central-1a/i-"},
		{"gcp", LabelGKEPool, LabelGKEGPU, "nvidia-h100-80gb", "gce://gpufleet-sim/europe-west4-b/gke-c1-gpu-"},
		{"azure", LabelAKSPool, LabelAKSGPU, "nvidia", "azure:///subscriptions/"},
	}
	for _, tc := range cases {
		t.Run(tc.cloud, func(t *testing.T) {
			w := newWorld(t, Options{})
			c := w.client(tc.cloud)
			c1 := clusterOf[tc.cloud]
			spec := cloud.NodePoolSpec{Cluster: "c1", Region: c1.region, Name: "gpu", InstanceType: c1.instanceType, Zone: c1.zone,
				CapacityType: "on_demand", Nodes: 2, Labels: map[string]string{"team": "ml"}, Taints: []cloud.Taint{unvalidated}, GPUModel: "H100"}
			if _, err := w.e.CreateNodePool(tc.cloud, spec, cloudsim.PoolOptions{Family: "gpu", GPUsPerNode: 8}); err != nil {
				t.Fatal(err)
			}
			if n := nodeNames(t, c, ""); len(n) != 0 {
				t.Fatalf("nodes before the pool is ready: %v", n)
			}
			w.clock.Advance(cloudsim.DefaultDurations.PoolCreate)
			l, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: tc.poolLabel + "=gpu"})
			if err != nil || len(l.Items) != 2 {
				t.Fatalf("nodes %v %v", l, err)
			}
			machines, _ := w.e.PoolNodes(tc.cloud, c1.region, "c1", "gpu")
			for i, n := range l.Items {
				gpus := n.Status.Capacity[ResourceGPU]
				ready := false
				for _, cond := range n.Status.Conditions {
					ready = ready || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue)
				}
				switch {
				case n.Labels[tc.gpuLabel] != tc.gpuValue, n.Labels[LabelGPUPresent] != "true", n.Labels["team"] != "ml",
					n.Labels["node.kubernetes.io/instance-type"] != c1.instanceType, n.Labels["topology.kubernetes.io/region"] != c1.region,
					n.Labels["kubernetes.io/hostname"] != n.Name:
					t.Errorf("labels %v", n.Labels)
				case !hasTaint(&n, unvalidated.Key):
					t.Errorf("taints %v", n.Spec.Taints)
				case gpus.Value() != 8 || !ready || n.Status.NodeInfo.KubeletVersion != "v1.31.0":
					t.Errorf("status %+v", n.Status)
				case !strings.HasPrefix(n.Spec.ProviderID, tc.providerID) || !slices.ContainsFunc(machines, func(m cloudsim.Node) bool {
					return m.Name == n.Name && m.ProviderID == n.Spec.ProviderID
				}):
					t.Errorf("node %d: %s %s, machines %+v", i, n.Name, n.Spec.ProviderID, machines)
				}
			}
		})
	}
}

// TestNodesFollowThePool: scale out and in, node replacement (the old Node
// goes, the new one appears tainted once booted), and changes made through
// the API survive reconciliation.
func TestNodesFollowThePool(t *testing.T) {
	w := newWorld(t, Options{})
	w.pool("aws", "gpu", 2, unvalidated)
	c := w.client("aws")
	ctx := context.Background()
	first := nodeNames(t, c, "")
	if len(first) != 2 {
		t.Fatalf("nodes %v", first)
	}
	// A taint removed through the API stays removed.
	patch := `{"spec":{"taints":[]},"metadata":{"labels":{"gpufleet.dev/gpu-health":"pass"}}}`
	if _, err := c.CoreV1().Nodes().Patch(ctx, first[0], types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	region := clusterOf["aws"].region
	steps := []struct {
		name  string
		do    func()
		count int
	}{
		{"scale out", func() {
			n := 4
			if _, err := w.e.UpdateNodePool("aws", region, "c1", "gpu", cloud.NodePoolUpdate{Nodes: &n}); err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(cloudsim.DefaultDurations.PoolUpdate)
		}, 4},
		{"scale in", func() {
			n := 3
			if _, err := w.e.UpdateNodePool("aws", region, "c1", "gpu", cloud.NodePoolUpdate{Nodes: &n}); err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(cloudsim.DefaultDurations.PoolUpdate)
		}, 3},
		{"replacing", func() {
			if err := w.e.ReplaceNode("aws", region, "c1", "gpu", first[1]); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"replaced", func() { w.clock.Advance(cloudsim.DefaultDurations.PoolCreate) }, 3},
	}
	for _, s := range steps {
		s.do()
		names := nodeNames(t, c, "")
		if len(names) != s.count {
			t.Fatalf("%s: nodes %v", s.name, names)
		}
	}
	names := nodeNames(t, c, "")
	if slices.Contains(names, first[1]) || !slices.Contains(names, first[0]) {
		t.Fatalf("after replacing %s: %v", first[1], names)
	}
	for _, name := range names {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantTaint := name != first[0]
		if hasTaint(n, unvalidated.Key) != wantTaint || (name == first[0]) != (n.Labels["gpufleet.dev/gpu-health"] == "pass") {
			t.Errorf("node %s: taints %v labels %v", name, n.Spec.Taints, n.Labels)
		}
	}
	// The pool goes, and its Nodes with it.
	if _, err := w.e.DeleteNodePool("aws", region, "c1", "gpu"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.PoolDelete)
	if n := nodeNames(t, c, ""); len(n) != 0 {
		t.Fatalf("nodes of a deleted pool: %v", n)
	}
}

// TestCallCounts: requests are counted per cluster, verb and resource.
func TestCallCounts(t *testing.T) {
	w := newWorld(t, Options{})
	c := w.client("gcp")
	for range 3 {
		c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	}
	c.CoreV1().Nodes().Get(context.Background(), "missing", metav1.GetOptions{})
	calls := w.srv.Calls()
	if calls["gcp/europe-west4/c1 list nodes"] != 3 || calls["gcp/europe-west4/c1 get nodes"] != 1 {
		t.Fatalf("calls %v", calls)
	}
}

// TestRecreatedPoolHasNewNodes: an AKS pool deleted and created again
// under the same name gives its machines the same names and provider IDs;
// between two reads of the API they are still new machines, so their
// Nodes are new (new UID, the pool's taint again, no verdict of the old
// node), not the old Nodes with their old labels.
func TestRecreatedPoolHasNewNodes(t *testing.T) {
	w := newWorld(t, Options{ReconcileInterval: -1})
	w.pool("azure", "gpu", 1, unvalidated)
	c := w.client("azure")
	ctx := context.Background()
	before, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(before.Items) != 1 {
		t.Fatalf("nodes %v %v", before, err)
	}
	old := before.Items[0]
	patch := `{"spec":{"taints":[]},"metadata":{"labels":{"gpufleet.dev/gpu-health":"pass"}}}`
	if _, err := c.CoreV1().Nodes().Patch(ctx, old.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	region := clusterOf["azure"].region
	if _, err := w.e.DeleteNodePool("azure", region, "c1", "gpu"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.PoolDelete)
	w.pool("azure", "gpu", 1, unvalidated)
	after, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(after.Items) != 1 {
		t.Fatalf("nodes %v %v", after, err)
	}
	n := after.Items[0]
	switch {
	case n.Name != old.Name || n.Spec.ProviderID != old.Spec.ProviderID:
		t.Fatalf("AKS names the new machine %s (%s), want the old name %s (%s)", n.Name, n.Spec.ProviderID, old.Name, old.Spec.ProviderID)
	case n.UID == old.UID || n.Status.NodeInfo.BootID == old.Status.NodeInfo.BootID:
		t.Fatalf("the recreated pool's node kept the old Node (UID %s, boot ID %s)", n.UID, n.Status.NodeInfo.BootID)
	case !hasTaint(&n, unvalidated.Key) || n.Labels["gpufleet.dev/gpu-health"] != "":
		t.Fatalf("the new node has the old node's verdict: taints %v, labels %v", n.Spec.Taints, n.Labels)
	}
}
