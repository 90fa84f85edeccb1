package kubefront

import (
	"context"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestPersistence: a second process (engine and server on the same state
// file) sees the objects, the Nodes with their API changes, and resource
// versions that keep growing; a deleted cluster takes its objects along.
func TestPersistence(t *testing.T) {
	w := newWorld(t, Options{})
	w.pool("gcp", "gpu", 2, unvalidated)
	c := w.client("gcp")
	ctx := context.Background()
	cm, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := nodeNames(t, c, "")
	if _, err := c.CoreV1().Nodes().Patch(ctx, nodes[0], types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.srv.Close()

	e2, err := cloudsim.New(cloudsim.Config{Clock: w.clock, StateFile: w.file})
	if err != nil {
		t.Fatal(err)
	}
	w2 := &world{t: t, e: e2, clock: w.clock, file: w.file}
	w2.start(Options{})
	c2 := w2.client("gcp")
	got, err := c2.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{})
	if err != nil || got.Data["a"] != "b" || got.UID != cm.UID || got.ResourceVersion != cm.ResourceVersion {
		t.Fatalf("config map %+v %v", got, err)
	}
	if again := nodeNames(t, c2, ""); !slices.Equal(again, nodes) {
		t.Fatalf("nodes %v, then %v", nodes, again)
	}
	n, _ := c2.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
	if hasTaint(n, unvalidated.Key) {
		t.Fatalf("the taint removed before came back: %v", n.Spec.Taints)
	}
	upd, err := c2.CoreV1().ConfigMaps("default").Patch(ctx, "kept", types.MergePatchType, []byte(`{"data":{"a":"c"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := strconv.Atoi(cm.ResourceVersion)
	after, _ := strconv.Atoi(upd.ResourceVersion)
	if after <= before {
		t.Fatalf("resource version went from %d to %d", before, after)
	}

	region := clusterOf["gcp"].region
	if _, err := e2.DeleteNodePool("gcp", region, "c1", "gpu"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.PoolDelete)
	if _, err := e2.DeleteCluster("gcp", region, "c1"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.ClusterDelete)
	if _, _, _, err := e2.KubeObjects("gcp", region, "c1"); err == nil {
		t.Fatal("objects of a deleted cluster are still stored")
	}
	if _, err := c2.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err == nil {
		t.Fatalf("a deleted cluster still answers: %v", err)
	}
}
