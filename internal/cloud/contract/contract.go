// Package contract holds checks of the cloud.Backend contract that every
// backend's tests run against the simulator through its own wire protocol,
// so that the backends cannot drift apart on what the orchestration relies
// on.
package contract

import (
	"context"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

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
	e.Inject(cloudsim.Fault{Cloud: b.Cloud(), Op: "DeleteNodePool", Err: &cloud.Error{Kind: cloud.KindConflict, Cloud: b.Cloud(),
		Op: "DeleteNodePool", Code: "ResourceInUseException", Message: "node pool " + ps.Name + " has an operation in progress"}})
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
